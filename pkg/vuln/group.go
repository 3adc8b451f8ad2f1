package vuln

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// kindImage is the artifact kind of a container image (trivy.KindImage).
const kindImage = "container_image"

// GroupKey names the artifact a report's state, alert and ticket belong
// to. Trivy Operator sends one report per workload container, so an image
// is keyed by its repository and digest, the same in every workload and
// whatever tag named it: "ghcr.io/org/app@sha256:…". An image with no
// known digest keeps its full name (repository:tag). Anything else is
// keyed by its name, the repository or path scanned. nil is "".
func GroupKey(a *bridgev1.Artifact) string {
	if a == nil {
		return ""
	}
	if a.Kind != kindImage || a.Digest == "" {
		return a.Name
	}
	return repository(a.Name) + "@" + a.Digest
}

// repository strips the digest and the tag from an image name; a colon
// before the last slash is a registry port, not a tag.
func repository(name string) string {
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return name
}

// Workload names the workload an operator report came from,
// "namespace/kind/name" (the artifact's Workload is "kind/name"), or ""
// when the report names none, as a CI scan does not.
func Workload(a *bridgev1.Artifact) string {
	if a == nil || a.Workload == "" {
		return ""
	}
	if a.Namespace == "" {
		return a.Workload // A cluster-scoped workload.
	}
	return a.Namespace + "/" + a.Workload
}

// WorkloadTTL is how long a workload stays listed without a report naming
// it. Trivy Operator rescans every workload each report TTL (24h by
// default) and its deletions cannot be trusted (pkg/source/trivy ignores
// them), so a workload not reported for three scan periods is taken to be
// gone.
const WorkloadTTL = 72 * time.Hour

// AddWorkload records that the workload of a ran the image at at (the
// report's scan time), and reports whether that changed s.Workloads: the
// workload is new, or seen later than before. A report without a workload
// (a CI scan) changes nothing.
func (s *State) AddWorkload(a *bridgev1.Artifact, at time.Time) bool {
	w := Workload(a)
	if w == "" {
		return false
	}
	if seen, ok := s.Workloads[w]; ok && !at.After(seen) {
		return false
	}
	if s.Workloads == nil {
		s.Workloads = map[string]time.Time{}
	}
	s.Workloads[w] = at.UTC()
	return true
}

// RemoveWorkload removes the workload of a from s.Workloads, and reports
// whether that changed them.
func (s *State) RemoveWorkload(a *bridgev1.Artifact) bool {
	return s.removeWorkload(Workload(a))
}

func (s *State) removeWorkload(w string) bool {
	if _, ok := s.Workloads[w]; !ok {
		return false
	}
	delete(s.Workloads, w)
	return true
}

// ExpireWorkloads drops the workloads no report named for longer than
// WorkloadTTL before now, and returns them, sorted. Call it with the time
// of the report being written, before writing the state.
func (s *State) ExpireWorkloads(now time.Time) []string {
	var gone []string
	for w, seen := range s.Workloads {
		if now.Sub(seen) > WorkloadTTL {
			gone = append(gone, w)
		}
	}
	for _, w := range gone {
		delete(s.Workloads, w)
	}
	slices.Sort(gone)
	return gone
}

// WorkloadNames returns the workloads running the image, sorted, or nil.
func (s State) WorkloadNames() []string {
	if len(s.Workloads) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(s.Workloads))
}

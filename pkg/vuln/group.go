package vuln

import (
	"slices"
	"strings"

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

// AddWorkload adds the workload of a to s.Workloads, kept sorted and
// unique, and reports whether that changed them.
func (s *State) AddWorkload(a *bridgev1.Artifact) bool {
	w := Workload(a)
	if w == "" {
		return false
	}
	i, found := slices.BinarySearch(s.Workloads, w)
	if found {
		return false
	}
	s.Workloads = slices.Insert(s.Workloads, i, w)
	return true
}

// RemoveWorkload removes the workload of a from s.Workloads, when the
// operator deletes its report, and reports whether that changed them.
func (s *State) RemoveWorkload(a *bridgev1.Artifact) bool {
	w := Workload(a)
	if w == "" {
		return false
	}
	i, found := slices.BinarySearch(s.Workloads, w)
	if !found {
		return false
	}
	s.Workloads = slices.Delete(s.Workloads, i, i+1)
	return true
}

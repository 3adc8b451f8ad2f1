package vuln

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// DefaultBucket is the state bucket when OpenStore is given none.
const DefaultBucket = "BRIDGE_VULN"

// ErrConflict is returned by Put when the artifact's state moved since the
// revision given: another consumer wrote it first. Read it again and diff
// against that.
var ErrConflict = errors.New("vuln: state changed since it was read")

// State is what the bridge last reported for one artifact group.
type State struct {
	// Findings last reported, after the policy. Only what the diff and a
	// "fixed" line need is kept: id, package, installed and fixed versions,
	// severity and target.
	Findings []*bridgev1.Finding
	// ReportedAt is the scan time of the report the state comes from. A
	// report scanned before it is out of order (see Stale).
	ReportedAt time.Time
	// Workloads running the image, "namespace/kind/name" (see Workload),
	// each with the scan time of the last report that named it. Use
	// AddWorkload, ExpireWorkloads and WorkloadNames.
	Workloads map[string]time.Time
	// Revision is the bucket revision Get read, for Put; 0 for a new state.
	Revision uint64
}

// Stale reports whether a report scanned at scannedAt is older than the
// one s comes from: diffing it would report as new what was since fixed.
func (s State) Stale(scannedAt time.Time) bool { return scannedAt.Before(s.ReportedAt) }

// Store keeps the State of each artifact group in a KeyValue bucket. It is
// safe for concurrent use.
type Store struct {
	kv jetstream.KeyValue
}

// OpenStore creates the bucket, or updates its configuration, and returns
// the store on it. bucket is DefaultBucket when empty; replicas is 1 when 0.
func OpenStore(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*Store, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	if replicas == 0 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "bridge vulnerability state: artifact -> findings last reported; workload -> image",
		// The diff needs the last report only.
		History: 1,
		// No TTL: an image scanned rarely must not come back as all new.
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("vuln: open bucket %s: %w", bucket, err)
	}
	return &Store{kv: kv}, nil
}

// record is what a key holds. The artifact is kept in the value because
// the bucket key is its hash (keys allow only [-/_=.a-zA-Z0-9]).
type record struct {
	Artifact   string    `json:"artifact"`
	ReportedAt time.Time `json:"reported_at"`
	Findings   []finding `json:"findings,omitempty"`
	// Workloads is the plain list records had before workloads carried
	// the time they were last seen; it is read, never written. A workload
	// in it counts as seen at ReportedAt.
	Workloads []string `json:"workloads,omitempty"`
	// Seen maps each workload to the scan time of the last report that
	// named it.
	Seen map[string]time.Time `json:"workloads_seen,omitempty"`
}

type finding struct {
	ID        string `json:"id"`
	Package   string `json:"package,omitempty"`
	Installed string `json:"installed,omitempty"`
	Fixed     string `json:"fixed,omitempty"`
	Severity  int32  `json:"severity,omitempty"`
	Target    string `json:"target,omitempty"`
}

// bucketKey maps an artifact group key onto the bucket's key alphabet; 128
// bits of SHA-256 make a collision practically impossible and the artifact
// in the record catches one anyway.
func bucketKey(artifact string) string {
	sum := sha256.Sum256([]byte(artifact))
	return hex.EncodeToString(sum[:16])
}

// Get returns the state of artifact (a GroupKey), and false when there is
// none yet.
func (s *Store) Get(ctx context.Context, artifact string) (State, bool, error) {
	e, err := s.kv.Get(ctx, bucketKey(artifact))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("vuln: get state: %w", err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return State{}, false, fmt.Errorf("vuln: decode state: %w", err)
	}
	if r.Artifact != artifact {
		return State{}, false, fmt.Errorf("vuln: state key of %q holds %q", artifact, r.Artifact)
	}
	st := State{ReportedAt: r.ReportedAt, Revision: e.Revision()}
	for _, w := range r.Workloads {
		st.setSeen(w, r.ReportedAt)
	}
	for w, seen := range r.Seen {
		st.setSeen(w, seen)
	}
	for _, f := range r.Findings {
		st.Findings = append(st.Findings, &bridgev1.Finding{
			Id: f.ID, Package: f.Package, InstalledVersion: f.Installed, FixedVersion: f.Fixed,
			Severity: bridgev1.Severity(f.Severity), Target: f.Target,
		})
	}
	return st, true, nil
}

// Put writes the state of artifact if its revision is still rev (the
// State.Revision Get returned; 0 when Get found none), and returns
// ErrConflict when it moved. On success st.Revision is not updated: Get
// again before the next Put.
func (s *Store) Put(ctx context.Context, artifact string, st State, rev uint64) error {
	r := record{Artifact: artifact, ReportedAt: st.ReportedAt.UTC()}
	for w, seen := range st.Workloads {
		if r.Seen == nil {
			r.Seen = make(map[string]time.Time, len(st.Workloads))
		}
		r.Seen[w] = seen.UTC()
	}
	for _, f := range st.Findings {
		if f == nil {
			continue
		}
		r.Findings = append(r.Findings, finding{
			ID: f.Id, Package: f.Package, Installed: f.InstalledVersion, Fixed: f.FixedVersion,
			Severity: int32(f.Severity), Target: f.Target,
		})
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("vuln: encode state: %w", err)
	}
	key := bucketKey(artifact)
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, b)
	} else {
		_, err = s.kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("vuln: put state: %w", err)
	}
	return nil
}

// setSeen records w as seen at seen unless it was seen later already.
func (s *State) setSeen(w string, seen time.Time) {
	if w == "" {
		return
	}
	if s.Workloads == nil {
		s.Workloads = map[string]time.Time{}
	}
	if prev, ok := s.Workloads[w]; !ok || seen.After(prev) {
		s.Workloads[w] = seen.UTC()
	}
}

// placementPrefix starts the keys of the workload index, distinct from the
// state keys (bare hex digests).
const placementPrefix = "workload."

// placement is what an index key holds: the group a workload's image was
// last reported in, and the scan time of that report.
type placement struct {
	Workload string    `json:"workload"`
	Group    string    `json:"group"`
	Seen     time.Time `json:"seen"`
}

// PlaceWorkload records that the workload of a (see Workload) runs the
// image of a's group (GroupKey), as a report scanned at at says, and
// returns the group it ran in before when it moved, "" otherwise.
//
// A workload reported on another image left its old one: it is removed
// from the old group's state at once, so that the old group's next alert
// no longer lists it. Nothing is posted for that: only the workload list
// changed. The old state is written first and the index second, so a
// retry after a failure between the two removes it again (a no-op) and
// then moves the index. A report scanned before the one the index comes
// from moves nothing: an old scan must not move a workload back. Both
// writes are compare-and-set; a lost race is ErrConflict, and the caller
// retries.
//
// The index is keyed on the workload, not on its container: the event
// does not carry the container yet, so a workload whose containers run
// different images is seen moving between them at each report.
func (s *Store) PlaceWorkload(ctx context.Context, a *bridgev1.Artifact, at time.Time) (string, error) {
	w, group := Workload(a), GroupKey(a)
	if w == "" || group == "" {
		return "", nil
	}
	// A pod runs one image per container: the index is per container, or
	// an app and its sidecar would move the pod between their images on
	// every report.
	if c := a.GetContainer(); c != "" {
		w += "/" + c
	}
	key := placementPrefix + bucketKey(w)
	var p placement
	var rev uint64
	e, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return "", fmt.Errorf("vuln: get the image of a workload: %w", err)
	default:
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			return "", fmt.Errorf("vuln: decode the image of a workload: %w", err)
		}
		if p.Workload != w {
			return "", fmt.Errorf("vuln: workload key of %q holds %q", w, p.Workload)
		}
		rev = e.Revision()
	}
	if rev != 0 && (p.Group == group || at.Before(p.Seen)) {
		// Not moved, or an older scan: the index stands. Seen is not
		// advanced on every report, which would write the bucket as
		// often as reports arrive; the state keeps the last seen time.
		return "", nil
	}
	var from string
	if rev != 0 {
		from = p.Group
		if err := s.leave(ctx, from, w, at); err != nil {
			return "", err
		}
	}
	b, err := json.Marshal(placement{Workload: w, Group: group, Seen: at.UTC()})
	if err != nil {
		return "", fmt.Errorf("vuln: encode the image of a workload: %w", err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, b)
	} else {
		_, err = s.kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return "", ErrConflict
	}
	if err != nil {
		return "", fmt.Errorf("vuln: put the image of a workload: %w", err)
	}
	return from, nil
}

// leave removes workload w from group's state, unless a report scanned
// after at listed it there.
func (s *Store) leave(ctx context.Context, group, w string, at time.Time) error {
	st, found, err := s.Get(ctx, group)
	if err != nil || !found {
		return err
	}
	if seen, ok := st.Workloads[w]; !ok || seen.After(at) {
		return nil
	}
	st.removeWorkload(w)
	return s.Put(ctx, group, st, st.Revision)
}

package vuln

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// Workloads running the image, "namespace/kind/name", sorted.
	Workloads []string
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
		Description: "bridge vulnerability state: artifact -> findings last reported",
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
	Workloads  []string  `json:"workloads,omitempty"`
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
	st := State{ReportedAt: r.ReportedAt, Workloads: sortedSet(r.Workloads), Revision: e.Revision()}
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
	r := record{Artifact: artifact, ReportedAt: st.ReportedAt.UTC(), Workloads: sortedSet(st.Workloads)}
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

func sortedSet(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

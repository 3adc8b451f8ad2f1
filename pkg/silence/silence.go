// Package silence keeps operators' silences: "events matching this rule
// make no visible effect until then, because …". Silences live in a
// KeyValue bucket so that bridgectl can add and expire them while the
// bridge runs; every consumer reads them through a Matcher that a KV watch
// keeps current, never the bucket per event.
package silence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/match"
)

// DefaultBucket is the bucket when Open is given none.
const DefaultBucket = "BRIDGE_SILENCES"

// Retention is how long an expired silence stays listed (state "expired")
// before List deletes it: long enough to see what was silenced last night.
const Retention = 24 * time.Hour

// States of a silence.
const (
	StateActive  = "active"
	StateExpired = "expired"
	// StatePending: a silence whose StartsAt is still ahead.
	StatePending = "pending"
)

// ErrNotFound is returned by Expire for an id no silence has.
var ErrNotFound = errors.New("silence: not found")

// Silence mutes the events its Rule matches between StartsAt and EndsAt.
type Silence struct {
	// ID is short and random, for bridgectl silence expire.
	ID string
	// Rule picks the events, in the language of routes and n8n filters.
	Rule   match.Rule
	Reason string
	// CreatedBy is who added it ($USER of bridgectl); may be empty.
	CreatedBy string
	StartsAt  time.Time
	EndsAt    time.Time
}

// Active reports whether the silence is in force at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// State is StateActive, StatePending or StateExpired at now.
func (s Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return StatePending
	case s.Active(now):
		return StateActive
	}
	return StateExpired
}

// Validate returns every problem of the silence, each starting with the
// key at fault ("match: filter.colour: …", "reason: required").
func (s Silence) Validate() error {
	var errs []error
	if s.Rule.Subject == "" && len(s.Rule.Filter) == 0 {
		// An empty rule would silence every event of every sink.
		errs = append(errs, errors.New("match: required: at least one field filter or a subject"))
	}
	for _, err := range s.Rule.Validate() {
		errs = append(errs, fmt.Errorf("match: %w", err))
	}
	if strings.TrimSpace(s.Reason) == "" {
		errs = append(errs, errors.New("reason: required"))
	}
	if !s.EndsAt.After(s.StartsAt) {
		errs = append(errs, errors.New("duration: must be positive"))
	}
	return errors.Join(errs...)
}

// Store keeps silences in a KeyValue bucket, one key per silence id. It is
// safe for concurrent use.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open creates the bucket, or updates its configuration, and returns the
// store on it. bucket is DefaultBucket when empty; replicas is 1 when 0.
func Open(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*Store, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	if replicas == 0 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "bridge silences: id -> rule, reason, start and end",
		History:     1,
		// No TTL: List removes what expired more than Retention ago, so an
		// expired silence stays visible for a while.
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("silence: open bucket %s: %w", bucket, err)
	}
	return &Store{kv: kv, now: time.Now}, nil
}

// record is what a key holds.
type record struct {
	ID        string            `json:"id"`
	Subject   string            `json:"subject,omitempty"`
	Filter    map[string]string `json:"filter,omitempty"`
	Reason    string            `json:"reason"`
	CreatedBy string            `json:"created_by,omitempty"`
	StartsAt  time.Time         `json:"starts_at"`
	EndsAt    time.Time         `json:"ends_at"`
}

func encode(s Silence) ([]byte, error) {
	b, err := json.Marshal(record{
		ID: s.ID, Subject: s.Rule.Subject, Filter: s.Rule.Filter, Reason: s.Reason,
		CreatedBy: s.CreatedBy, StartsAt: s.StartsAt.UTC(), EndsAt: s.EndsAt.UTC(),
	})
	if err != nil {
		return nil, fmt.Errorf("silence: encode %s: %w", s.ID, err)
	}
	return b, nil
}

func decode(b []byte) (Silence, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Silence{}, fmt.Errorf("silence: decode: %w", err)
	}
	return Silence{
		ID: r.ID, Rule: match.Rule{Subject: r.Subject, Filter: r.Filter}, Reason: r.Reason,
		CreatedBy: r.CreatedBy, StartsAt: r.StartsAt, EndsAt: r.EndsAt,
	}, nil
}

// newID is 8 hex characters: short enough to type, and a clash among the
// few silences of a day is caught by Create.
func newID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Add validates s and stores it under a new id. A zero StartsAt means now.
func (st *Store) Add(ctx context.Context, s Silence) (Silence, error) {
	if s.StartsAt.IsZero() {
		s.StartsAt = st.now()
	}
	s.StartsAt, s.EndsAt = s.StartsAt.UTC().Truncate(time.Second), s.EndsAt.UTC().Truncate(time.Second)
	s.Reason = strings.TrimSpace(s.Reason)
	if err := s.Validate(); err != nil {
		return Silence{}, fmt.Errorf("silence: invalid:\n%w", err)
	}
	for range 3 {
		s.ID = newID()
		b, err := encode(s)
		if err != nil {
			return Silence{}, err
		}
		_, err = st.kv.Create(ctx, s.ID, b)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return Silence{}, fmt.Errorf("silence: store: %w", err)
		}
		return s, nil
	}
	return Silence{}, errors.New("silence: store: no free id after 3 tries")
}

// List returns every silence, sorted by start, expired ones included until
// they are Retention past their end; older ones it deletes.
func (st *Store) List(ctx context.Context) ([]Silence, error) {
	lister, err := st.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("silence: list: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	now := st.now()
	var out []Silence
	for key := range lister.Keys() {
		e, err := st.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // Deleted since it was listed.
		}
		if err != nil {
			return nil, fmt.Errorf("silence: get %s: %w", key, err)
		}
		s, err := decode(e.Value())
		if err != nil {
			return nil, fmt.Errorf("silence: %s: %w", key, err)
		}
		if now.Sub(s.EndsAt) > Retention {
			// Forgetting it is harmless: it no longer silences anything.
			if err := st.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
				return nil, fmt.Errorf("silence: delete expired %s: %w", key, err)
			}
			continue
		}
		out = append(out, s)
	}
	sortSilences(out)
	return out, nil
}

// Expire ends the silence id now. It stays listed as expired. Expiring an
// expired silence changes nothing.
func (st *Store) Expire(ctx context.Context, id string) (Silence, error) {
	if !validKey(id) {
		return Silence{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	for range 3 {
		e, err := st.kv.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Silence{}, fmt.Errorf("%w: %q (see bridgectl silence list)", ErrNotFound, id)
		}
		if err != nil {
			return Silence{}, fmt.Errorf("silence: get %s: %w", id, err)
		}
		s, err := decode(e.Value())
		if err != nil {
			return Silence{}, fmt.Errorf("silence: %s: %w", id, err)
		}
		now := st.now().UTC()
		if !s.EndsAt.After(now) {
			return s, nil
		}
		s.EndsAt = now
		if s.StartsAt.After(now) {
			s.StartsAt = now
		}
		b, err := encode(s)
		if err != nil {
			return Silence{}, err
		}
		_, err = st.kv.Update(ctx, id, b, e.Revision())
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // Changed meanwhile: read it again.
		}
		if err != nil {
			return Silence{}, fmt.Errorf("silence: expire %s: %w", id, err)
		}
		return s, nil
	}
	return Silence{}, fmt.Errorf("silence: expire %s: it keeps changing", id)
}

// validKey reports whether id can be a bucket key at all; anything else
// cannot name a silence.
func validKey(id string) bool {
	if id == "" {
		return false
	}
	return strings.IndexFunc(id, func(c rune) bool {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		return !alnum && c != '-' && c != '_'
	}) < 0
}

func sortSilences(s []Silence) {
	slices.SortFunc(s, func(a, b Silence) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

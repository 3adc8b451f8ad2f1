// Package ledger is the effect ledger: a JetStream KeyValue bucket that
// remembers, per action and idempotency key, whether the effect was made and
// what it made (a Slack channel and ts, a Linear issue id). It is what turns
// at-least-once delivery into exactly-once effects.
//
// A consumer claims a key before it acts (KeyValue Create, so only one
// replica wins), completes it with the result after the effect exists, or
// releases it when the attempt failed. A claim whose holder died is taken
// over once its lease has run out; the taker is told so, and its sink must
// look before it creates again.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// DefaultMaxAge is how long a record is kept when Options.MaxAge is zero. It
// must outlive every redelivery of the event it guards (the events stream
// keeps events for days, not months).
const DefaultMaxAge = 90 * 24 * time.Hour

// ErrClaimLost is returned by Complete when the claim was taken over by
// another holder after its lease ran out: the other holder is now making
// (or looking for) the effect, and its record wins.
var ErrClaimLost = errors.New("ledger: claim lost to another holder")

// ErrNotClaimed is returned by Complete and Release for a Claim that is not
// in state Claimed.
var ErrNotClaimed = errors.New("ledger: not a held claim")

// Bucket names the ledger bucket of a subject prefix (event.LedgerBucket):
// BRIDGE_LEDGER for the default prefix, next to the BRIDGE_EVENTS stream.
func Bucket(prefix string) string { return event.LedgerBucket(prefix) }

// Options configure Open.
type Options struct {
	// Bucket is the KeyValue bucket; Bucket(event.DefaultPrefix) when empty.
	Bucket string
	// Replicas of the bucket: 1 (default), or 3 on a cluster.
	Replicas int
	// MaxAge bounds how long a record is kept; DefaultMaxAge when zero.
	MaxAge time.Duration
}

// Ledger is the effect ledger. It is safe for concurrent use.
type Ledger struct {
	kv jetstream.KeyValue
}

// Open creates the bucket, or updates its configuration, and returns the
// ledger on it.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Ledger, error) {
	if o.Bucket == "" {
		o.Bucket = Bucket(event.DefaultPrefix)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      o.Bucket,
		Description: "bridge effect ledger: action|idempotency key -> result",
		// One value per key: the ledger answers "is it done", not "how did
		// it get there".
		History:  1,
		TTL:      o.MaxAge,
		Storage:  jetstream.FileStorage,
		Replicas: o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: open bucket %s: %w", o.Bucket, err)
	}
	return &Ledger{kv: kv}, nil
}

// State is the outcome of a Claim.
type State int

// Claim states.
const (
	// Claimed: the caller holds the key and must Complete or Release it.
	Claimed State = iota + 1
	// Done: the effect was made; Claim.Result says what it made.
	Done
	// Busy: another holder has a live claim; try again after Claim.RetryIn.
	Busy
)

// String returns "claimed", "done" or "busy".
func (s State) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case Done:
		return "done"
	case Busy:
		return "busy"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Claim is the answer to Claim, and the handle Complete and Release take.
type Claim struct {
	State State
	// TookOver is set on a Claimed claim that was taken from a holder whose
	// lease ran out: it may have made the effect without recording it.
	TookOver bool
	// Result is what the effect made, when State is Done.
	Result sink.Result
	// RetryIn is how long a Busy claim's lease still runs.
	RetryIn time.Duration
	// Holder is the owner of a Busy claim, for logs.
	Holder string

	key      string
	owner    string
	revision uint64
}

// record is what a key holds. The logical key is kept in the value because
// the bucket key is its hash (KeyValue keys allow only [-/_=.a-zA-Z0-9]).
type record struct {
	Key       string       `json:"key"`
	State     string       `json:"state"`
	Owner     string       `json:"owner,omitempty"`
	ClaimedAt time.Time    `json:"claimed_at,omitzero"`
	DoneAt    time.Time    `json:"done_at,omitzero"`
	Result    *sink.Result `json:"result,omitempty"`
}

const (
	statePending = "pending"
	stateDone    = "done"
	// stateReleased marks a key whose attempt failed. It is kept, not
	// deleted: JetStream may forget how often it delivered a message (a
	// server killed before it saved its consumer state redelivers it as a
	// first delivery), and the next attempt must still know that an
	// earlier one may have made the effect.
	stateReleased = "released"
)

// bucketKey maps a logical key onto the bucket's key alphabet. 128 bits of
// SHA-256 make a collision practically impossible; the logical key in the
// record catches one anyway.
func bucketKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// maxClaimRounds bounds the Create/Get/Update races of one Claim call; each
// lost round means another holder made progress.
const maxClaimRounds = 5

// Claim claims key for owner. A key already done answers Done with its
// result; a key held by a claim younger than lease answers Busy; a key held
// by an older claim is taken over (TookOver) — lease must therefore be at
// least as long as a holder may take between Claim and Complete.
//
// The age of a claim is measured on the server's clock (the time the claim
// was stored), so replicas with skewed clocks agree on it as well as their
// clocks agree with the server's.
func (l *Ledger) Claim(ctx context.Context, key, owner string, lease time.Duration) (Claim, error) {
	bk := bucketKey(key)
	for range maxClaimRounds {
		now := time.Now()
		pending, err := json.Marshal(record{Key: key, State: statePending, Owner: owner, ClaimedAt: now})
		if err != nil {
			return Claim{}, fmt.Errorf("ledger: encode claim: %w", err)
		}
		rev, err := l.kv.Create(ctx, bk, pending)
		if err == nil {
			return Claim{State: Claimed, key: key, owner: owner, revision: rev}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return Claim{}, fmt.Errorf("ledger: claim: %w", err)
		}

		e, err := l.kv.Get(ctx, bk)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // Deleted (purged) between our Create and Get: create again.
		}
		if err != nil {
			return Claim{}, fmt.Errorf("ledger: claim: read: %w", err)
		}
		rec, err := decode(e, key)
		if err != nil {
			return Claim{}, err
		}
		if rec.State == stateDone {
			return Claim{State: Done, Result: result(rec), key: key}, nil
		}
		age := time.Since(e.Created())
		if rec.State == stateReleased {
			age = lease // free to take at once
		}
		if age < lease {
			return Claim{State: Busy, RetryIn: lease - age, Holder: rec.Owner, key: key}, nil
		}
		// The holder outlived its lease: it died, or lost its connection.
		// Compare-and-set on its revision, so only one taker wins.
		rev, err = l.kv.Update(ctx, bk, pending, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return Claim{}, fmt.Errorf("ledger: claim: take over: %w", err)
		}
		return Claim{State: Claimed, TookOver: true, key: key, owner: owner, revision: rev}, nil
	}
	return Claim{}, fmt.Errorf("ledger: claim: still contended after %d rounds", maxClaimRounds)
}

// Complete records r as the effect of a held claim: first under each of
// r.Links, then under the claim's key (compare-and-set on the claim's
// revision). Links go first so that a crash in between leaves the claim
// pending (the next holder takes over and looks before it creates) rather
// than done without its links.
//
// Complete is safe to call again after an error: a record already done by
// this claim's owner counts as success. It returns ErrClaimLost when another
// holder took the claim over meanwhile.
func (l *Ledger) Complete(ctx context.Context, c Claim, r sink.Result) error {
	if c.State != Claimed {
		return ErrNotClaimed
	}
	now := time.Now()
	for _, link := range r.Links {
		b, err := json.Marshal(record{Key: link, State: stateDone, Owner: c.owner, DoneAt: now, Result: &r})
		if err != nil {
			return fmt.Errorf("ledger: encode link: %w", err)
		}
		if _, err := l.kv.Put(ctx, bucketKey(link), b); err != nil {
			return fmt.Errorf("ledger: complete: link: %w", err)
		}
	}
	b, err := json.Marshal(record{Key: c.key, State: stateDone, Owner: c.owner, DoneAt: now, Result: &r})
	if err != nil {
		return fmt.Errorf("ledger: encode result: %w", err)
	}
	bk := bucketKey(c.key)
	_, err = l.kv.Update(ctx, bk, b, c.revision)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("ledger: complete: %w", err)
	}
	// Our earlier Complete may have landed with its answer lost.
	e, gerr := l.kv.Get(ctx, bk)
	if gerr == nil {
		if rec, derr := decode(e, c.key); derr == nil && rec.State == stateDone && rec.Owner == c.owner {
			return nil
		}
	}
	return ErrClaimLost
}

// Release gives a held claim up after a failed attempt, so the next attempt
// (here or on another replica) can claim at once. The key stays marked as
// attempted: the next Claim of it is TookOver, so its sink looks before it
// creates. It does nothing when the claim was taken over meanwhile.
func (l *Ledger) Release(ctx context.Context, c Claim) error {
	if c.State != Claimed {
		return ErrNotClaimed
	}
	b, err := json.Marshal(record{Key: c.key, State: stateReleased, Owner: c.owner, ClaimedAt: time.Now()})
	if err != nil {
		return fmt.Errorf("ledger: encode release: %w", err)
	}
	_, err = l.kv.Update(ctx, bucketKey(c.key), b, c.revision)
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("ledger: release: %w", err)
	}
	return nil
}

// Result returns the result recorded under key (an effect key or a link),
// and false when nothing is done under it. It implements sink.Lookup.
func (l *Ledger) Result(ctx context.Context, key string) (sink.Result, bool, error) {
	e, err := l.kv.Get(ctx, bucketKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return sink.Result{}, false, nil
	}
	if err != nil {
		return sink.Result{}, false, fmt.Errorf("ledger: read: %w", err)
	}
	rec, err := decode(e, key)
	if err != nil {
		return sink.Result{}, false, err
	}
	if rec.State != stateDone {
		return sink.Result{}, false, nil
	}
	return result(rec), true, nil
}

var _ sink.Lookup = (*Ledger)(nil)

func decode(e jetstream.KeyValueEntry, key string) (record, error) {
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, fmt.Errorf("ledger: decode record %s: %w", e.Key(), err)
	}
	if rec.Key != key {
		return record{}, fmt.Errorf("ledger: record %s holds another key", e.Key())
	}
	return rec, nil
}

func result(rec record) sink.Result {
	if rec.Result == nil {
		return sink.Result{}
	}
	return *rec.Result
}

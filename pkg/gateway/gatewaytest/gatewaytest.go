// Package gatewaytest holds Publisher doubles for tests of the gateway and
// of the services that wire it, named by how they behave.
package gatewaytest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/stoa-platform/bridge/pkg/event"
)

// Recorder keeps every event it is given. Like a JetStream stream within
// its duplicate window, it reports an event whose idempotency key it already
// holds as a duplicate and does not keep it. The zero value is ready.
type Recorder struct {
	mu     sync.Mutex
	events []*event.Event
	keys   map[string]bool
}

// Publish records ev unless ctx is done or its key was seen.
func (r *Recorder) Publish(ctx context.Context, ev *event.Event) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys[ev.GetIdempotencyKey()] {
		return true, nil
	}
	if r.keys == nil {
		r.keys = make(map[string]bool)
	}
	r.keys[ev.GetIdempotencyKey()] = true
	r.events = append(r.events, ev)
	return false, nil
}

// Events returns the recorded events in publish order.
func (r *Recorder) Events() []*event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Event(nil), r.events...)
}

// ErrUnavailable is Failing's default error.
var ErrUnavailable = errors.New("gatewaytest: event store unavailable")

// Failing fails every publish with Err, or ErrUnavailable if Err is nil.
type Failing struct{ Err error }

// Publish returns f.Err.
func (f Failing) Publish(context.Context, *event.Event) (bool, error) {
	if f.Err == nil {
		return false, ErrUnavailable
	}
	return false, f.Err
}

// Discard accepts every event and keeps none: a publisher that costs
// nothing, for benchmarks.
type Discard struct{}

// Publish returns at once.
func (Discard) Publish(context.Context, *event.Event) (bool, error) { return false, nil }

// Blocking holds every publish until Release (then records it in its
// Recorder) or until the publish's context ends (then fails with the
// context's error), like an event store that stopped acknowledging.
type Blocking struct {
	Recorder
	release chan struct{}
	once    sync.Once
	waiting atomic.Int32
}

// NewBlocking returns a Blocking holding every publish.
func NewBlocking() *Blocking { return &Blocking{release: make(chan struct{})} }

// Publish waits for Release or ctx.
func (b *Blocking) Publish(ctx context.Context, ev *event.Event) (bool, error) {
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case <-b.release:
		return b.Recorder.Publish(ctx, ev)
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Waiting returns how many publishes are being held.
func (b *Blocking) Waiting() int { return int(b.waiting.Load()) }

// Release lets every held and later publish through.
func (b *Blocking) Release() { b.once.Do(func() { close(b.release) }) }

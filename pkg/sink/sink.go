// Package sink defines what every action sink (Slack, Linear, n8n) is to the
// consumer runner: one attempt at one side effect, and a verdict on failure.
//
// A sink renders its request, sends it, and classifies the answer. It never
// sleeps, retries, acks, dead-letters or counts metrics: the runner in
// package bus does that once, for all sinks.
package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
)

// Sink makes one side effect for one event.
type Sink interface {
	// Deliver makes one attempt. A nil error means the effect exists and r
	// describes it; the runner records r in the effect ledger before it acks.
	Deliver(ctx context.Context, d Delivery) (r Result, err error)
}

// Delivery is one attempt at one event.
type Delivery struct {
	Event *event.Event
	// Attempt counts from 1.
	Attempt int
	// Uncertain is set when an earlier attempt may have made the effect
	// without it being recorded (it failed after sending, or its process
	// died holding the ledger claim). A sink that can look before it
	// creates (Slack message metadata, Linear's client-chosen issue id)
	// must do so when Uncertain is set.
	Uncertain bool
	// Silenced is set when an operator's silence matches the event: the
	// sink must make no visible effect (see SilenceKeeper).
	Silenced *Silence
}

// Silence is what a sink is told of the silence matching an event.
type Silence struct {
	ID     string
	Reason string
}

// SilenceKeeper is a Sink that keeps state of its own which later events
// depend on (an alert a later "up" resolves, the findings a later report
// is diffed against). For a silenced event the runner calls
// DeliverSilenced instead of Deliver: it updates that state and makes no
// visible effect, so that the first event after the silence is right. A
// sink without such state is not called at all for a silenced event; the
// runner records OutcomeSilenced for it.
type SilenceKeeper interface {
	DeliverSilenced(ctx context.Context, d Delivery) (Result, error)
}

// Result is what a successful delivery made. It is stored in the effect
// ledger under the event's key, and under each of Links, so that a later
// event about the same entity can find it (a check's "up" finds the alert
// its "down" posted).
type Result struct {
	// Outcome is a short word for metrics and logs: "posted", "updated",
	// "skipped", "dry_run".
	Outcome string `json:"outcome"`
	// Fields are the effect's references (Slack channel and ts, a Linear
	// issue id and URL). No secret may be put here.
	Fields map[string]string `json:"fields,omitempty"`
	// Links are further ledger keys to store this result under.
	Links []string `json:"-"`
}

// Permanent marks err as a failure that no retry can mend: the runner
// dead-letters the event at once with err's text as the reason.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, permanent: true}
}

// Transient marks err as worth retrying, no sooner than after (zero means
// the runner's own backoff).
func Transient(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, after: after}
}

// Wait is a transient error for an event that must wait for another one
// first (an "up" whose "down" has not been applied). The runner redelivers
// it after the given delay without counting it as a failure in logs.
func Wait(reason string, after time.Duration) error {
	return &classified{err: errors.New(reason), after: after, wait: true}
}

// Unauthorized marks err as the service refusing the credential the sink
// sent (a revoked or rotated token, a wrong key). It is permanent, unless
// the runner can read the secrets again and finds them changed since the
// delivery began (bus.Consumer.Refresh): then the event is retried with
// the new credential instead of being dead-lettered.
func Unauthorized(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, permanent: true, unauthorized: true}
}

type classified struct {
	err          error
	permanent    bool
	wait         bool
	unauthorized bool
	after        time.Duration
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var c *classified
	return errors.As(err, &c) && c.permanent
}

// IsUnauthorized reports whether err, or an error it wraps, was marked
// Unauthorized.
func IsUnauthorized(err error) bool {
	var c *classified
	return errors.As(err, &c) && c.unauthorized
}

// IsWait reports whether err was made by Wait.
func IsWait(err error) bool {
	var c *classified
	return errors.As(err, &c) && c.wait
}

// RetryAfter returns the delay a transient err asked for, or zero.
func RetryAfter(err error) time.Duration {
	var c *classified
	if errors.As(err, &c) && !c.permanent {
		return c.after
	}
	return 0
}

// Outcomes every sink may report besides its own.
const (
	// OutcomeDryRun: the sink has no credentials and only logged the request.
	OutcomeDryRun = "dry_run"
	// OutcomeSkipped: nothing needed doing (an alert already open).
	OutcomeSkipped = "skipped"
	// OutcomeSilenced: an operator's silence matched the event; no visible
	// effect was made.
	OutcomeSilenced = "silenced"
)

// Func adapts a function to Sink; tests use it for small doubles.
type Func func(ctx context.Context, d Delivery) (Result, error)

// Deliver calls f.
func (f Func) Deliver(ctx context.Context, d Delivery) (Result, error) { return f(ctx, d) }

// Describe describes a classified error for logs: "permanent: …",
// "transient (retry after 3s): …" or "transient: …".
func Describe(err error) string {
	switch {
	case err == nil:
		return ""
	case IsPermanent(err):
		return "permanent: " + err.Error()
	case RetryAfter(err) > 0:
		return fmt.Sprintf("transient (retry after %s): %s", RetryAfter(err), err)
	default:
		return "transient: " + err.Error()
	}
}

// Lookup reads results from the effect ledger. A sink that must find an
// earlier effect (the alert a "down" posted) is given one; it reads, the
// runner writes.
type Lookup interface {
	// Result returns what is recorded under key, and false if nothing is.
	Result(ctx context.Context, key string) (Result, bool, error)
}

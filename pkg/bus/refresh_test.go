package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// Token values the test hands out; none may reach the log.
const (
	tokenOld   = "fake-old-token-must-not-leak"
	tokenNew   = "fake-new-token-must-not-leak"
	tokenWrong = "fake-wrong-token-must-not-leak"
)

// creds plays the secrets provider: stored is what Vault holds, inUse what
// the last read put in use. refresh is the Consumer.Refresh hook.
type creds struct {
	mu        sync.Mutex
	stored    string
	inUse     string
	changedAt time.Time
	refreshes int
}

func (c *creds) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inUse
}

func (c *creds) refresh(_ context.Context, since time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshes++
	if c.stored != c.inUse {
		c.inUse, c.changedAt = c.stored, time.Now()
	}
	return c.changedAt.After(since)
}

func (c *creds) numRefreshes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshes
}

// TestRunnerRefreshesOnUnauthorized: a credential the service refused is
// retried, not dead-lettered, when the secrets changed since the delivery
// began; otherwise it is permanent as before.
func TestRunnerRefreshesOnUnauthorized(t *testing.T) {
	const name = "slack-notifier"
	const refused = "slack: chat.postMessage to C0INCIDENTS: invalid_auth"
	tests := []struct {
		name       string
		stored     string // in Vault; the service takes only tokenNew
		noHook     bool
		maxDeliver int
		events     int
		// readElsewhere: while the first delivery is in flight, another
		// reader (the periodic read, another consumer's refresh) puts the
		// new value in use.
		readElsewhere bool
		wantCalls     int // per event
		wantRefreshes int
		wantDead      string // class of the dead letter, "" for none
		wantReason    string
	}{
		{name: "rotated", stored: tokenNew, events: 1, wantCalls: 2, wantRefreshes: 1},
		{name: "not rotated", stored: tokenOld, events: 1, wantCalls: 1, wantRefreshes: 1,
			wantDead: bus.ReasonPermanent, wantReason: refused},
		{name: "no refresh hook", stored: tokenNew, noHook: true, events: 1, wantCalls: 1,
			wantDead: bus.ReasonPermanent, wantReason: refused},
		{name: "rotated to another refused value", stored: tokenWrong, events: 1, wantCalls: 2, wantRefreshes: 2,
			wantDead: bus.ReasonPermanent, wantReason: refused},
		{name: "rotated at the last attempt", stored: tokenNew, maxDeliver: 1, events: 1, wantCalls: 1, wantRefreshes: 1,
			wantDead: bus.ReasonMaxDeliver, wantReason: "max_deliver: " + refused},
		// The runner's own refresh finds nothing new, but learns that the
		// value changed after the delivery began.
		{name: "rotation read elsewhere meanwhile", stored: tokenNew, events: 1, readElsewhere: true, wantCalls: 2, wantRefreshes: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bustest.Open(t, bus.Options{})
			m := metrics.New(prometheus.NewRegistry())
			logs := &logBuffer{}
			c := &creds{stored: tt.stored, inUse: tokenOld}
			rec := newRecorder(func(ctx context.Context, _ sink.Delivery, n int) (sink.Result, error) {
				tok := c.get()
				if tt.readElsewhere && n == 1 {
					c.refresh(ctx, time.Now())
				}
				if tok != tokenNew {
					return sink.Result{}, sink.Unauthorized(errors.New(refused))
				}
				return sink.Result{Outcome: "posted"}, nil
			})
			cons := consumer(t, b, name, rec, m, logs.logger())
			if tt.maxDeliver > 0 {
				cons.MaxDeliver = tt.maxDeliver
			}
			if !tt.noHook {
				cons.Refresh = c.refresh
			}
			var keys []string
			for i := range tt.events {
				ev := checkEvent(fmt.Sprintf("c%d", i), 0)
				keys = append(keys, ev.GetIdempotencyKey())
				publish(t, b, ev)
			}
			bustest.Run(t, b, cons)

			if tt.wantDead != "" {
				recs := waitDeadLetters(t, b, name, tt.events)
				if got := recs[0].DeadLetter.GetReason(); got != tt.wantReason {
					t.Errorf("dead letter reason = %q, want %q", got, tt.wantReason)
				}
				if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues(name, tt.wantDead)); got != float64(tt.events) {
					t.Errorf("dead_letters{%s} = %v, want %d", tt.wantDead, got, tt.events)
				}
			} else {
				rec.waitEffects(t, tt.events)
			}
			waitSettled(t, b, name)

			for _, k := range keys {
				if got := len(rec.callsOf(k)); got != tt.wantCalls {
					t.Errorf("%s: %d deliveries, want %d", k, got, tt.wantCalls)
				}
			}
			if got := c.numRefreshes(); got != tt.wantRefreshes {
				t.Errorf("%d refreshes, want %d", got, tt.wantRefreshes)
			}
			if tt.wantDead == "" {
				if n := len(deadLetters(t, b, name)); n != 0 {
					t.Errorf("%d dead letters, want none", n)
				}
				if got := testutil.ToFloat64(m.Actions.WithLabelValues(name, bus.OutcomeTransient)); got != float64(tt.events) {
					t.Errorf("actions{transient} = %v, want %d", got, tt.events)
				}
				if got := strings.Count(logs.String(), "credential refused; secrets re-read, retrying"); got != tt.events {
					t.Errorf("%d retry lines in the log, want %d:\n%s", got, tt.events, logs)
				}
			}
			for _, tok := range []string{tokenOld, tokenNew, tokenWrong} {
				if strings.Contains(logs.String(), tok) {
					t.Errorf("a token appears in the log:\n%s", logs)
				}
			}
		})
	}
}

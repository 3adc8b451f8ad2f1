package bus_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/silence"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// silenceCheck silences the events of one check.
type silenceCheck string

func (c silenceCheck) Silenced(ev *event.Event, _ time.Time) (silence.Silence, bool) {
	if ev.GetCheckStatusChanged().GetCheckId() != string(c) {
		return silence.Silence{}, false
	}
	return silence.Silence{ID: "s1", Reason: "maintenance"}, true
}

// keeper is a sink that keeps state through silences.
type keeper struct {
	*recorder
	mu       sync.Mutex
	silenced []*sink.Silence
}

func (k *keeper) DeliverSilenced(_ context.Context, d sink.Delivery) (sink.Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.silenced = append(k.silenced, d.Silenced)
	return sink.Result{Outcome: sink.OutcomeSilenced, Fields: map[string]string{"state": "kept"}}, nil
}

func (k *keeper) numSilenced() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.silenced)
}

func TestRunnerSilenced(t *testing.T) {
	tests := []struct {
		name      string
		keepState bool
		wantField string
	}{
		{name: "sink not called", keepState: false},
		{name: "state keeper", keepState: true, wantField: "kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bustest.Open(t, bus.Options{})
			m := metrics.New(prometheus.NewRegistry())
			var logs logBuffer
			rec := newRecorder(nil)
			var s sink.Sink = rec
			k := &keeper{recorder: rec}
			if tt.keepState {
				s = k
			}
			c := consumer(t, b, "slack-notifier", s, m, logs.logger())
			c.Silences = silenceCheck("muted")
			muted, loud := checkEvent("muted", 0), checkEvent("loud", 0)
			publish(t, b, muted, loud)
			bustest.Run(t, b, c)

			rec.waitEffects(t, 1)
			waitSettled(t, b, "slack-notifier")
			if n := len(rec.callsOf(muted.GetIdempotencyKey())); n != 0 {
				t.Errorf("the sink's Deliver was called %d times for the silenced event", n)
			}
			if n := len(rec.callsOf(loud.GetIdempotencyKey())); n != 1 {
				t.Errorf("Deliver called %d times for the other event, want 1", n)
			}
			got, ok, err := c.Ledger.Result(t.Context(), "slack-notifier|"+muted.GetIdempotencyKey())
			if err != nil || !ok || got.Outcome != sink.OutcomeSilenced || got.Fields["state"] != tt.wantField {
				t.Errorf("ledger = %+v, %t, %v; want outcome silenced, state %q", got, ok, err, tt.wantField)
			}
			if tt.keepState && k.numSilenced() != 1 {
				t.Errorf("DeliverSilenced called %d times, want 1", k.numSilenced())
			}
			if got := testutil.ToFloat64(m.Actions.WithLabelValues("slack-notifier", sink.OutcomeSilenced)); got != 1 {
				t.Errorf("actions{silenced} = %v, want 1", got)
			}
			logs.waitFor(t, `"msg":"event silenced"`)
			for _, want := range []string{`"silence_id":"s1"`, `"reason":"maintenance"`, `"consumer":"slack-notifier"`, `"event_id":"` + muted.GetId() + `"`} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %s", want)
				}
			}
		})
	}
}

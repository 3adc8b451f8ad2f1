package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/sink"
)

func TestReplay(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	ctx := t.Context()
	mOther := metrics.New(prometheus.NewRegistry())
	// slack-notifier fails for good the first time (a channel that did
	// not exist yet), then works; n8n-trigger works at once.
	slack := newRecorder(func(_ context.Context, _ sink.Delivery, n int) (sink.Result, error) {
		if n == 1 {
			return sink.Result{}, sink.Permanent(errors.New("slack: channel_not_found"))
		}
		return sink.Result{Outcome: "posted"}, nil
	})
	n8n := newRecorder(nil)
	bustest.Run(t, b, consumer(t, b, "slack-notifier", slack, nil, nil))
	bustest.Run(t, b, consumer(t, b, "n8n-trigger", n8n, mOther, nil))

	ev := checkEvent("c1", 0)
	publish(t, b, ev)
	recs := waitDeadLetters(t, b, "slack-notifier", 1)
	n8n.waitEffects(t, 1)

	if err := b.Replay(ctx, recs[0].Sequence); err != nil {
		t.Fatalf("Replay(%d): %v", recs[0].Sequence, err)
	}
	slack.waitEffects(t, 1)
	waitSettled(t, b, "slack-notifier")
	waitSettled(t, b, "n8n-trigger")

	calls := slack.callsOf(ev.GetIdempotencyKey())
	if len(calls) != 2 || !calls[1].uncertain {
		t.Errorf("slack calls = %+v, want a second, uncertain one", calls)
	}
	if got := n8n.numCalls(); got != 1 {
		t.Errorf("n8n-trigger called %d times, want 1: the replay was not for it", got)
	}
	if got := testutil.ToFloat64(mOther.Actions.WithLabelValues("n8n-trigger", "skipped")); got != 1 {
		t.Errorf("n8n-trigger actions{skipped} = %v, want 1", got)
	}
	if got := deadLetters(t, b, ""); len(got) != 0 {
		t.Errorf("after replay %d dead letters remain, want 0", len(got))
	}
	if err := b.Replay(ctx, recs[0].Sequence); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("second Replay = %v, want ErrDeadLetterNotFound", err)
	}
}

func TestDeadLetters(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	failing := func() sink.Sink {
		return newRecorder(func(context.Context, sink.Delivery, int) (sink.Result, error) {
			return sink.Result{}, sink.Permanent(errors.New("no"))
		})
	}
	ca := consumer(t, b, "a", failing(), nil, nil)
	ca.Kinds = []string{event.KindCheckDown}
	cb := consumer(t, b, "b", failing(), nil, nil)
	cb.Kinds = []string{event.KindCheckDown}

	if got := deadLetters(t, b, ""); len(got) != 0 {
		t.Fatalf("empty stream: %d dead letters", len(got))
	}
	for i := range 5 {
		publish(t, b, checkEvent("c", i))
	}
	bustest.Run(t, b, ca)
	waitDeadLetters(t, b, "a", 5)
	bustest.Run(t, b, cb)
	waitDeadLetters(t, b, "b", 5)

	tests := []struct {
		consumer  string
		limit     int
		wantCount int
		wantLast  bool // the newest is the last one
	}{
		{"", 0, 10, true},
		{"a", 0, 5, true},
		{"a", 3, 3, true},
		{"b", 2, 2, true},
		{"nobody", 0, 0, false},
	}
	all := deadLetters(t, b, "")
	for _, tt := range tests {
		got, err := b.DeadLetters(t.Context(), tt.consumer, tt.limit)
		if err != nil {
			t.Fatalf("DeadLetters(%q, %d): %v", tt.consumer, tt.limit, err)
		}
		if len(got) != tt.wantCount {
			t.Errorf("DeadLetters(%q, %d) = %d records, want %d", tt.consumer, tt.limit, len(got), tt.wantCount)
			continue
		}
		s := seqs(got)
		if !slices.IsSorted(s) {
			t.Errorf("DeadLetters(%q, %d) sequences %v, want oldest first", tt.consumer, tt.limit, s)
		}
		for _, r := range got {
			if tt.consumer != "" && r.DeadLetter.GetConsumer() != tt.consumer {
				t.Errorf("DeadLetters(%q) returned one of %q", tt.consumer, r.DeadLetter.GetConsumer())
			}
		}
		if tt.wantLast && tt.consumer == "" && s[len(s)-1] != all[len(all)-1].Sequence {
			t.Errorf("DeadLetters(%q, %d) ends at %d, want the newest, %d", tt.consumer, tt.limit, s[len(s)-1], all[len(all)-1].Sequence)
		}
	}

	j, err := json.Marshal(all[0])
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	var decoded struct {
		Seq        uint64 `json:"seq"`
		DeadLetter struct {
			Consumer string `json:"consumer"`
			Reason   string `json:"reason"`
			Event    struct {
				IdempotencyKey string `json:"idempotencyKey"`
			} `json:"event"`
		} `json:"dead_letter"`
	}
	if err := json.Unmarshal(j, &decoded); err != nil {
		t.Fatalf("json %s: %v", j, err)
	}
	if decoded.Seq != all[0].Sequence || decoded.DeadLetter.Reason != "no" || decoded.DeadLetter.Event.IdempotencyKey == "" {
		t.Errorf("json = %s; want seq, reason and the event", j)
	}
}

// TestNoSecretInDeadLetter: the dead letter holds the sink's error text as
// the reason, and the event; nothing of the message's headers, and the
// runner's logs do not carry them either.
func TestNoSecretInDeadLetter(t *testing.T) {
	const secret = "test-slack-s3cr3t-t0ken-1234"
	const reason = "slack: chat.postMessage: invalid_auth"
	b := bustest.Open(t, bus.Options{})
	var logs logBuffer
	rec := newRecorder(func(context.Context, sink.Delivery, int) (sink.Result, error) {
		return sink.Result{}, sink.Permanent(errors.New(reason))
	})
	ev := checkEvent("c1", 0)
	// A producer that leaked a credential into headers.
	publishRaw(t, b, event.Subject("bridge", event.KindCheckDown), mustMarshal(t, ev), nats.Header{
		"Authorization": []string{"Bearer " + secret},
		"X-Token":       []string{secret},
	})
	bustest.Run(t, b, consumer(t, b, "slack-notifier", rec, nil, logs.logger()))
	recs := waitDeadLetters(t, b, "slack-notifier", 1)

	if got := recs[0].DeadLetter.GetReason(); got != reason {
		t.Errorf("reason = %q, want the sink's error text %q", got, reason)
	}
	st, err := b.JetStream().Stream(t.Context(), "BRIDGE_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(t.Context(), recs[0].Sequence)
	if err != nil {
		t.Fatal(err)
	}
	var stored strings.Builder
	stored.Write(raw.Data)
	for k, vs := range raw.Header {
		stored.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	if strings.Contains(stored.String(), secret) {
		t.Errorf("dead letter holds the secret:\n%s", stored.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs hold the secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), reason) {
		t.Errorf("logs do not say why the event was dead-lettered:\n%s", logs.String())
	}
}

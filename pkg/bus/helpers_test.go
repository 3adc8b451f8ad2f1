package bus_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/sink"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// checkEvent is the n-th "down" flip of check: events of one check share an
// entity, and their time orders them.
func checkEvent(check string, n int) *event.Event {
	at := base.Add(time.Duration(n) * time.Second)
	ev := event.New(event.KindCheckDown, "/webhooks/healthchecks", check, event.CheckKey(check, "down", at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId:   check,
		Name:      "backup " + check,
		Status:    bridgev1.CheckStatus_CHECK_STATUS_DOWN,
		ChangedAt: timestamppb.New(at),
	}}
	return ev
}

func publish(t testing.TB, b *bus.Bus, evs ...*event.Event) {
	t.Helper()
	for _, ev := range evs {
		if _, err := b.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish(%s): %v", ev.GetIdempotencyKey(), err)
		}
	}
}

// publishRaw stores data on subject without a Nats-Msg-Id, as a producer
// bypassing the stream's dedupe would.
func publishRaw(t testing.TB, b *bus.Bus, subject string, data []byte, h nats.Header) {
	t.Helper()
	if _, err := b.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: subject, Data: data, Header: h}); err != nil {
		t.Fatalf("publish raw to %s: %v", subject, err)
	}
}

func mustMarshal(t testing.TB, ev *event.Event) []byte {
	t.Helper()
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call is one Deliver the recorder saw.
type call struct {
	key       string
	id        string
	attempt   int
	uncertain bool
	at        time.Time
}

// recorder is a sink double: it records every call and every effect (a
// Deliver that returned nil), and answers with fn, given the delivery and
// how many times this key was delivered so far (from 1).
type recorder struct {
	fn func(ctx context.Context, d sink.Delivery, n int) (sink.Result, error)

	mu      sync.Mutex
	calls   []call
	perKey  map[string]int
	effects map[string]int
}

func newRecorder(fn func(ctx context.Context, d sink.Delivery, n int) (sink.Result, error)) *recorder {
	if fn == nil {
		fn = func(context.Context, sink.Delivery, int) (sink.Result, error) {
			return sink.Result{Outcome: "posted"}, nil
		}
	}
	return &recorder{fn: fn, perKey: map[string]int{}, effects: map[string]int{}}
}

func (r *recorder) Deliver(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	key := d.Event.GetIdempotencyKey()
	r.mu.Lock()
	r.perKey[key]++
	n := r.perKey[key]
	r.calls = append(r.calls, call{key: key, id: d.Event.GetId(), attempt: d.Attempt, uncertain: d.Uncertain, at: time.Now()})
	r.mu.Unlock()

	res, err := r.fn(ctx, d, n)
	if err == nil {
		r.mu.Lock()
		r.effects[key]++
		r.mu.Unlock()
	}
	return res, err
}

func (r *recorder) callsOf(key string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.key == key {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) numCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) effectsOf(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.effects[key]
}

func (r *recorder) numEffects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.effects {
		n += v
	}
	return n
}

// waitEffects waits until the recorder has seen n effects.
func (r *recorder) waitEffects(t testing.TB, n int) {
	t.Helper()
	bustest.Eventually(t, 20*time.Second, func() error {
		if got := r.numEffects(); got != n {
			return fmt.Errorf("%d effects, want %d", got, n)
		}
		return nil
	})
}

// consumer returns a Consumer with test-sized timings.
func consumer(t testing.TB, b *bus.Bus, name string, s sink.Sink, m *metrics.Metrics, logger *slog.Logger) bus.Consumer {
	if m == nil {
		m = metrics.New(prometheus.NewRegistry())
	}
	return bus.Consumer{
		Name:            name,
		Sink:            s,
		Ledger:          bustest.Ledger(t, b),
		Concurrency:     4,
		MaxDeliver:      5,
		AckWait:         2 * time.Second,
		BackoffMin:      10 * time.Millisecond,
		BackoffMax:      50 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		Logger:          logger,
		Metrics:         m,
	}
}

func waitSettled(t testing.TB, b *bus.Bus, name string) {
	t.Helper()
	bustest.WaitSettled(t, b, name, 20*time.Second)
}

func consumerInfo(t testing.TB, b *bus.Bus, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := b.JetStream().Consumer(t.Context(), event.EventsStream(b.Prefix()), name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	return c.CachedInfo()
}

// logBuffer collects JSON log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logBuffer) waitFor(t testing.TB, s string) {
	t.Helper()
	bustest.Eventually(t, 10*time.Second, func() error {
		if !bytes.Contains([]byte(l.String()), []byte(s)) {
			return fmt.Errorf("no %q in the log", s)
		}
		return nil
	})
}

func deadLetters(t testing.TB, b *bus.Bus, consumer string) []bus.DeadLetterRecord {
	t.Helper()
	recs, err := b.DeadLetters(context.Background(), consumer, 0)
	if err != nil {
		t.Fatalf("DeadLetters(%q): %v", consumer, err)
	}
	return recs
}

func waitDeadLetters(t testing.TB, b *bus.Bus, consumer string, n int) []bus.DeadLetterRecord {
	t.Helper()
	var recs []bus.DeadLetterRecord
	bustest.Eventually(t, 20*time.Second, func() error {
		var err error
		recs, err = b.DeadLetters(context.Background(), consumer, 0)
		if err != nil {
			return err
		}
		if len(recs) != n {
			return fmt.Errorf("%d dead letters, want %d", len(recs), n)
		}
		return nil
	})
	return recs
}

func seqs(recs []bus.DeadLetterRecord) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Sequence)
	}
	return slices.Clip(out)
}

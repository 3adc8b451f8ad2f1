package bus_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/ledger"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/sink"
)

func TestRunnerDelivers(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	m := metrics.New(prometheus.NewRegistry())
	rec := newRecorder(func(_ context.Context, d sink.Delivery, _ int) (sink.Result, error) {
		return sink.Result{Outcome: "posted", Fields: map[string]string{"id": d.Event.GetId()}}, nil
	})
	c := consumer(t, b, "slack-notifier", rec, m, nil)
	var evs []*event.Event
	for i := range 5 {
		evs = append(evs, checkEvent(fmt.Sprintf("c%d", i), 0))
	}
	publish(t, b, evs...)
	bustest.Run(t, b, c)

	rec.waitEffects(t, 5)
	waitSettled(t, b, "slack-notifier")
	for _, ev := range evs {
		calls := rec.callsOf(ev.GetIdempotencyKey())
		if len(calls) != 1 || calls[0].attempt != 1 || calls[0].uncertain {
			t.Errorf("calls for %s = %+v, want one first, certain attempt", ev.GetIdempotencyKey(), calls)
		}
		got, ok, err := c.Ledger.Result(t.Context(), "slack-notifier|"+ev.GetIdempotencyKey())
		if err != nil || !ok || got.Fields["id"] != ev.GetId() {
			t.Errorf("ledger result for %s = %+v, %t, %v; want the sink's", ev.GetIdempotencyKey(), got, ok, err)
		}
	}
	if got := testutil.ToFloat64(m.Actions.WithLabelValues("slack-notifier", "posted")); got != 5 {
		t.Errorf("actions{posted} = %v, want 5", got)
	}
	if got := consumerInfo(t, b, "slack-notifier").NumRedelivered; got != 0 {
		t.Errorf("redelivered = %d, want 0", got)
	}
}

// TestRunnerRetry: a transient failure is retried no sooner than its
// Retry-After, and the retry is flagged Uncertain.
func TestRunnerRetry(t *testing.T) {
	const retryAfter = 300 * time.Millisecond
	b := bustest.Open(t, bus.Options{})
	m := metrics.New(prometheus.NewRegistry())
	rec := newRecorder(func(_ context.Context, _ sink.Delivery, n int) (sink.Result, error) {
		if n == 1 {
			return sink.Result{}, sink.Transient(errors.New("slack: 429 too many requests"), retryAfter)
		}
		return sink.Result{Outcome: "posted"}, nil
	})
	ev := checkEvent("c1", 0)
	publish(t, b, ev)
	bustest.Run(t, b, consumer(t, b, "slack-notifier", rec, m, nil))
	rec.waitEffects(t, 1)
	waitSettled(t, b, "slack-notifier")

	calls := rec.callsOf(ev.GetIdempotencyKey())
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2: %+v", len(calls), calls)
	}
	t.Run("retry after", func(t *testing.T) {
		if gap := calls[1].at.Sub(calls[0].at); gap < retryAfter {
			t.Errorf("retried after %s, want >= %s", gap, retryAfter)
		}
	})
	t.Run("uncertain on redelivery", func(t *testing.T) {
		want := []call{{attempt: 1, uncertain: false}, {attempt: 2, uncertain: true}}
		for i, c := range calls {
			if c.attempt != want[i].attempt || c.uncertain != want[i].uncertain {
				t.Errorf("call %d: attempt %d, uncertain %t; want %d, %t", i, c.attempt, c.uncertain, want[i].attempt, want[i].uncertain)
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		for outcome, want := range map[string]float64{"transient": 1, "posted": 1} {
			if got := testutil.ToFloat64(m.Actions.WithLabelValues("slack-notifier", outcome)); got != want {
				t.Errorf("actions{%s} = %v, want %v", outcome, got, want)
			}
		}
		if got := testutil.ToFloat64(m.Redeliveries.WithLabelValues("slack-notifier")); got != 1 {
			t.Errorf("redeliveries = %v, want 1", got)
		}
	})
}

// TestRunnerLogsFailureOnce: a failure repeating with the same text is
// logged once (then at debug), and the recovery once.
func TestRunnerLogsFailureOnce(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	var logs logBuffer
	rec := newRecorder(func(_ context.Context, _ sink.Delivery, n int) (sink.Result, error) {
		switch {
		case n <= 3:
			return sink.Result{}, errors.New("slack: 503 service unavailable")
		case n == 4:
			return sink.Result{}, errors.New("slack: 502 bad gateway")
		}
		return sink.Result{Outcome: "posted"}, nil
	})
	c := consumer(t, b, "slack-notifier", rec, nil, logs.logger())
	c.MaxDeliver = 10
	publish(t, b, checkEvent("c1", 0))
	bustest.Run(t, b, c)
	rec.waitEffects(t, 1)
	logs.waitFor(t, "delivered after failures")

	out := logs.String()
	for msg, want := range map[string]int{
		`"level":"WARN","msg":"delivery failed, will retry"`:        2, // 503, then 502
		`"level":"DEBUG","msg":"delivery failed again, will retry"`: 2, // 503 twice more
		`"msg":"delivered after failures"`:                          1,
	} {
		if got := strings.Count(out, msg); got != want {
			t.Errorf("%d log lines %s, want %d:\n%s", got, msg, want, out)
		}
	}
	if !strings.Contains(out, `"event_id":"`) || !strings.Contains(out, `"sink":"slack-notifier"`) || !strings.Contains(out, `"attempt":`) {
		t.Errorf("log lines lack event_id, sink or attempt:\n%s", out)
	}
}

// TestRunnerWait: a sink.Wait is retried like a transient error, counted
// as waiting.
func TestRunnerWait(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	m := metrics.New(prometheus.NewRegistry())
	rec := newRecorder(func(_ context.Context, _ sink.Delivery, n int) (sink.Result, error) {
		if n < 3 {
			return sink.Result{}, sink.Wait("alert for the down not posted yet", 20*time.Millisecond)
		}
		return sink.Result{Outcome: "updated"}, nil
	})
	publish(t, b, checkEvent("c1", 0))
	bustest.Run(t, b, consumer(t, b, "slack-notifier", rec, m, nil))
	rec.waitEffects(t, 1)
	if got := testutil.ToFloat64(m.Actions.WithLabelValues("slack-notifier", "waiting")); got != 2 {
		t.Errorf("actions{waiting} = %v, want 2", got)
	}
}

func TestRunnerDeadLetters(t *testing.T) {
	const name = "linear-ticketer"
	tests := []struct {
		name       string
		maxDeliver int
		// raw, when set, is published instead of a valid event.
		raw         []byte
		deliver     func(n int) (sink.Result, error)
		wantCalls   int
		wantReason  string // exact, or a prefix when it ends in "…"
		wantClass   string
		wantOutcome string
	}{{
		name:       "permanent",
		maxDeliver: 5,
		deliver: func(int) (sink.Result, error) {
			return sink.Result{}, sink.Permanent(errors.New("linear: team PLAT not found"))
		},
		wantCalls:   1,
		wantReason:  "linear: team PLAT not found",
		wantClass:   "permanent",
		wantOutcome: "permanent",
	}, {
		name:        "max deliver",
		maxDeliver:  3,
		deliver:     func(n int) (sink.Result, error) { return sink.Result{}, fmt.Errorf("linear: 503 (try %d)", n) },
		wantCalls:   3,
		wantReason:  "max_deliver: linear: 503 (try 3)",
		wantClass:   "max_deliver",
		wantOutcome: "transient",
	}, {
		name:        "panic",
		maxDeliver:  5,
		deliver:     func(int) (sink.Result, error) { panic("boom") },
		wantCalls:   1,
		wantReason:  "panic: boom",
		wantClass:   "permanent",
		wantOutcome: "permanent",
	}, {
		name:       "undecodable",
		maxDeliver: 5,
		raw:        []byte("not a protobuf event"),
		deliver:    func(int) (sink.Result, error) { return sink.Result{Outcome: "created"}, nil },
		wantCalls:  0,
		wantReason: "undecodable: …",
		wantClass:  "undecodable",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bustest.Open(t, bus.Options{})
			m := metrics.New(prometheus.NewRegistry())
			rec := newRecorder(func(_ context.Context, _ sink.Delivery, n int) (sink.Result, error) { return tt.deliver(n) })
			c := consumer(t, b, name, rec, m, nil)
			c.MaxDeliver = tt.maxDeliver

			ev := checkEvent("c1", 0)
			if tt.raw != nil {
				publishRaw(t, b, event.Subject("bridge", event.KindCheckDown), tt.raw, nil)
			} else {
				publish(t, b, ev)
			}
			bustest.Run(t, b, c)

			recs := waitDeadLetters(t, b, name, 1)
			// Termed: nothing left pending, and no further delivery.
			waitSettled(t, b, name)
			if got := rec.numCalls(); got != tt.wantCalls {
				t.Errorf("sink called %d times, want %d", got, tt.wantCalls)
			}
			if got := rec.numEffects(); got != 0 {
				t.Errorf("%d effects, want none", got)
			}

			dl := recs[0].DeadLetter
			if p, ok := strings.CutSuffix(tt.wantReason, "…"); ok {
				if !strings.HasPrefix(dl.GetReason(), p) {
					t.Errorf("reason = %q, want prefix %q", dl.GetReason(), p)
				}
			} else if dl.GetReason() != tt.wantReason {
				t.Errorf("reason = %q, want %q", dl.GetReason(), tt.wantReason)
			}
			wantAttempts := uint32(max(tt.wantCalls, 1))
			if dl.GetConsumer() != name || dl.GetAttempts() != wantAttempts || dl.GetStreamSequence() != 1 ||
				dl.GetEventSubject() != "bridge.events.check.down" || dl.GetFailedAt() == nil {
				t.Errorf("dead letter = %v; want consumer %s, %d attempts, stream sequence 1, subject bridge.events.check.down, a failure time",
					dl, name, wantAttempts)
			}
			if tt.raw == nil && !proto.Equal(dl.GetEvent(), ev) {
				t.Errorf("dead letter event = %v, want %v", dl.GetEvent(), ev)
			}
			if recs[0].Subject != "bridge.deadletter."+name {
				t.Errorf("dead letter subject = %q, want bridge.deadletter.%s", recs[0].Subject, name)
			}
			if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues(name, tt.wantClass)); got != 1 {
				t.Errorf("dead_letters{%s} = %v, want 1", tt.wantClass, got)
			}
			if tt.wantOutcome != "" {
				if got := testutil.ToFloat64(m.Actions.WithLabelValues(name, tt.wantOutcome)); got < 1 {
					t.Errorf("actions{%s} = %v, want >= 1", tt.wantOutcome, got)
				}
			}
			// The claim was released: a replay can claim the key at once,
			// marked as attempted so its sink looks before it creates.
			if tt.raw == nil {
				cl, err := c.Ledger.Claim(t.Context(), name+"|"+ev.GetIdempotencyKey(), "test", time.Minute)
				if err != nil || cl.State != ledger.Claimed || !cl.TookOver {
					t.Errorf("Claim after dead letter = %+v, %v; want claimed at once, TookOver", cl, err)
				}
			}
		})
	}
}

// TestRunnerDuplicateEvents: two events with one meaning (same key, new
// id) that got past the stream's dedupe make one effect.
func TestRunnerDuplicateEvents(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	m := metrics.New(prometheus.NewRegistry())
	rec := newRecorder(nil)
	first, second := checkEvent("c1", 0), checkEvent("c1", 0)
	if first.GetId() == second.GetId() || first.GetIdempotencyKey() != second.GetIdempotencyKey() {
		t.Fatal("want two ids, one key")
	}
	subject := event.Subject("bridge", event.KindCheckDown)
	publishRaw(t, b, subject, mustMarshal(t, first), nil)
	publishRaw(t, b, subject, mustMarshal(t, second), nil)

	bustest.Run(t, b, consumer(t, b, "slack-notifier", rec, m, nil))
	waitSettled(t, b, "slack-notifier")
	if got := rec.numCalls(); got != 1 {
		t.Errorf("sink called %d times, want 1", got)
	}
	if got := testutil.ToFloat64(m.Actions.WithLabelValues("slack-notifier", "duplicate")); got != 1 {
		t.Errorf("actions{duplicate} = %v, want 1", got)
	}
}

// TestRunnerReplicas: two processes (two connections) on one durable
// consumer, with duplicates and failures thrown in, make every effect
// exactly once.
func TestRunnerReplicas(t *testing.T) {
	const (
		name     = "linear-ticketer"
		entities = 40
		perEnt   = 5
		total    = entities * perEnt
	)
	s := bustest.NewServer(t)
	producer := bustest.Connect(t, s, bus.Options{Name: "producer"})
	rec := newRecorder(func(ctx context.Context, d sink.Delivery, n int) (sink.Result, error) {
		// Some keys fail once; every delivery takes a little while, so
		// the replicas overlap.
		if n == 1 && rand.IntN(5) == 0 {
			return sink.Result{}, errors.New("linear: 502 bad gateway")
		}
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		return sink.Result{Outcome: "created"}, nil
	})

	var handled [2]atomic.Int64
	for i := range 2 {
		b := bustest.Connect(t, s, bus.Options{Name: fmt.Sprintf("replica-%d", i)})
		c := consumer(t, b, name, sink.Func(func(ctx context.Context, d sink.Delivery) (sink.Result, error) {
			handled[i].Add(1)
			return rec.Deliver(ctx, d)
		}), nil, nil)
		c.Concurrency = 8
		c.MaxDeliver = 10
		bustest.Run(t, b, c)
	}

	subject := event.Subject("bridge", event.KindCheckDown)
	keys := map[string]bool{}
	for i := range total {
		ev := checkEvent(fmt.Sprintf("check-%d", i%entities), i/entities)
		keys[ev.GetIdempotencyKey()] = true
		publish(t, producer, ev)
		if i%10 == 0 {
			// The same meaning again, past the stream's dedupe.
			dup := proto.Clone(ev).(*event.Event)
			dup.Id = event.NewID()
			publishRaw(t, producer, subject, mustMarshal(t, dup), nil)
		}
	}

	rec.waitEffects(t, total)
	waitSettled(t, producer, name)
	for key := range keys {
		if n := rec.effectsOf(key); n != 1 {
			t.Errorf("%s: %d effects, want 1", key, n)
		}
	}
	t.Logf("deliveries per replica: %d, %d", handled[0].Load(), handled[1].Load())
}

// TestRunnerEntityOrder: events about one entity are delivered one at a
// time and in stream order, while different entities go concurrently.
func TestRunnerEntityOrder(t *testing.T) {
	const (
		entities = 30
		perEnt   = 10
	)
	b := bustest.Open(t, bus.Options{})
	var (
		mu       sync.Mutex
		seen     = map[string][]int{}
		inFlight = map[string]int{}
		overlaps []string
		running  atomic.Int32
		maxRun   atomic.Int32
	)
	rec := newRecorder(func(_ context.Context, d sink.Delivery, _ int) (sink.Result, error) {
		entity := d.Event.GetSubject()
		mu.Lock()
		inFlight[entity]++
		if inFlight[entity] > 1 {
			overlaps = append(overlaps, entity)
		}
		mu.Unlock()
		n := running.Add(1)
		for {
			m := maxRun.Load()
			if n <= m || maxRun.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond) // Work, so deliveries overlap.
		running.Add(-1)
		mu.Lock()
		inFlight[entity]--
		seen[entity] = append(seen[entity], int(d.Event.GetTime().AsTime().Sub(base)/time.Second))
		mu.Unlock()
		return sink.Result{Outcome: "posted"}, nil
	})
	// Per-entity order kept, entities interleaved at random: events about
	// one entity often follow each other closely in the stream.
	next := make([]int, entities)
	for left := entities * perEnt; left > 0; left-- {
		e := rand.IntN(entities)
		for next[e] == perEnt {
			e = (e + 1) % entities
		}
		publish(t, b, checkEvent(fmt.Sprintf("check-%02d", e), next[e]))
		next[e]++
	}
	c := consumer(t, b, "slack-notifier", rec, nil, nil)
	c.Concurrency = 8
	bustest.Run(t, b, c)
	rec.waitEffects(t, entities*perEnt)

	mu.Lock()
	defer mu.Unlock()
	if len(overlaps) > 0 {
		t.Errorf("concurrent deliveries for one entity: %v", overlaps)
	}
	for e := range entities {
		entity := fmt.Sprintf("check-%02d", e)
		got := seen[entity]
		for i, n := range got {
			if n != i {
				t.Errorf("%s delivered in order %v, want 0..%d", entity, got, perEnt-1)
				break
			}
		}
	}
	if maxRun.Load() < 2 {
		t.Errorf("at most %d deliveries at once, want concurrency", maxRun.Load())
	}
}

// TestRunnerShutdown: on cancel the delivery in flight finishes (its
// context intact) and is acked; what was fetched but not started goes back
// to the stream and is delivered after a restart.
func TestRunnerShutdown(t *testing.T) {
	const name = "slack-notifier"
	b := bustest.Open(t, bus.Options{})
	m := metrics.New(prometheus.NewRegistry())
	started := make(chan struct{})
	release := make(chan struct{})
	var inFlightCtxErr atomic.Value
	blocker := checkEvent("a", 0)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // Runs before the runner's stop on failure.
	rec := newRecorder(func(ctx context.Context, d sink.Delivery, _ int) (sink.Result, error) {
		if d.Event.GetIdempotencyKey() == blocker.GetIdempotencyKey() && d.Attempt == 1 {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
			}
			inFlightCtxErr.Store(fmt.Sprint(ctx.Err()))
		}
		return sink.Result{Outcome: "posted"}, nil
	})
	var logs logBuffer
	c := consumer(t, b, name, rec, m, logs.logger())
	c.AckWait = time.Second // Anything lost in the shutdown comes back fast.

	publish(t, b, blocker)
	stop := bustest.Run(t, b, c)
	<-started
	// Queued behind the blocker (same entity), and others.
	queued := []*event.Event{checkEvent("a", 1), checkEvent("a", 2)}
	others := []*event.Event{checkEvent("b", 0), checkEvent("c", 0)}
	publish(t, b, append(queued, others...)...)
	// All of them fetched (the server delivered the last one), most not
	// started: queued behind the blocker, or behind a busy worker.
	bustest.Eventually(t, 10*time.Second, func() error {
		if got := consumerInfo(t, b, name).Delivered.Stream; got != 5 {
			return fmt.Errorf("delivered up to %d, want 5", got)
		}
		return nil
	})

	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	logs.waitFor(t, `"msg":"stopping`)
	unblock()
	<-stopped

	if got := inFlightCtxErr.Load(); got != "<nil>" {
		t.Errorf("in-flight delivery's context: %v, want not cancelled", got)
	}
	if got := rec.effectsOf(blocker.GetIdempotencyKey()); got != 1 {
		t.Errorf("in-flight delivery made %d effects, want 1", got)
	}
	for _, ev := range queued {
		if got := rec.effectsOf(ev.GetIdempotencyKey()); got != 0 {
			t.Errorf("%s delivered during shutdown, want it handed back", ev.GetIdempotencyKey())
		}
	}

	// Restart: the queued events arrive, nothing is delivered twice, and
	// the in-flight one was acked (no duplicate to skip).
	m2 := metrics.New(prometheus.NewRegistry())
	bustest.Run(t, b, consumer(t, b, name, rec, m2, nil))
	rec.waitEffects(t, 1+len(queued)+len(others))
	waitSettled(t, b, name)
	for _, ev := range append(append(queued, others...), blocker) {
		if got := rec.effectsOf(ev.GetIdempotencyKey()); got != 1 {
			t.Errorf("%s: %d effects, want 1", ev.GetIdempotencyKey(), got)
		}
	}
	if got := testutil.ToFloat64(m2.Actions.WithLabelValues(name, "duplicate")); got != 0 {
		t.Errorf("after restart actions{duplicate} = %v, want 0 (in-flight delivery acked)", got)
	}
}

// TestRunnerShutdownTimeout: a delivery that outlives ShutdownTimeout has
// its context cancelled, and Run still returns.
func TestRunnerShutdownTimeout(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	started := make(chan struct{})
	rec := newRecorder(func(ctx context.Context, _ sink.Delivery, _ int) (sink.Result, error) {
		close(started)
		<-ctx.Done()
		return sink.Result{}, ctx.Err()
	})
	c := consumer(t, b, "slack-notifier", rec, nil, nil)
	c.ShutdownTimeout = 50 * time.Millisecond
	c.AckWait = 10 * time.Second // The delivery's own deadline is far away.
	publish(t, b, checkEvent("a", 0))
	stop := bustest.Run(t, b, c)
	<-started
	stop() // Returns: the test would time out otherwise.
	if got := rec.numEffects(); got != 0 {
		t.Errorf("%d effects, want 0", got)
	}
}

func TestRunnerTakesOverStaleClaim(t *testing.T) {
	const name = "slack-notifier"
	b := bustest.Open(t, bus.Options{})
	rec := newRecorder(nil)
	c := consumer(t, b, name, rec, nil, nil)
	c.AckWait = 500 * time.Millisecond
	ev := checkEvent("a", 0)
	// A replica that died holding the claim.
	if _, err := c.Ledger.Claim(t.Context(), name+"|"+ev.GetIdempotencyKey(), "dead-replica", time.Minute); err != nil {
		t.Fatal(err)
	}
	publish(t, b, ev)
	bustest.Run(t, b, c)
	rec.waitEffects(t, 1)
	calls := rec.callsOf(ev.GetIdempotencyKey())
	if last := calls[len(calls)-1]; !last.uncertain {
		t.Errorf("delivery after takeover: %+v, want Uncertain", last)
	}
}

func TestConsumerErrors(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	l := bustest.Ledger(t, b)
	s := newRecorder(nil)
	tests := []struct {
		name string
		c    bus.Consumer
	}{
		{"no name", bus.Consumer{Sink: s, Ledger: l}},
		{"dotted name", bus.Consumer{Name: "slack.notifier", Sink: s, Ledger: l}},
		{"no sink", bus.Consumer{Name: "x", Ledger: l}},
		{"no ledger", bus.Consumer{Name: "x", Sink: s}},
		{"backoff min above max", bus.Consumer{Name: "x", Sink: s, Ledger: l, BackoffMin: time.Minute, BackoffMax: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Run(t.Context(), tt.c); err == nil {
				t.Error("Run = nil, want an error")
			}
		})
	}
}

package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/ledger"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/silence"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// Defaults of Consumer.
const (
	DefaultConcurrency     = 8
	DefaultMaxDeliver      = 10
	DefaultAckWait         = 30 * time.Second
	DefaultBackoffMin      = time.Second
	DefaultBackoffMax      = 5 * time.Minute
	DefaultShutdownTimeout = 10 * time.Second
)

// Outcomes the runner counts in metrics.Actions besides a sink's own.
const (
	OutcomeDuplicate = "duplicate" // the ledger says done: acked, not delivered
	OutcomeTransient = "transient" // failed, retried later
	OutcomePermanent = "permanent" // failed for good: dead-lettered
	OutcomeWaiting   = "waiting"   // waiting for another event, or for another replica's claim
	OutcomeSkipped   = "skipped"   // a replay meant for another consumer
	// OutcomeDelivered stands for a sink's Result without an Outcome.
	OutcomeDelivered = "delivered"
)

// Reason classes of metrics.DeadLetters.
const (
	ReasonPermanent   = "permanent"
	ReasonMaxDeliver  = "max_deliver"
	ReasonUndecodable = "undecodable"
)

// maxPendingAcks bounds the messages delivered and not yet acknowledged
// across every replica of a consumer. It is generous because a message
// waiting for a delayed retry (NakWithDelay) stays pending: a low bound
// would let a failing sink stall the whole consumer.
const maxPendingAcks = 10_000

// opTimeout bounds one ledger, ack or dead-letter operation. They get their
// own deadline, not the delivery's, so that a delivery cut short at
// shutdown can still release its claim and nak.
const opTimeout = 5 * time.Second

// pendingInterval is how often metrics.Pending is refreshed.
const pendingInterval = 5 * time.Second

// Consumer describes a durable consumer and the sink it feeds. The zero
// values of the tuning fields take the defaults above.
type Consumer struct {
	// Name of the durable consumer, and the sink's name in metrics, logs
	// and the ledger: "slack-notifier".
	Name string
	// Kinds of events consumed; every kind when empty.
	Kinds  []string
	Sink   sink.Sink
	Ledger *ledger.Ledger
	// Concurrency is how many events are worked on at once in this process.
	Concurrency int
	// MaxDeliver is how many deliveries an event gets before it is
	// dead-lettered.
	MaxDeliver int
	// AckWait is how long a delivery may take before the server redelivers
	// the event, and the lease of a ledger claim. A sink's Deliver gets
	// four fifths of it.
	AckWait                time.Duration
	BackoffMin, BackoffMax time.Duration
	// ShutdownTimeout bounds how long deliveries in flight may go on after
	// Run's ctx is cancelled.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// Metrics; a private set when nil.
	Metrics *metrics.Metrics
	// Silences, when set, says which events an operator silenced: the
	// sink gets them with Delivery.Silenced set through
	// sink.SilenceKeeper, or not at all (outcome "silenced").
	Silences Silencer
	// Refresh, when set, reads the secrets again after the sink's service
	// refused a credential (sink.IsUnauthorized), and reports whether they
	// changed after since, when the failed delivery began. If they did,
	// the event is retried soon with the new credential instead of being
	// dead-lettered. Nil: a refused credential is permanent.
	Refresh func(ctx context.Context, since time.Time) bool
}

// Silencer finds the silence in force that matches an event;
// *silence.Matcher is one.
type Silencer interface {
	Silenced(ev *event.Event, now time.Time) (silence.Silence, bool)
}

func (c *Consumer) setDefaults() error {
	switch {
	case c.Name == "" || strings.ContainsAny(c.Name, " \t.*>/\\"):
		return fmt.Errorf("bus: consumer name %q: want a non-empty name without spaces, dots, wildcards or slashes", c.Name)
	case c.Sink == nil:
		return fmt.Errorf("bus: consumer %s: no sink", c.Name)
	case c.Ledger == nil:
		return fmt.Errorf("bus: consumer %s: no ledger", c.Name)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffMin)
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New(prometheus.NewRegistry())
	}
	if c.BackoffMin > c.BackoffMax {
		return fmt.Errorf("bus: consumer %s: backoff min %s above max %s", c.Name, c.BackoffMin, c.BackoffMax)
	}
	return nil
}

// Run consumes events for c.Sink until ctx is cancelled, then drains
// gracefully and returns nil. It returns an error when it cannot start, or
// when the connection is closed under it.
//
// Run creates (or updates) the durable pull consumer c.Name; several
// processes running the same Consumer share it. Each event goes through:
//
//  1. the ledger claim on c.Name+"|"+idempotency key: an effect already
//     done is acked and counted as a duplicate; a key held by a live claim
//     elsewhere is retried once that claim's lease can have run out; a claim
//     whose holder died is taken over;
//  2. one Deliver, bounded by four fifths of AckWait, panics recovered;
//  3. on success: the result recorded in the ledger, then a double ack;
//     on a transient error: the claim released, and a redelivery no sooner
//     than the error's RetryAfter and an exponential backoff with jitter;
//     on a permanent error, or a transient one at delivery MaxDeliver: a
//     dead letter, and Term once the dead letter is stored.
//
// Events about one entity (event.Entity) are handled one at a time, in
// stream order, within a process; at most Concurrency events at once.
// Across replicas and redeliveries the ledger keeps effects exactly-once,
// and sinks keep order where it matters (sink.Wait).
//
// On cancel, Run stops pulling, lets deliveries in flight finish (bounded by
// ShutdownTimeout, after which their context is cancelled), naks what it
// had fetched but not started, and returns.
//
// The runner, not the server, enforces MaxDeliver: the consumer's own
// MaxDeliver is unlimited, because a server that stops redelivering would
// silently drop an event whose dead letter could not be stored.
func (b *Bus) Run(ctx context.Context, c Consumer) error {
	if err := c.setDefaults(); err != nil {
		return err
	}
	r := &runner{
		b:              b,
		c:              c,
		log:            c.Logger.With("sink", c.Name),
		owner:          ownerID(c.Name),
		seed:           maphash.MakeSeed(),
		deliverTimeout: c.AckWait * 4 / 5,
	}
	cons, err := r.consumer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // Cancelled before it started: nothing to drain.
		}
		return err
	}
	return r.run(ctx, cons)
}

type runner struct {
	b              *Bus
	c              Consumer
	log            *slog.Logger
	owner          string // this runner's name in ledger claims
	seed           maphash.Seed
	deliverTimeout time.Duration
	stopping       atomic.Bool
}

// job is a fetched message on its way to a worker.
type job struct {
	msg     jetstream.Msg
	ev      *event.Event
	err     error // why the message could not be decoded
	entity  string
	fetched time.Time
}

func ownerID(name string) string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s@%s/%d/%s", name, host, os.Getpid(), hex.EncodeToString(b[:]))
}

func (r *runner) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       r.c.Name,
		Description:   "bridge sink " + r.c.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: maxPendingAcks,
	}
	for _, k := range r.c.Kinds {
		cfg.FilterSubjects = append(cfg.FilterSubjects, event.Subject(r.b.o.Prefix, k))
	}
	cons, err := r.b.js.CreateOrUpdateConsumer(ctx, event.EventsStream(r.b.o.Prefix), cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", r.c.Name, err)
	}
	return cons, nil
}

func (r *runner) run(ctx context.Context, cons jetstream.Consumer) error {
	// Workers outlive ctx by up to ShutdownTimeout: their context is
	// cancelled only when that runs out.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()

	var wg sync.WaitGroup
	// One queue per worker, one slot each: an entity always goes to the
	// same worker, and the fetch loop blocks while that worker is busy
	// instead of piling messages up (their AckWait runs while they wait).
	queues := make([]chan job, r.c.Concurrency)
	for i := range queues {
		q := make(chan job, 1)
		queues[i] = q
		wg.Go(func() { r.work(work, q) })
	}
	wg.Go(func() { r.refreshPending(fetchCtx, cons) })

	err := r.fetch(fetchCtx, cons, queues)
	stopFetch()
	r.stopping.Store(true)
	r.log.Debug("stopping: finishing deliveries in flight", "timeout", r.c.ShutdownTimeout)
	for _, q := range queues {
		close(q)
	}
	timedOut := atomic.Bool{}
	t := time.AfterFunc(r.c.ShutdownTimeout, func() {
		timedOut.Store(true)
		stopWork()
	})
	wg.Wait()
	t.Stop()
	if timedOut.Load() {
		r.log.Warn("shutdown timeout: deliveries in flight were cancelled", "timeout", r.c.ShutdownTimeout)
	}
	return err
}

// fetch pulls messages and hands them to the workers until ctx is done. A
// broken pull (consumer deleted, leadership lost) is resumed after a
// backoff, with the consumer created again if it has to be.
func (r *runner) fetch(ctx context.Context, cons jetstream.Consumer, queues []chan job) error {
	for failures := 0; ; {
		err := r.pull(ctx, cons, queues)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, nats.ErrConnectionClosed) || r.b.nc.IsClosed() || r.b.nc.IsDraining() {
			return fmt.Errorf("bus: consumer %s: %w", r.c.Name, err)
		}
		failures++
		r.log.Warn("consumer interrupted, resuming", "err", err)
		t := time.NewTimer(backoff(failures, r.c.BackoffMin, 30*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if c, err := r.consumer(ctx); err == nil {
			cons = c
			failures = 0
		} else if ctx.Err() == nil {
			r.log.Warn("consumer not recreated", "err", err)
		}
	}
}

func (r *runner) pull(ctx context.Context, cons jetstream.Consumer, queues []chan job) error {
	// A small client buffer: what sits there has its AckWait running.
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * r.c.Concurrency))
	if err != nil {
		return err
	}
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			switch {
			case ctx.Err() != nil:
				r.drain(it)
				return nil
			case errors.Is(err, jetstream.ErrNoHeartbeat):
				continue // The iterator pulls again by itself.
			default:
				it.Stop()
				return err
			}
		}
		j := decode(msg)
		q := queues[maphash.String(r.seed, j.entity)%uint64(len(queues))]
		select {
		case q <- j:
		case <-ctx.Done():
			r.nak(msg, 0)
			r.drain(it)
			return nil
		}
	}
}

// drain stops pulling and hands back, undelayed, what was already fetched.
func (r *runner) drain(it jetstream.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			it.Stop()
			return
		}
		r.nak(msg, 0)
	}
}

func decode(msg jetstream.Msg) job {
	j := job{msg: msg, fetched: time.Now()}
	j.ev, j.err = event.Unmarshal(msg.Data())
	if j.err != nil {
		j.entity = msg.Subject()
	} else {
		j.entity = event.Entity(j.ev)
	}
	return j
}

// worker is one of Concurrency goroutines. failures holds the last error
// text of each key that is failing, so that a repeating failure is logged
// once per change of its text, not once per retry. A key's deliveries all
// reach the same worker (same entity), so the map needs no lock.
type worker struct {
	failures map[string]string
}

// maxFailures bounds worker.failures; past it the map starts afresh (at
// worst a failure is logged twice).
const maxFailures = 4096

func (w *worker) fail(key, text string) (changed bool) {
	if len(w.failures) >= maxFailures {
		clear(w.failures)
	}
	changed = w.failures[key] != text
	w.failures[key] = text
	return changed
}

func (r *runner) work(ctx context.Context, q <-chan job) {
	w := &worker{failures: make(map[string]string)}
	for j := range q {
		if r.stopping.Load() {
			r.nak(j.msg, 0) // Fetched but not started: straight back to the stream.
			continue
		}
		r.handle(ctx, w, j)
	}
}

func (r *runner) refreshPending(ctx context.Context, cons jetstream.Consumer) {
	g := r.c.Metrics.Pending.WithLabelValues(r.c.Name)
	t := time.NewTicker(pendingInterval)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, opTimeout)
		if info, err := cons.Info(ictx); err == nil {
			g.Set(float64(info.NumPending))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *runner) nak(msg jetstream.Msg, delay time.Duration) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		// Nothing lost: the server redelivers after AckWait.
		r.log.Debug("nak failed", "subject", msg.Subject(), "err", err)
	}
}

// backoff returns the delay before delivery attempt+1: min doubling per
// attempt, capped at max, with "equal jitter" (a uniform draw from the
// upper half) so that a burst of failures does not retry in step.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + mrand.N(d-half+1)
}

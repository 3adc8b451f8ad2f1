package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/ledger"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// handle takes one message through claim, delivery and its verdict. It
// always ends with the message acked, naked or termed (or, when the
// connection is gone, left to the server's AckWait).
func (r *runner) handle(ctx context.Context, w *worker, j job) {
	msg := j.msg
	meta, err := msg.Metadata()
	if err != nil {
		r.log.Error("message without jetstream metadata", "subject", msg.Subject(), "err", err)
		return
	}
	attempt := int(meta.NumDelivered)
	if attempt > 1 {
		r.c.Metrics.Redeliveries.WithLabelValues(r.c.Name).Inc()
	}
	if time.Since(j.fetched) > r.c.AckWait/2 {
		// It queued behind earlier events of its entity: restart its
		// AckWait so the server does not redeliver it to someone else.
		_ = msg.InProgress()
	}
	log := r.log.With("subject", msg.Subject(), "stream_seq", meta.Sequence.Stream, "attempt", attempt)

	if j.err != nil {
		r.deadLetter(ctx, log, w, j, meta, "undecodable: "+j.err.Error(), ReasonUndecodable, nil)
		return
	}
	ev := j.ev
	log = log.With("event_id", ev.GetId())
	if to := msg.Headers().Get(HeaderReplayFor); to != "" && to != r.c.Name {
		// Replayed for another consumer's dead letter.
		r.ack(log, msg)
		r.count(OutcomeSkipped)
		return
	}

	key := r.c.Name + "|" + ev.GetIdempotencyKey()
	cl, err := r.claim(ctx, key)
	if err != nil {
		delay := r.backoff(attempt)
		if w.fail(key, err.Error()) {
			log.Warn("ledger unavailable, will retry", "err", err, "retry_in", delay)
		}
		r.nak(msg, delay)
		r.count(OutcomeTransient)
		return
	}
	switch cl.State {
	case ledger.Done:
		r.ack(log, msg)
		r.count(OutcomeDuplicate)
		delete(w.failures, key)
		log.Debug("already done", "outcome", cl.Result.Outcome)
		return
	case ledger.Busy:
		// Another replica works on this key (a duplicate event, or this
		// one redelivered): ask again once its lease can have run out.
		delay := max(cl.RetryIn, r.c.BackoffMin)
		r.nak(msg, delay)
		r.count(OutcomeWaiting)
		log.Debug("claimed elsewhere", "holder", cl.Holder, "retry_in", delay)
		return
	}

	if attempt > r.c.MaxDeliver {
		// The final attempt ended without a verdict: the process died, or
		// the dead letter could not be stored. Do not try again.
		reason := w.failures[key]
		if reason == "" {
			reason = "no outcome"
		}
		if !strings.HasPrefix(reason, maxDeliverPrefix) {
			reason = maxDeliverPrefix + reason
		}
		r.deadLetter(ctx, log, w, j, meta, reason, ReasonMaxDeliver, &cl)
		return
	}

	d := sink.Delivery{
		Event:   ev,
		Attempt: attempt,
		// A replayed event may have had an effect before it was given up.
		Uncertain: attempt > 1 || cl.TookOver || msg.Headers().Get(HeaderReplayOf) != "",
	}
	if r.c.Silences != nil {
		if s, ok := r.c.Silences.Silenced(ev, time.Now()); ok {
			d.Silenced = &sink.Silence{ID: s.ID, Reason: s.Reason}
		}
	}
	began := time.Now()
	res, err := r.deliver(ctx, log, d)
	switch {
	case sink.IsUnauthorized(err) && r.refreshed(ctx, log, began):
		if attempt >= r.c.MaxDeliver {
			r.count(OutcomeTransient)
			r.deadLetter(ctx, log, w, j, meta, maxDeliverPrefix+err.Error(), ReasonMaxDeliver, &cl)
			return
		}
		r.retryRefreshed(ctx, log, w, msg, key, cl, err)
	case err == nil:
		if d.Silenced != nil {
			log.Info("event silenced", "consumer", r.c.Name, "silence_id", d.Silenced.ID,
				"reason", d.Silenced.Reason, "outcome", res.Outcome)
		}
		r.succeed(ctx, log, w, msg, key, cl, res)
	case sink.IsPermanent(err):
		r.count(OutcomePermanent)
		// The sink's error text, and nothing else: sinks keep secrets out
		// of it, the runner adds no header or payload.
		r.deadLetter(ctx, log, w, j, meta, err.Error(), ReasonPermanent, &cl)
	case attempt >= r.c.MaxDeliver:
		r.count(transientOutcome(err))
		r.deadLetter(ctx, log, w, j, meta, maxDeliverPrefix+err.Error(), ReasonMaxDeliver, &cl)
	default:
		r.retry(ctx, log, w, msg, key, attempt, cl, err)
	}
}

// maxDeliverPrefix starts the reason of a max_deliver dead letter; the rest
// is the last error's text.
const maxDeliverPrefix = "max_deliver: "

func transientOutcome(err error) string {
	if sink.IsWait(err) {
		return OutcomeWaiting
	}
	return OutcomeTransient
}

func (r *runner) claim(ctx context.Context, key string) (ledger.Claim, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	return r.c.Ledger.Claim(ctx, key, r.owner, r.c.AckWait)
}

// deliver makes one attempt, turning a panic into a permanent error.
func (r *runner) deliver(ctx context.Context, log *slog.Logger, d sink.Delivery) (res sink.Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.deliverTimeout)
	defer cancel()
	start := time.Now()
	defer func() {
		r.c.Metrics.ActionDuration.WithLabelValues(r.c.Name).Observe(time.Since(start).Seconds())
		if p := recover(); p != nil {
			log.Error("sink panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res, err = sink.Result{}, sink.Permanent(fmt.Errorf("panic: %v", p))
		}
	}()
	if d.Silenced != nil {
		k, ok := r.c.Sink.(sink.SilenceKeeper)
		if !ok {
			// No state to keep: the silence is the whole verdict.
			return sink.Result{Outcome: sink.OutcomeSilenced}, nil
		}
		return k.DeliverSilenced(ctx, d)
	}
	return r.c.Sink.Deliver(ctx, d)
}

func (r *runner) succeed(ctx context.Context, log *slog.Logger, w *worker, msg jetstream.Msg, key string, cl ledger.Claim, res sink.Result) {
	if err := r.complete(ctx, cl, res); err != nil {
		if !errors.Is(err, ledger.ErrClaimLost) {
			// The effect exists but is not recorded. Keep the claim: the
			// redelivery after its lease takes it over, Uncertain, and the
			// sink looks before it creates again.
			log.Error("effect made but not recorded, will retry", "err", err)
			r.nak(msg, r.c.AckWait)
			r.count(OutcomeTransient)
			return
		}
		// Our lease ran out and another holder took over: it records its
		// own result. The effect exists, so this delivery is done.
		log.Warn("effect made after its claim was taken over", "err", err)
	}
	actx, cancel := opContext(ctx)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		// Recorded in the ledger: a redelivery is acked as a duplicate.
		log.Warn("ack not confirmed", "err", err)
	}
	outcome := res.Outcome
	if outcome == "" {
		outcome = OutcomeDelivered
	}
	r.count(outcome)
	if _, failed := w.failures[key]; failed {
		delete(w.failures, key)
		log.Info("delivered after failures", "outcome", outcome)
		return
	}
	log.Debug("delivered", "outcome", outcome)
}

// complete records the result, retrying briefly: a short NATS hiccup should
// not cost a redelivery.
func (r *runner) complete(ctx context.Context, cl ledger.Claim, res sink.Result) error {
	var err error
	for i := range 3 {
		if i > 0 {
			t := time.NewTimer(time.Duration(i) * 100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
		cctx, cancel := opContext(ctx)
		err = r.c.Ledger.Complete(cctx, cl, res)
		cancel()
		if err == nil || errors.Is(err, ledger.ErrClaimLost) {
			return err
		}
	}
	return err
}

func (r *runner) retry(ctx context.Context, log *slog.Logger, w *worker, msg jetstream.Msg, key string, attempt int, cl ledger.Claim, err error) {
	r.release(ctx, log, cl)
	delay := max(sink.RetryAfter(err), r.backoff(attempt))
	r.nak(msg, delay)
	outcome := transientOutcome(err)
	r.count(outcome)
	changed := w.fail(key, err.Error())
	switch {
	case outcome == OutcomeWaiting:
		log.Debug("waiting", "reason", err, "retry_in", delay)
	case changed:
		log.Warn("delivery failed, will retry", "err", sink.Describe(err), "retry_in", delay)
	default:
		log.Debug("delivery failed again, will retry", "err", sink.Describe(err), "retry_in", delay)
	}
}

// refreshed asks Consumer.Refresh whether the secrets changed since the
// failed delivery began: then the refused credential was an old one.
func (r *runner) refreshed(ctx context.Context, log *slog.Logger, began time.Time) bool {
	if r.c.Refresh == nil {
		return false
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	if r.c.Refresh(ctx, began) {
		return true
	}
	log.Debug("credential refused; the secrets have not changed")
	return false
}

// retryRefreshed redelivers, after the shortest backoff, an event whose
// credential was refused while a newer one was read: the retry uses it.
func (r *runner) retryRefreshed(ctx context.Context, log *slog.Logger, w *worker, msg jetstream.Msg, key string, cl ledger.Claim, err error) {
	r.release(ctx, log, cl)
	r.nak(msg, r.c.BackoffMin)
	r.count(OutcomeTransient)
	// Recorded as a failure, so that the delivery that follows logs
	// "delivered after failures".
	w.fail(key, err.Error())
	// The error names the service's answer (invalid_auth, HTTP 401), never
	// the credential: sinks scrub it.
	log.Info("credential refused; secrets re-read, retrying", "err", err.Error(), "retry_in", r.c.BackoffMin)
}

// deadLetter stores a DeadLetter for the message and then terms it. If the
// dead letter cannot be stored, the message is naked to try again later.
func (r *runner) deadLetter(ctx context.Context, log *slog.Logger, w *worker, j job, meta *jetstream.MsgMetadata, reason, class string, cl *ledger.Claim) {
	msg := j.msg
	if cl != nil {
		defer r.release(ctx, log, *cl)
	}
	key := "undecodable"
	if j.ev != nil {
		key = j.ev.GetIdempotencyKey()
	}
	dl := &bridgev1.DeadLetter{
		Event:          j.ev,
		Consumer:       r.c.Name,
		Reason:         reason,
		Attempts:       uint32(meta.NumDelivered),
		FailedAt:       timestamppb.Now(),
		StreamSequence: meta.Sequence.Stream,
		EventSubject:   msg.Subject(),
	}
	data, err := proto.Marshal(dl)
	if err == nil {
		pctx, cancel := opContext(ctx)
		_, err = r.b.publish(pctx, &nats.Msg{
			Subject: event.DeadLetterSubject(r.b.o.Prefix, r.c.Name),
			Header: nats.Header{
				// One dead letter per consumer and stream message, however
				// often this runs for it.
				jetstream.MsgIDHeader: []string{r.c.Name + "|" + key + "|" + formatSeq(meta.Sequence.Stream)},
				HeaderContentType:     []string{DeadLetterContentType},
			},
			Data: data,
		})
		cancel()
	}
	if err != nil {
		delay := r.backoff(int(meta.NumDelivered))
		log.Error("dead letter not stored, will retry", "err", err, "reason", reason, "retry_in", delay)
		w.fail(r.c.Name+"|"+key, reason)
		r.nak(msg, delay)
		return
	}
	// Term only now that the dead letter is stored: a crash in between
	// redelivers, and the Nats-Msg-Id makes the second one a duplicate.
	if err := msg.Term(); err != nil {
		log.Warn("term failed, the event will be dead-lettered again", "err", err)
	}
	delete(w.failures, r.c.Name+"|"+key)
	r.c.Metrics.DeadLetters.WithLabelValues(r.c.Name, class).Inc()
	log.Warn("dead-lettered", "reason", reason, "class", class)
}

func (r *runner) release(ctx context.Context, log *slog.Logger, cl ledger.Claim) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	if err := r.c.Ledger.Release(ctx, cl); err != nil {
		// The claim's lease runs out by itself; a duplicate then takes it
		// over instead of claiming afresh.
		log.Warn("claim not released", "err", err)
	}
}

func (r *runner) ack(log *slog.Logger, msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		log.Warn("ack failed", "err", err)
	}
}

func (r *runner) count(outcome string) {
	r.c.Metrics.Actions.WithLabelValues(r.c.Name, outcome).Inc()
}

func (r *runner) backoff(attempt int) time.Duration {
	return backoff(attempt, r.c.BackoffMin, r.c.BackoffMax)
}

// opContext bounds one ledger, ack or dead-letter operation. It does not end
// with ctx (a delivery cut short at shutdown must still release its claim
// and nak), only with opTimeout.
func opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
}

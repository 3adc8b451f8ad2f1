package slack

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// Alert states recorded in the ledger under AlertKey.
const (
	stateOpen     = "open"
	stateResolved = "resolved"
	// dryRunTS stands for the ts of an alert that was only logged.
	dryRunTS = "dry-run"
)

// waitForDown is how long an up waits for its down to be applied.
const waitForDown = 5 * time.Second

// alert is what the ledger holds about a check's latest alert.
type alert struct {
	channel, ts, state string
	downAt, upAt       time.Time
	// update says why the alert could not be updated on recovery.
	update string
	// replyTS is the recovery reply's ts.
	replyTS string
}

func alertFrom(r sink.Result) alert {
	f := r.Fields
	a := alert{channel: f["channel"], ts: f["ts"], state: f["state"], replyTS: f["reply_ts"], update: f["update"]}
	a.downAt, _ = time.Parse(time.RFC3339, f["down_at"])
	a.upAt, _ = time.Parse(time.RFC3339, f["up_at"])
	return a
}

func (a alert) result(outcome string, checkID string) sink.Result {
	f := map[string]string{"channel": a.channel, "ts": a.ts, "state": a.state}
	if !a.downAt.IsZero() {
		f["down_at"] = a.downAt.UTC().Format(time.RFC3339)
	}
	if !a.upAt.IsZero() {
		f["up_at"] = a.upAt.UTC().Format(time.RFC3339)
	}
	if a.replyTS != "" {
		f["reply_ts"] = a.replyTS
	}
	if a.update != "" {
		f["update"] = a.update
	}
	return sink.Result{Outcome: outcome, Fields: f, Links: []string{AlertKey(checkID)}}
}

// checkOf returns the event's check and the time of its flip.
func checkOf(ev *event.Event) (*bridgev1.CheckStatusChanged, time.Time, error) {
	c := ev.GetCheckStatusChanged()
	if c.GetCheckId() == "" {
		return nil, time.Time{}, sink.Permanent(fmt.Errorf("slack: event %s: check has no id", ev.GetId()))
	}
	at := c.GetChangedAt()
	if at == nil {
		at = ev.GetTime()
	}
	return c, at.AsTime().UTC(), nil
}

// recorded reads the check's alert from the ledger.
func (s *Sink) recorded(ctx context.Context, checkID string) (alert, bool, error) {
	if s.lookup == nil {
		return alert{}, false, nil
	}
	r, ok, err := s.lookup.Result(ctx, AlertKey(checkID))
	if err != nil {
		return alert{}, false, sink.Transient(fmt.Errorf("slack: read the alert of check %s: %w", checkID, err), 0)
	}
	if !ok {
		return alert{}, false, nil
	}
	return alertFrom(r), true, nil
}

// mayHavePosted reports whether an earlier attempt may have made the
// effect. Besides Uncertain, any retry may have: a transient failure can
// come after Slack acted (a lost answer, a failed chat.update after the
// reply), and looking costs one read.
func mayHavePosted(d sink.Delivery) bool { return d.Uncertain || d.Attempt > 1 }

// checkDown posts the alert of a check that went down, unless one is open.
func (s *Sink) checkDown(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	c, at, err := checkOf(d.Event)
	if err != nil {
		return sink.Result{}, err
	}
	prev, found, err := s.recorded(ctx, c.GetCheckId())
	if err != nil {
		return sink.Result{}, err
	}
	switch {
	case found && prev.state != stateResolved:
		// One alert per outage: Healthchecks flips once, but a retried
		// webhook or a replay can bring the same down twice.
		return sink.Result{Outcome: sink.OutcomeSkipped}, nil
	case found && prev.upAt.After(at):
		// A recovery later than this down is recorded: it is stale.
		return sink.Result{Outcome: sink.OutcomeSkipped}, nil
	}

	msg := renderCheckDown(c)
	channel := s.routing.SlackChannel(d.Event, s.channels.Checks)
	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		s.dryRun(ctx, d, "chat.postMessage", channel, "", msg)
		a := alert{channel: channel, ts: dryRunTS, state: stateOpen, downAt: at}
		return a.result(sink.OutcomeDryRun, c.GetCheckId()), nil
	}
	if channel == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("slack: no channel for check alerts: set slack.channels.checks"))
	}

	if mayHavePosted(d) {
		chID, ts, ok, err := s.findPosted(ctx, cl, channel, d.Event.GetIdempotencyKey(), at)
		if err != nil {
			return sink.Result{}, err
		}
		if ok {
			s.log.LogAttrs(ctx, slog.LevelInfo, "found the alert an earlier attempt posted",
				slog.String("event_id", d.Event.GetId()), slog.String("channel", chID), slog.String("ts", ts))
			a := alert{channel: chID, ts: ts, state: stateOpen, downAt: at}
			return a.result(OutcomePosted, c.GetCheckId()), nil
		}
	}

	chID, ts, err := s.postTop(ctx, cl, channel, msg, metadata(d.Event))
	if err != nil {
		return sink.Result{}, err
	}
	a := alert{channel: chID, ts: ts, state: stateOpen, downAt: at}
	return a.result(OutcomePosted, c.GetCheckId()), nil
}

// Codes on chat.update that leave the recovery reply as the whole effect:
// the alert is gone, not ours, or frozen. A retry would get the same.
var updateGiveUp = map[string]bool{
	"message_not_found":   true,
	"cant_update_message": true,
	"edit_window_closed":  true,
}

// checkUp replies in the thread of the check's open alert and marks the
// alert resolved. Until the down's alert is recorded the up waits.
func (s *Sink) checkUp(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	c, at, err := checkOf(d.Event)
	if err != nil {
		return sink.Result{}, err
	}
	a, found, err := s.recorded(ctx, c.GetCheckId())
	if err != nil {
		return sink.Result{}, err
	}
	switch {
	case !found:
		return sink.Result{}, sink.Wait("waiting for the down alert", waitForDown)
	case a.state == stateResolved && !a.upAt.Before(at):
		// This up, or a later one, resolved the alert already.
		return sink.Result{Outcome: sink.OutcomeSkipped}, nil
	case a.state == stateResolved:
		// The recorded alert is an older outage's: this up's down has not
		// been applied yet.
		return sink.Result{}, sink.Wait("waiting for the down alert", waitForDown)
	case a.downAt.After(at):
		// The open alert is of a later outage than this up: nothing of
		// ours is left for it to resolve.
		return sink.Result{Outcome: sink.OutcomeSkipped}, nil
	case a.state == stateSilenced:
		return resolveSilent(d, c, a, at), nil
	}

	reply := renderCheckRecovery(c, a.downAt)
	resolved := renderCheckResolved(c, a.downAt)
	a.state, a.upAt, a.replyTS, a.update = stateResolved, at, "", ""

	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		if d.Silenced == nil {
			s.dryRun(ctx, d, "chat.postMessage", a.channel, a.ts, reply)
		}
		s.dryRun(ctx, d, "chat.update", a.channel, a.ts, resolved)
		return a.result(orSilenced(d, sink.OutcomeDryRun), c.GetCheckId()), nil
	}
	if a.ts == dryRunTS {
		// The alert was only logged: there is no message to answer.
		s.log.LogAttrs(ctx, slog.LevelInfo, "the alert was a dry run: nothing to resolve in Slack",
			slog.String("event_id", d.Event.GetId()), slog.String("check_id", c.GetCheckId()))
		a.update = "skipped (dry-run alert)"
		return a.result(orSilenced(d, OutcomeResolved), c.GetCheckId()), nil
	}

	key := d.Event.GetIdempotencyKey()
	if mayHavePosted(d) && d.Silenced == nil {
		ts, ok, err := cl.findInThread(ctx, a.channel, a.ts, key)
		switch {
		case slackCode(err) == "thread_not_found":
			return s.alertGone(ctx, d, a, c.GetCheckId(), "thread_not_found")
		case err != nil:
			return sink.Result{}, err
		case ok:
			a.replyTS = ts
		}
	}
	// A silenced up still marks its posted alert resolved, without a reply.
	if a.replyTS == "" && d.Silenced == nil {
		_, ts, err := cl.post(ctx, a.channel, a.ts, reply, metadata(d.Event))
		switch {
		case slackCode(err) == "thread_not_found":
			return s.alertGone(ctx, d, a, c.GetCheckId(), "thread_not_found")
		case err != nil:
			return sink.Result{}, err
		}
		a.replyTS = ts
	}

	// chat.update is idempotent: a retry sets the same content again.
	if err := cl.update(ctx, a.channel, a.ts, resolved); err != nil {
		code := slackCode(err)
		if !updateGiveUp[code] {
			return sink.Result{}, err
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "could not mark the alert resolved; the recovery reply is posted",
			slog.String("event_id", d.Event.GetId()), slog.String("channel", a.channel),
			slog.String("ts", a.ts), slog.String("err", err.Error()))
		a.update = "skipped (" + code + ")"
	}
	return a.result(orSilenced(d, OutcomeResolved), c.GetCheckId()), nil
}

// alertGone resolves an alert whose message was deleted: nothing can be
// said in its thread, but the check must not stay "open" forever, or every
// later down would be skipped.
func (s *Sink) alertGone(ctx context.Context, d sink.Delivery, a alert, checkID, code string) (sink.Result, error) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "the alert message is gone; marking it resolved without a reply",
		slog.String("event_id", d.Event.GetId()), slog.String("channel", a.channel),
		slog.String("ts", a.ts), slog.String("err", code))
	a.update = "skipped (" + code + ")"
	return a.result(OutcomeResolved, checkID), nil
}

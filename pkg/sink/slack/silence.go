package slack

import (
	"context"
	"strconv"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// stateSilenced is the state of a check alert whose down was silenced:
// nothing was posted, and the matching up posts nothing either, even if
// the silence ended in between (a recovery without its alert is noise).
const stateSilenced = "silenced"

// DeliverSilenced keeps the sink's state for an event an operator
// silenced, and posts nothing: a silenced down records a silent alert for
// its up to find; a silenced up resolves the alert, updating a posted one
// without a thread reply; a silenced report becomes the state the next one
// is diffed against. It implements sink.SilenceKeeper.
func (s *Sink) DeliverSilenced(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	switch event.Kind(d.Event) {
	case event.KindCheckDown:
		return s.checkDownSilenced(ctx, d)
	case event.KindCheckUp:
		return s.checkUp(ctx, d)
	case event.KindVulnerabilityFound:
		return s.vulnerabilityFound(ctx, d)
	}
	return silencedResult(d, nil), nil
}

// checkDownSilenced records the outage without an alert, unless an alert
// is open already: one outage, one alert, silenced or not.
func (s *Sink) checkDownSilenced(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	c, at, err := checkOf(d.Event)
	if err != nil {
		return sink.Result{}, err
	}
	prev, found, err := s.recorded(ctx, c.GetCheckId())
	if err != nil {
		return sink.Result{}, err
	}
	if found && (prev.state != stateResolved || prev.upAt.After(at)) {
		return sink.Result{Outcome: sink.OutcomeSkipped}, nil
	}
	a := alert{state: stateSilenced, downAt: at}
	r := a.result(sink.OutcomeSilenced, c.GetCheckId())
	r.Fields["silence_id"] = d.Silenced.ID
	return r, nil
}

// resolveSilent resolves the silent alert of a silenced down: nothing was
// posted, so nothing is said.
func resolveSilent(d sink.Delivery, c *bridgev1.CheckStatusChanged, a alert, at time.Time) sink.Result {
	a.state, a.upAt = stateResolved, at
	r := a.result(sink.OutcomeSilenced, c.GetCheckId())
	if d.Silenced != nil {
		r.Fields["silence_id"] = d.Silenced.ID
	}
	return r
}

// orSilenced is outcome, or OutcomeSilenced for a silenced delivery.
func orSilenced(d sink.Delivery, outcome string) string {
	if d.Silenced != nil {
		return sink.OutcomeSilenced
	}
	return outcome
}

// silencedReport stores a silenced report's findings as the artifact's
// state, so that the first report after the silence is diffed against
// what was known, and posts nothing.
func (s *Sink) silencedReport(ctx context.Context, d sink.Delivery, group string, next vuln.State, rev uint64, c vuln.Change) (sink.Result, error) {
	if err := s.putState(ctx, group, next, rev); err != nil {
		return sink.Result{}, err
	}
	return silencedResult(d, map[string]string{
		"artifact": group, "new": strconv.Itoa(len(c.New)), "fixed": strconv.Itoa(len(c.Fixed)),
	}), nil
}

func silencedResult(d sink.Delivery, fields map[string]string) sink.Result {
	if fields == nil {
		fields = map[string]string{}
	}
	fields["silence_id"] = d.Silenced.ID
	return sink.Result{Outcome: sink.OutcomeSilenced, Fields: fields}
}

package linear

import (
	"context"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// DeliverSilenced keeps the one piece of Linear state a silence must not
// freeze: an incident ticket opened before the silence is still closed
// when its check recovers during it, or it would stay open for good. Every
// other silenced event makes nothing: a silenced down opens no ticket (and
// so its up finds none to close), a silenced release or report opens or
// comments nothing, and the next one is compared with what the ticket last
// said. It implements sink.SilenceKeeper.
func (s *Sink) DeliverSilenced(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	if event.Kind(d.Event) == event.KindCheckUp {
		return s.checkUp(ctx, d)
	}
	return sink.Result{Outcome: sink.OutcomeSilenced, Fields: map[string]string{"silence_id": d.Silenced.ID}}, nil
}

package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
)

var maintenance = &sink.Silence{ID: "ab12cd34", Reason: "maintenance"}

// deliverSilenced is deliver for an event the runner found silenced.
func (e *env) deliverSilenced(t *testing.T, ev *event.Event) sink.Result {
	t.Helper()
	r, err := e.sink.DeliverSilenced(context.Background(), sink.Delivery{Event: ev, Attempt: 1, Silenced: maintenance})
	if err != nil {
		t.Fatalf("DeliverSilenced(%s) = %v", ev.GetIdempotencyKey(), err)
	}
	e.led.record(ev.GetIdempotencyKey(), r)
	return r
}

func TestSilencedCheck(t *testing.T) {
	t.Run("silenced down, up after the silence", func(t *testing.T) {
		e := newEnv(t)
		down, up := downUp(t)
		if r := e.deliverSilenced(t, down); r.Outcome != sink.OutcomeSilenced || r.Fields["silence_id"] != maintenance.ID || len(r.Links) != 1 {
			t.Errorf("silenced down = %+v; want silenced, linked to the check", r)
		}
		// The silence has ended: the up comes through Deliver.
		if r := e.mustDeliver(t, up); r.Outcome != sink.OutcomeSilenced || r.Fields["state"] != stateResolved {
			t.Errorf("up after a silenced down = %+v; want silenced and resolved", r)
		}
		if n := e.fake.Calls("chat.postMessage") + e.fake.Calls("chat.update"); n != 0 {
			t.Errorf("%d Slack writes for a silenced outage, want 0", n)
		}
		// The next outage is alerted as usual.
		down2 := checkEvent(flip(down.GetCheckStatusChanged(), bridgev1.CheckStatus_CHECK_STATUS_DOWN, time.Date(2025, 6, 4, 5, 20, 0, 0, time.UTC)))
		if r := e.mustDeliver(t, down2); r.Outcome != OutcomePosted {
			t.Errorf("next down: %q, want posted", r.Outcome)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Errorf("%d alerts after the next down, want 1", n)
		}
	})
	t.Run("silenced down and up", func(t *testing.T) {
		e := newEnv(t)
		down, up := downUp(t)
		e.deliverSilenced(t, down)
		if r := e.deliverSilenced(t, up); r.Outcome != sink.OutcomeSilenced {
			t.Errorf("silenced up = %+v", r)
		}
		if n := e.fake.Calls("chat.postMessage"); n != 0 {
			t.Errorf("%d posts, want 0", n)
		}
	})
	t.Run("alerted down, silenced up", func(t *testing.T) {
		e := newEnv(t)
		down, up := downUp(t)
		e.mustDeliver(t, down)
		r := e.deliverSilenced(t, up)
		if r.Outcome != sink.OutcomeSilenced || r.Fields["state"] != stateResolved {
			t.Errorf("silenced up = %+v; want silenced and resolved", r)
		}
		msgs := e.fake.Messages(checksID)
		if len(msgs) != 1 || len(msgs[0].Replies) != 0 || msgs[0].Updates != 1 || !strings.Contains(msgs[0].Text, "Resolved") {
			t.Errorf("alert after a silenced up: %+v; want it marked resolved without a reply", msgs)
		}
	})
	t.Run("silenced down while an alert is open", func(t *testing.T) {
		e := newEnv(t)
		down, _ := downUp(t)
		e.mustDeliver(t, down)
		again := checkEvent(flip(down.GetCheckStatusChanged(), bridgev1.CheckStatus_CHECK_STATUS_DOWN, time.Date(2025, 6, 3, 5, 30, 0, 0, time.UTC)))
		if r := e.deliverSilenced(t, again); r.Outcome != sink.OutcomeSkipped {
			t.Errorf("silenced second down = %+v, want skipped (the alert stays open)", r)
		}
	})
}

func TestSilencedVulnerability(t *testing.T) {
	e, store := newVulnEnv(t)
	a := alpineEvent(t)
	r := e.deliverSilenced(t, a)
	if r.Outcome != sink.OutcomeSilenced || r.Fields["artifact"] != alpineGroup {
		t.Errorf("silenced report = %+v", r)
	}
	if n := len(e.fake.Messages(vulnsID)); n != 0 {
		t.Fatalf("%d alerts for a silenced report, want 0", n)
	}
	st, ok, err := store.Get(t.Context(), alpineGroup)
	if err != nil || !ok || len(st.Findings) == 0 {
		t.Fatalf("state after a silenced report: %+v, %v, %v; want its findings", st, ok, err)
	}
	// The silence is over: the same report is nothing new.
	if r := e.mustDeliver(t, laterReport(a, time.Hour, "again", nil)); r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != reasonNoChange {
		t.Errorf("same report after the silence = %+v, want skipped: %s", r, reasonNoChange)
	}
	// And the next one is diffed against the silenced one.
	e.mustDeliver(t, reportB(a))
	msgs := e.fake.Messages(vulnsID)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), "1 new, 1 fixed since the last report") {
		t.Errorf("after report B: %d alerts; want one with the diff against the silenced report", len(msgs))
	}
}

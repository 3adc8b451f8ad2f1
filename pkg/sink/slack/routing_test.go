package slack

import (
	"testing"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/routing"
)

// TestRoutedCheck: a routing rule sends a prod check's alert, and so its
// recovery, to #incidents by name; a check no rule matches keeps the
// flow's channel.
func TestRoutedCheck(t *testing.T) {
	const incidentsID = "C0INCIDENTS"
	e := newEnv(t, func(o *Options) {
		o.Routing = routing.New([]config.Route{{Subject: "check.*", Filter: map[string]string{"tags": "prod"}, SlackChannel: "#incidents"}})
	})
	e.fake.AddChannel(incidentsID, "incidents")

	down, up := downUp(t)
	down.GetCheckStatusChanged().Tags = []string{"prod"}
	up.GetCheckStatusChanged().Tags = []string{"prod"}
	e.mustDeliver(t, down)
	e.mustDeliver(t, up)
	msgs := e.fake.Messages(incidentsID)
	if len(msgs) != 1 || len(msgs[0].Replies) != 1 {
		t.Fatalf("#incidents has %+v, want the alert with the recovery in its thread", msgs)
	}
	if n := len(e.fake.Messages(checksID)); n != 0 {
		t.Errorf("the checks channel has %d messages, want none", n)
	}

	other, _ := downUp(t)
	other.GetCheckStatusChanged().CheckId = "another-check"
	other.IdempotencyKey += "-another"
	other.GetCheckStatusChanged().Tags = []string{"staging"}
	e.mustDeliver(t, other)
	if n := len(e.fake.Messages(checksID)); n != 1 {
		t.Errorf("the checks channel has %d messages, want the staging alert", n)
	}
}

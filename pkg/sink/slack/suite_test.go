package slack_test

import (
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/sinktest"
	"github.com/stoa-platform/bridge/pkg/sink/slack"
)

// TestSinkSuite: the Slack sink passes the suite every sink passes.
func TestSinkSuite(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := event.New(event.KindCheckDown, "/webhooks/healthchecks", "c1", event.CheckKey("c1", "down", at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId: "c1", Name: "backup", Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN, ChangedAt: ev.GetTime(),
	}}
	sinktest.Run(t, sinktest.Suite{
		New: func(t *testing.T, url string) sink.Sink {
			return slack.New(slack.Options{
				APIURL:   url + "/",
				Token:    secrets.New(sinktest.Secret),
				Channels: config.SlackChannels{Checks: "C0123ABCD"},
				Lookup:   sinktest.Empty{},
				Timeout:  5 * time.Second,
			})
		},
		Event: ev,
	})
}

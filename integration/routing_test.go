package integration

import (
	"testing"
)

// TestRouting: a routing rule sends the alert of a check tagged prod to
// #prod-alerts; a check without the tag keeps slack.channels.checks.
func TestRouting(t *testing.T) {
	b := startBridge(t, bridgeOpts{extraYAML: `
routing:
  - subject: check.*
    filter: {tag: prod}
    slack_channel: "#prod-alerts"
`})
	b.slack.AddChannel("C0PROD", "prod-alerts")

	b.mustAccept(readFile(t, "down-with-tags.json"))
	if msgs := b.waitMessages("C0PROD", 1); len(msgs) != 1 {
		t.Fatalf("#prod-alerts has %d messages, want the prod check's alert", len(msgs))
	}
	b.mustAccept(readFile(t, "down.json"))
	b.waitMessages("C0INCIDENTS", 1)
	b.settle()
	if n := len(b.slack.Messages("C0PROD")); n != 1 {
		t.Errorf("#prod-alerts has %d messages, want only the prod check's", n)
	}
	if n := len(b.slack.Messages("C0INCIDENTS")); n != 1 {
		t.Errorf("#incidents has %d messages, want only the untagged check's", n)
	}
}

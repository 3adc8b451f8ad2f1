package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
)

// TestOutageTicket: with checks.ticket_after, a check down past it opens
// one Linear incident ticket linked to the Slack alert's thread; its up
// comments the outage's duration and closes the ticket, once.
func TestOutageTicket(t *testing.T) {
	lin := lineartest.New(t)
	lin.AddTeam("team-plat", "PLAT", "Platform")
	lin.AddLabel("team-plat", "label-incident", "incident")
	b := startBridge(t, bridgeOpts{
		extraYAML: fmt.Sprintf(`
checks:
  ticket_after: 2s
linear:
  api_url: %q
  team: PLAT
`, lin.URL()),
		env: []string{"BRIDGE_SECRET_LINEAR_API_KEY=" + lin.APIKey()},
	})
	id := checkID(90)
	t0 := time.Now().UTC().Truncate(time.Second)
	b.mustAccept(checkBody(id, "down", t0))
	alert := b.waitMessages("C0INCIDENTS", 1)[0]

	slackLink := "https://slack.com/archives/C0INCIDENTS/p" + strings.Replace(alert.TS, ".", "", 1)
	var is lineartest.Issue
	// The attachments are separate calls after issueCreate: wait for the
	// whole effect, not the first call of it.
	waitFor(t, 60*time.Second, "the incident ticket with its attachments", func() error {
		issues := lin.Issues()
		if len(issues) != 1 {
			return fmt.Errorf("have %d tickets", len(issues))
		}
		is = issues[0]
		if len(is.Attachments) < 2 {
			return fmt.Errorf("%d attachments", len(is.Attachments))
		}
		return nil
	})
	if is.Title != "Outage: check "+id[:8] || is.Priority != 1 || !slices.Equal(is.Labels, []string{"incident"}) {
		t.Errorf("ticket title, priority, labels = %q, %d, %q", is.Title, is.Priority, is.Labels)
	}
	if is.CreatedAt.Before(t0.Add(2 * time.Second)) {
		t.Errorf("ticket created at %s, before the outage reached ticket_after (down at %s)", is.CreatedAt, t0)
	}
	var urls []string
	for _, a := range is.Attachments {
		urls = append(urls, a.URL)
	}
	if !slices.Contains(urls, slackLink) || !strings.Contains(is.Description, slackLink) {
		t.Errorf("ticket attachments %q and description do not link the Slack thread %s:\n%s", urls, slackLink, is.Description)
	}

	up := checkBody(id, "up", time.Now().UTC().Truncate(time.Second).Add(time.Second))
	b.mustAccept(up)
	waitFor(t, 60*time.Second, "the recovery comment and the closed ticket", func() error {
		is, _ = lin.Issue(is.ID)
		if len(is.Comments) != 1 || is.StateType != lineartest.StateCompleted {
			return fmt.Errorf("%d comments, state %s", len(is.Comments), is.StateType)
		}
		return nil
	})
	if !strings.HasPrefix(is.Comments[0].Body, "Recovered after ") {
		t.Errorf("comment = %q, want the outage's duration", is.Comments[0].Body)
	}
	// The same up again changes nothing.
	b.send(up)
	b.settle()
	if is, _ = lin.Issue(is.ID); len(is.Comments) != 1 || len(lin.Issues()) != 1 {
		t.Errorf("a repeated up: %d comments, %d tickets; want 1, 1", len(is.Comments), len(lin.Issues()))
	}
	if rows := b.deadLetters(t, ""); len(rows) != 0 {
		t.Errorf("dead letters: %+v, want none", rows)
	}
}

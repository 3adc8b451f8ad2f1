package linear

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
	"github.com/stoa-platform/bridge/pkg/sink/slack"
)

const (
	checkID       = "e7b2c3d4-5f60-4a1b-8c2d-3e4f5a6b7c8d"
	incidentLabID = "6c1f3d2b-8e4a-4f9b-8d72-3a1e5c8b2f04"
	ticketAfter   = 15 * time.Minute
)

var downAt = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// checkEvent is a Healthchecks flip of the test check at at.
func checkEvent(status bridgev1.CheckStatus, at time.Time) *event.Event {
	kind, word := event.KindCheckDown, "down"
	if status == bridgev1.CheckStatus_CHECK_STATUS_UP {
		kind, word = event.KindCheckUp, "up"
	}
	ev := event.New(kind, "/webhooks/healthchecks", checkID, event.CheckKey(checkID, word, at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId:      checkID,
		Name:         "Nightly *backup*",
		Slug:         "nightly-backup",
		Status:       status,
		ChangedAt:    timestamppb.New(at),
		Tags:         []string{"prod", "db"},
		Description:  "Dumps the main database to object storage.",
		LastPingBody: "pg_dump: error: connection to server failed\n```\nexit 1",
		ExitStatus:   1,
		LastPing:     timestamppb.New(at.Add(-26 * time.Hour)),
		DetailsUrl:   "https://healthchecks.example.com/checks/" + checkID + "/details/",
	}}
	return ev
}

func downEvent() *event.Event { return checkEvent(bridgev1.CheckStatus_CHECK_STATUS_DOWN, downAt) }

func upEvent(after time.Duration) *event.Event {
	return checkEvent(bridgev1.CheckStatus_CHECK_STATUS_UP, downAt.Add(after))
}

// outageSink is the fixture's sink with outage tickets after ticketAfter,
// at the time *now.
func (f *fixture) outageSink(after time.Duration, now *time.Time, key bool) *Sink {
	apiKey := func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil }
	if !key {
		apiKey = nil
	}
	s := New(Options{
		APIURL:      f.srv.URL(),
		APIKey:      apiKey,
		Team:        "PLAT",
		Lookup:      f.led,
		Timeout:     5 * time.Second,
		TicketAfter: after,
	})
	s.now = func() time.Time { return *now }
	return s
}

func newOutageFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.srv.AddLabel(teamID, incidentLabID, "incident")
	return f
}

// recordSlackAlert records the slack-notifier's alert of the outage as
// its check.down does.
func (f *fixture) recordSlackAlert(at time.Time) {
	f.led.mu.Lock()
	defer f.led.mu.Unlock()
	f.led.m[slack.AlertKey(checkID)] = sink.Result{Outcome: "posted", Fields: map[string]string{
		"channel": "C0INCIDENT", "ts": "1772618400.123456", "state": "open", "down_at": at.Format(time.RFC3339),
	}}
}

func TestSlackAlertKeyInStep(t *testing.T) {
	if got, want := slackAlertKey(checkID), slack.AlertKey(checkID); got != want {
		t.Errorf("slackAlertKey = %q, slack.AlertKey = %q", got, want)
	}
}

func TestOutageOff(t *testing.T) {
	f := newOutageFixture(t)
	now := downAt.Add(time.Hour)
	s := f.outageSink(0, &now, true)
	for _, ev := range []*event.Event{downEvent(), upEvent(30 * time.Minute)} {
		r, err := f.deliver(t, s, ev, 1, false)
		if err != nil || r.Outcome != sink.OutcomeSkipped {
			t.Errorf("%s: %+v, %v; want skipped", event.Kind(ev), r, err)
		}
	}
	if n := f.srv.Requests(); n != 0 {
		t.Errorf("%d requests to Linear, want 0", n)
	}
}

// TestOutageWaitsUntilDue: a down before its ticket is due waits the whole
// remaining time, once, and calls nothing.
func TestOutageWaitsUntilDue(t *testing.T) {
	f := newOutageFixture(t)
	now := downAt.Add(10 * time.Second)
	s := f.outageSink(ticketAfter, &now, true)
	_, err := f.deliver(t, s, downEvent(), 1, false)
	if !sink.IsWait(err) {
		t.Fatalf("err = %v, want a Wait", err)
	}
	if got, want := sink.RetryAfter(err), ticketAfter-10*time.Second; got != want {
		t.Errorf("RetryAfter = %s, want %s", got, want)
	}
	if n := f.srv.Requests(); n != 0 {
		t.Errorf("%d requests to Linear, want 0", n)
	}
	// Redelivered when due, with no Slack alert recorded yet: a short
	// wait for it, so the ticket can link the thread.
	now = downAt.Add(ticketAfter)
	_, err = f.deliver(t, s, downEvent(), 2, true)
	if !sink.IsWait(err) || sink.RetryAfter(err) != slackWaitStep {
		t.Fatalf("when due without a Slack alert: %v, want a Wait of %s", err, slackWaitStep)
	}
	// Past the grace, still none (no slack-notifier runs): the ticket
	// without the link.
	now = downAt.Add(ticketAfter + slackGrace)
	r, err := f.deliver(t, s, downEvent(), 3, true)
	if err != nil || r.Outcome != OutcomeCreated {
		t.Fatalf("past the grace: %+v, %v", r, err)
	}
	f.onlyIssue(t)
}

func TestOutageTicket(t *testing.T) {
	const slackLink = "https://slack.com/archives/C0INCIDENT/p1772618400123456"
	tests := []struct {
		name       string
		slackAlert bool
		// slackAt is the down time of the recorded Slack alert.
		slackAt  time.Time
		wantLink bool
	}{
		{name: "with the Slack alert", slackAlert: true, slackAt: downAt, wantLink: true},
		{name: "without a Slack alert"},
		{name: "Slack alert of another outage", slackAlert: true, slackAt: downAt.Add(-24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOutageFixture(t)
			if tt.slackAlert {
				f.recordSlackAlert(tt.slackAt)
			}
			now := downAt.Add(ticketAfter + slackGrace)
			f.s = f.outageSink(ticketAfter, &now, true)
			r := f.mustDeliver(t, downEvent())
			is := f.onlyIssue(t)
			if r.Outcome != OutcomeCreated || r.Fields["issue_id"] != is.ID || r.Fields["identifier"] != is.Identifier {
				t.Errorf("result %+v, issue %s %s", r, is.ID, is.Identifier)
			}
			if diff := cmp.Diff([]string{OutageKey(checkID)}, r.Links); diff != "" {
				t.Errorf("Links (-want +got):\n%s", diff)
			}
			if is.ID != IncidentIssueID(checkID, downAt) || is.Title != "Outage: Nightly *backup*" || is.Priority != 1 || is.TeamID != teamID {
				t.Errorf("id, title, priority, team = %s, %q, %d, %s", is.ID, is.Title, is.Priority, is.TeamID)
			}
			if diff := cmp.Diff([]string{incidentLabID}, is.LabelIDs); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			var urls []string
			for _, a := range is.Attachments {
				urls = append(urls, a.URL)
			}
			want := []string{IncidentURL(checkID)}
			if tt.wantLink {
				want = append(want, slackLink)
			}
			if diff := cmp.Diff(want, urls); diff != "" {
				t.Errorf("attachments (-want +got):\n%s", diff)
			}
			if got := strings.Contains(is.Description, slackLink); got != tt.wantLink {
				t.Errorf("description has the Slack link: %t, want %t", got, tt.wantLink)
			}
			if tt.wantLink {
				golden(t, "outage", fmt.Sprintf("Title: %s\nPriority: %d\nLabels: %s\n\n%s",
					is.Title, is.Priority, strings.Join(is.Labels, ", "), is.Description))
			}

			// Delivered again (a lost ledger write): still one ticket.
			f.led.mu.Lock()
			clear(f.led.m)
			f.led.mu.Unlock()
			if _, err := f.deliver(t, f.s, downEvent(), 3, true); err != nil {
				t.Fatal(err)
			}
			if is := f.onlyIssue(t); len(is.Attachments) != len(want) {
				t.Errorf("again: %d attachments, want %d", len(is.Attachments), len(want))
			}
		})
	}
}

func TestOutageRecovery(t *testing.T) {
	f := newOutageFixture(t)
	f.recordSlackAlert(downAt)
	now := downAt.Add(ticketAfter)
	f.s = f.outageSink(ticketAfter, &now, true)
	f.mustDeliver(t, downEvent())

	before := f.ledgerCopy()
	now = downAt.Add(83 * time.Minute)
	up := upEvent(83 * time.Minute)
	r := f.mustDeliver(t, up)
	is := f.onlyIssue(t)
	if r.Outcome != OutcomeClosed || r.Fields["closed"] != "true" || r.Fields["issue_id"] != is.ID {
		t.Errorf("up: %+v", r)
	}
	if diff := cmp.Diff([]string{"Recovered after 1h 23m (down 10:00 UTC, up 11:23 UTC).\n"}, comments(is)); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if is.StateType != lineartest.StateCompleted {
		t.Errorf("state = %s, want %s", is.StateType, lineartest.StateCompleted)
	}

	// Redelivered, as recorded: nothing more.
	if _, err := f.deliver(t, f.s, up, 2, true); err != nil {
		t.Fatal(err)
	}
	// Redelivered after the effect but before it was recorded: nothing more.
	f.restore(before)
	if _, err := f.deliver(t, f.s, up, 2, true); err != nil {
		t.Fatal(err)
	}
	if is := f.onlyIssue(t); len(is.Comments) != 1 || is.StateType != lineartest.StateCompleted {
		t.Errorf("redelivered: comments %q, state %s", comments(is), is.StateType)
	}
	// The down again, once recovered: skipped, still one ticket.
	if _, err := f.deliver(t, f.s, downEvent(), 4, true); err != nil {
		t.Errorf("down again: %v", err)
	}
	if n := len(f.srv.Issues()); n != 1 {
		t.Errorf("%d issues, want 1", n)
	}
}

// TestOutageShort: an up before the ticket is due leaves Linear as it was.
func TestOutageShort(t *testing.T) {
	f := newOutageFixture(t)
	now := downAt.Add(time.Second)
	f.s = f.outageSink(ticketAfter, &now, true)
	if _, err := f.deliver(t, f.s, downEvent(), 1, false); !sink.IsWait(err) {
		t.Fatalf("down: %v, want a Wait", err)
	}
	now = downAt.Add(5 * time.Minute)
	r := f.mustDeliver(t, upEvent(5*time.Minute))
	if r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonNoTicket {
		t.Errorf("up: %+v", r)
	}
	now = downAt.Add(ticketAfter)
	r, err := f.deliver(t, f.s, downEvent(), 2, true)
	if err != nil || r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonRecovered {
		t.Errorf("down when due: %+v, %v; want skipped %s", r, err, ReasonRecovered)
	}
	if n := len(f.srv.Issues()); n != 0 {
		t.Errorf("Linear has %d issues, want 0", n)
	}
	for _, op := range []string{"issueCreate", "commentCreate", "issueUpdate", "attachmentCreate"} {
		if n := f.srv.Calls(op); n != 0 {
			t.Errorf("%d %s calls, want 0", n, op)
		}
	}
}

// flipLookup hides the up from the first read of the outage record: the
// up is handled on another replica while the down creates the ticket.
type flipLookup struct {
	*ledger
	mu    sync.Mutex
	reads int
}

func (l *flipLookup) Result(ctx context.Context, key string) (sink.Result, bool, error) {
	if key == OutageKey(checkID) {
		l.mu.Lock()
		l.reads++
		first := l.reads == 1
		l.mu.Unlock()
		if first {
			return sink.Result{}, false, nil
		}
	}
	return l.ledger.Result(ctx, key)
}

func TestOutageUpDuringCreate(t *testing.T) {
	f := newOutageFixture(t)
	now := downAt.Add(2 * time.Hour)
	s := f.outageSink(ticketAfter, &now, true)
	// The up, recorded by the other replica with no ticket to close.
	f.led.record(upEvent(time.Hour), outageState{upAt: downAt.Add(time.Hour)}.toResult(sink.OutcomeSkipped, checkID, nil))
	s.lookup = &flipLookup{ledger: f.led}

	r, err := f.deliver(t, s, downEvent(), 2, false)
	if err != nil || r.Outcome != OutcomeCreated || r.Fields["closed"] != "true" {
		t.Fatalf("down: %+v, %v", r, err)
	}
	is := f.onlyIssue(t)
	if is.StateType != lineartest.StateCompleted || len(is.Comments) != 1 || !strings.HasPrefix(is.Comments[0].Body, "Recovered after 1h (") {
		t.Errorf("state %s, comments %q", is.StateType, comments(is))
	}
}

// TestOutageUpFindsUnrecordedTicket: the down's ticket exists in Linear but
// not in the ledger (another replica made it): the up closes it.
func TestOutageUpFindsUnrecordedTicket(t *testing.T) {
	f := newOutageFixture(t)
	f.recordSlackAlert(downAt)
	now := downAt.Add(ticketAfter)
	f.s = f.outageSink(ticketAfter, &now, true)
	f.mustDeliver(t, downEvent())
	f.led.mu.Lock()
	delete(f.led.m, OutageKey(checkID))
	f.led.mu.Unlock()

	now = downAt.Add(20 * time.Minute)
	r := f.mustDeliver(t, upEvent(20*time.Minute))
	is := f.onlyIssue(t)
	if r.Outcome != OutcomeClosed || is.StateType != lineartest.StateCompleted {
		t.Errorf("up: %+v, state %s", r, is.StateType)
	}
	if diff := cmp.Diff([]string{"Recovered after 20m (down 10:00 UTC, up 10:20 UTC).\n"}, comments(is)); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
}

func TestOutageDryRun(t *testing.T) {
	f := newOutageFixture(t)
	now := downAt.Add(ticketAfter + slackGrace)
	s := f.outageSink(ticketAfter, &now, false)
	s.log = f.sink(nil).log
	r, err := f.deliver(t, s, downEvent(), 2, false)
	if err != nil || r.Outcome != sink.OutcomeDryRun || r.Fields["action"] != ActionCreate {
		t.Fatalf("down: %+v, %v", r, err)
	}
	now = downAt.Add(time.Hour)
	r, err = f.deliver(t, s, upEvent(time.Hour), 1, false)
	if err != nil || r.Outcome != sink.OutcomeDryRun || r.Fields["action"] != ActionUpdate {
		t.Fatalf("up: %+v, %v", r, err)
	}
	if n := f.srv.Requests(); n != 0 {
		t.Errorf("%d requests to Linear in dry-run, want 0", n)
	}
	for _, want := range []string{"Outage: Nightly *backup*", "Recovered after 1h (down 10:00 UTC, up 11:00 UTC)."} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, f.logs.String())
		}
	}
}

func TestRenderRecovery(t *testing.T) {
	tests := []struct {
		down, up time.Time
		want     string
	}{
		{downAt, downAt.Add(45 * time.Second), "Recovered after 45s (down 10:00 UTC, up 10:00 UTC).\n"},
		{downAt, downAt.Add(83 * time.Minute), "Recovered after 1h 23m (down 10:00 UTC, up 11:23 UTC).\n"},
		{downAt, downAt.Add(51 * time.Hour), "Recovered after 2d 3h (down 2026-03-04 10:00 UTC, up 2026-03-06 13:00 UTC).\n"},
		{time.Time{}, downAt, "Recovered (up 2026-03-04 10:00 UTC).\n"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := renderRecovery(tt.down, tt.up); got != tt.want {
				t.Errorf("renderRecovery = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIncidentPriority(t *testing.T) {
	for tags, want := range map[string]int{"prod": priorityUrgent, "db,Production": priorityUrgent, "staging": priorityHigh, "": priorityHigh} {
		t.Run(fmt.Sprintf("tags=%s", tags), func(t *testing.T) {
			c := &bridgev1.CheckStatusChanged{Tags: strings.Split(tags, ",")}
			if got := incidentPriority(c); got != want {
				t.Errorf("incidentPriority(%q) = %d, want %d", tags, got, want)
			}
		})
	}
}

func (f *fixture) ledgerCopy() map[string]sink.Result {
	f.led.mu.Lock()
	defer f.led.mu.Unlock()
	return maps.Clone(f.led.m)
}

func (f *fixture) restore(m map[string]sink.Result) {
	f.led.mu.Lock()
	defer f.led.mu.Unlock()
	f.led.m = maps.Clone(m)
}

// TestOutageSilencedRecovery: a silence that starts after the incident
// ticket was opened does not leave it open: the silenced up still closes
// it. A silenced down opens none.
func TestOutageSilencedRecovery(t *testing.T) {
	f := newOutageFixture(t)
	now := downAt.Add(ticketAfter + slackGrace)
	f.s = f.outageSink(ticketAfter, &now, true)
	f.mustDeliver(t, downEvent())

	now = downAt.Add(83 * time.Minute)
	up := upEvent(83 * time.Minute)
	r, err := f.s.DeliverSilenced(context.Background(), sink.Delivery{Event: up, Attempt: 1, Silenced: &sink.Silence{ID: "s1", Reason: "maintenance"}})
	if err != nil {
		t.Fatal(err)
	}
	if is := f.onlyIssue(t); r.Outcome != OutcomeClosed || is.StateType != lineartest.StateCompleted {
		t.Errorf("silenced up: outcome %q, ticket state %s; want closed, completed", r.Outcome, is.StateType)
	}

	g := newOutageFixture(t)
	g.s = g.outageSink(ticketAfter, &now, true)
	r, err = g.s.DeliverSilenced(context.Background(), sink.Delivery{Event: downEvent(), Attempt: 1, Silenced: &sink.Silence{ID: "s1"}})
	if err != nil || r.Outcome != sink.OutcomeSilenced || len(g.srv.Issues()) != 0 {
		t.Errorf("silenced down: %+v, %v, %d issues; want silenced and none", r, err, len(g.srv.Issues()))
	}
}

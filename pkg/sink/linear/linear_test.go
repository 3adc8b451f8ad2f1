package linear

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
)

const (
	teamID       = "5b0e2c1a-7d3f-4e8a-9c61-2f0d4b7a1e01"
	otherTeamID  = "5b0e2c1a-7d3f-4e8a-9c61-2f0d4b7a1e02"
	upgradeLabel = "6c1f3d2b-8e4a-4f9b-8d72-3a1e5c8b2f01"
	teamLabel    = "6c1f3d2b-8e4a-4f9b-8d72-3a1e5c8b2f02"
	otherLabel   = "6c1f3d2b-8e4a-4f9b-8d72-3a1e5c8b2f03"
)

// testInventory has the tag styles of the real projects: bare versions,
// a "v" prefix, a 2-part deployed version, a wildcard.
func testInventory() *inventory.Inventory {
	inv := &inventory.Inventory{Tools: []inventory.Tool{
		{Name: "Keycloak", Repo: "keycloak/keycloak", Deployed: "26.5.0", TagPattern: "{version}"},
		{Name: "ArgoCD", Repo: "argoproj/argo-cd", Deployed: "2.13", TagPattern: "v{version}"},
		{Name: "Gitleaks", Repo: "gitleaks/gitleaks", Deployed: "8.x", TagPattern: "v{version}"},
	}}
	inv.Tools[2].Linear.Labels = []string{"upgrade", "security", "no-such-label"}
	return inv
}

// ledger is the effect ledger as the runner keeps it: a result under the
// event's key and under each of its Links.
type ledger struct {
	mu sync.Mutex
	m  map[string]sink.Result
}

func (l *ledger) Result(_ context.Context, key string) (sink.Result, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.m[key]
	return r, ok, nil
}

func (l *ledger) record(ev *event.Event, r sink.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[Name+"|"+ev.GetIdempotencyKey()] = r
	for _, k := range r.Links {
		l.m[k] = r
	}
}

type fixture struct {
	srv  *lineartest.Server
	s    *Sink
	led  *ledger
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := lineartest.New(t)
	srv.AddTeam(teamID, "PLAT", "Platform")
	srv.AddTeam(otherTeamID, "OPS", "Operations")
	srv.AddLabel("", upgradeLabel, "upgrade")
	srv.AddLabel(teamID, teamLabel, "security")
	srv.AddLabel(otherTeamID, otherLabel, "security")
	f := &fixture{srv: srv, led: &ledger{m: map[string]sink.Result{}}, logs: &syncBuffer{}}
	f.s = f.sink(func(context.Context) (secrets.Secret, error) { return secrets.New(srv.APIKey()), nil })
	return f
}

// sink returns a new Sink, as a restarted process has, on the same ledger.
func (f *fixture) sink(key func(context.Context) (secrets.Secret, error)) *Sink {
	return New(Options{
		APIURL:    f.srv.URL(),
		APIKey:    key,
		Team:      "PLAT",
		Inventory: testInventory(),
		Lookup:    f.led,
		Logger:    slog.New(slog.NewJSONHandler(f.logs, nil)),
		Timeout:   5 * time.Second,
	})
}

// deliver makes one attempt and, as the runner does, records a success.
func (f *fixture) deliver(t *testing.T, s *Sink, ev *event.Event, attempt int, uncertain bool) (sink.Result, error) {
	t.Helper()
	r, err := s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: attempt, Uncertain: uncertain})
	if err == nil {
		f.led.record(ev, r)
	}
	return r, err
}

// mustDeliver delivers ev until it succeeds, at most 10 attempts, as the
// runner retries a transient failure.
func (f *fixture) mustDeliver(t *testing.T, ev *event.Event) sink.Result {
	t.Helper()
	for attempt := 1; attempt <= 10; attempt++ {
		r, err := f.deliver(t, f.s, ev, attempt, false)
		if err == nil {
			return r
		}
		if sink.IsPermanent(err) {
			t.Fatalf("Deliver(%s) = %v", ev.GetIdempotencyKey(), sink.Describe(err))
		}
	}
	t.Fatalf("Deliver(%s) did not succeed in 10 attempts", ev.GetIdempotencyKey())
	return sink.Result{}
}

func releaseEvent(owner, repo, tag string, prerelease bool) *event.Event {
	r := rel(owner, repo, tag, "", "## What's Changed\n* fix: a bug\n")
	r.Prerelease = prerelease
	ev := event.New(event.KindReleasePublished, "urn:bridge:test", owner+"/"+repo,
		event.ReleaseKey(owner, repo, tag, prerelease), published.AsTime())
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: r}
	return ev
}

func (f *fixture) onlyIssue(t *testing.T) lineartest.Issue {
	t.Helper()
	issues := f.srv.Issues()
	if len(issues) != 1 {
		t.Fatalf("Linear has %d issues, want 1: %+v", len(issues), issues)
	}
	return issues[0]
}

func TestCreate(t *testing.T) {
	f := newFixture(t)
	ev := releaseEvent("keycloak", "keycloak", "26.6.1", false)
	r := f.mustDeliver(t, ev)

	is := f.onlyIssue(t)
	if r.Outcome != OutcomeCreated {
		t.Errorf("Outcome = %q, want %q", r.Outcome, OutcomeCreated)
	}
	wantFields := map[string]string{
		"issue_id": IssueID(ev.GetIdempotencyKey()), "identifier": is.Identifier, "url": is.URL,
		"title": "Upgrade Keycloak 26.5.0 → 26.6.1", "tool": "Keycloak", "from": "26.5.0", "to": "26.6.1",
		"tag": "26.6.1", "jump": "minor", "team": "PLAT",
	}
	if diff := cmp.Diff(wantFields, r.Fields); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{OpenKey("keycloak", "keycloak")}, r.Links); diff != "" {
		t.Errorf("Links (-want +got):\n%s", diff)
	}
	if is.ID != IssueID(ev.GetIdempotencyKey()) || is.TeamID != teamID || is.Priority != 3 {
		t.Errorf("issue id, team, priority = %s, %s, %d; want %s, %s, 3", is.ID, is.TeamID, is.Priority, IssueID(ev.GetIdempotencyKey()), teamID)
	}
	if is.Title != "Upgrade Keycloak 26.5.0 → 26.6.1" {
		t.Errorf("title = %q", is.Title)
	}
	if diff := cmp.Diff([]string{upgradeLabel}, is.LabelIDs); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantURL := "https://github.com/keycloak/keycloak/releases/tag/26.6.1"
	if len(is.Attachments) != 1 || is.Attachments[0].URL != wantURL {
		t.Errorf("attachments = %+v, want one of %s", is.Attachments, wantURL)
	}
	if !strings.Contains(is.Description, "[Keycloak 26.6.1]("+wantURL+")") {
		t.Errorf("description has no release link:\n%s", is.Description)
	}

	// A retry that the ledger did not stop (the runner wrote the open
	// link, then crashed before the event's key) says the same again.
	for _, uncertain := range []bool{false, true} {
		r2, err := f.s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 2, Uncertain: uncertain})
		if err != nil {
			t.Fatalf("retry Deliver = %v", sink.Describe(err))
		}
		if r2.Outcome != OutcomeCreated || r2.Fields["issue_id"] != is.ID {
			t.Errorf("retry = %+v, want created %s", r2, is.ID)
		}
	}
	if is := f.onlyIssue(t); len(is.Attachments) != 1 {
		t.Errorf("attachments after retries = %+v, want one", is.Attachments)
	}
}

func TestLabels(t *testing.T) {
	f := newFixture(t)
	f.mustDeliver(t, releaseEvent("gitleaks", "gitleaks", "v9.0.0", false))
	is := f.onlyIssue(t)
	// "security" is the team's label, not the other team's;
	// "no-such-label" is skipped with a warning.
	if diff := cmp.Diff([]string{upgradeLabel, teamLabel}, is.LabelIDs); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if is.Priority != 2 {
		t.Errorf("priority = %d, want 2 (major)", is.Priority)
	}
	if !strings.Contains(f.logs.String(), `"label":"no-such-label"`) {
		t.Errorf("no warning about the missing label in:\n%s", f.logs)
	}
	// Resolved once: a second ticket asks Linear for no team, state or label.
	calls := func() []int {
		return []int{f.srv.Calls("teams"), f.srv.Calls("workflowStates"), f.srv.Calls("issueLabels")}
	}
	want := calls()
	f.mustDeliver(t, releaseEvent("argoproj", "argo-cd", "v2.14.0", false))
	if diff := cmp.Diff(want, calls()); diff != "" {
		t.Errorf("teams, workflowStates, issueLabels calls (-want +got):\n%s", diff)
	}
}

func TestLostCreateIsNotDuplicated(t *testing.T) {
	tests := []struct {
		name string
		// restart delivers the retry from a new Sink, as after a crash.
		restart bool
		// attempt and uncertain mark the retry.
		attempt   int
		uncertain bool
	}{
		{"uncertain retry", false, 2, true},
		{"uncertain retry after a crash", true, 2, true},
		// A retry the runner did not mark: the create collides with the
		// first one's id.
		{"unmarked retry", true, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.mustDeliver(t, releaseEvent("argoproj", "argo-cd", "v2.14.0", false)) // warms the caches
			ev := releaseEvent("keycloak", "keycloak", "26.6.1", false)
			f.srv.LoseResponse(1) // issueCreate: applied, answer lost
			_, err := f.deliver(t, f.s, ev, 1, false)
			if err == nil || sink.IsPermanent(err) {
				t.Fatalf("Deliver with a lost answer = %v, want a transient error", err)
			}
			s := f.s
			if tt.restart {
				s = f.sink(func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil })
			}
			r, err := f.deliver(t, s, ev, tt.attempt, tt.uncertain)
			if err != nil {
				t.Fatalf("retry Deliver = %v", sink.Describe(err))
			}
			if r.Outcome != OutcomeCreated || r.Fields["issue_id"] != IssueID(ev.GetIdempotencyKey()) {
				t.Errorf("retry Deliver = %+v", r)
			}
			// A marked retry looks before it creates: no second issueCreate.
			if n := f.srv.Calls("issueCreate"); tt.uncertain && n != 2 {
				t.Errorf("issueCreate called %d times, want 2 (ArgoCD, the lost Keycloak one)", n)
			}
			var mine []lineartest.Issue
			for _, is := range f.srv.Issues() {
				if strings.Contains(is.Title, "Keycloak") {
					mine = append(mine, is)
				}
			}
			if len(mine) != 1 || len(mine[0].Attachments) != 1 {
				t.Fatalf("Keycloak issues = %+v, want one with one attachment", mine)
			}
		})
	}
}

func TestNewerReleaseUpdatesOpenTicket(t *testing.T) {
	f := newFixture(t)
	first := f.mustDeliver(t, releaseEvent("keycloak", "keycloak", "26.6.1", false))

	ev := releaseEvent("keycloak", "keycloak", "26.7.0", false)
	// The update is made but its ledger write is lost: the redelivery
	// must not comment twice.
	if _, err := f.s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 1}); err != nil {
		t.Fatal(sink.Describe(err))
	}
	r, err := f.deliver(t, f.s, ev, 2, true)
	if err != nil {
		t.Fatal(sink.Describe(err))
	}
	if r.Outcome != OutcomeUpdated || r.Fields["issue_id"] != first.Fields["issue_id"] || r.Fields["to"] != "26.7.0" {
		t.Errorf("Deliver(26.7.0) = %+v, want updated %s to 26.7.0", r, first.Fields["issue_id"])
	}
	is := f.onlyIssue(t)
	if is.Title != "Upgrade Keycloak 26.5.0 → 26.7.0" {
		t.Errorf("title = %q", is.Title)
	}
	if len(is.Comments) != 1 || !strings.HasPrefix(is.Comments[0].Body, "Newer release") {
		t.Fatalf("comments = %+v, want one \"Newer release\"", is.Comments)
	}
	if !strings.Contains(is.Comments[0].Body, "was → 26.6.1") {
		t.Errorf("comment does not name the previous version:\n%s", is.Comments[0].Body)
	}

	// A release older than the open ticket's is skipped.
	for _, tag := range []string{"26.6.2", "26.7.0-rc.1"} {
		ev := releaseEvent("keycloak", "keycloak", tag, false)
		f.s.inv.Tools[0].Prereleases = true
		r, err := f.deliver(t, f.s, ev, 1, false)
		if err != nil || r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonOlderThanOpen {
			t.Errorf("Deliver(%s) = %+v, %v; want skipped %s", tag, r, err, ReasonOlderThanOpen)
		}
		if len(r.Links) != 0 {
			t.Errorf("a skip links %v: it would overwrite the open ticket", r.Links)
		}
	}
	// The same release again, its key not recorded: the recorded result
	// again, nothing done.
	before := f.srv.Requests()
	r, err = f.s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 4, Uncertain: true})
	if err != nil || r.Outcome != OutcomeUpdated || r.Fields["to"] != "26.7.0" {
		t.Errorf("Deliver(26.7.0) again = %+v, %v; want the recorded update", r, err)
	}
	if n := f.srv.Requests() - before; n != 0 {
		t.Errorf("%d requests to restate a recorded result, want 0", n)
	}
	if is := f.onlyIssue(t); is.Title != "Upgrade Keycloak 26.5.0 → 26.7.0" || len(is.Comments) != 1 {
		t.Errorf("after skips: %q, %d comments", is.Title, len(is.Comments))
	}
}

func TestClosedTicketLetsNextReleaseOpenAnother(t *testing.T) {
	f := newFixture(t)
	first := f.mustDeliver(t, releaseEvent("keycloak", "keycloak", "26.6.1", false))
	f.srv.Close(first.Fields["issue_id"])

	r := f.mustDeliver(t, releaseEvent("keycloak", "keycloak", "26.7.0", false))
	if r.Outcome != OutcomeCreated || r.Fields["issue_id"] == first.Fields["issue_id"] {
		t.Errorf("Deliver(26.7.0) = %+v, want a new ticket", r)
	}
	issues := f.srv.Issues()
	if len(issues) != 2 || issues[1].Title != "Upgrade Keycloak 26.5.0 → 26.7.0" || len(issues[0].Comments) != 0 {
		t.Errorf("issues = %+v", issues)
	}
	// The ledger now points at the new ticket.
	open, _, _ := f.led.Result(context.Background(), OpenKey("Keycloak", "Keycloak"))
	if open.Fields["issue_id"] != r.Fields["issue_id"] {
		t.Errorf("open ticket = %s, want %s", open.Fields["issue_id"], r.Fields["issue_id"])
	}
}

func TestSkips(t *testing.T) {
	tests := []struct {
		name   string
		ev     *event.Event
		reason string
	}{
		{"not in inventory", releaseEvent("grafana", "grafana", "v12.0.0", false), ReasonNotInInventory},
		{"not newer", releaseEvent("keycloak", "keycloak", "26.5.0", false), ReasonNotNewer},
		{"older", releaseEvent("keycloak", "keycloak", "26.4.7", false), ReasonNotNewer},
		{"wildcard", releaseEvent("gitleaks", "gitleaks", "v8.30.0", false), ReasonNotNewer},
		{"pre-release flag", releaseEvent("keycloak", "keycloak", "26.7.0", true), ReasonPrerelease},
		{"pre-release version", releaseEvent("argoproj", "argo-cd", "v3.0.0-rc1", false), ReasonPrerelease},
		{"other tag style", releaseEvent("argoproj", "argo-cd", "helm-chart-7.0.0", false), ReasonTagMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r, err := f.deliver(t, f.s, tt.ev, 1, false)
			if err != nil || r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != tt.reason {
				t.Errorf("Deliver = %+v, %v; want skipped %s", r, err, tt.reason)
			}
			if n := f.srv.Requests(); n != 0 {
				t.Errorf("%d requests to Linear, want 0", n)
			}
		})
	}
}

func TestTransientFailuresStillOneTicket(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*lineartest.Server)
		// wantAfter says whether the error carries a retry delay.
		wantAfter bool
	}{
		{"RATELIMITED", func(s *lineartest.Server) { s.RateLimit(1) }, true},
		{"500", func(s *lineartest.Server) { s.Fail(1, http.StatusInternalServerError) }, false},
		{"502 from a proxy", func(s *lineartest.Server) { s.Fail(1, http.StatusBadGateway) }, false},
		{"503", func(s *lineartest.Server) { s.Fail(1, http.StatusServiceUnavailable) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ev := releaseEvent("keycloak", "keycloak", "26.6.1", false)
			tt.inject(f.srv)
			_, err := f.deliver(t, f.s, ev, 1, false)
			if err == nil || sink.IsPermanent(err) {
				t.Fatalf("Deliver = %v, want transient", err)
			}
			if got := sink.RetryAfter(err) > 0; got != tt.wantAfter {
				t.Errorf("RetryAfter = %s, want > 0: %v", sink.RetryAfter(err), tt.wantAfter)
			}
			if strings.Contains(err.Error(), f.srv.APIKey()) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q has the key or several lines", err)
			}
			// Failing for a while: every request of 3 attempts fails.
			tt.inject(f.srv)
			tt.inject(f.srv)
			tt.inject(f.srv)
			f.mustDeliver(t, ev)
			f.onlyIssue(t)
		})
	}
}

func TestPermanentErrors(t *testing.T) {
	t.Run("bad key", func(t *testing.T) {
		f := newFixture(t)
		const wrong = "lin_api_wrongwrongwrong"
		s := f.sink(func(context.Context) (secrets.Secret, error) { return secrets.New(wrong), nil })
		_, err := s.Deliver(context.Background(), sink.Delivery{Event: releaseEvent("keycloak", "keycloak", "26.6.1", false), Attempt: 1})
		if !sink.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("Deliver = %v, want permanent HTTP 401", sink.Describe(err))
		}
		if !sink.IsUnauthorized(err) {
			t.Errorf("IsUnauthorized(%v) = false: the runner would not re-read a rotated key", err)
		}
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q has the key", err)
		}
	})
	t.Run("authentication error in a 200", func(t *testing.T) {
		// A proxy or gateway may answer 200 with the GraphQL error alone:
		// the code decides.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":null,"errors":[{"message":"Authentication required, not authenticated",` +
				`"extensions":{"type":"authentication error","code":"AUTHENTICATION_ERROR","userError":true}}]}`))
		}))
		defer srv.Close()
		cl := newClient(srv.URL, secrets.New("lin_api_whatever"), http.DefaultClient, 5*time.Second, time.Now)
		err := cl.call(context.Background(), "issue", func(ctx context.Context) error {
			return cl.gql.MakeRequest(ctx, &graphql.Request{Query: `query Q { viewer { id } }`, OpName: "Q"}, &graphql.Response{})
		})
		if !sink.IsPermanent(err) || !sink.IsUnauthorized(err) {
			t.Fatalf("call = %v, want permanent and unauthorized", sink.Describe(err))
		}
	})
	t.Run("unknown team", func(t *testing.T) {
		f := newFixture(t)
		f.s.team = "NOPE"
		_, err := f.s.Deliver(context.Background(), sink.Delivery{Event: releaseEvent("keycloak", "keycloak", "26.6.1", false), Attempt: 1})
		if !sink.IsPermanent(err) || !strings.Contains(err.Error(), `"NOPE" not found`) {
			t.Fatalf("Deliver = %v, want permanent team not found", sink.Describe(err))
		}
	})
	t.Run("validation error", func(t *testing.T) {
		f := newFixture(t)
		cl := newClient(f.srv.URL(), secrets.New(f.srv.APIKey()), http.DefaultClient, 5*time.Second, time.Now)
		err := cl.call(context.Background(), "issue", func(ctx context.Context) error {
			return cl.gql.MakeRequest(ctx, &graphql.Request{Query: `query Bad { issue(id: "x") { titel } }`, OpName: "Bad"}, &graphql.Response{})
		})
		if !sink.IsPermanent(err) || !strings.Contains(err.Error(), "titel") || !strings.Contains(err.Error(), "GRAPHQL_VALIDATION_FAILED") {
			t.Fatalf("call = %v, want permanent with Linear's message", sink.Describe(err))
		}
		if sink.IsUnauthorized(err) {
			t.Errorf("IsUnauthorized(%v) = true, want false", err)
		}
	})
	t.Run("not a release", func(t *testing.T) {
		f := newFixture(t)
		ev := event.New(event.KindCheckDown, "urn:bridge:test", "c", "check:c", time.Now())
		ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{CheckId: "c"}}
		if _, err := f.s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 1}); !sink.IsPermanent(err) {
			t.Errorf("Deliver(check.down) = %v, want permanent", err)
		}
	})
}

func TestCancelledIsTransient(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.s.Deliver(ctx, sink.Delivery{Event: releaseEvent("keycloak", "keycloak", "26.6.1", false), Attempt: 1})
	if err == nil || sink.IsPermanent(err) {
		t.Fatalf("Deliver(cancelled) = %v, want transient", err)
	}
}

func TestAPIKeyError(t *testing.T) {
	f := newFixture(t)
	s := f.sink(func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, errors.New("vault sealed") })
	_, err := s.Deliver(context.Background(), sink.Delivery{Event: releaseEvent("keycloak", "keycloak", "26.6.1", false), Attempt: 1})
	if err == nil || sink.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want transient", err)
	}
}

func TestDryRun(t *testing.T) {
	f := newFixture(t)
	for _, key := range []func(context.Context) (secrets.Secret, error){
		nil,
		func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, secrets.ErrNotFound },
	} {
		f.led.m = map[string]sink.Result{}
		s := f.sink(key)
		ev := releaseEvent("keycloak", "keycloak", "26.6.1", false)
		r, err := f.deliver(t, s, ev, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"action": ActionCreate, "issue_id": "", "identifier": "", "url": "",
			"title": "Upgrade Keycloak 26.5.0 → 26.6.1", "tool": "Keycloak", "from": "26.5.0", "to": "26.6.1",
			"tag": "26.6.1", "jump": "minor", "team": "PLAT",
		}
		if r.Outcome != sink.OutcomeDryRun {
			t.Errorf("Outcome = %q, want %q", r.Outcome, sink.OutcomeDryRun)
		}
		if diff := cmp.Diff(want, r.Fields); diff != "" {
			t.Errorf("Fields (-want +got):\n%s", diff)
		}

		r, err = f.deliver(t, s, releaseEvent("keycloak", "keycloak", "26.7.0", false), 1, false)
		if err != nil || r.Outcome != sink.OutcomeDryRun || r.Fields["action"] != ActionUpdate {
			t.Errorf("dry-run newer release = %+v, %v; want action update", r, err)
		}
		r, err = f.deliver(t, s, releaseEvent("keycloak", "keycloak", "26.6.5", false), 1, false)
		if err != nil || r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonOlderThanOpen {
			t.Errorf("dry-run older release = %+v, %v; want skipped", r, err)
		}
	}
	if n := f.srv.Requests(); n != 0 {
		t.Errorf("%d requests to Linear in dry-run, want 0", n)
	}
	logs := f.logs.String()
	for _, want := range []string{`"msg":"dry-run: would call Linear"`, `"mutation":"issueCreate, attachmentCreate"`,
		`"mutation":"issueUpdate, commentCreate"`, `"priority":3`, `"labels":"upgrade"`, `"title":"Upgrade Keycloak 26.5.0 → 26.6.1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestCreateWithoutKnownLabels: when none of a tool's labels exists in
// Linear the ticket is created without labels (an empty list, not null,
// which Linear's schema refuses).
func TestCreateWithoutKnownLabels(t *testing.T) {
	f := newFixture(t)
	f.s = New(Options{
		APIURL: f.srv.URL(),
		APIKey: func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil },
		Team:   "PLAT",
		Inventory: &inventory.Inventory{Tools: []inventory.Tool{{
			Name: "Keycloak", Repo: "keycloak/keycloak", Deployed: "26.5.0", TagPattern: "{version}",
			Linear: struct {
				Team   string   `yaml:"team"`
				Labels []string `yaml:"labels"`
			}{Labels: []string{"no-such-label"}},
		}}},
		Lookup:  f.led,
		Timeout: 5 * time.Second,
	})
	f.mustDeliver(t, releaseEvent("keycloak", "keycloak", "26.6.1", false))
	if is := f.onlyIssue(t); len(is.LabelIDs) != 0 {
		t.Errorf("labels = %v, want none", is.LabelIDs)
	}
}

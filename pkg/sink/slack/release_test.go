package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

const releasesID = "C0RELEASES"

// releasedAt is when the test releases were published.
var releasedAt = time.Date(2025, 6, 10, 9, 30, 0, 0, time.UTC)

// keycloakRelease is a Keycloak release as the gateway or the watcher
// would publish it.
func keycloakRelease(tag string) *bridgev1.ReleasePublished {
	return &bridgev1.ReleasePublished{
		Owner: "keycloak", Repo: "keycloak", Tag: tag, Name: tag,
		Url:         "https://github.com/keycloak/keycloak/releases/tag/" + tag,
		Body:        "## Highlights\n...",
		PublishedAt: timestamppb.New(releasedAt),
		Origin:      "watcher",
	}
}

func releaseEvent(rel *bridgev1.ReleasePublished) *event.Event {
	ev := event.New(event.KindReleasePublished, "urn:bridge:release-watcher", rel.GetOwner()+"/"+rel.GetRepo(),
		event.ReleaseKey(rel.GetOwner(), rel.GetRepo(), rel.GetTag(), rel.GetPrerelease()), rel.GetPublishedAt().AsTime())
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: rel}
	return ev
}

// ticketOf is the linear-ticketer's result for a release, as its contract
// describes it.
func ticketOf(outcome string, extra map[string]string) sink.Result {
	f := map[string]string{
		"issue_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "identifier": "PLAT-12",
		"url":   "https://linear.app/stoa/issue/PLAT-12/upgrade-keycloak-2650-2661",
		"title": "Upgrade Keycloak 26.5.0 → 26.6.1", "tool": "Keycloak", "from": "26.5.0", "to": "26.6.1",
		"jump": "minor", "team": "PLAT",
	}
	for k, v := range extra {
		if v == "" {
			delete(f, k)
			continue
		}
		f[k] = v
	}
	return sink.Result{Outcome: outcome, Fields: f}
}

// newReleaseEnv is newEnv with a releases channel and a ticketer.
func newReleaseEnv(t *testing.T, mods ...func(*Options)) *env {
	t.Helper()
	mods = append([]func(*Options){func(o *Options) {
		o.Channels.Releases = releasesID
		o.TicketsEnabled = true
	}}, mods...)
	e := newEnv(t, mods...)
	e.fake.AddChannel(releasesID, "releases")
	return e
}

// recordTicket records the ticketer's result for ev, as its runner would.
func (e *env) recordTicket(ev *event.Event, r sink.Result) {
	e.led.record(TicketerName+"|"+ev.GetIdempotencyKey(), r)
}

// slackCalls counts the calls of every method the sink uses.
func slackCalls(f *slacktest.Server) int {
	n := 0
	for _, m := range []string{"chat.postMessage", "chat.update", "conversations.history", "conversations.replies", "conversations.list"} {
		n += f.Calls(m)
	}
	return n
}

func TestRenderRelease(t *testing.T) {
	dryRun := ticketOf(sink.OutcomeDryRun, map[string]string{"action": "create", "issue_id": "", "identifier": "", "url": ""})
	hostile := &bridgev1.ReleasePublished{
		Owner: "evil", Repo: "tool", Tag: "v1.2.3`<!here>",
		Name: "<!channel> *urgent* | <https://evil.example|click> & more",
		Url:  "https://github.com/evil/tool/releases/tag/v1.2.3?a=1|b>c",
	}
	tests := []struct {
		golden string
		rel    *bridgev1.ReleasePublished
		ticket sink.Result
	}{
		{"release-major", keycloakRelease("27.0.0"), ticketOf("created", map[string]string{"to": "27.0.0", "jump": "major"})},
		{"release-minor", keycloakRelease("26.6.1"), ticketOf("created", nil)},
		{"release-patch", keycloakRelease("26.5.3"), ticketOf("created", map[string]string{"to": "26.5.3", "jump": "patch"})},
		{"release-dry-run", keycloakRelease("26.6.1"), dryRun},
		{"release-hostile", hostile, ticketOf("created", map[string]string{
			"tool": "<!channel> Tool", "from": "1.0`", "to": "1.2.3<@U1>", "jump": "major",
			"identifier": "PLAT-1|<!here>", "url": "javascript:alert(1)",
		})},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			checkGolden(t, tt.golden, renderReleaseNote(tt.rel, ticketFrom(tt.ticket)))
		})
	}
}

// TestRenderReleaseProperties checks what the goldens show, so that an
// -update cannot bless a regression unnoticed.
func TestRenderReleaseProperties(t *testing.T) {
	t.Run("major stands out", func(t *testing.T) {
		for jump, want := range map[string]bool{"major": true, "minor": false, "patch": false, "prerelease": false} {
			m := renderReleaseNote(keycloakRelease("27.0.0"), ticketFrom(ticketOf("created", map[string]string{"jump": jump})))
			b := string(marshalGolden(t, m))
			if got := strings.Contains(m.Text, ":warning:") && strings.Contains(b, "*MAJOR*"); got != want {
				t.Errorf("jump %s: highlighted = %v, want %v\n%s", jump, got, want, b)
			}
		}
	})
	t.Run("links", func(t *testing.T) {
		m := renderReleaseNote(keycloakRelease("26.6.1"), ticketFrom(ticketOf("created", nil)))
		b := string(marshalGolden(t, m))
		for _, want := range []string{
			"<https://linear.app/stoa/issue/PLAT-12/upgrade-keycloak-2650-2661|PLAT-12>",
			"<https://github.com/keycloak/keycloak/releases/tag/26.6.1|Release notes: 26.6.1>",
			"`26.5.0` → `26.6.1`",
		} {
			if !strings.Contains(b, want) {
				t.Errorf("note lacks %q:\n%s", want, b)
			}
		}
		if want := ":package: Keycloak 26.5.0 → 26.6.1 (minor): upgrade ticket PLAT-12"; m.Text != want {
			t.Errorf("text %q, want %q", m.Text, want)
		}
	})
	t.Run("hostile input neutralised", func(t *testing.T) {
		rel := &bridgev1.ReleasePublished{Owner: "evil", Repo: "tool", Tag: "v1<!here>", Name: "<!channel> | x>", Url: "https://github.com/evil/tool/releases/tag/v1|<x>"}
		tk := ticketOf("created", map[string]string{"tool": "<@U1> & co", "identifier": "P-1|<!here>", "url": "https://linear.app/a|b"})
		for _, s := range mrkdwnTexts(t, renderReleaseNote(rel, ticketFrom(tk))) {
			for _, bad := range []string{"<!channel>", "<!here>", "<@U", "|<", "|b>"} {
				if strings.Contains(s, bad) {
					t.Errorf("mrkdwn %q contains %q", s, bad)
				}
			}
			rest := s
			for {
				i := strings.Index(rest, "<")
				if i < 0 {
					break
				}
				if tail := rest[i:]; !strings.HasPrefix(tail, "<!date^") && !strings.HasPrefix(tail, "<https://github.com/evil/tool/releases/tag/v1%7C") &&
					!strings.HasPrefix(tail, "<https://linear.app/a%7Cb|") {
					t.Errorf("mrkdwn %q has an unescaped < at %q", s, tail)
				}
				rest = rest[i+1:]
			}
		}
	})
}

// mrkdwnTexts returns the text of a message and of each of its mrkdwn
// objects: what Slack parses for links and mentions.
func mrkdwnTexts(t *testing.T, m message) []string {
	t.Helper()
	var decoded struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(marshalGolden(t, m), &decoded); err != nil {
		t.Fatal(err)
	}
	out := []string{decoded.Text}
	for _, bl := range decoded.Blocks {
		if bl.Text != nil && bl.Text.Type == "mrkdwn" {
			out = append(out, bl.Text.Text)
		}
		for _, f := range bl.Fields {
			out = append(out, f.Text)
		}
		for _, e := range bl.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}

func TestReleaseFlow(t *testing.T) {
	tests := []struct {
		name   string
		ticket sink.Result
		// post: a note is posted; else the release is skipped with reason.
		post   bool
		reason string
		text   string
	}{
		{name: "created", ticket: ticketOf("created", nil), post: true,
			text: ":package: Keycloak 26.5.0 → 26.6.1 (minor): upgrade ticket PLAT-12"},
		{name: "dry-run create", ticket: ticketOf(sink.OutcomeDryRun, map[string]string{"action": "create", "identifier": "", "url": "", "issue_id": ""}), post: true,
			text: ":package: Keycloak 26.5.0 → 26.6.1 (minor): upgrade ticket (dry-run)"},
		{name: "updated", ticket: ticketOf("updated", nil), reason: "linear-ticketer updated"},
		{name: "dry-run update", ticket: ticketOf(sink.OutcomeDryRun, map[string]string{"action": "update"}), reason: "linear-ticketer dry_run"},
		{name: "not newer", ticket: sink.Result{Outcome: "skipped", Fields: map[string]string{"reason": "not_newer"}},
			reason: "linear-ticketer skipped: not_newer"},
		{name: "not in inventory", ticket: sink.Result{Outcome: "skipped", Fields: map[string]string{"reason": "not_in_inventory"}},
			reason: "linear-ticketer skipped: not_in_inventory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newReleaseEnv(t)
			ev := releaseEvent(keycloakRelease("26.6.1"))
			e.recordTicket(ev, tt.ticket)
			r := e.mustDeliver(t, ev)
			msgs := e.fake.Messages(releasesID)
			if !tt.post {
				want := sink.Result{Outcome: sink.OutcomeSkipped, Fields: map[string]string{"reason": tt.reason}}
				if diff := cmp.Diff(want, r); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				if n := slackCalls(e.fake); n != 0 {
					t.Errorf("%d Slack calls, want 0", n)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d notes in the releases channel, want 1", len(msgs))
			}
			note := msgs[0]
			want := sink.Result{Outcome: OutcomePosted, Fields: map[string]string{"channel": releasesID, "ts": note.TS}}
			if id := tt.ticket.Fields["identifier"]; id != "" {
				want.Fields["identifier"] = id
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if note.Text != tt.text {
				t.Errorf("note text %q, want %q", note.Text, tt.text)
			}
			wantMD := &slacktest.Metadata{EventType: "bridge_event", EventPayload: map[string]any{
				"idempotency_key": "release:keycloak/keycloak@26.6.1", "event_id": ev.GetId(),
			}}
			if diff := cmp.Diff(wantMD, note.Metadata); diff != "" {
				t.Errorf("note metadata (-want +got):\n%s", diff)
			}
			if !strings.Contains(string(note.Blocks), "releases/tag/26.6.1|Release notes") {
				t.Errorf("note blocks %s: want the release link", note.Blocks)
			}
			if n := len(e.fake.Messages(checksID)); n != 0 {
				t.Errorf("%d messages in the checks channel, want 0", n)
			}
		})
	}
}

// countingTransport counts the HTTP requests the sink makes.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestReleaseWaitsForTicket(t *testing.T) {
	rt := &countingTransport{}
	e := newReleaseEnv(t, func(o *Options) { o.HTTPClient = &http.Client{Transport: rt} })
	ev := releaseEvent(keycloakRelease("26.6.1"))

	for attempt := 1; attempt <= 2; attempt++ {
		_, err := e.deliver(t, ev, attempt, attempt > 1)
		if !sink.IsWait(err) || sink.RetryAfter(err) != 5*time.Second || err.Error() != "waiting for the linear-ticketer" {
			t.Fatalf("attempt %d: Deliver = %v, want a wait of 5s for the linear-ticketer", attempt, err)
		}
	}
	if n := rt.n.Load(); n != 0 {
		t.Errorf("%d HTTP calls while waiting, want 0", n)
	}
	// Another event's ticket does not count.
	e.recordTicket(releaseEvent(keycloakRelease("26.6.0")), ticketOf("created", nil))
	if _, err := e.deliver(t, ev, 3, false); !sink.IsWait(err) {
		t.Errorf("with another release's ticket: %v, want a wait", err)
	}

	e.recordTicket(ev, ticketOf("created", nil))
	if r, err := e.deliver(t, ev, 4, false); err != nil || r.Outcome != OutcomePosted {
		t.Fatalf("Deliver once the ticket is recorded = %+v, %v; want posted", r, err)
	}
	if n := len(e.fake.Messages(releasesID)); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
}

func TestReleaseUncertain(t *testing.T) {
	ev := releaseEvent(keycloakRelease("26.6.1"))

	for _, channel := range []string{releasesID, "#releases"} {
		t.Run("answer lost, found in history, "+channel, func(t *testing.T) {
			e := newReleaseEnv(t, func(o *Options) { o.Channels.Releases = channel })
			e.recordTicket(ev, ticketOf("created", nil))
			e.fake.LoseResponse("chat.postMessage", 1)
			if _, err := e.deliver(t, ev, 1, false); err == nil || sink.IsPermanent(err) || sink.IsWait(err) {
				t.Fatalf("Deliver with the answer lost = %v, want transient", err)
			}
			msgs := e.fake.Messages(releasesID)
			if len(msgs) != 1 {
				t.Fatalf("%d notes after the lost answer, want 1", len(msgs))
			}
			r, err := e.deliver(t, ev, 2, true)
			if err != nil {
				t.Fatalf("uncertain Deliver = %v", err)
			}
			if n := len(e.fake.Messages(releasesID)); n != 1 {
				t.Errorf("%d notes, want still 1", n)
			}
			want := sink.Result{Outcome: OutcomePosted, Fields: map[string]string{"channel": releasesID, "ts": msgs[0].TS, "identifier": "PLAT-12"}}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("uncertain result (-want +got):\n%s", diff)
			}
			if n := e.fake.Calls("chat.postMessage"); n != 1 {
				t.Errorf("%d posts, want 1", n)
			}
			if got := e.logs.lines(t, "found the release note an earlier attempt posted"); len(got) != 1 {
				t.Errorf("%d 'found' log lines, want 1", len(got))
			}
		})
	}

	t.Run("ledger write lost, a retry looks too", func(t *testing.T) {
		e := newReleaseEnv(t)
		e.recordTicket(ev, ticketOf("created", nil))
		e.mustDeliver(t, ev)
		if _, err := e.deliver(t, ev, 3, false); err != nil {
			t.Fatalf("Deliver attempt 3 = %v", err)
		}
		if n := len(e.fake.Messages(releasesID)); n != 1 {
			t.Errorf("%d notes, want 1", n)
		}
	})

	t.Run("another release's note does not count", func(t *testing.T) {
		e := newReleaseEnv(t)
		other := releaseEvent(keycloakRelease("26.6.0"))
		e.recordTicket(other, ticketOf("created", map[string]string{"to": "26.6.0", "identifier": "PLAT-11"}))
		e.recordTicket(ev, ticketOf("created", nil))
		e.mustDeliver(t, other)
		if _, err := e.deliver(t, ev, 2, true); err != nil {
			t.Fatalf("uncertain Deliver = %v", err)
		}
		if n := len(e.fake.Messages(releasesID)); n != 2 {
			t.Errorf("%d notes, want 2", n)
		}
	})
}

func TestReleaseWithoutTicketer(t *testing.T) {
	ev := releaseEvent(keycloakRelease("26.6.1"))
	want := sink.Result{Outcome: sink.OutcomeSkipped, Fields: map[string]string{"reason": "no linear-ticketer"}}
	tests := map[string]func(*Options){
		"tickets disabled": func(o *Options) { o.TicketsEnabled = false },
		"no ledger":        func(o *Options) { o.Lookup = nil },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			e := newReleaseEnv(t, mod)
			// Even a recorded ticket is not looked at.
			e.recordTicket(ev, ticketOf("created", nil))
			r, err := e.deliver(t, ev, 1, false)
			if err != nil {
				t.Fatalf("Deliver = %v", err)
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if n := slackCalls(e.fake); n != 0 {
				t.Errorf("%d Slack calls, want 0", n)
			}
		})
	}
}

func TestReleaseDryRun(t *testing.T) {
	rt := &refuse{t: t}
	e := newReleaseEnv(t, func(o *Options) {
		o.Token = secrets.Secret{}
		o.HTTPClient = &http.Client{Transport: rt}
	})
	ev := releaseEvent(keycloakRelease("27.0.0"))
	e.recordTicket(ev, ticketOf("created", map[string]string{"to": "27.0.0", "jump": "major"}))
	r := e.mustDeliver(t, ev)
	want := sink.Result{Outcome: sink.OutcomeDryRun, Fields: map[string]string{"channel": releasesID, "ts": "dry-run", "identifier": "PLAT-12"}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	lines := e.logs.lines(t, "dry-run: would call Slack")
	if len(lines) != 1 {
		t.Fatalf("%d dry-run lines, want 1", len(lines))
	}
	if l := lines[0]; l["method"] != "chat.postMessage" || l["channel"] != releasesID || l["event_id"] != ev.GetId() ||
		l["text"] != ":warning: Keycloak 26.5.0 → 27.0.0 (MAJOR, check for breaking changes): upgrade ticket PLAT-12" {
		t.Errorf("dry-run line %v", l)
	}
	if rt.calls.Load() != 0 {
		t.Errorf("%d HTTP calls", rt.calls.Load())
	}
}

func TestReleaseErrors(t *testing.T) {
	ev := releaseEvent(keycloakRelease("26.6.1"))
	noTag := releaseEvent(&bridgev1.ReleasePublished{Owner: "keycloak", Repo: "keycloak"})
	noTag.Id = "e3"
	tests := []struct {
		name      string
		ev        *event.Event
		mod       func(*Options)
		setup     func(*env)
		permanent bool
		err       string
	}{
		{name: "release without a tag", ev: noTag, permanent: true, err: "slack: event e3: release has no owner, repo or tag"},
		{name: "no channel", ev: ev, mod: func(o *Options) { o.Channels.Releases = "" }, permanent: true,
			err: "slack: no channel for release notes: set slack.channels.releases"},
		{name: "ledger unreadable", ev: ev, mod: func(o *Options) { o.Lookup = brokenLedger{} },
			err: "slack: read the ticket of release:keycloak/keycloak@26.6.1: nats: timeout"},
		{name: "channel not found", ev: ev, mod: func(o *Options) { o.Channels.Releases = "C0UNKNOWN" }, permanent: true,
			err: "slack: chat.postMessage to C0UNKNOWN: channel_not_found"},
		{name: "rate limited", ev: ev, setup: func(e *env) { e.fake.RateLimit("chat.postMessage", 1, 0) },
			err: "slack: chat.postMessage to C0RELEASES: HTTP 429 Too Many Requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*Options)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			e := newReleaseEnv(t, mods...)
			e.recordTicket(tt.ev, ticketOf("created", nil))
			if tt.setup != nil {
				tt.setup(e)
			}
			_, err := e.sink.Deliver(context.Background(), sink.Delivery{Event: tt.ev, Attempt: 1})
			checkClass(t, e, err, tt.permanent, 0, tt.err)
		})
	}
}

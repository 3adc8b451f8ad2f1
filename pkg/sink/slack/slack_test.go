package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

const checksID = "C0CHECKS"

// env is a sink wired to a fake Slack and an in-memory ledger. At the end
// of the test it checks that no log line holds the token.
type env struct {
	fake  *slacktest.Server
	led   *ledger
	logs  *logBuffer
	sink  *Sink
	token string
}

func newEnv(t *testing.T, mods ...func(*Options)) *env {
	t.Helper()
	fake := slacktest.New(t)
	fake.AddChannel(checksID, "checks")
	e := &env{fake: fake, led: newLedger(), logs: &logBuffer{}, token: fake.Token()}
	o := Options{
		APIURL:   fake.URL(),
		Token:    secrets.New(fake.Token()),
		Channels: config.SlackChannels{Checks: checksID},
		Lookup:   e.led,
		Logger:   e.logs.logger(),
	}
	for _, m := range mods {
		m(&o)
	}
	e.sink = New(o)
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), e.token) {
			t.Errorf("the token is in the logs:\n%s", e.logs.String())
		}
	})
	return e
}

// deliver makes one attempt and, on success, records the result as the
// runner would.
func (e *env) deliver(t *testing.T, ev *event.Event, attempt int, uncertain bool) (sink.Result, error) {
	t.Helper()
	r, err := e.sink.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: attempt, Uncertain: uncertain})
	if err != nil {
		if strings.Contains(err.Error(), e.token) {
			t.Errorf("the token is in the error %q", err)
		}
		return r, err
	}
	e.led.record(ev.GetIdempotencyKey(), r)
	return r, nil
}

func (e *env) mustDeliver(t *testing.T, ev *event.Event) sink.Result {
	t.Helper()
	r, err := e.deliver(t, ev, 1, false)
	if err != nil {
		t.Fatalf("Deliver(%s) = %v", ev.GetIdempotencyKey(), err)
	}
	return r
}

// downUp returns the fixtures' down and up events.
func downUp(t *testing.T) (*event.Event, *event.Event) {
	t.Helper()
	return checkEvent(fixtureCheck(t, "down.json")), checkEvent(fixtureCheck(t, "up.json"))
}

func TestCheckFlow(t *testing.T) {
	e := newEnv(t)
	down, up := downUp(t)
	checkID := down.GetCheckStatusChanged().GetCheckId()

	// down → one alert, with metadata.
	r := e.mustDeliver(t, down)
	msgs := e.fake.Messages(checksID)
	if len(msgs) != 1 {
		t.Fatalf("after down: %d messages, want 1", len(msgs))
	}
	alert := msgs[0]
	want := sink.Result{
		Outcome: OutcomePosted,
		Fields:  map[string]string{"channel": checksID, "ts": alert.TS, "state": "open", "down_at": "2025-06-03T05:16:41Z"},
		Links:   []string{"slack-notifier|alert:" + checkID},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("down result (-want +got):\n%s", diff)
	}
	wantMD := &slacktest.Metadata{EventType: "bridge_event", EventPayload: map[string]any{
		"idempotency_key": down.GetIdempotencyKey(), "event_id": down.GetId(),
	}}
	if diff := cmp.Diff(wantMD, alert.Metadata); diff != "" {
		t.Errorf("alert metadata (-want +got):\n%s", diff)
	}
	if !strings.Contains(alert.Text, "Database Backup is DOWN") || !strings.Contains(string(alert.Blocks), `"header"`) {
		t.Errorf("alert text %q blocks %s: want the rendered alert", alert.Text, alert.Blocks)
	}

	// The same outage again → nothing.
	again := checkEvent(flip(down.GetCheckStatusChanged(), bridgev1.CheckStatus_CHECK_STATUS_DOWN, time.Date(2025, 6, 3, 5, 30, 0, 0, time.UTC)))
	r = e.mustDeliver(t, again)
	if diff := cmp.Diff(sink.Result{Outcome: sink.OutcomeSkipped}, r); diff != "" {
		t.Errorf("second down (-want +got):\n%s", diff)
	}
	if n := e.fake.Calls("chat.postMessage"); n != 1 {
		t.Errorf("after a second down: %d posts, want 1", n)
	}

	// up → one reply in the alert's thread, and the alert updated.
	r = e.mustDeliver(t, up)
	alert = e.fake.Messages(checksID)[0]
	if len(alert.Replies) != 1 {
		t.Fatalf("after up: %d replies, want 1", len(alert.Replies))
	}
	reply := alert.Replies[0]
	want = sink.Result{
		Outcome: OutcomeResolved,
		Fields: map[string]string{"channel": checksID, "ts": alert.TS, "state": "resolved",
			"down_at": "2025-06-03T05:16:41Z", "up_at": "2025-06-03T07:02:09Z", "reply_ts": reply.TS},
		Links: []string{"slack-notifier|alert:" + checkID},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("up result (-want +got):\n%s", diff)
	}
	if reply.ThreadTS != alert.TS || !strings.Contains(reply.Text, "back up after 1h 45m") {
		t.Errorf("reply thread_ts %q text %q; want %s and the outage", reply.ThreadTS, reply.Text, alert.TS)
	}
	if reply.Metadata == nil || reply.Metadata.EventPayload["idempotency_key"] != up.GetIdempotencyKey() {
		t.Errorf("reply metadata = %+v, want the up's key", reply.Metadata)
	}
	if alert.Updates != 1 || !strings.Contains(alert.Text, "Resolved") || !strings.Contains(string(alert.Blocks), "RESOLVED") {
		t.Errorf("alert after up: %d updates, text %q; want 1 and Resolved", alert.Updates, alert.Text)
	}
	if n := len(e.fake.Messages(checksID)); n != 1 {
		t.Errorf("after up: %d top-level messages, want 1", n)
	}

	// The same up again → nothing.
	r = e.mustDeliver(t, up)
	if r.Outcome != sink.OutcomeSkipped {
		t.Errorf("second up: outcome %q, want skipped", r.Outcome)
	}

	// The check flaps: a new outage gets a new alert, resolved in turn.
	down2 := checkEvent(flip(down.GetCheckStatusChanged(), bridgev1.CheckStatus_CHECK_STATUS_DOWN, time.Date(2025, 6, 4, 5, 20, 0, 0, time.UTC)))
	up2 := checkEvent(flip(down.GetCheckStatusChanged(), bridgev1.CheckStatus_CHECK_STATUS_UP, time.Date(2025, 6, 4, 5, 25, 30, 0, time.UTC)))

	// Before its down is applied, the second up waits.
	if _, err := e.deliver(t, up2, 1, false); !sink.IsWait(err) {
		t.Errorf("up before its down: %v, want a wait", err)
	}
	if r := e.mustDeliver(t, down2); r.Outcome != OutcomePosted {
		t.Errorf("second outage's down: %q, want posted", r.Outcome)
	}
	if r := e.mustDeliver(t, up2); r.Outcome != OutcomeResolved {
		t.Errorf("second outage's up: %q, want resolved", r.Outcome)
	}
	msgs = e.fake.Messages(checksID)
	if len(msgs) != 2 || len(msgs[1].Replies) != 1 || msgs[1].Updates != 1 || !strings.Contains(msgs[1].Replies[0].Text, "after 5m 30s") {
		t.Errorf("after the second outage: %+v; want 2 alerts, the second answered and updated", msgs)
	}
}

func TestUpWaitsAndStale(t *testing.T) {
	down, up := downUp(t)
	checkID := down.GetCheckStatusChanged().GetCheckId()
	at := func(h, m int) string { return time.Date(2025, 6, 3, h, m, 0, 0, time.UTC).Format(time.RFC3339) }
	tests := []struct {
		name    string
		alert   map[string]string // nil: nothing recorded
		ev      *event.Event
		wait    bool
		outcome string
	}{
		{name: "up, no alert", ev: up, wait: true},
		{name: "up, alert of an older outage resolved", ev: up,
			alert: map[string]string{"channel": checksID, "ts": "1.000001", "state": "resolved", "down_at": at(1, 0), "up_at": at(2, 0)}, wait: true},
		{name: "up, alert resolved by a later up", ev: up,
			alert:   map[string]string{"channel": checksID, "ts": "1.000001", "state": "resolved", "down_at": at(5, 0), "up_at": at(8, 0)},
			outcome: sink.OutcomeSkipped},
		{name: "up, open alert of a later outage", ev: up,
			alert:   map[string]string{"channel": checksID, "ts": "1.000001", "state": "open", "down_at": at(7, 30)},
			outcome: sink.OutcomeSkipped},
		{name: "down, open alert", ev: down,
			alert:   map[string]string{"channel": checksID, "ts": "1.000001", "state": "open", "down_at": at(4, 0)},
			outcome: sink.OutcomeSkipped},
		{name: "down older than the recorded recovery", ev: down,
			alert:   map[string]string{"channel": checksID, "ts": "1.000001", "state": "resolved", "down_at": at(4, 0), "up_at": at(6, 0)},
			outcome: sink.OutcomeSkipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.alert != nil {
				e.led.record(AlertKey(checkID), sink.Result{Outcome: OutcomePosted, Fields: tt.alert})
			}
			r, err := e.deliver(t, tt.ev, 1, false)
			if tt.wait {
				if !sink.IsWait(err) || sink.RetryAfter(err) != 5*time.Second {
					t.Errorf("Deliver = %v, want a wait of 5s", err)
				}
			} else if err != nil || r.Outcome != tt.outcome {
				t.Errorf("Deliver = %+v, %v; want outcome %q", r, err, tt.outcome)
			}
			for _, m := range []string{"chat.postMessage", "chat.update", "conversations.history", "conversations.replies"} {
				if n := e.fake.Calls(m); n != 0 {
					t.Errorf("%d calls of %s, want none", n, m)
				}
			}
		})
	}
}

func TestUncertainDown(t *testing.T) {
	down, _ := downUp(t)

	t.Run("answer lost, then found in history", func(t *testing.T) {
		e := newEnv(t)
		e.fake.LoseResponse("chat.postMessage", 1)
		_, err := e.deliver(t, down, 1, false)
		if err == nil || sink.IsPermanent(err) {
			t.Fatalf("Deliver with the answer lost = %v, want transient", err)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Fatalf("%d messages after the lost answer, want 1", n)
		}
		r, err := e.deliver(t, down, 2, true)
		if err != nil {
			t.Fatalf("uncertain Deliver = %v", err)
		}
		msgs := e.fake.Messages(checksID)
		if len(msgs) != 1 {
			t.Errorf("%d messages, want still 1", len(msgs))
		}
		if r.Outcome != OutcomePosted || r.Fields["ts"] != msgs[0].TS || r.Fields["channel"] != checksID || r.Fields["state"] != "open" {
			t.Errorf("result %+v, want the first post's ts %s", r, msgs[0].TS)
		}
		if n := e.fake.Calls("conversations.history"); n != 1 {
			t.Errorf("%d history calls, want 1", n)
		}
		if got := e.logs.lines(t, "found the alert an earlier attempt posted"); len(got) != 1 {
			t.Errorf("%d 'found' log lines, want 1", len(got))
		}
		if n := e.fake.Calls("conversations.list"); n != 0 {
			t.Errorf("%d list calls for a channel ID, want 0", n)
		}
	})

	t.Run("nothing posted yet", func(t *testing.T) {
		e := newEnv(t)
		// Another event's message does not count.
		other := checkEvent(fixtureCheck(t, "down-with-tags.json"))
		e.mustDeliver(t, other)
		if _, err := e.deliver(t, down, 1, true); err != nil {
			t.Fatalf("uncertain Deliver = %v", err)
		}
		if n := len(e.fake.Messages(checksID)); n != 2 {
			t.Errorf("%d messages, want 2", n)
		}
	})

	t.Run("a retry looks too", func(t *testing.T) {
		e := newEnv(t)
		e.mustDeliver(t, down)
		e.led = newLedger() // The ledger write was lost.
		e.sink.lookup = e.led
		if _, err := e.deliver(t, down, 3, false); err != nil {
			t.Fatalf("Deliver attempt 3 = %v", err)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})

	t.Run("channel by name, nothing posted yet", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Channels.Checks = "#checks" })
		r, err := e.deliver(t, down, 2, true)
		if err != nil {
			t.Fatalf("Deliver = %v", err)
		}
		if r.Fields["channel"] != checksID {
			t.Errorf("channel field %q, want the ID %s", r.Fields["channel"], checksID)
		}
		if n := e.fake.Calls("conversations.history"); n != 1 {
			t.Errorf("%d history calls with a channel name, want 1", n)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})
}

// TestUncertainDownByName is the crash between Slack's answer and the
// ledger write with the channel configured by name: the name is resolved
// with conversations.list, the history searched by ID, and nothing is
// posted twice.
func TestUncertainDownByName(t *testing.T) {
	down, _ := downUp(t)
	other := checkEvent(fixtureCheck(t, "down-with-tags.json"))

	for _, channel := range []string{"#checks", "checks"} {
		t.Run(channel, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.Channels.Checks = channel })
			e.fake.AddChannel("C0OTHER", "checks-archive")
			e.fake.AddPrivateChannel("C0PRIVATE", "ops")

			e.fake.LoseResponse("chat.postMessage", 1)
			if _, err := e.deliver(t, down, 1, false); err == nil || sink.IsPermanent(err) {
				t.Fatalf("Deliver with the answer lost = %v, want transient", err)
			}
			msgs := e.fake.Messages(checksID)
			if len(msgs) != 1 {
				t.Fatalf("%d messages after the lost answer, want 1", len(msgs))
			}

			r, err := e.deliver(t, down, 2, true)
			if err != nil {
				t.Fatalf("uncertain Deliver = %v", err)
			}
			want := map[string]string{"channel": checksID, "ts": msgs[0].TS, "state": "open", "down_at": "2025-06-03T05:16:41Z"}
			if diff := cmp.Diff(want, r.Fields); diff != "" {
				t.Errorf("uncertain Deliver fields (-want +got):\n%s", diff)
			}
			if n := len(e.fake.Messages(checksID)); n != 1 {
				t.Errorf("%d messages, want still 1", n)
			}
			calls := func() string {
				return fmt.Sprintf("list %d, history %d, post %d", e.fake.Calls("conversations.list"),
					e.fake.Calls("conversations.history"), e.fake.Calls("chat.postMessage"))
			}
			if got, want := calls(), "list 1, history 1, post 1"; got != want {
				t.Errorf("calls: %s, want %s", got, want)
			}
			if got := e.logs.lines(t, "resolved the channel name"); len(got) != 1 || got[0]["channel"] != "#checks" || got[0]["channel_id"] != checksID {
				t.Errorf("'resolved' log lines %v, want one for #checks → %s", got, checksID)
			}

			// The ledger write is lost again: the cached ID serves.
			e.led = newLedger()
			e.sink.lookup = e.led
			if _, err := e.deliver(t, down, 3, true); err != nil {
				t.Fatalf("Deliver attempt 3 = %v", err)
			}
			// Another check's uncertain alert: searched, not found, posted.
			if r, err := e.deliver(t, other, 2, true); err != nil || r.Outcome != OutcomePosted {
				t.Fatalf("other check's Deliver = %+v, %v; want posted", r, err)
			}
			if got, want := calls(), "list 1, history 3, post 2"; got != want {
				t.Errorf("calls: %s, want %s", got, want)
			}
			if n := len(e.fake.Messages(checksID)); n != 2 {
				t.Errorf("%d messages, want 2: one per check", n)
			}
		})
	}
}

func TestChannelResolution(t *testing.T) {
	down, _ := downUp(t)
	// lostThenRetry loses the answer to the first post, then makes an
	// uncertain retry.
	lostThenRetry := func(t *testing.T, e *env) (sink.Result, error) {
		t.Helper()
		e.fake.LoseResponse("chat.postMessage", 1)
		if _, err := e.deliver(t, down, 1, false); err == nil {
			t.Fatal("Deliver with the answer lost succeeded")
		}
		return e.deliver(t, down, 2, true)
	}

	t.Run("learned from the post", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Channels.Checks = "#checks" })
		e.mustDeliver(t, down)
		e.led = newLedger() // The ledger write was lost.
		e.sink.lookup = e.led
		if _, err := e.deliver(t, down, 2, true); err != nil {
			t.Fatalf("uncertain Deliver = %v", err)
		}
		if n := e.fake.Calls("conversations.list"); n != 0 {
			t.Errorf("%d list calls, want 0: the post's answer gave the ID", n)
		}
		if n := e.fake.Calls("conversations.history"); n != 1 {
			t.Errorf("%d history calls, want 1", n)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})

	t.Run("ID used as is", func(t *testing.T) {
		e := newEnv(t)
		if _, err := lostThenRetry(t, e); err != nil {
			t.Fatalf("uncertain Deliver = %v", err)
		}
		if n := e.fake.Calls("conversations.list"); n != 0 {
			t.Errorf("%d list calls for a channel ID, want 0", n)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})

	t.Run("private channel on a later page", func(t *testing.T) {
		const privateID = "G0PRIVATE"
		e := newEnv(t, func(o *Options) { o.Channels.Checks = "#ops-private" })
		for i := range 5 {
			e.fake.AddChannel(fmt.Sprintf("C0PUB%d", i), fmt.Sprintf("pub-%d", i))
		}
		e.fake.AddPrivateChannel(privateID, "ops-private")
		// Pages shorter than the limit, as Slack may send: the cursor,
		// not the page size, says whether more follow.
		e.fake.ShortPages(2)
		r, err := lostThenRetry(t, e)
		if err != nil {
			t.Fatalf("uncertain Deliver = %v", err)
		}
		msgs := e.fake.Messages(privateID)
		if len(msgs) != 1 || r.Fields["channel"] != privateID || r.Fields["ts"] != msgs[0].TS {
			t.Errorf("result %+v with %d messages, want the one in %s", r.Fields, len(msgs), privateID)
		}
		if n := e.fake.Calls("conversations.list"); n != 4 {
			t.Errorf("%d list calls, want 4 pages of 2", n)
		}
	})

	t.Run("failed lookup not cached", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Channels.Checks = "#checks" })
		e.fake.RateLimit("conversations.list", 1, 20*time.Second)
		_, err := lostThenRetry(t, e)
		checkClass(t, e, err, false, 20*time.Second, "slack: conversations.list for #checks: rate limited, retry after 20s")
		if _, err := e.deliver(t, down, 3, true); err != nil {
			t.Fatalf("Deliver after the rate limit = %v", err)
		}
		if n := e.fake.Calls("conversations.list"); n != 2 {
			t.Errorf("%d list calls, want 2", n)
		}
		if n := len(e.fake.Messages(checksID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})

	t.Run("name not found not cached", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Channels.Checks = "#nope" })
		for attempt := 2; attempt <= 3; attempt++ {
			_, err := e.deliver(t, down, attempt, true)
			checkClass(t, e, err, true, 0, "slack: channel #nope not found (conversations.list)")
		}
		if n := e.fake.Calls("conversations.list"); n != 2 {
			t.Errorf("%d list calls, want 2", n)
		}
		if n := e.fake.Calls("chat.postMessage"); n != 0 {
			t.Errorf("%d posts, want 0", n)
		}
	})

	t.Run("concurrent deliveries", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Channels.Checks = "#checks" })
		const n = 8
		base := down.GetCheckStatusChanged()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			c := flip(base, bridgev1.CheckStatus_CHECK_STATUS_DOWN, time.Date(2025, 6, 3, 5, i, 0, 0, time.UTC))
			c.CheckId = fmt.Sprintf("check-%d", i)
			ev := checkEvent(c)
			wg.Go(func() {
				_, err := e.sink.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 2, Uncertain: true})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := len(e.fake.Messages(checksID)); got != n {
			t.Errorf("%d messages, want %d", got, n)
		}
		if got := e.fake.Calls("conversations.list"); got < 1 || got > n {
			t.Errorf("%d list calls, want 1 to %d", got, n)
		}
	})
}

func TestIsChannelID(t *testing.T) {
	tests := []struct {
		channel string
		want    bool
	}{
		{"C0CHECKS", true},
		{"C024BE91L", true},
		{"G0PRIVATE", true},
		{"D024BE91L", true},
		{"#checks", false},
		{"checks", false},
		{"#C0CHECKS", false},
		{"c0checks", false},
		{"Cchecks", false},
		{"C", false},
		{"X0CHECKS", false},
		{"C0-CHECKS", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isChannelID(tt.channel); got != tt.want {
			t.Errorf("isChannelID(%q) = %v, want %v", tt.channel, got, tt.want)
		}
	}
}

func TestUncertainReply(t *testing.T) {
	down, up := downUp(t)

	t.Run("answer lost, then found in the thread", func(t *testing.T) {
		e := newEnv(t)
		e.mustDeliver(t, down)
		e.fake.LoseResponse("chat.postMessage", 1)
		if _, err := e.deliver(t, up, 1, false); err == nil || sink.IsPermanent(err) {
			t.Fatalf("up with the answer lost = %v, want transient", err)
		}
		r, err := e.deliver(t, up, 2, true)
		if err != nil {
			t.Fatalf("uncertain up = %v", err)
		}
		alert := e.fake.Messages(checksID)[0]
		if len(alert.Replies) != 1 || alert.Updates != 1 {
			t.Fatalf("alert has %d replies and %d updates, want 1 and 1", len(alert.Replies), alert.Updates)
		}
		if r.Outcome != OutcomeResolved || r.Fields["reply_ts"] != alert.Replies[0].TS {
			t.Errorf("result %+v, want resolved with reply_ts %s", r, alert.Replies[0].TS)
		}
		if n := e.fake.Calls("conversations.replies"); n != 1 {
			t.Errorf("%d replies calls, want 1", n)
		}
	})

	t.Run("update failed after the reply", func(t *testing.T) {
		e := newEnv(t)
		e.mustDeliver(t, down)
		e.fake.FailWith("chat.update", 1, "internal_error")
		_, err := e.deliver(t, up, 1, false)
		if err == nil || sink.IsPermanent(err) || err.Error() != "slack: chat.update of C0CHECKS: internal_error" {
			t.Fatalf("up with chat.update failing = %v, want transient internal_error", err)
		}
		// The runner retries without knowing the reply was posted.
		if _, err := e.deliver(t, up, 2, false); err != nil {
			t.Fatalf("retry = %v", err)
		}
		alert := e.fake.Messages(checksID)[0]
		if len(alert.Replies) != 1 || alert.Updates != 1 {
			t.Errorf("alert has %d replies and %d updates, want 1 and 1", len(alert.Replies), alert.Updates)
		}
	})
}

func TestUpdateGivesUp(t *testing.T) {
	down, up := downUp(t)
	for _, code := range []string{"message_not_found", "cant_update_message", "edit_window_closed"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t)
			e.mustDeliver(t, down)
			e.fake.FailWith("chat.update", 1, code)
			r, err := e.deliver(t, up, 1, false)
			if err != nil {
				t.Fatalf("Deliver = %v, want resolved", err)
			}
			if r.Outcome != OutcomeResolved || r.Fields["update"] != "skipped ("+code+")" || r.Fields["state"] != "resolved" {
				t.Errorf("result %+v, want resolved with update skipped (%s)", r, code)
			}
			if n := len(e.fake.Messages(checksID)[0].Replies); n != 1 {
				t.Errorf("%d replies, want 1", n)
			}
			if got := e.logs.lines(t, "could not mark the alert resolved; the recovery reply is posted"); len(got) != 1 {
				t.Errorf("%d warnings, want 1", len(got))
			}
		})
	}
}

func TestAlertGone(t *testing.T) {
	down, up := downUp(t)
	for _, uncertain := range []bool{false, true} {
		t.Run(fmt.Sprint("uncertain=", uncertain), func(t *testing.T) {
			e := newEnv(t)
			e.led.record(AlertKey(down.GetCheckStatusChanged().GetCheckId()), sink.Result{Fields: map[string]string{
				"channel": checksID, "ts": "1700000000.000100", "state": "open", "down_at": "2025-06-03T05:16:41Z",
			}})
			r, err := e.deliver(t, up, 1, uncertain)
			if err != nil {
				t.Fatalf("Deliver = %v", err)
			}
			if r.Outcome != OutcomeResolved || r.Fields["state"] != "resolved" || r.Fields["update"] != "skipped (thread_not_found)" {
				t.Errorf("result %+v, want resolved, update skipped (thread_not_found)", r)
			}
			if n := e.fake.Calls("chat.update"); n != 0 {
				t.Errorf("%d updates of a deleted alert, want 0", n)
			}
		})
	}
}

// refuse is an HTTP transport that fails the test if it is used.
type refuse struct {
	t     *testing.T
	calls atomic.Int32
}

func (r *refuse) RoundTrip(req *http.Request) (*http.Response, error) {
	r.calls.Add(1)
	r.t.Errorf("dry-run made an HTTP call: %s", req.URL)
	return nil, errors.New("no HTTP in dry-run")
}

func TestDryRun(t *testing.T) {
	down, up := downUp(t)
	tokens := map[string]func(*Options){
		"no token": func(o *Options) { o.Token = secrets.Secret{} },
		"token not found": func(o *Options) {
			o.TokenFunc = func(context.Context) (secrets.Secret, error) {
				return secrets.Secret{}, fmt.Errorf("env: %w", secrets.ErrNotFound)
			}
		},
	}
	for name, mod := range tokens {
		t.Run(name, func(t *testing.T) {
			rt := &refuse{t: t}
			e := newEnv(t, mod, func(o *Options) { o.HTTPClient = &http.Client{Transport: rt} })
			checkID := down.GetCheckStatusChanged().GetCheckId()

			r := e.mustDeliver(t, down)
			want := sink.Result{
				Outcome: sink.OutcomeDryRun,
				Fields:  map[string]string{"channel": checksID, "ts": "dry-run", "state": "open", "down_at": "2025-06-03T05:16:41Z"},
				Links:   []string{AlertKey(checkID)},
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("dry-run down (-want +got):\n%s", diff)
			}
			lines := e.logs.lines(t, "dry-run: would call Slack")
			if len(lines) != 1 {
				t.Fatalf("%d dry-run lines, want 1", len(lines))
			}
			l := lines[0]
			if l["level"] != "INFO" || l["method"] != "chat.postMessage" || l["channel"] != checksID || l["event_id"] != down.GetId() ||
				!strings.Contains(l["text"].(string), "Database Backup is DOWN") {
				t.Errorf("dry-run line %v", l)
			}
			var blocks []map[string]any
			if err := json.Unmarshal([]byte(l["blocks"].(string)), &blocks); err != nil || len(blocks) == 0 {
				t.Errorf("dry-run blocks %q: %v, want the JSON array", l["blocks"], err)
			}

			if r := e.mustDeliver(t, down); r.Outcome != sink.OutcomeSkipped {
				t.Errorf("second dry-run down: %q, want skipped", r.Outcome)
			}

			r = e.mustDeliver(t, up)
			want = sink.Result{
				Outcome: sink.OutcomeDryRun,
				Fields: map[string]string{"channel": checksID, "ts": "dry-run", "state": "resolved",
					"down_at": "2025-06-03T05:16:41Z", "up_at": "2025-06-03T07:02:09Z"},
				Links: []string{AlertKey(checkID)},
			}
			if diff := cmp.Diff(want, r); diff != "" {
				t.Errorf("dry-run up (-want +got):\n%s", diff)
			}
			lines = e.logs.lines(t, "dry-run: would call Slack")[1:]
			var got []string
			for _, l := range lines {
				got = append(got, fmt.Sprint(l["method"], " ", l["thread_ts"], l["ts"]))
			}
			if diff := cmp.Diff([]string{"chat.postMessage dry-run<nil>", "chat.update <nil>dry-run"}, got); diff != "" {
				t.Errorf("dry-run up lines (-want +got):\n%s", diff)
			}
			if rt.calls.Load() != 0 {
				t.Errorf("%d HTTP calls", rt.calls.Load())
			}
		})
	}
}

func TestDryRunAlertThenToken(t *testing.T) {
	down, up := downUp(t)
	e := newEnv(t)
	e.led.record(AlertKey(down.GetCheckStatusChanged().GetCheckId()), sink.Result{Fields: map[string]string{
		"channel": checksID, "ts": "dry-run", "state": "open", "down_at": "2025-06-03T05:16:41Z",
	}})
	r, err := e.deliver(t, up, 1, false)
	if err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	if r.Outcome != OutcomeResolved || r.Fields["state"] != "resolved" || r.Fields["update"] != "skipped (dry-run alert)" {
		t.Errorf("result %+v, want resolved without a Slack call", r)
	}
	if n := e.fake.Calls("chat.postMessage") + e.fake.Calls("chat.update"); n != 0 {
		t.Errorf("%d Slack calls, want 0", n)
	}
}

func TestChannelByName(t *testing.T) {
	down, up := downUp(t)
	e := newEnv(t, func(o *Options) { o.Channels.Checks = "#checks" })
	if r := e.mustDeliver(t, down); r.Fields["channel"] != checksID {
		t.Errorf("down recorded channel %q, want the ID %s", r.Fields["channel"], checksID)
	}
	// chat.update and the thread reply need the ID, which the down recorded.
	if r := e.mustDeliver(t, up); r.Outcome != OutcomeResolved || r.Fields["update"] != "" {
		t.Errorf("up = %+v, want resolved and updated", r)
	}
}

func TestPermanentInputs(t *testing.T) {
	down, _ := downUp(t)
	vuln := event.New(event.KindVulnerabilityFound, "urn:test", "nginx:1.27", "vuln:nginx:1.27:sha256:1", time.Now())
	vuln.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: &bridgev1.VulnerabilityReport{}}
	empty := event.New(event.KindCheckDown, "urn:test", "x", "k", time.Now())
	empty.Id = "e1"
	noID := checkEvent(&bridgev1.CheckStatusChanged{Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN})
	noID.Id = "e2"

	tests := []struct {
		name    string
		ev      *event.Event
		mod     func(*Options)
		wantErr string
	}{
		{"vulnerability without a state store", vuln, nil, "slack: no vulnerability state store configured"},
		{"no payload", empty, nil, "slack: event e1 has no payload"},
		{"check without id", noID, nil, "slack: event e2: check has no id"},
		{"no channel", down, func(o *Options) { o.Channels.Checks = "" }, "slack: no channel for check alerts: set slack.channels.checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*Options)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			e := newEnv(t, mods...)
			_, err := e.deliver(t, tt.ev, 1, false)
			if !sink.IsPermanent(err) || err.Error() != tt.wantErr {
				t.Errorf("Deliver = %v, want permanent %q", err, tt.wantErr)
			}
		})
	}
}

func TestTokenFunc(t *testing.T) {
	down, _ := downUp(t)
	// The provider's answer: an error, or the token.
	var current atomic.Pointer[func() (secrets.Secret, error)]
	set := func(f func() (secrets.Secret, error)) { current.Store(&f) }
	e := newEnv(t, func(o *Options) {
		o.Token = secrets.Secret{}
		o.TokenFunc = func(context.Context) (secrets.Secret, error) { return (*current.Load())() }
	})
	set(func() (secrets.Secret, error) { return secrets.Secret{}, errors.New("vault: sealed") })
	_, err := e.deliver(t, down, 1, false)
	if err == nil || sink.IsPermanent(err) || sink.IsWait(err) || err.Error() != "slack: read the bot token: vault: sealed" {
		t.Errorf("Deliver with the provider failing = %v, want transient", err)
	}
	// Rotated in: used without a new Sink.
	set(func() (secrets.Secret, error) { return secrets.New(e.token), nil })
	if r := e.mustDeliver(t, down); r.Outcome != OutcomePosted {
		t.Errorf("Deliver = %+v, want posted", r)
	}
}

// TestStatusTable is the status table every sink passes: each answer
// Slack can give maps to its class, Retry-After is kept, the error reads
// well as a dead-letter reason and never holds the token.
func TestStatusTable(t *testing.T) {
	down, _ := downUp(t)
	const post = "slack: chat.postMessage to C0CHECKS: "
	byName := func(o *Options) { o.Channels.Checks = "#checks" }
	type want struct {
		permanent  bool
		retryAfter time.Duration
		err        string // exact, or a prefix when it ends in "…"
		// unauthorized: Slack refused the token (sink.IsUnauthorized),
		// so the runner may re-read the secrets and retry.
		unauthorized bool
	}
	tests := []struct {
		name      string
		setup     func(e *env)
		mod       func(*Options)
		uncertain bool
		ctx       func() context.Context
		want      want
	}{
		{name: "429 with Retry-After", setup: func(e *env) { e.fake.RateLimit("chat.postMessage", 1, 30*time.Second) },
			want: want{retryAfter: 30 * time.Second, err: post + "rate limited, retry after 30s"}},
		{name: "429 without Retry-After", setup: func(e *env) { e.fake.RateLimit("chat.postMessage", 1, 0) },
			want: want{err: post + "HTTP 429 Too Many Requests"}},
		{name: "500", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 500) }, want: want{err: post + "HTTP 500 Internal Server Error"}},
		{name: "502", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 502) }, want: want{err: post + "HTTP 502 Bad Gateway"}},
		{name: "503", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 503) }, want: want{err: post + "HTTP 503 Service Unavailable"}},
		{name: "504", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 504) }, want: want{err: post + "HTTP 504 Gateway Timeout"}},
		{name: "400", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 400) }, want: want{permanent: true, err: post + "HTTP 400 Bad Request"}},
		{name: "401", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 401) }, want: want{permanent: true, unauthorized: true, err: post + "HTTP 401 Unauthorized"}},
		{name: "403", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 403) }, want: want{permanent: true, err: post + "HTTP 403 Forbidden"}},
		{name: "404", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 404) }, want: want{permanent: true, err: post + "HTTP 404 Not Found"}},
		{name: "410", setup: func(e *env) { e.fake.Fail("chat.postMessage", 1, 410) }, want: want{permanent: true, err: post + "HTTP 410 Gone"}},
		{name: "wrong token", mod: func(o *Options) { o.Token = secrets.New("test-stale-slack-token") },
			want: want{permanent: true, unauthorized: true, err: post + "invalid_auth"}},
		{name: "unknown channel", mod: func(o *Options) { o.Channels.Checks = "C0UNKNOWN" },
			want: want{permanent: true, err: "slack: chat.postMessage to C0UNKNOWN: channel_not_found"}},
		{name: "bot not in channel", setup: func(e *env) { e.fake.Kick(checksID) }, want: want{permanent: true, err: post + "not_in_channel"}},
		{name: "archived channel", setup: func(e *env) { e.fake.Archive(checksID) }, want: want{permanent: true, err: post + "is_archived"}},
		{name: "history fails", uncertain: true, setup: func(e *env) { e.fake.FailWith("conversations.history", 1, "missing_scope") },
			want: want{permanent: true, err: "slack: conversations.history of C0CHECKS: missing_scope"}},
		{name: "history rate limited", uncertain: true, setup: func(e *env) { e.fake.RateLimit("conversations.history", 1, 3*time.Second) },
			want: want{retryAfter: 3 * time.Second, err: "slack: conversations.history of C0CHECKS: rate limited, retry after 3s"}},
		{name: "list rate limited", uncertain: true, mod: byName, setup: func(e *env) { e.fake.RateLimit("conversations.list", 1, 3*time.Second) },
			want: want{retryAfter: 3 * time.Second, err: "slack: conversations.list for #checks: rate limited, retry after 3s"}},
		{name: "list 429 without Retry-After", uncertain: true, mod: byName, setup: func(e *env) { e.fake.RateLimit("conversations.list", 1, 0) },
			want: want{err: "slack: conversations.list for #checks: HTTP 429 Too Many Requests"}},
		{name: "list 503", uncertain: true, mod: byName, setup: func(e *env) { e.fake.Fail("conversations.list", 1, 503) },
			want: want{err: "slack: conversations.list for #checks: HTTP 503 Service Unavailable"}},
		{name: "list internal_error", uncertain: true, mod: byName, setup: func(e *env) { e.fake.FailWith("conversations.list", 1, "internal_error") },
			want: want{err: "slack: conversations.list for #checks: internal_error"}},
		{name: "list missing scope", uncertain: true, mod: byName, setup: func(e *env) { e.fake.FailWith("conversations.list", 1, "missing_scope") },
			want: want{permanent: true, err: "slack: conversations.list for #checks: missing_scope"}},
		{name: "list answer lost", uncertain: true, mod: byName, setup: func(e *env) { e.fake.LoseResponse("conversations.list", 1) },
			want: want{err: "slack: conversations.list for #checks: …"}},
		{name: "channel name not found", uncertain: true, mod: func(o *Options) { o.Channels.Checks = "#nope" },
			want: want{permanent: true, err: "slack: channel #nope not found (conversations.list)"}},
		{name: "channel name archived", uncertain: true, mod: byName, setup: func(e *env) { e.fake.Archive(checksID) },
			want: want{permanent: true, err: "slack: channel #checks not found (conversations.list)"}},
		{name: "server gone", setup: func(e *env) { e.fake.Close() }, want: want{err: post + "…"}},
		{name: "answer lost", setup: func(e *env) { e.fake.LoseResponse("chat.postMessage", 1) }, want: want{err: post + "…"}},
		{name: "cancelled", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, want: want{err: post + "context canceled"}},
	}
	for _, code := range []string{"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"} {
		tests = append(tests, struct {
			name      string
			setup     func(e *env)
			mod       func(*Options)
			uncertain bool
			ctx       func() context.Context
			want      want
		}{name: code, setup: func(e *env) { e.fake.FailWith("chat.postMessage", 1, code) }, want: want{err: post + code}})
	}
	for _, code := range []string{"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
		"token_revoked", "token_expired", "missing_scope", "msg_too_long", "no_text", "invalid_blocks", "a_code_slack_adds_later"} {
		tests = append(tests, struct {
			name      string
			setup     func(e *env)
			mod       func(*Options)
			uncertain bool
			ctx       func() context.Context
			want      want
		}{name: code, setup: func(e *env) { e.fake.FailWith("chat.postMessage", 1, code) }, want: want{permanent: true, err: post + code,
			unauthorized: slices.Contains([]string{"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}, code)}})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*Options)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			e := newEnv(t, mods...)
			if tt.setup != nil {
				tt.setup(e)
			}
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			_, err := e.sink.Deliver(ctx, sink.Delivery{Event: down, Attempt: 1, Uncertain: tt.uncertain})
			checkClass(t, e, err, tt.want.permanent, tt.want.retryAfter, tt.want.err)
			if got := sink.IsUnauthorized(err); got != tt.want.unauthorized {
				t.Errorf("IsUnauthorized(%v) = %v, want %v", err, got, tt.want.unauthorized)
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		// A Slack that never answers: the per-call timeout ends the attempt.
		stop := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Read the body so the server notices the client hanging up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		defer hang.Close()
		defer close(stop)
		e := newEnv(t, func(o *Options) { o.APIURL = hang.URL; o.Timeout = 50 * time.Millisecond })
		_, err := e.sink.Deliver(context.Background(), sink.Delivery{Event: down, Attempt: 1})
		checkClass(t, e, err, false, 0, post+"context deadline exceeded")
	})
}

func checkClass(t *testing.T, e *env, err error, permanent bool, retryAfter time.Duration, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("Deliver succeeded, want an error")
	}
	if got := sink.IsPermanent(err); got != permanent {
		t.Errorf("IsPermanent(%v) = %v, want %v", err, got, permanent)
	}
	if got := sink.RetryAfter(err); got != retryAfter {
		t.Errorf("RetryAfter(%v) = %v, want %v", err, got, retryAfter)
	}
	if sink.IsWait(err) {
		t.Errorf("IsWait(%v) = true", err)
	}
	if prefix, ok := strings.CutSuffix(want, "…"); ok {
		if !strings.HasPrefix(err.Error(), prefix) || len(err.Error()) == len(prefix) {
			t.Errorf("error %q, want %q and a cause", err, prefix)
		}
	} else if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error %q is not one line", err)
	}
	if strings.Contains(err.Error(), e.token) || strings.Contains(err.Error(), "xoxb-") {
		t.Errorf("error %q holds a token", err)
	}
}

type brokenLedger struct{}

func (brokenLedger) Result(context.Context, string) (sink.Result, bool, error) {
	return sink.Result{}, false, errors.New("nats: timeout")
}

func TestLedgerUnreadable(t *testing.T) {
	down, up := downUp(t)
	for _, ev := range []*event.Event{down, up} {
		e := newEnv(t, func(o *Options) { o.Lookup = brokenLedger{} })
		_, err := e.deliver(t, ev, 1, false)
		want := "slack: read the alert of check 803f680d-e89b-492b-82ef-2be7b774a92d: nats: timeout"
		if err == nil || sink.IsPermanent(err) || sink.IsWait(err) || err.Error() != want {
			t.Errorf("Deliver(%s) = %v, want transient %q", ev.GetIdempotencyKey(), err, want)
		}
		if n := e.fake.Calls("chat.postMessage"); n != 0 {
			t.Errorf("%d posts without the ledger, want 0", n)
		}
	}
}

// TestTokenNeverShown covers what slack-go's errors do not exercise: an
// error that quotes the token, and a sink or client printed whole.
func TestTokenNeverShown(t *testing.T) {
	const tok = "test-printme-123-456"
	s := New(Options{Token: secrets.New(tok)})
	c, err := s.client(context.Background())
	if err != nil || c == nil {
		t.Fatalf("client() = %v, %v", c, err)
	}
	err = c.fail("chat.postMessage to", "C1", fmt.Errorf("proxy said: bad token=%s\nretry", tok))
	if want := "slack: chat.postMessage to C1: proxy said: bad token=[redacted] retry"; err.Error() != want {
		t.Errorf("fail() = %q, want %q", err, want)
	}
	for _, v := range []any{s, *s, c, *c, Options{Token: secrets.New(tok)}} {
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, "printme") {
				t.Errorf("Sprintf(%s, %T) = %s, shows the token", verb, v, got)
			}
		}
	}
}

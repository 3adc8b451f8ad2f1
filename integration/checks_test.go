package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCheckFlow: down → one alert; Healthchecks' retry of the same body and
// a second down for the same outage → still one; up → one thread reply and
// one update of the original to resolved.
func TestCheckFlow(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	down, up := readFile(t, "down.json"), readFile(t, "up.json")

	b.mustAccept(down)
	msgs := b.waitMessages("C0INCIDENTS", 1)
	alert := msgs[0]
	if !strings.Contains(alert.Text, "Database Backup") {
		t.Errorf("alert text = %q, want the check name", alert.Text)
	}
	if got := metadataKey(alert); !strings.HasPrefix(got, "check:803f680d-e89b-492b-82ef-2be7b774a92d:down:") {
		t.Errorf("alert metadata key = %q, want the down event's key", got)
	}

	// Healthchecks retries a slow delivery with the same body: stored once.
	code, answer := b.send(down)
	if code != 202 || !strings.Contains(answer, `"duplicate":true`) {
		t.Errorf("repeated down = %d %s, want 202 with duplicate:true", code, answer)
	}
	// A second down for the same outage, at a later time: nothing to post.
	var later map[string]any
	if err := json.Unmarshal(down, &later); err != nil {
		t.Fatal(err)
	}
	later["now"] = "2025-06-03T05:30:00+00:00"
	again, _ := json.Marshal(later)
	b.mustAccept(again)
	b.settle()
	if msgs := b.slack.Messages("C0INCIDENTS"); len(msgs) != 1 {
		t.Fatalf("after a second down: %d messages (%s), want 1", len(msgs), joinKeys(msgs))
	}

	b.mustAccept(up)
	waitFor(t, 30*time.Second, "the thread reply and the update", func() error {
		m := b.slack.Messages("C0INCIDENTS")[0]
		if len(m.Replies) != 1 || m.Updates != 1 {
			return fmt.Errorf("replies %d, updates %d", len(m.Replies), m.Updates)
		}
		return nil
	})
	b.settle()
	m := b.slack.Messages("C0INCIDENTS")
	if len(m) != 1 || len(m[0].Replies) != 1 || m[0].Updates != 1 {
		t.Fatalf("after up: %d messages, want 1 with 1 reply and 1 update", len(m))
	}
	if m[0].Replies[0].ThreadTS != alert.TS {
		t.Errorf("reply thread_ts = %q, want the alert's ts %q", m[0].Replies[0].ThreadTS, alert.TS)
	}
	if !strings.Contains(strings.ToLower(m[0].Text), "resolved") {
		t.Errorf("updated alert text = %q, want it resolved", m[0].Text)
	}
	// The same up again changes nothing.
	b.send(up)
	b.settle()
	if m := b.slack.Messages("C0INCIDENTS"); len(m[0].Replies) != 1 || m[0].Updates != 1 {
		t.Errorf("a repeated up made more effects: %d replies, %d updates", len(m[0].Replies), m[0].Updates)
	}
}

// TestUpBeforeDown: an up that arrives first is applied only after its down.
func TestUpBeforeDown(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	id := checkID(1)
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	b.mustAccept(checkBody(id, "up", t0.Add(10*time.Minute)))
	// The up must wait: no message, no reply.
	waitFor(t, 20*time.Second, "the up to be tried and held back", func() error {
		if n := len(b.proc.logLines("waiting")) + strings.Count(b.proc.log.String(), "waiting for the down alert"); n == 0 {
			return fmt.Errorf("no sign of the up waiting yet")
		}
		return nil
	})
	if n := b.slack.Calls("chat.postMessage"); n != 0 {
		t.Fatalf("the up made %d chat.postMessage calls before its down", n)
	}
	b.mustAccept(checkBody(id, "down", t0))
	waitFor(t, 60*time.Second, "alert, reply and update", func() error {
		msgs := b.slack.Messages("C0INCIDENTS")
		if len(msgs) != 1 || len(msgs[0].Replies) != 1 || msgs[0].Updates != 1 {
			return fmt.Errorf("%d messages", len(msgs))
		}
		return nil
	})
}

// TestSlackRateLimited: 429s with Retry-After for a few calls still make
// exactly one message.
func TestSlackRateLimited(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	b.slack.RateLimit("chat.postMessage", 3, time.Second)
	b.mustAccept(checkBody(checkID(2), "down", time.Now()))
	b.waitMessages("C0INCIDENTS", 1)
	b.settle()
	if msgs := b.slack.Messages("C0INCIDENTS"); len(msgs) != 1 {
		t.Fatalf("%d messages after 429s, want 1", len(msgs))
	}
	if n := b.slack.Calls("chat.postMessage"); n < 4 {
		t.Errorf("chat.postMessage called %d times, want at least 4 (3 rate-limited + 1)", n)
	}
}

// TestChannelNotFound: a permanent Slack error becomes a dead letter with
// the reason, visible in bridgectl.
func TestChannelNotFound(t *testing.T) {
	b := startBridge(t, bridgeOpts{checksChannel: "#no-such-channel"})
	b.mustAccept(checkBody(checkID(3), "down", time.Now()))
	var rows []map[string]any
	waitFor(t, 30*time.Second, "a dead letter", func() error {
		code, out, errOut := b.ctl("deadletter", "list", "--output", "json")
		if code != 0 {
			return fmt.Errorf("bridgectl: %d %s", code, errOut)
		}
		rows = nil
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	if len(rows) != 1 {
		t.Fatalf("%d dead letters, want 1: %v", len(rows), rows)
	}
	r := rows[0]
	if reason, _ := r["reason"].(string); !strings.Contains(reason, "channel_not_found") {
		t.Errorf("dead letter reason = %q, want channel_not_found", reason)
	}
	if r["consumer"] != "slack-notifier" || r["event_subject"] != "bridge.events.check.down" {
		t.Errorf("dead letter = %v, want consumer slack-notifier, subject bridge.events.check.down", r)
	}
	if strings.Contains(fmt.Sprint(r), b.slack.Token()) {
		t.Error("the dead letter contains the Slack token")
	}
	// The table form names the reason too.
	_, out, _ := b.ctl("deadletter", "list")
	if !strings.Contains(out, "channel_not_found") {
		t.Errorf("bridgectl deadletter list:\n%s\nwant the reason", out)
	}
	if strings.Contains(b.proc.log.String(), b.slack.Token()) || strings.Contains(b.proc.log.String(), hcToken) {
		t.Error("a secret reached the bridge's log")
	}
}

// TestCrashRecovery: kill -9 while events are in flight; after a restart
// every event answered 202 has its alert exactly once.
func TestCrashRecovery(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	// Slack is slow to answer and loses one answer, so the kill finds
	// calls in flight and a post that was made but never recorded.
	b.slack.LoseResponse("chat.postMessage", 1)
	const n = 60
	accepted := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			id := checkID(1000 + i)
			if code, _ := b.send(checkBody(id, "down", t0)); code == 202 {
				mu.Lock()
				accepted[id] = true
				mu.Unlock()
			}
		})
		if i == n/2 {
			// Kill once some alerts have been posted.
			waitFor(t, 30*time.Second, "some alerts", func() error {
				if len(b.slack.Messages("C0INCIDENTS")) < 5 {
					return fmt.Errorf("not yet")
				}
				return nil
			})
			b.proc.kill9()
		}
	}
	wg.Wait()
	if len(accepted) < n/4 {
		t.Fatalf("only %d of %d webhooks were accepted before the kill", len(accepted), n)
	}
	b.restart()
	// Send the rest again, as Healthchecks would retry them.
	for i := range n {
		id := checkID(1000 + i)
		if !accepted[id] {
			b.mustAccept(checkBody(id, "down", t0))
			accepted[id] = true
		}
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("%d alerts", n), func() error {
		if got := len(b.slack.Messages("C0INCIDENTS")); got < n {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
	b.settle()
	perCheck := make(map[string]int)
	for _, m := range b.slack.Messages("C0INCIDENTS") {
		perCheck[strings.Split(metadataKey(m), ":")[1]]++
	}
	for id := range accepted {
		if perCheck[id] != 1 {
			t.Errorf("check %s: %d alerts, want exactly 1", id, perCheck[id])
		}
	}
}

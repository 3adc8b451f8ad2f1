package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
)

// deadLetterRow is one row of bridgectl deadletter list --output json.
type deadLetterRow struct {
	Seq          uint64 `json:"seq"`
	Consumer     string `json:"consumer"`
	EventSubject string `json:"event_subject"`
	Key          string `json:"key"`
	Reason       string `json:"reason"`
}

// deadLetters lists the dead letters of consumer ("" for every consumer).
func (b *bridge) deadLetters(t *testing.T, consumer string) []deadLetterRow {
	t.Helper()
	args := []string{"deadletter", "list", "--output", "json"}
	if consumer != "" {
		args = append(args, "--consumer", consumer)
	}
	code, out, errOut := b.ctl(args...)
	if code != 0 {
		t.Fatalf("bridgectl deadletter list = %d: %s", code, errOut)
	}
	var rows []deadLetterRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("bridgectl deadletter list: %v: %s", err, out)
	}
	return rows
}

// waitDeadLetter waits until consumer has exactly one dead letter and
// returns it.
func (b *bridge) waitDeadLetter(t *testing.T, consumer string) deadLetterRow {
	t.Helper()
	var rows []deadLetterRow
	waitFor(t, 60*time.Second, "a dead letter of "+consumer, func() error {
		if rows = b.deadLetters(t, consumer); len(rows) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	b.settle()
	if rows = b.deadLetters(t, consumer); len(rows) != 1 {
		t.Fatalf("%d dead letters of %s, want 1: %+v", len(rows), consumer, rows)
	}
	return rows[0]
}

// replay runs bridgectl deadletter replay seq and fails unless it succeeds.
func (b *bridge) replay(t *testing.T, seq uint64) {
	t.Helper()
	code, out, errOut := b.ctl("deadletter", "replay", strconv.FormatUint(seq, 10))
	if code != 0 {
		t.Fatalf("bridgectl deadletter replay %d = %d: %s%s", seq, code, out, errOut)
	}
	if want := fmt.Sprintf("replayed dead letter %d", seq); !strings.Contains(out, want) {
		t.Errorf("bridgectl deadletter replay %d printed %q, want %q", seq, out, want)
	}
}

// dlEvent is a dead-lettered event as it was on the events stream, kept so
// that a test can publish it again after the replay deleted the dead letter.
type dlEvent struct {
	subject string
	data    []byte
}

// deadLetterEvent reads the event of dead letter seq through the bus.
func deadLetterEvent(t *testing.T, b *bridge, seq uint64) dlEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bs := openBus(ctx, t, b)
	recs, err := bs.DeadLetters(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Sequence != seq {
			continue
		}
		data, err := event.Marshal(r.DeadLetter.GetEvent())
		if err != nil {
			t.Fatal(err)
		}
		return dlEvent{subject: r.DeadLetter.GetEventSubject(), data: data}
	}
	t.Fatalf("no dead letter %d", seq)
	return dlEvent{}
}

func openBus(ctx context.Context, t *testing.T, b *bridge) *bus.Bus {
	t.Helper()
	bs, err := bus.Open(ctx, bus.Options{URL: b.natsURL, Name: "integration-test"})
	if err != nil {
		t.Fatalf("open the bridge's bus: %v", err)
	}
	t.Cleanup(func() { _ = bs.Close(context.Background()) })
	return bs
}

// publishAgain publishes ev to its subject without a Nats-Msg-Id: a copy
// the stream's dedupe does not catch, as a redelivery after the dedupe
// window would be.
func publishAgain(t *testing.T, b *bridge, ev dlEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := openBus(ctx, t, b).JetStream().Publish(ctx, ev.subject, ev.data); err != nil {
		t.Fatalf("publish %s again: %v", ev.subject, err)
	}
}

// TestReplaySlack: a check down to a channel Slack does not know
// dead-letters with channel_not_found; once the channel exists, bridgectl
// deadletter replay makes exactly one alert. Replaying again is refused
// (the dead letter is gone), and the same down sent again makes nothing:
// the ledger holds the replay's effect.
func TestReplaySlack(t *testing.T) {
	b := startBridge(t, bridgeOpts{checksChannel: "#ops-alerts"})
	id := checkID(60)
	down := checkBody(id, "down", time.Now())
	b.mustAccept(down)

	dl := b.waitDeadLetter(t, "slack-notifier")
	if !strings.Contains(dl.Reason, "channel_not_found") && !strings.Contains(dl.Reason, "not found") {
		t.Errorf("dead letter reason = %q, want channel not found", dl.Reason)
	}
	if dl.EventSubject != "bridge.events.check.down" || !strings.HasPrefix(dl.Key, "check:"+id+":down:") {
		t.Errorf("dead letter = %+v, want the check down of %s", dl, id)
	}

	ev := deadLetterEvent(t, b, dl.Seq)

	// Fix the cause, then replay.
	b.slack.AddChannel("C0OPSALERTS", "ops-alerts")
	b.replay(t, dl.Seq)
	msgs := b.waitMessages("C0OPSALERTS", 1)
	if got := metadataKey(msgs[0]); got != dl.Key {
		t.Errorf("alert metadata key = %q, want the dead letter's key %q", got, dl.Key)
	}
	b.settle()
	if rows := b.deadLetters(t, ""); len(rows) != 0 {
		t.Errorf("dead letters after the replay: %+v, want none", rows)
	}

	t.Run("the same dead letter again is refused", func(t *testing.T) {
		code, out, errOut := b.ctl("deadletter", "replay", strconv.FormatUint(dl.Seq, 10))
		if code == 0 {
			t.Errorf("second replay of %d = 0 (%s), want a failure: the dead letter is gone", dl.Seq, out)
		}
		if !strings.Contains(errOut, "not found") {
			t.Errorf("second replay stderr = %q, want dead letter not found", errOut)
		}
	})

	t.Run("a redelivery makes no second alert", func(t *testing.T) {
		// The stream dedupes the same Nats-Msg-Id for an hour; an
		// at-least-once copy that escaped it (published without one, as a
		// redelivery would be) reaches the consumer, and the ledger, which
		// holds the replay's effect, answers it as a duplicate.
		const dup = `bridge_actions_total{outcome="duplicate",sink="slack-notifier"}`
		before := metric(t, b.addr, dup)
		publishAgain(t, b, ev)
		waitFor(t, 30*time.Second, "the copy to be answered as a duplicate", func() error {
			if got := metric(t, b.addr, dup); got != before+1 {
				return fmt.Errorf("%s = %v, want %v", dup, got, before+1)
			}
			return nil
		})
		b.settle()
		if msgs := b.slack.Messages("C0OPSALERTS"); len(msgs) != 1 {
			t.Errorf("%d alerts after a redelivery, want 1 (%s)", len(msgs), joinKeys(msgs))
		}
		if n := b.slack.Calls("chat.postMessage"); n != 2 {
			// One that failed with channel_not_found, one after the replay.
			t.Errorf("chat.postMessage called %d times, want 2", n)
		}
	})
}

// TestReplayLinear: a remediation ticket for a team Linear does not have
// dead-letters permanently; once the team exists, bridgectl deadletter
// replay opens exactly one ticket, and a redelivery opens none.
func TestReplayLinear(t *testing.T) {
	lin := lineartest.New(t)
	b := startBridge(t, bridgeOpts{
		extraYAML: fmt.Sprintf(`
linear:
  api_url: %q
  team: SEC
`, lin.URL()),
		env: []string{"BRIDGE_SECRET_LINEAR_API_KEY=" + lin.APIKey()},
	})
	b.slack.AddChannel("C0SECURITY", "security")
	code, answer := post(t, "http://"+b.addr+"/webhooks/trivy", map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + trivyToken,
	}, readFile(t, "trivy/alpine-39.json"))
	if code != 202 {
		t.Fatalf("POST /webhooks/trivy = %d %s, want 202", code, answer)
	}

	dl := b.waitDeadLetter(t, "linear-ticketer")
	if !strings.Contains(dl.Reason, `team "SEC" not found`) {
		t.Errorf("dead letter reason = %q, want team SEC not found", dl.Reason)
	}
	if dl.EventSubject != "bridge.events.vulnerability.found" {
		t.Errorf("dead letter subject = %q, want bridge.events.vulnerability.found", dl.EventSubject)
	}
	if n := len(lin.Issues()); n != 0 {
		t.Fatalf("%d tickets before the replay, want 0", n)
	}
	ev := deadLetterEvent(t, b, dl.Seq)

	lin.AddTeam("team-sec", "SEC", "Security")
	b.replay(t, dl.Seq)
	var issues []lineartest.Issue
	waitFor(t, 60*time.Second, "one remediation ticket", func() error {
		if issues = lin.Issues(); len(issues) != 1 {
			return fmt.Errorf("have %d", len(issues))
		}
		return nil
	})
	if !strings.HasPrefix(issues[0].Title, "Remediate ") {
		t.Errorf("ticket title = %q, want a remediation ticket", issues[0].Title)
	}
	b.settle()
	if rows := b.deadLetters(t, ""); len(rows) != 0 {
		t.Errorf("dead letters after the replay: %+v, want none", rows)
	}
	// The Slack alert was made once, before the replay, and the replay
	// (for linear-ticketer only) does not make another.
	if n := len(b.slack.Messages("C0SECURITY")); n != 1 {
		t.Errorf("%d security alerts, want 1", n)
	}

	const dup = `bridge_actions_total{outcome="duplicate",sink="linear-ticketer"}`
	before := metric(t, b.addr, dup)
	publishAgain(t, b, ev)
	waitFor(t, 30*time.Second, "the copy to be answered as a duplicate", func() error {
		if got := metric(t, b.addr, dup); got != before+1 {
			return fmt.Errorf("%s = %v, want %v", dup, got, before+1)
		}
		return nil
	})
	b.settle()
	if n := len(lin.Issues()); n != 1 {
		t.Errorf("%d tickets after a redelivery, want 1", n)
	}
	if n := len(b.slack.Messages("C0SECURITY")); n != 1 {
		t.Errorf("%d security alerts after a redelivery, want 1", n)
	}
}

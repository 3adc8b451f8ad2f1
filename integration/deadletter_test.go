package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
)

// listDeadLetters runs bridgectl deadletter list --output json with the
// filter flags args.
func (b *bridge) listDeadLetters(t *testing.T, args ...string) []deadLetterRow {
	t.Helper()
	code, out, errOut := b.ctl(append([]string{"deadletter", "list", "--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("bridgectl deadletter list %q = %d: %s", args, code, errOut)
	}
	var rows []deadLetterRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("bridgectl deadletter list %q: %v: %s", args, err, out)
	}
	return rows
}

func rowSeqs(rows []deadLetterRow) []uint64 {
	var out []uint64
	for _, r := range rows {
		out = append(out, r.Seq)
	}
	return out
}

// TestDeadLetterWorkflow: the operator's dead-letter workflow through the
// real binaries. Two check downs to a Slack channel that does not exist and
// a Trivy report for a Linear team that does not exist make three dead
// letters of two consumers; bridgectl lists them by consumer and reason,
// shows one whole (and no secret), and once the causes are fixed, replay
// --all --consumer slack-notifier makes one alert each. A dead letter of an
// effect already made replays to nothing (the ledger). purge --all --yes
// removes the rest, and nothing else happened: no ticket, no second alert.
func TestDeadLetterWorkflow(t *testing.T) {
	lin := lineartest.New(t)
	b := startBridge(t, bridgeOpts{
		checksChannel: "#ops-alerts",
		extraYAML: fmt.Sprintf(`
linear:
  api_url: %q
  team: SEC
`, lin.URL()),
		env: []string{"BRIDGE_SECRET_LINEAR_API_KEY=" + lin.APIKey()},
	})
	b.slack.AddChannel("C0SECURITY", "security")

	ids := []string{checkID(80), checkID(81)}
	for _, id := range ids {
		b.mustAccept(checkBody(id, "down", time.Now()))
	}
	code, answer := post(t, "http://"+b.addr+"/webhooks/trivy", map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + trivyToken,
	}, readFile(t, "trivy/alpine-39.json"))
	if code != 202 {
		t.Fatalf("POST /webhooks/trivy = %d %s, want 202", code, answer)
	}
	waitFor(t, 60*time.Second, "three dead letters", func() error {
		if n := len(b.deadLetters(t, "")); n != 3 {
			return fmt.Errorf("have %d", n)
		}
		return nil
	})
	b.settle()
	all := b.deadLetters(t, "")
	if len(all) != 3 {
		t.Fatalf("dead letters = %+v, want 3", all)
	}

	// List, filtered.
	slackRows := b.listDeadLetters(t, "--consumer", "slack-notifier")
	linearRows := b.listDeadLetters(t, "--reason", `team "sec" NOT FOUND`)
	if len(slackRows) != 2 || len(linearRows) != 1 || linearRows[0].Consumer != "linear-ticketer" {
		t.Fatalf("by consumer: %+v; by reason: %+v; want 2 of slack-notifier and 1 of linear-ticketer", slackRows, linearRows)
	}
	var slackKeys []string
	for _, r := range slackRows {
		if r.Consumer != "slack-notifier" || r.EventSubject != "bridge.events.check.down" || !strings.Contains(r.Reason, "channel_not_found") {
			t.Errorf("slack-notifier dead letter %+v, want a check down with channel_not_found", r)
		}
		slackKeys = append(slackKeys, r.Key)
	}
	for _, tt := range []struct {
		args []string
		want []uint64
	}{
		{[]string{"--reason", "channel_not_found"}, rowSeqs(slackRows)},
		{[]string{"--consumer", "linear-ticketer", "--reason", "channel_not_found"}, nil},
		{[]string{"--newer-than", "1h"}, rowSeqs(all)},
		{[]string{"--older-than", "1h"}, nil},
	} {
		if got := rowSeqs(b.listDeadLetters(t, tt.args...)); !slices.Equal(got, tt.want) {
			t.Errorf("deadletter list %q = %v, want %v", tt.args, got, tt.want)
		}
	}

	// Show one whole; nothing secret in it, nor in the list.
	linSeq := strconv.FormatUint(linearRows[0].Seq, 10)
	code, shown, errOut := b.ctl("deadletter", "show", linSeq)
	if code != 0 {
		t.Fatalf("bridgectl deadletter show %s = %d: %s", linSeq, code, errOut)
	}
	for _, want := range []string{"consumer:", "linear-ticketer", `team "SEC" not found`, "attempts:", "failed at:", "event:", `"vulnerabilityReport": {`, "CVE-"} {
		if !strings.Contains(shown, want) {
			t.Errorf("deadletter show %s lacks %q:\n%s", linSeq, want, shown)
		}
	}
	_, shownJSON, _ := b.ctl("deadletter", "show", linSeq, "--output", "json")
	_, listed, _ := b.ctl("deadletter", "list", "--output", "json")
	for name, secret := range map[string]string{"slack token": b.slack.Token(), "linear key": lin.APIKey(), "healthchecks token": hcToken, "trivy token": trivyToken} {
		for what, out := range map[string]string{"show": shown, "show json": shownJSON, "list json": listed} {
			if strings.Contains(out, secret) {
				t.Errorf("deadletter %s prints the %s", what, name)
			}
		}
	}
	kept := deadLetterCopy(t, b, slackRows[0].Seq)

	// Fix the causes; replay slack-notifier's only.
	b.slack.AddChannel("C0OPSALERTS", "ops-alerts")
	lin.AddTeam("team-sec", "SEC", "Security")
	code, out, errOut := b.ctl("deadletter", "replay", "--all", "--consumer", "slack-notifier")
	if code != 0 || strings.Count(out, "replayed dead letter ") != 2 || !strings.Contains(out, "replayed 2 dead letters") {
		t.Fatalf("bridgectl deadletter replay --all --consumer slack-notifier = %d %q %q", code, out, errOut)
	}
	msgs := b.waitMessages("C0OPSALERTS", 2)
	b.settle()
	gotKeys := []string{metadataKey(msgs[0]), metadataKey(msgs[1])}
	slices.Sort(gotKeys)
	slices.Sort(slackKeys)
	if !slices.Equal(gotKeys, slackKeys) {
		t.Errorf("alerts for %v, want one for each dead letter %v", gotKeys, slackKeys)
	}
	if rows := b.deadLetters(t, ""); len(rows) != 1 || rows[0].Seq != linearRows[0].Seq {
		t.Errorf("after the replay: %+v, want linear-ticketer's only", rows)
	}

	// The same dead letter again (as a copy left by a crash would be): the
	// replay goes through, and the ledger makes it nothing.
	const dup = `bridge_actions_total{outcome="duplicate",sink="slack-notifier"}`
	before, posts := metric(t, b.addr, dup), b.slack.Calls("chat.postMessage")
	storeDeadLetterCopy(t, b, kept)
	code, out, errOut = b.ctl("deadletter", "replay", "--all", "--consumer", "slack-notifier")
	if code != 0 || strings.Count(out, "replayed dead letter ") != 1 {
		t.Fatalf("second replay = %d %q %q, want one replayed", code, out, errOut)
	}
	waitFor(t, 30*time.Second, "the second replay to be answered as a duplicate", func() error {
		if got := metric(t, b.addr, dup); got != before+1 {
			return fmt.Errorf("%s = %v, want %v", dup, got, before+1)
		}
		return nil
	})
	b.settle()
	if n := b.slack.Calls("chat.postMessage") - posts; n != 0 {
		t.Errorf("chat.postMessage called %d more times by the second replay, want 0", n)
	}
	if n := len(b.slack.Messages("C0OPSALERTS")); n != 2 {
		t.Errorf("%d alerts after the second replay, want 2", n)
	}

	// Purge the rest.
	if code, _, errOut := b.ctl("deadletter", "purge", "--all"); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("purge --all without --yes = %d %q, want 2 asking for --yes", code, errOut)
	}
	code, out, errOut = b.ctl("deadletter", "purge", "--all", "--yes")
	if want := fmt.Sprintf("purged dead letter %d: linear-ticketer %s (", linearRows[0].Seq, linearRows[0].Key); code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("purge --all --yes = %d %q %q, want %q…", code, out, errOut, want)
	}
	if rows := b.deadLetters(t, ""); len(rows) != 0 {
		t.Errorf("after purge --all --yes: %+v, want none", rows)
	}
	b.settle()
	if n := len(lin.Issues()); n != 0 {
		t.Errorf("%d Linear tickets, want 0: the purged dead letter was not replayed", n)
	}
	if n := len(b.slack.Messages("C0SECURITY")); n != 1 {
		t.Errorf("%d security alerts, want 1", n)
	}
	t.Logf("dead letters: %d (slack-notifier %d, linear-ticketer %d); replayed %d → alerts %d; replayed again 1 → duplicates answered %v, new alerts %d; purged 1; left %d",
		len(all), len(slackRows), len(linearRows), len(slackRows), len(msgs),
		metric(t, b.addr, dup)-before, len(b.slack.Messages("C0OPSALERTS"))-len(msgs), len(b.deadLetters(t, "")))
}

// deadLetterCopy reads dead letter seq whole through the bus.
func deadLetterCopy(t *testing.T, b *bridge, seq uint64) bus.DeadLetterRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := openBus(ctx, t, b).DeadLetter(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// storeDeadLetterCopy stores rec's dead letter again, under a new sequence.
func storeDeadLetterCopy(t *testing.T, b *bridge, rec bus.DeadLetterRecord) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := proto.Marshal(rec.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openBus(ctx, t, b).JetStream().PublishMsg(ctx, &nats.Msg{
		Subject: event.DeadLetterSubject("bridge", rec.DeadLetter.GetConsumer()),
		Header:  nats.Header{bus.HeaderContentType: []string{bus.DeadLetterContentType}},
		Data:    data,
	})
	if err != nil {
		t.Fatalf("store a copy of dead letter %d: %v", rec.Sequence, err)
	}
}

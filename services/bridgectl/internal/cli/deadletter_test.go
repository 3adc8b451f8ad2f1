package cli

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

func TestDeadLetterRejectsBeforeConnecting(t *testing.T) {
	// Nothing listens at this URL: every case must fail before NATS, with
	// one line naming what is wrong.
	base := []string{"--nats", "nats://127.0.0.1:1", "deadletter"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"list bad age", []string{"list", "--older-than", "3 days"}, `invalid value "3 days" for flag --older-than`},
		{"list negative age", []string{"list", "--newer-than", "-1h"}, "flag --newer-than: want a positive age"},
		{"list zero age", []string{"list", "--newer-than", "0s"}, "flag --newer-than: want a positive age"},
		{"list empty window", []string{"list", "--older-than", "2h", "--newer-than", "1h"}, "--older-than 2h0m0s and --newer-than 1h0m0s select nothing"},
		{"list bad output", []string{"list", "--output", "yaml"}, `--output "yaml": want table or json`},
		{"list bad limit", []string{"list", "--limit", "-3"}, "--limit -3"},
		{"list unknown flag", []string{"list", "--colour", "red"}, "flag provided but not defined: --colour"},
		{"list with seq", []string{"list", "4"}, "deadletter list: takes no SEQ"},
		{"show without seq", []string{"show"}, "deadletter show: give one SEQ"},
		{"show two seqs", []string{"show", "1", "2"}, "deadletter show: give one SEQ"},
		{"show bad seq", []string{"show", "first"}, `deadletter show: "first" is not a sequence number`},
		{"show with a filter", []string{"show", "1", "--consumer", "x"}, "flag provided but not defined: --consumer"},
		{"replay without seq", []string{"replay"}, "deadletter replay: give SEQ... or --all"},
		{"replay bad seq", []string{"replay", "3", "x7"}, `deadletter replay: "x7" is not a sequence number`},
		{"replay zero", []string{"replay", "0"}, `"0" is not a sequence number`},
		{"replay seq and all", []string{"replay", "3", "--all"}, "give SEQ... or --all, not both"},
		{"replay filter without all", []string{"replay", "3", "--consumer", "slack-notifier"}, "--consumer, --reason, --older-than and --newer-than narrow --all"},
		{"replay bad age", []string{"replay", "--all", "--older-than", "soon"}, "flag --older-than"},
		{"replay output", []string{"replay", "--all", "--output", "json"}, "flag provided but not defined: --output"},
		{"purge without seq", []string{"purge"}, "deadletter purge: give SEQ... or --all"},
		{"purge all without yes", []string{"purge", "--all"}, "deadletter purge: --all removes every matching dead letter for good: add --yes"},
		{"purge filtered without yes", []string{"purge", "--all", "--consumer", "slack-notifier"}, "add --yes"},
		{"purge bad reason flag", []string{"purge", "--all", "--yes", "--reason"}, "flag needs an argument: --reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, append(base, tt.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", stderr, tt.want)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "bridgectl: deadletter ") {
				t.Errorf("stderr %q, want one line: bridgectl: deadletter VERB: reason", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	for _, args := range [][]string{{"deadletter"}, {"deadletter", "resurrect"}} {
		if code, _, stderr := run(t, nil, append([]string{"--nats", "nats://127.0.0.1:1"}, args...)...); code != 2 || !strings.Contains(stderr, "usage: bridgectl") {
			t.Errorf("%q = %d %q, want 2 and the usage", args, code, stderr)
		}
	}
}

func TestAgeFlag(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30m", 30 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"0d", 0, false},
		{"-2d", 0, false},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		var got time.Duration
		err := ageFlag(&got)(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("age %q = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// storeDeadLetter stores a dead letter of consumer, failed age ago, as the
// runner would, and returns its sequence.
func storeDeadLetter(t *testing.T, b *bus.Bus, consumer, check, reason string, age time.Duration) uint64 {
	t.Helper()
	at := time.Now().Add(-age)
	ev := event.New(event.KindCheckDown, "/webhooks/healthchecks", check, event.CheckKey(check, "down", at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId: check, Name: "backup " + check, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN, ChangedAt: timestamppb.New(at),
	}}
	data, err := proto.Marshal(&bridgev1.DeadLetter{
		Event: ev, Consumer: consumer, Reason: reason, Attempts: 3, FailedAt: timestamppb.New(at),
		StreamSequence: 17, EventSubject: event.Subject(b.Prefix(), event.KindCheckDown),
	})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := b.JetStream().PublishMsg(t.Context(), &nats.Msg{
		Subject: event.DeadLetterSubject(b.Prefix(), consumer),
		Header:  nats.Header{bus.HeaderContentType: []string{bus.DeadLetterContentType}},
		Data:    data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// TestDeadLetterWorkflow runs every verb against a real NATS: list with
// filters, show, replay (one, then --all narrowed), purge (one, then --all).
func TestDeadLetterWorkflow(t *testing.T) {
	srv := bustest.NewServer(t)
	b := bustest.Connect(t, srv, bus.Options{})
	ctl := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, nil, append([]string{"--nats", srv.ClientURL(), "deadletter"}, args...)...)
	}
	list := func(args ...string) []uint64 {
		t.Helper()
		code, out, errOut := ctl(append([]string{"list", "--output", "json"}, args...)...)
		var rows []deadLetterRow
		if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
			t.Fatalf("list %q = %d %v: %s%s", args, code, err, out, errOut)
		}
		var seqs []uint64
		for _, r := range rows {
			seqs = append(seqs, r.Seq)
		}
		return seqs
	}

	oldSlack := storeDeadLetter(t, b, "slack-notifier", "db", "slack: chat.postMessage: channel_not_found", 3*time.Hour)
	lin := storeDeadLetter(t, b, "linear-ticketer", "db", `linear: team "SEC" not found`, 2*time.Hour)
	newSlack := storeDeadLetter(t, b, "slack-notifier", "web", "slack: chat.postMessage: channel_not_found", 5*time.Minute)
	n8n := storeDeadLetter(t, b, "n8n-trigger", "web", "n8n: 404 workflow not active", time.Minute)

	t.Run("list", func(t *testing.T) {
		tests := []struct {
			args []string
			want []uint64
		}{
			{nil, []uint64{oldSlack, lin, newSlack, n8n}},
			{[]string{"--consumer", "slack-notifier"}, []uint64{oldSlack, newSlack}},
			{[]string{"--reason", "NOT FOUND"}, []uint64{lin}},
			{[]string{"--reason", "channel_not_found", "--newer-than", "1h"}, []uint64{newSlack}},
			{[]string{"--older-than", "1h"}, []uint64{oldSlack, lin}},
			{[]string{"--older-than", "1d"}, nil},
			{[]string{"--limit", "1"}, []uint64{n8n}},
		}
		for _, tt := range tests {
			if got := list(tt.args...); !slices.Equal(got, tt.want) {
				t.Errorf("list %q = %v, want %v", tt.args, got, tt.want)
			}
		}
		code, out, _ := ctl("list", "--consumer", "linear-ticketer")
		if code != 0 || !regexp.MustCompile(`(?m)^SEQ\s+CONSUMER`).MatchString(out) ||
			!regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+linear-ticketer\s+bridge\.events\.check\.down\s+check:db:down:\S+\s+3\s+\S+\s+linear: team "SEC" not found$`, lin)).MatchString(out) {
			t.Errorf("list table = %d:\n%s", code, out)
		}
	})

	t.Run("show", func(t *testing.T) {
		code, out, errOut := ctl("show", strconv.FormatUint(lin, 10))
		if code != 0 {
			t.Fatalf("show = %d %s", code, errOut)
		}
		for _, want := range []string{
			fmt.Sprintf(`(?m)^seq:\s+%d$`, lin),
			`(?m)^consumer:\s+linear-ticketer$`,
			`(?m)^reason:\s+linear: team "SEC" not found$`,
			`(?m)^attempts:\s+3$`,
			`(?m)^event subject:\s+bridge\.events\.check\.down$`,
			`(?m)^event seq:\s+17$`,
			`(?m)^stored:\s+\S+ on bridge\.deadletter\.linear-ticketer$`,
			`(?m)^key:\s+check:db:down:\S+$`,
			`(?m)^event:\n\{\n  "id": "[0-9a-f-]{36}",\n`,
			`(?m)^  "checkStatusChanged": \{\n    "checkId": "db",\n    "name": "backup db",$`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("show lacks %s:\n%s", want, out)
			}
		}
		if !regexp.MustCompile(`failed at:\s+\S+ \(2h\d+m\d+s ago\)`).MatchString(out) {
			t.Errorf("show: no failed at with its age:\n%s", out)
		}

		code, out, errOut = ctl("show", strconv.FormatUint(lin, 10), "--output", "json")
		var rec struct {
			Seq        uint64 `json:"seq"`
			Subject    string `json:"subject"`
			DeadLetter struct {
				Consumer string `json:"consumer"`
				Reason   string `json:"reason"`
				Attempts int    `json:"attempts"`
				Event    struct {
					IdempotencyKey string `json:"idempotencyKey"`
				} `json:"event"`
			} `json:"dead_letter"`
		}
		if err := json.Unmarshal([]byte(out), &rec); code != 0 || err != nil {
			t.Fatalf("show json = %d %v: %s%s", code, err, out, errOut)
		}
		if rec.Seq != lin || rec.DeadLetter.Consumer != "linear-ticketer" || rec.DeadLetter.Attempts != 3 ||
			!strings.HasPrefix(rec.DeadLetter.Event.IdempotencyKey, "check:db:down:") {
			t.Errorf("show json = %+v", rec)
		}

		if code, _, errOut := ctl("show", "999"); code != 1 || errOut != "bridgectl: deadletter show: dead letter 999 not found: replayed or purged already, aged out, or never there (see deadletter list)\n" {
			t.Errorf("show 999 = %d %q, want 1 and not found", code, errOut)
		}
	})

	t.Run("replay", func(t *testing.T) {
		events, err := b.JetStream().Stream(t.Context(), event.EventsStream(b.Prefix()))
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := ctl("replay", strconv.FormatUint(n8n, 10))
		if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("replayed dead letter %d: n8n-trigger check:web:down:", n8n)) {
			t.Errorf("replay %d = %d %q %q", n8n, code, out, errOut)
		}
		// --all narrowed: the slack-notifier dead letter newer than an hour.
		code, out, errOut = ctl("replay", "--all", "--consumer", "slack-notifier", "--newer-than", "1h")
		if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("replayed dead letter %d: slack-notifier check:web:down:", newSlack)) || strings.Count(out, "\n") != 1 {
			t.Errorf("replay --all = %d %q %q, want the one dead letter", code, out, errOut)
		}
		if got := list(); !slices.Equal(got, []uint64{oldSlack, lin}) {
			t.Errorf("after the replays: %v, want %v", got, []uint64{oldSlack, lin})
		}
		// Each event is back on its subject, for its consumer only.
		var forWhom []string
		for seq := uint64(1); ; seq++ {
			msg, err := events.GetMsg(t.Context(), seq)
			if err != nil {
				break
			}
			if msg.Subject != "bridge.events.check.down" {
				t.Errorf("replayed to %s, want bridge.events.check.down", msg.Subject)
			}
			forWhom = append(forWhom, msg.Header.Get(bus.HeaderReplayFor))
		}
		if !slices.Equal(forWhom, []string{"n8n-trigger", "slack-notifier"}) {
			t.Errorf("replayed events for %q, want n8n-trigger then slack-notifier", forWhom)
		}

		code, out, errOut = ctl("replay", "--all", "--reason", "no such reason")
		if code != 0 || out != "no dead letter matches\n" {
			t.Errorf("replay of nothing = %d %q %q", code, out, errOut)
		}
		// One gone, one there: the other is replayed, and the exit says 1.
		code, out, errOut = ctl("replay", strconv.FormatUint(n8n, 10), strconv.FormatUint(oldSlack, 10))
		if code != 1 || !strings.Contains(out, fmt.Sprintf("replayed dead letter %d", oldSlack)) ||
			!strings.Contains(errOut, fmt.Sprintf("deadletter replay: dead letter %d not found", n8n)) || !strings.Contains(errOut, "replayed 1 of 2 dead letters; 1 failed") {
			t.Errorf("replay of a gone and a present one = %d %q %q", code, out, errOut)
		}
	})

	t.Run("purge", func(t *testing.T) {
		more := storeDeadLetter(t, b, "slack-notifier", "api", "slack: chat.postMessage: is_archived", time.Minute)
		key := listKey(t, ctl, lin)
		code, out, errOut := ctl("purge", strconv.FormatUint(lin, 10))
		if code != 0 || out != fmt.Sprintf("purged dead letter %d: linear-ticketer %s (linear: team \"SEC\" not found)\n", lin, key) {
			t.Errorf("purge %d = %d %q %q", lin, code, out, errOut)
		}
		if code, _, errOut := ctl("purge", strconv.FormatUint(lin, 10)); code != 1 || !strings.Contains(errOut, "not found") {
			t.Errorf("purge %d again = %d %q, want 1 and not found", lin, code, errOut)
		}
		if code, _, _ := ctl("purge", "--all"); code != 2 {
			t.Errorf("purge --all without --yes = %d, want 2", code)
		}
		if got := list(); !slices.Equal(got, []uint64{more}) {
			t.Fatalf("before purge --all: %v, want %v", got, []uint64{more})
		}
		code, out, errOut = ctl("purge", "--all", "--consumer", "slack-notifier", "--yes")
		if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("purged dead letter %d: slack-notifier check:api:down:", more)) ||
			!strings.HasSuffix(out, "(slack: chat.postMessage: is_archived)\n") {
			t.Errorf("purge --all = %d %q %q", code, out, errOut)
		}
		if got := list(); len(got) != 0 {
			t.Errorf("after purge --all: %v, want none", got)
		}
	})
}

// listKey is the idempotency key of dead letter seq, from show --output json.
func listKey(t *testing.T, ctl func(...string) (int, string, string), seq uint64) string {
	t.Helper()
	_, out, _ := ctl("show", strconv.FormatUint(seq, 10), "--output", "json")
	var rec struct {
		DeadLetter struct {
			Event struct {
				IdempotencyKey string `json:"idempotencyKey"`
			} `json:"event"`
		} `json:"dead_letter"`
	}
	_ = json.Unmarshal([]byte(out), &rec)
	return rec.DeadLetter.Event.IdempotencyKey
}

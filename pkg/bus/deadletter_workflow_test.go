package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// storeDeadLetter stores dl on its consumer's dead-letter subject, as the
// runner does, and returns its sequence: a test chooses every field,
// failed_at included.
func storeDeadLetter(t testing.TB, b *bus.Bus, dl *bridgev1.DeadLetter) uint64 {
	t.Helper()
	data, err := proto.Marshal(dl)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := b.JetStream().PublishMsg(t.Context(), &nats.Msg{
		Subject: event.DeadLetterSubject(b.Prefix(), dl.GetConsumer()),
		Header:  nats.Header{bus.HeaderContentType: []string{bus.DeadLetterContentType}},
		Data:    data,
	})
	if err != nil {
		t.Fatalf("store dead letter: %v", err)
	}
	return ack.Sequence
}

func TestFindDeadLetters(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	now := time.Now()
	// name → dead letter; the names are what the table expects.
	stored := []struct {
		name     string
		consumer string
		reason   string
		age      time.Duration
	}{
		{"old-slack", "slack-notifier", "slack: chat.postMessage: channel_not_found", 3 * time.Hour},
		{"mid-linear", "linear-ticketer", `linear: team "SEC" not found`, 90 * time.Minute},
		{"new-slack", "slack-notifier", "slack: chat.postMessage: Channel_Not_Found", 10 * time.Minute},
		{"new-n8n", "n8n-trigger", "n8n: 404: workflow not active", time.Minute},
	}
	names := map[uint64]string{}
	for i, s := range stored {
		seq := storeDeadLetter(t, b, &bridgev1.DeadLetter{
			Event:        checkEvent(s.name, i),
			Consumer:     s.consumer,
			Reason:       s.reason,
			Attempts:     uint32(i + 1),
			FailedAt:     timestamppb.New(now.Add(-s.age)),
			EventSubject: event.Subject("bridge", event.KindCheckDown),
		})
		names[seq] = s.name
	}

	tests := []struct {
		name   string
		filter bus.DeadLetterFilter
		want   []string // oldest first
	}{
		{"all", bus.DeadLetterFilter{}, []string{"old-slack", "mid-linear", "new-slack", "new-n8n"}},
		{"consumer", bus.DeadLetterFilter{Consumer: "slack-notifier"}, []string{"old-slack", "new-slack"}},
		{"unknown consumer", bus.DeadLetterFilter{Consumer: "nobody"}, nil},
		{"reason ignores case", bus.DeadLetterFilter{Reason: "CHANNEL_not_found"}, []string{"old-slack", "new-slack"}},
		{"reason substring", bus.DeadLetterFilter{Reason: "not found"}, []string{"mid-linear"}},
		{"older than", bus.DeadLetterFilter{OlderThan: time.Hour}, []string{"old-slack", "mid-linear"}},
		{"newer than", bus.DeadLetterFilter{NewerThan: time.Hour}, []string{"new-slack", "new-n8n"}},
		{"age window", bus.DeadLetterFilter{OlderThan: 5 * time.Minute, NewerThan: 2 * time.Hour}, []string{"mid-linear", "new-slack"}},
		{"consumer and age", bus.DeadLetterFilter{Consumer: "slack-notifier", NewerThan: time.Hour}, []string{"new-slack"}},
		{"limit keeps the newest", bus.DeadLetterFilter{Limit: 2}, []string{"new-slack", "new-n8n"}},
		{"limit after the filter", bus.DeadLetterFilter{Reason: "channel", Limit: 1}, []string{"new-slack"}},
		{"nothing matches", bus.DeadLetterFilter{Consumer: "n8n-trigger", OlderThan: time.Hour}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := b.FindDeadLetters(t.Context(), tt.filter)
			if err != nil {
				t.Fatalf("FindDeadLetters(%+v): %v", tt.filter, err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, names[r.Sequence])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("FindDeadLetters(%+v) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestDeadLetterMatchAge(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	stored := now.Add(-time.Hour)
	tests := []struct {
		name     string
		failedAt *timestamppb.Timestamp
		filter   bus.DeadLetterFilter
		want     bool
	}{
		{"failed_at counts", timestamppb.New(now.Add(-3 * time.Hour)), bus.DeadLetterFilter{OlderThan: 2 * time.Hour}, true},
		{"stored when failed_at is missing", nil, bus.DeadLetterFilter{OlderThan: 2 * time.Hour}, false},
		{"stored, newer", nil, bus.DeadLetterFilter{NewerThan: 2 * time.Hour}, true},
		{"the bound itself is not older", timestamppb.New(now.Add(-time.Hour)), bus.DeadLetterFilter{OlderThan: time.Hour}, false},
		{"the bound itself is not newer", timestamppb.New(now.Add(-time.Hour)), bus.DeadLetterFilter{NewerThan: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bus.DeadLetterRecord{Stored: stored, DeadLetter: &bridgev1.DeadLetter{FailedAt: tt.failedAt}}
			if got := tt.filter.Match(r, now); got != tt.want {
				t.Errorf("Match(failed_at %v, stored %v) with %+v = %v, want %v", tt.failedAt.AsTime(), stored, tt.filter, got, tt.want)
			}
		})
	}
}

func TestDeadLetterShowAndDelete(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	ctx := t.Context()
	failedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var stored []uint64
	for i := range 3 {
		stored = append(stored, storeDeadLetter(t, b, &bridgev1.DeadLetter{
			Event:          checkEvent(fmt.Sprintf("c%d", i), i),
			Consumer:       "slack-notifier",
			Reason:         fmt.Sprintf("reason %d", i),
			Attempts:       7,
			FailedAt:       timestamppb.New(failedAt),
			StreamSequence: uint64(40 + i),
			EventSubject:   event.Subject("bridge", event.KindCheckDown),
		}))
	}

	rec, err := b.DeadLetter(ctx, stored[1])
	if err != nil {
		t.Fatalf("DeadLetter(%d): %v", stored[1], err)
	}
	dl := rec.DeadLetter
	if rec.Sequence != stored[1] || rec.Subject != "bridge.deadletter.slack-notifier" || rec.Stored.IsZero() ||
		dl.GetReason() != "reason 1" || dl.GetAttempts() != 7 || dl.GetStreamSequence() != 41 ||
		!rec.FailedAt().Equal(failedAt) || dl.GetEvent().GetIdempotencyKey() != checkEvent("c1", 1).GetIdempotencyKey() {
		t.Errorf("DeadLetter(%d) = %+v, want the whole second dead letter", stored[1], rec)
	}
	if _, err := b.DeadLetter(ctx, 999); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("DeadLetter(999) = %v, want ErrDeadLetterNotFound", err)
	}

	del, err := b.DeleteDeadLetter(ctx, stored[1])
	if err != nil {
		t.Fatalf("DeleteDeadLetter(%d): %v", stored[1], err)
	}
	if del.Sequence != stored[1] || del.DeadLetter.GetReason() != "reason 1" {
		t.Errorf("DeleteDeadLetter(%d) returned %+v, want what it removed", stored[1], del)
	}
	if _, err := b.DeleteDeadLetter(ctx, stored[1]); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("second DeleteDeadLetter = %v, want ErrDeadLetterNotFound", err)
	}
	if _, err := b.DeadLetter(ctx, stored[1]); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("DeadLetter after delete = %v, want ErrDeadLetterNotFound", err)
	}
	if got := seqs(deadLetters(t, b, "")); !slices.Equal(got, []uint64{stored[0], stored[2]}) {
		t.Errorf("after delete: dead letters %v, want %v", got, []uint64{stored[0], stored[2]})
	}
}

// TestReplaySeveral: three events dead-letter in slack-notifier
// (channel_not_found until the channel exists) and one in linear-ticketer;
// replaying slack-notifier's makes one effect each and leaves linear's. A
// dead letter of an effect already made (a copy left by a crash, stored
// again) replays to nothing: the ledger answers it as a duplicate.
func TestReplaySeveral(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	ctx := t.Context()
	var fixed atomic.Bool
	slack := newRecorder(func(context.Context, sink.Delivery, int) (sink.Result, error) {
		if !fixed.Load() {
			return sink.Result{}, sink.Permanent(errors.New("slack: chat.postMessage: channel_not_found"))
		}
		return sink.Result{Outcome: "posted"}, nil
	})
	linear := newRecorder(func(_ context.Context, d sink.Delivery, _ int) (sink.Result, error) {
		if d.Event.GetSubject() == "c2" {
			return sink.Result{}, sink.Permanent(errors.New(`linear: team "SEC" not found`))
		}
		return sink.Result{Outcome: "created"}, nil
	})
	mSlack := metrics.New(prometheus.NewRegistry())
	bustest.Run(t, b, consumer(t, b, "slack-notifier", slack, mSlack, nil))
	bustest.Run(t, b, consumer(t, b, "linear-ticketer", linear, nil, nil))

	evs := []*event.Event{checkEvent("c0", 0), checkEvent("c1", 0), checkEvent("c2", 0)}
	publish(t, b, evs...)
	slackDLs := waitDeadLetters(t, b, "slack-notifier", 3)
	waitDeadLetters(t, b, "linear-ticketer", 1)
	linear.waitEffects(t, 2)

	fixed.Store(true)
	recs, err := b.FindDeadLetters(ctx, bus.DeadLetterFilter{Consumer: "slack-notifier", Reason: "channel_not_found"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs(recs), seqs(slackDLs)) {
		t.Fatalf("filtered dead letters %v, want slack-notifier's %v", seqs(recs), seqs(slackDLs))
	}
	for _, r := range recs {
		if err := b.Replay(ctx, r.Sequence); err != nil {
			t.Fatalf("Replay(%d): %v", r.Sequence, err)
		}
	}
	slack.waitEffects(t, 3)
	waitSettled(t, b, "slack-notifier")
	waitSettled(t, b, "linear-ticketer")
	for _, ev := range evs {
		if n := slack.effectsOf(ev.GetIdempotencyKey()); n != 1 {
			t.Errorf("slack effects of %s = %d, want 1", ev.GetIdempotencyKey(), n)
		}
	}
	if n := linear.numCalls(); n != 3 {
		t.Errorf("linear-ticketer called %d times, want 3: the replays were not for it", n)
	}
	left := deadLetters(t, b, "")
	if len(left) != 1 || left[0].DeadLetter.GetConsumer() != "linear-ticketer" {
		t.Fatalf("dead letters left: %+v, want linear-ticketer's only", left)
	}

	// A dead letter of an effect made since: the replay is answered by the
	// ledger, and nothing reaches the sink.
	callsBefore := slack.numCalls()
	again := proto.Clone(slackDLs[0].DeadLetter).(*bridgev1.DeadLetter)
	seq := storeDeadLetter(t, b, again)
	if err := b.Replay(ctx, seq); err != nil {
		t.Fatalf("Replay(%d) of an effect already made: %v", seq, err)
	}
	bustest.Eventually(t, 20*time.Second, func() error {
		if got := testutil.ToFloat64(mSlack.Actions.WithLabelValues("slack-notifier", "duplicate")); got != 1 {
			return fmt.Errorf("slack-notifier actions{duplicate} = %v, want 1", got)
		}
		return nil
	})
	waitSettled(t, b, "slack-notifier")
	if n := slack.numCalls(); n != callsBefore {
		t.Errorf("slack called %d more times by the replay of an effect already made, want 0", n-callsBefore)
	}
	if n := slack.numEffects(); n != 3 {
		t.Errorf("slack effects = %d, want 3", n)
	}
	if got := deadLetters(t, b, "slack-notifier"); len(got) != 0 {
		t.Errorf("slack-notifier dead letters after the replays: %+v, want none", got)
	}
	if err := b.Replay(ctx, seq); !errors.Is(err, bus.ErrDeadLetterNotFound) {
		t.Errorf("Replay(%d) again = %v, want ErrDeadLetterNotFound", seq, err)
	}
	if !strings.Contains(left[0].DeadLetter.GetReason(), "SEC") {
		t.Errorf("linear-ticketer's dead letter reason = %q", left[0].DeadLetter.GetReason())
	}
}

package ledger_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/ledger"
	"github.com/stoa-platform/bridge/pkg/sink"
)

const lease = time.Minute

func open(t *testing.T) *ledger.Ledger {
	t.Helper()
	b := bustest.Open(t, bus.Options{})
	l, err := ledger.Open(t.Context(), b.JetStream(), ledger.Options{Bucket: "TEST_LEDGER"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustClaim(t *testing.T, l *ledger.Ledger, key, owner string, lease time.Duration) ledger.Claim {
	t.Helper()
	c, err := l.Claim(t.Context(), key, owner, lease)
	if err != nil {
		t.Fatalf("Claim(%q, %q): %v", key, owner, err)
	}
	return c
}

func TestClaim(t *testing.T) {
	l := open(t)
	posted := sink.Result{Outcome: "posted", Fields: map[string]string{"channel": "C1", "ts": "1.2"}}

	tests := []struct {
		name string
		// before runs other holders' steps on key.
		before func(t *testing.T, key string)
		lease  time.Duration
		want   ledger.Claim
	}{{
		name:  "new key",
		lease: lease,
		want:  ledger.Claim{State: ledger.Claimed},
	}, {
		name: "held by a live claim",
		before: func(t *testing.T, key string) {
			mustClaim(t, l, key, "other", lease)
		},
		lease: lease,
		want:  ledger.Claim{State: ledger.Busy, Holder: "other"},
	}, {
		name: "done",
		before: func(t *testing.T, key string) {
			c := mustClaim(t, l, key, "other", lease)
			if err := l.Complete(t.Context(), c, posted); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		},
		lease: lease,
		want:  ledger.Claim{State: ledger.Done, Result: posted},
	}, {
		// A released key is free at once, but marked: its earlier attempt
		// may have made the effect, so the next one must look first.
		name: "released",
		before: func(t *testing.T, key string) {
			c := mustClaim(t, l, key, "other", lease)
			if err := l.Release(t.Context(), c); err != nil {
				t.Fatalf("Release: %v", err)
			}
		},
		lease: lease,
		want:  ledger.Claim{State: ledger.Claimed, TookOver: true},
	}, {
		name: "stale claim is taken over",
		before: func(t *testing.T, key string) {
			mustClaim(t, l, key, "dead", lease)
		},
		lease: time.Nanosecond, // Anything older is stale.
		want:  ledger.Claim{State: ledger.Claimed, TookOver: true},
	}, {
		name: "done is done however old",
		before: func(t *testing.T, key string) {
			c := mustClaim(t, l, key, "other", lease)
			if err := l.Complete(t.Context(), c, posted); err != nil {
				t.Fatalf("Complete: %v", err)
			}
		},
		lease: time.Nanosecond,
		want:  ledger.Claim{State: ledger.Done, Result: posted},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "slack-notifier|check:" + tt.name + ":down:2026-01-02T03:04:05Z"
			if tt.before != nil {
				tt.before(t, key)
			}
			got := mustClaim(t, l, key, "me", tt.lease)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(ledger.Claim{}), cmpopts.IgnoreFields(ledger.Claim{}, "RetryIn")); diff != "" {
				t.Errorf("Claim(%q) (-want +got):\n%s", key, diff)
			}
			if got.State == ledger.Busy && (got.RetryIn <= 0 || got.RetryIn > tt.lease) {
				t.Errorf("Claim(%q).RetryIn = %s, want in (0, %s]", key, got.RetryIn, tt.lease)
			}
		})
	}
}

func TestCompleteRecordsLinks(t *testing.T) {
	l := open(t)
	ctx := t.Context()
	r := sink.Result{
		Outcome: "posted",
		Fields:  map[string]string{"channel": "C1", "ts": "1700000000.000100"},
		Links:   []string{"slack-notifier|alert:check-1", "slack-notifier|alert:check-1/latest"},
	}
	c := mustClaim(t, l, "slack-notifier|check:check-1:down:t", "me", lease)

	for _, key := range []string{"slack-notifier|check:check-1:down:t", r.Links[0]} {
		if _, ok, err := l.Result(ctx, key); err != nil || ok {
			t.Errorf("before Complete: Result(%q) = _, %t, %v; want _, false, nil", key, ok, err)
		}
	}
	if err := l.Complete(ctx, c, r); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	want := sink.Result{Outcome: r.Outcome, Fields: r.Fields} // Links are not stored.
	for _, key := range []string{"slack-notifier|check:check-1:down:t", r.Links[0], r.Links[1]} {
		got, ok, err := l.Result(ctx, key)
		if err != nil || !ok {
			t.Fatalf("Result(%q) = _, %t, %v; want _, true, nil", key, ok, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Result(%q) (-want +got):\n%s", key, diff)
		}
	}
	if _, ok, err := l.Result(ctx, "never-seen"); err != nil || ok {
		t.Errorf("Result(never-seen) = _, %t, %v; want _, false, nil", ok, err)
	}
}

func TestCompleteAgainAfterLostAnswer(t *testing.T) {
	l := open(t)
	c := mustClaim(t, l, "k", "me", lease)
	r := sink.Result{Outcome: "posted"}
	if err := l.Complete(t.Context(), c, r); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	// A retry after an answer that got lost: the record is ours, so it is
	// a success, not a lost claim.
	if err := l.Complete(t.Context(), c, r); err != nil {
		t.Errorf("second Complete = %v, want nil", err)
	}
}

func TestTakeover(t *testing.T) {
	l := open(t)
	ctx := t.Context()
	old := mustClaim(t, l, "k", "dead", lease)
	taker := mustClaim(t, l, "k", "taker", time.Nanosecond)
	if !taker.TookOver {
		t.Fatalf("Claim by taker = %+v, want TookOver", taker)
	}

	// The old holder comes back: its release must not free the taker's
	// claim, and its result must not overwrite the taker's.
	if err := l.Release(ctx, old); err != nil {
		t.Errorf("Release(old) = %v, want nil", err)
	}
	if got := mustClaim(t, l, "k", "third", lease); got.State != ledger.Busy || got.Holder != "taker" {
		t.Errorf("after old Release: Claim = %v held by %q, want busy held by taker", got.State, got.Holder)
	}
	if err := l.Complete(ctx, old, sink.Result{Outcome: "old"}); !errors.Is(err, ledger.ErrClaimLost) {
		t.Errorf("Complete(old) = %v, want ErrClaimLost", err)
	}
	if err := l.Complete(ctx, taker, sink.Result{Outcome: "new"}); err != nil {
		t.Fatalf("Complete(taker): %v", err)
	}
	if got, _, _ := l.Result(ctx, "k"); got.Outcome != "new" {
		t.Errorf("Result(k).Outcome = %q, want new", got.Outcome)
	}
}

func TestNotClaimed(t *testing.T) {
	l := open(t)
	ctx := t.Context()
	mustClaim(t, l, "k", "a", lease)
	busy := mustClaim(t, l, "k", "b", lease)
	tests := []struct {
		name string
		c    ledger.Claim
	}{
		{"zero", ledger.Claim{}},
		{"busy", busy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Complete(ctx, tt.c, sink.Result{}); !errors.Is(err, ledger.ErrNotClaimed) {
				t.Errorf("Complete = %v, want ErrNotClaimed", err)
			}
			if err := l.Release(ctx, tt.c); !errors.Is(err, ledger.ErrNotClaimed) {
				t.Errorf("Release = %v, want ErrNotClaimed", err)
			}
		})
	}
}

// TestClaimRace: of many concurrent claimants exactly one wins.
func TestClaimRace(t *testing.T) {
	l := open(t)
	const n = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed int
		busy    int
	)
	for i := range n {
		wg.Go(func() {
			c, err := l.Claim(context.Background(), "race", "owner-"+string(rune('a'+i)), lease)
			if err != nil {
				t.Errorf("Claim: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch c.State {
			case ledger.Claimed:
				claimed++
			case ledger.Busy:
				busy++
			}
		})
	}
	wg.Wait()
	if claimed != 1 || busy != n-1 {
		t.Errorf("claimed %d, busy %d; want 1, %d", claimed, busy, n-1)
	}
}

func TestBucket(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"bridge", "BRIDGE_LEDGER"},
		{"acme.bridge", "ACME_BRIDGE_LEDGER"},
		{"staging-1", "STAGING_1_LEDGER"},
	}
	for _, tt := range tests {
		if got := ledger.Bucket(tt.prefix); got != tt.want {
			t.Errorf("Bucket(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	for range 2 {
		if _, err := ledger.Open(t.Context(), b.JetStream(), ledger.Options{Bucket: "TWICE", MaxAge: time.Hour}); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
}

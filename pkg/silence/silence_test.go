package silence_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/match"
	"github.com/stoa-platform/bridge/pkg/silence"
)

func openStore(t *testing.T) *silence.Store {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := silence.Open(t.Context(), js, "TEST_SILENCES", 1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func checkEvent(name, status string) *event.Event {
	at := time.Now()
	kind, st := event.KindCheckDown, bridgev1.CheckStatus_CHECK_STATUS_DOWN
	if status == "up" {
		kind, st = event.KindCheckUp, bridgev1.CheckStatus_CHECK_STATUS_UP
	}
	ev := event.New(kind, "/webhooks/healthchecks", name, event.CheckKey(name, status, at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId: name + "-id", Name: name, Status: st, ChangedAt: timestamppb.New(at),
	}}
	return ev
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAddInvalid(t *testing.T) {
	st := openStore(t)
	now := time.Now()
	tests := []struct {
		name string
		s    silence.Silence
		want []string
	}{
		{"unknown field", silence.Silence{Rule: match.Rule{Filter: map[string]string{"colour": "red"}}, Reason: "x", EndsAt: now.Add(time.Hour)}, []string{"match: filter.colour: unknown field"}},
		{"bad subject", silence.Silence{Rule: match.Rule{Subject: "nope.*"}, Reason: "x", EndsAt: now.Add(time.Hour)}, []string{"match: subject:"}},
		{"empty rule", silence.Silence{Reason: "x", EndsAt: now.Add(time.Hour)}, []string{"match: required"}},
		{"no reason", silence.Silence{Rule: match.Rule{Filter: map[string]string{"check": "db"}}, Reason: " ", EndsAt: now.Add(time.Hour)}, []string{"reason: required"}},
		{"no duration", silence.Silence{Rule: match.Rule{Filter: map[string]string{"check": "db"}}, Reason: "x", StartsAt: now, EndsAt: now}, []string{"duration: must be positive"}},
		{"all at once", silence.Silence{Rule: match.Rule{Filter: map[string]string{"status": "sideways"}}}, []string{"filter.status", "reason: required", "duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.Add(t.Context(), tt.s)
			if err == nil {
				t.Fatal("Add succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	list, err := st.List(t.Context())
	if err != nil || len(list) != 0 {
		t.Fatalf("List after invalid adds = %v, %v; want nothing", list, err)
	}
}

func TestAddListExpire(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	a, err := st.Add(ctx, silence.Silence{
		Rule: match.Rule{Subject: "check.*", Filter: map[string]string{"check": "db"}}, Reason: "maintenance",
		CreatedBy: "ana", EndsAt: time.Now().Add(2 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 8 || a.StartsAt.IsZero() {
		t.Fatalf("Add = %+v; want an 8-character id and a start", a)
	}
	b, err := st.Add(ctx, silence.Silence{Rule: match.Rule{Filter: map[string]string{"tags": "staging"}}, Reason: "noisy", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("List = %d silences, want 2", len(list))
	}
	got := map[string]silence.Silence{list[0].ID: list[0], list[1].ID: list[1]}
	if g := got[a.ID]; g.Rule.String() != "check.* check=db" || g.Reason != "maintenance" || g.CreatedBy != "ana" || g.State(time.Now()) != silence.StateActive {
		t.Errorf("listed %+v; want the silence added", g)
	}

	exp, err := st.Expire(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if exp.State(time.Now().Add(time.Second)) != silence.StateExpired {
		t.Errorf("expired silence state = %s", exp.State(time.Now()))
	}
	list, err = st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("List after expire = %d silences; an expired one stays listed", len(list))
	}

	for _, id := range []string{"nope1234", "bad id!", ""} {
		if _, err := st.Expire(ctx, id); !errors.Is(err, silence.ErrNotFound) {
			t.Errorf("Expire(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestMatcherFollowsWatch(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pre, err := st.Add(ctx, silence.Silence{Rule: match.Rule{Filter: map[string]string{"check": "web"}}, Reason: "before", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "active"})
	m, err := st.Watch(ctx, nil, gauge)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := m.Silenced(checkEvent("web", "down"), time.Now()); !ok || s.ID != pre.ID {
		t.Fatalf("silence stored before Watch not applied: %+v, %v", s, ok)
	}
	if got := testutil.ToFloat64(gauge); got != 1 {
		t.Errorf("gauge = %v, want 1", got)
	}
	db := checkEvent("db", "down")
	if _, ok := m.Silenced(db, time.Now()); ok {
		t.Fatal("db silenced before any silence names it")
	}

	s, err := st.Add(ctx, silence.Silence{Rule: match.Rule{Filter: map[string]string{"check": "db"}}, Reason: "maintenance", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the matcher to see the new silence", func() bool {
		got, ok := m.Silenced(db, time.Now())
		return ok && got.ID == s.ID && got.Reason == "maintenance"
	})
	waitFor(t, "the gauge to count 2", func() bool { return testutil.ToFloat64(gauge) == 2 })
	if _, ok := m.Silenced(checkEvent("db", "down"), time.Now().Add(2*time.Hour)); ok {
		t.Error("silenced after the silence's end")
	}
	if _, ok := m.Silenced(checkEvent("other", "down"), time.Now()); ok {
		t.Error("an event the rule does not match is silenced")
	}

	if _, err := st.Expire(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the matcher to see the expiry", func() bool {
		_, ok := m.Silenced(db, time.Now())
		return !ok
	})
	waitFor(t, "the gauge to count 1", func() bool { return testutil.ToFloat64(gauge) == 1 })
}

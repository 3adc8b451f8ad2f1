package event_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

func checkEvent(status bridgev1.CheckStatus) *event.Event {
	at := time.Date(2025, 6, 10, 14, 5, 4, 0, time.UTC)
	kind := event.KindCheckDown
	if status == bridgev1.CheckStatus_CHECK_STATUS_UP {
		kind = event.KindCheckUp
	}
	ev := event.New(kind, "/webhooks/healthchecks", "c1", event.CheckKey("c1", "down", at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{CheckId: "c1", Status: status}}
	return ev
}

func TestRoundTrip(t *testing.T) {
	ev := checkEvent(bridgev1.CheckStatus_CHECK_STATUS_DOWN)
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !proto.Equal(ev, got) {
		t.Errorf("round trip changed the event:\n got %v\nwant %v", got, ev)
	}
	if k := event.Kind(got); k != event.KindCheckDown {
		t.Errorf("Kind = %q, want %q", k, event.KindCheckDown)
	}
	if e := event.Entity(got); e != "check:c1" {
		t.Errorf("Entity = %q, want check:c1", e)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*event.Event)
	}{
		{"no id", func(e *event.Event) { e.Id = "" }},
		{"no source", func(e *event.Event) { e.Source = "" }},
		{"no key", func(e *event.Event) { e.IdempotencyKey = "" }},
		{"no payload", func(e *event.Event) { e.Data = nil }},
		{"type mismatch", func(e *event.Event) { e.Type = event.TypePrefix + event.KindCheckUp }},
		{"no time", func(e *event.Event) { e.Time = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := checkEvent(bridgev1.CheckStatus_CHECK_STATUS_DOWN)
			tt.mutate(ev)
			if err := event.Validate(ev); !errors.Is(err, event.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{event.Subject("bridge", event.KindCheckDown), "bridge.events.check.down"},
		{event.DeadLetterSubject("bridge", "slack-notifier"), "bridge.deadletter.slack-notifier"},
		{event.EventsStream("bridge"), "BRIDGE_EVENTS"},
		{event.DeadLetterStream("bridge"), "BRIDGE_DEADLETTER"},
		{event.LedgerBucket("bridge"), "BRIDGE_LEDGER"},
		{event.WatcherBucket("bridge"), "BRIDGE_WATCHER"},
		{event.VulnBucket("bridge"), "BRIDGE_VULN"},
		{event.EventsStream("staging.eu-1"), "STAGING_EU_1_EVENTS"},
		{event.KindOf("bridge", "bridge.events.release.published"), event.KindReleasePublished},
		{event.KindOf("bridge", "other.events.check.up"), ""},
		{event.ReleaseKey("Keycloak", "keycloak", "26.6.1", false), "release:keycloak/keycloak@26.6.1"},
		{event.ReleaseKey("Keycloak", "keycloak", "26.6.1", true), "release:keycloak/keycloak@26.6.1#prerelease"},
		{event.CheckKey("c1", "up", time.Date(2025, 6, 10, 16, 5, 4, 0, time.FixedZone("x", 3600))), "check:c1:up:2025-06-10T15:05:04Z"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	a, b := event.NewID(), event.NewID()
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Errorf("NewID() = %q, %q: want two distinct v4 UUIDs", a, b)
	}
	// The canonical text form: lowercase hex, version 4, RFC 4122 variant.
	canonical := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for range 1000 {
		if id := event.NewID(); !canonical.MatchString(id) {
			t.Fatalf("NewID() = %q, not a canonical v4 UUID", id)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	for b.Loop() {
		_ = event.NewID()
	}
}

package bus_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
)

func TestPublish(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	ctx := t.Context()

	first := checkEvent("c1", 0)
	first.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	again := checkEvent("c1", 0) // Same meaning, so same key; a new id.
	other := checkEvent("c1", 1)

	tests := []struct {
		name string
		ev   *event.Event
		want bus.PubAck
	}{
		{"first", first, bus.PubAck{Stream: "BRIDGE_EVENTS", Sequence: 1}},
		{"same key again", again, bus.PubAck{Stream: "BRIDGE_EVENTS", Sequence: 1, Duplicate: true}},
		{"another key", other, bus.PubAck{Stream: "BRIDGE_EVENTS", Sequence: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.Publish(ctx, tt.ev)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Publish(%s) (-want +got):\n%s", tt.ev.GetIdempotencyKey(), diff)
			}
		})
	}

	s, err := b.JetStream().Stream(ctx, "BRIDGE_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("stream holds %d messages, want 2", n)
	}
	raw, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantHeaders := map[string]string{
		jetstream.MsgIDHeader: first.GetIdempotencyKey(),
		"Content-Type":        event.ContentType,
		"traceparent":         first.GetTraceparent(),
	}
	for k, want := range wantHeaders {
		if got := raw.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if raw.Subject != "bridge.events.check.down" {
		t.Errorf("subject = %q, want bridge.events.check.down", raw.Subject)
	}
	ev, err := event.Unmarshal(raw.Data)
	if err != nil || ev.GetId() != first.GetId() {
		t.Errorf("stored event = %v, %v; want id %s", ev, err, first.GetId())
	}
}

func TestPublishErrors(t *testing.T) {
	b := bustest.Open(t, bus.Options{PublishTimeout: 200 * time.Millisecond})
	noKey := checkEvent("c1", 0)
	noKey.IdempotencyKey = ""

	t.Run("invalid event", func(t *testing.T) {
		if _, err := b.Publish(t.Context(), noKey); !errors.Is(err, event.ErrInvalid) {
			t.Errorf("Publish(no key) = %v, want event.ErrInvalid", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := b.Publish(ctx, checkEvent("c1", 0)); !errors.Is(err, context.Canceled) {
			t.Errorf("Publish(cancelled ctx) = %v, want context.Canceled", err)
		}
	})
	t.Run("no stream", func(t *testing.T) {
		if err := b.JetStream().DeleteStream(t.Context(), "BRIDGE_EVENTS"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Publish(t.Context(), checkEvent("c1", 0)); err == nil {
			t.Error("Publish without a stream = nil, want an error")
		}
	})
}

// TestPublishTooLarge: an event over the server's max_payload (headers
// count) is refused as ErrTooLarge and nothing is stored; one exactly at the
// limit is stored.
func TestPublishTooLarge(t *testing.T) {
	const limit = 64 << 10
	s := bustest.NewServerWith(t, func(o *server.Options) { o.MaxPayload = limit })
	b := bustest.Connect(t, s, bus.Options{})
	if got := b.Conn().MaxPayload(); got != limit {
		t.Fatalf("MaxPayload() = %d, want %d", got, limit)
	}

	tests := []struct {
		name    string
		size    int // headers and data, as the server counts them
		tooBig  bool
		wantSeq uint64
	}{
		{"well under", limit / 2, false, 1},
		{"at the limit", limit, false, 2},
		{"one byte over", limit + 1, true, 0},
		{"far over", 3 * limit, true, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := sizedEvent(t, checkEvent("c"+strconv.Itoa(i), i), tt.size)
			ack, err := b.Publish(t.Context(), ev)
			if tt.tooBig {
				if !errors.Is(err, bus.ErrTooLarge) || !errors.Is(err, nats.ErrMaxPayload) {
					t.Fatalf("Publish(%d bytes) = %+v, %v; want bus.ErrTooLarge and nats.ErrMaxPayload", tt.size, ack, err)
				}
				return
			}
			if err != nil || ack.Sequence != tt.wantSeq {
				t.Fatalf("Publish(%d bytes) = %+v, %v; want sequence %d", tt.size, ack, err, tt.wantSeq)
			}
		})
	}

	st, err := b.JetStream().Stream(t.Context(), "BRIDGE_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("stream holds %d messages, want 2 (nothing of the refused events)", n)
	}
}

// sizedEvent pads ev's check name until the message Publish sends (its
// Nats-Msg-Id and Content-Type headers and the encoded event) is size bytes.
func sizedEvent(t *testing.T, ev *event.Event, size int) *event.Event {
	t.Helper()
	hdr := (&nats.Msg{Header: nats.Header{
		jetstream.MsgIDHeader: {ev.GetIdempotencyKey()},
		bus.HeaderContentType: {event.ContentType},
	}}).Size()
	c := ev.GetCheckStatusChanged()
	for range 5 { // the length prefix of the name may grow as the name does
		got := hdr + len(mustMarshal(t, ev))
		if got == size {
			return ev
		}
		c.Name += strings.Repeat("x", max(size-got, 0))
		if size < got {
			c.Name = c.Name[:len(c.Name)-(got-size)]
		}
	}
	t.Fatalf("cannot pad event %s to %d bytes", ev.GetIdempotencyKey(), size)
	return nil
}

func TestStreamsIdempotent(t *testing.T) {
	s := bustest.NewServer(t)
	ctx := t.Context()
	// Opening is what every replica does at start: again and again, and
	// with changed settings.
	for i, maxAge := range []time.Duration{time.Hour, time.Hour, 2 * time.Hour} {
		b := bustest.Connect(t, s, bus.Options{Prefix: "acme", MaxAge: maxAge, DuplicateWindow: time.Minute})
		tests := []struct {
			stream, subject string
			maxAge          time.Duration
		}{
			{"ACME_EVENTS", "acme.events.>", maxAge},
			{"ACME_DEADLETTER", "acme.deadletter.>", bus.DeadLetterMaxAge},
		}
		for _, tt := range tests {
			st, err := b.JetStream().Stream(ctx, tt.stream)
			if err != nil {
				t.Fatalf("open %d: stream %s: %v", i, tt.stream, err)
			}
			cfg := st.CachedInfo().Config
			if !slices.Equal(cfg.Subjects, []string{tt.subject}) || cfg.MaxAge != tt.maxAge ||
				cfg.Duplicates != time.Minute || cfg.Storage != jetstream.FileStorage {
				t.Errorf("open %d: stream %s: subjects %v, max age %s, duplicates %s, storage %s; want [%s], %s, 1m, file",
					i, tt.stream, cfg.Subjects, cfg.MaxAge, cfg.Duplicates, cfg.Storage, tt.subject, tt.maxAge)
			}
		}
		if ack, err := b.Publish(ctx, checkEvent("c1", 0)); err != nil || ack.Stream != "ACME_EVENTS" {
			t.Errorf("open %d: Publish = %+v, %v; want stream ACME_EVENTS", i, ack, err)
		}
	}
	b := bustest.Connect(t, s, bus.Options{Prefix: "acme"})
	names := b.JetStream().StreamNames(ctx)
	var got []string
	for n := range names.Name() {
		got = append(got, n)
	}
	slices.Sort(got)
	if want := []string{"ACME_DEADLETTER", "ACME_EVENTS"}; !slices.Equal(got, want) {
		t.Errorf("streams = %v, want %v", got, want)
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		o    bus.Options
	}{
		{"embedded without data dir", bus.Options{}},
		{"bad listen", bus.Options{DataDir: t.TempDir(), Listen: "localhost"}},
		{"bad sync interval", bus.Options{DataDir: t.TempDir(), SyncInterval: "sometimes"}},
		{"dedupe window above max age", bus.Options{DataDir: t.TempDir(), MaxAge: time.Minute, DuplicateWindow: time.Hour}},
		{"unreachable nats", bus.Options{URL: "nats://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bus.Open(t.Context(), tt.o)
			if err == nil {
				_ = b.Close(t.Context())
				t.Fatalf("Open(%+v) = nil error, want one", tt.o)
			}
		})
	}
}

// TestEmbedded: the embedded server keeps events across a restart, and
// another process reaches it on its TCP listener.
func TestEmbedded(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	b, err := bus.Open(ctx, bus.Options{DataDir: dir, Listen: "127.0.0.1:0", SyncInterval: "always"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	url := b.ClientURL()
	if url == "" {
		t.Fatal("ClientURL() = \"\" with a listener")
	}
	// bridgectl's view: a plain TCP client.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.Stream(ctx, "BRIDGE_EVENTS"); err != nil {
		t.Errorf("stream over TCP: %v", err)
	}
	nc.Close()
	publish(t, b, checkEvent("c1", 0))
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Ready(ctx); err == nil {
		t.Error("Ready after Close = nil, want an error")
	}

	b = bustest.Open(t, bus.Options{DataDir: dir})
	if got := b.ClientURL(); got != "" {
		t.Errorf("ClientURL() without listener = %q, want \"\"", got)
	}
	st, err := b.JetStream().Stream(ctx, "BRIDGE_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("after restart the stream holds %d messages, want 1", n)
	}
}

func TestReady(t *testing.T) {
	s := bustest.NewServer(t)
	b := bustest.Connect(t, s, bus.Options{})
	if err := b.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v, want nil", err)
	}
	s.Shutdown()
	bustest.Eventually(t, 5*time.Second, func() error {
		if b.Ready(t.Context()) == nil {
			return errors.New("still ready")
		}
		return nil
	})
}

func TestStatus(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	rec := newRecorder(nil)
	publish(t, b, checkEvent("c1", 0), checkEvent("c2", 0), checkEvent("c3", 0))
	bustest.Run(t, b, consumer(t, b, "slack-notifier", rec, nil, nil))
	rec.waitEffects(t, 3)
	waitSettled(t, b, "slack-notifier")

	st, err := b.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := bus.Status{
		Streams: []bus.StreamStatus{
			{Name: "BRIDGE_EVENTS", Subjects: []string{"bridge.events.>"}, Messages: 3, FirstSeq: 1, LastSeq: 3, Consumers: 1},
			{Name: "BRIDGE_DEADLETTER", Subjects: []string{"bridge.deadletter.>"}},
			{Name: "KV_BRIDGE_LEDGER", Subjects: []string{"$KV.BRIDGE_LEDGER.>"}, Messages: 3, FirstSeq: 1, LastSeq: 6},
		},
		Consumers: []bus.ConsumerStatus{{Name: "slack-notifier", LastDelivered: 3, AckFloor: 3}},
	}
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".Bytes", ".Waiting":
			return true
		}
		// The first sequence of an empty stream, or of a bucket whose
		// history is trimmed, depends on the server's bookkeeping.
		return p.Last().String() == ".FirstSeq" && p.Index(-2).String() != "[0]"
	}, cmp.Ignore())
	if diff := cmp.Diff(want, st, ignore); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

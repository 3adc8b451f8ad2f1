package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/gateway"
)

// realBus returns a bus on its own embedded JetStream and the gateway
// Publisher over it, as the service wires them.
func realBus(t *testing.T) (*bus.Bus, gateway.Publisher) {
	t.Helper()
	b := bustest.Open(t, bus.Options{})
	return b, gateway.PublishFunc(func(ctx context.Context, ev *event.Event) (bool, error) {
		ack, err := b.Publish(ctx, ev)
		return ack.Duplicate, err
	})
}

// onlyEvent fails unless the events stream holds exactly one event, and
// returns it with the subject it was stored on.
func onlyEvent(t *testing.T, b *bus.Bus) (*event.Event, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := b.JetStream().Stream(ctx, event.EventsStream(b.Prefix()))
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d messages on %s, want 1", info.State.Msgs, info.Config.Name)
	}
	msg, err := stream.GetMsg(ctx, info.State.FirstSeq)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Unmarshal(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ev, msg.Subject
}

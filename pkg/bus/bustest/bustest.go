// Package bustest starts real JetStream for tests: an embedded nats-server,
// a bus.Bus on it, its ledger, and consumer runners that stop with the test.
//
//	b := bustest.Open(t, bus.Options{})
//	stop := bustest.Run(t, b, bus.Consumer{Name: "slack-notifier", Sink: s, Ledger: bustest.Ledger(t, b)})
//	...
//	bustest.WaitSettled(t, b, "slack-notifier", 10*time.Second) // everything acked or termed
//	bustest.Eventually(t, 5*time.Second, func() error { ... })
package bustest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/ledger"
)

// NewServer starts a nats-server with JetStream on a free loopback port,
// storage in a temporary directory, and shuts it down when the test ends.
// Connect buses to it (Connect) to test several processes on one NATS.
func NewServer(t testing.TB) *server.Server {
	t.Helper()
	return NewServerWith(t, nil)
}

// NewServerWith is NewServer with the server's options changed by configure
// (when not nil) before it starts, e.g. a lower MaxPayload as an external
// NATS with its defaults would have.
func NewServerWith(t testing.TB, configure func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	if configure != nil {
		configure(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("bustest: new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("bustest: server not ready after 10s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Open opens a bus on its own embedded server (bus.Open with an empty URL),
// storage in a temporary directory unless o.DataDir says otherwise, and
// closes it when the test ends. Logs are discarded unless o.Logger is set.
func Open(t testing.TB, o bus.Options) *bus.Bus {
	t.Helper()
	if o.URL == "" && o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	return open(t, o)
}

// Connect opens a bus connected to s over TCP, as another process would,
// and closes it when the test ends.
func Connect(t testing.TB, s *server.Server, o bus.Options) *bus.Bus {
	t.Helper()
	o.URL = s.ClientURL()
	return open(t, o)
}

func open(t testing.TB, o bus.Options) *bus.Bus {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, o)
	if err != nil {
		t.Fatalf("bustest: open bus: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("bustest: close bus: %v", err)
		}
	})
	return b
}

// Ledger opens the effect ledger of b.
func Ledger(t testing.TB, b *bus.Bus) *ledger.Ledger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := b.OpenLedger(ctx)
	if err != nil {
		t.Fatalf("bustest: open ledger: %v", err)
	}
	return l
}

// Run runs c on b in a goroutine until the returned stop is called or the
// test ends, whichever comes first. stop cancels Run, waits for it to
// return and fails the test if it returned an error; it may be called more
// than once. c.Logger and c.Metrics keep the runner's defaults when nil.
func Run(t testing.TB, b *bus.Bus, c bus.Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, c) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("bustest: run %s: %v", c.Name, err)
			}
		})
	}
	// Registered after the bus's Close, so it runs before it.
	t.Cleanup(stop)
	return stop
}

// WaitSettled waits until the durable consumer name of b's events stream
// has been delivered every event it matches and has none unacknowledged
// (every one acked or termed), and fails the test if that has not happened
// within timeout.
func WaitSettled(t testing.TB, b *bus.Bus, name string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error { return settled(b, name) })
}

func settled(b *bus.Bus, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := b.JetStream().Stream(ctx, event.EventsStream(b.Prefix()))
	if err != nil {
		return err
	}
	c, err := stream.Consumer(ctx, name)
	if err != nil {
		return err
	}
	info := c.CachedInfo()
	// A new consumer reports nothing pending until it has settled in, so
	// compare with the stream itself too.
	filters := info.Config.FilterSubjects
	if len(filters) == 0 {
		filters = []string{cmp.Or(info.Config.FilterSubject, event.SubjectWildcard(b.Prefix()))}
	}
	var last uint64
	for _, f := range filters {
		m, err := stream.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		last = max(last, m.Sequence)
	}
	if info.Delivered.Stream < last || info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("consumer %s: delivered up to %d of %d, %d pending, %d unacknowledged",
			name, info.Delivered.Stream, last, info.NumPending, info.NumAckPending)
	}
	return nil
}

// Eventually calls cond every 10ms until it returns nil, and fails the test
// with cond's last error if that has not happened within timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bustest: not within %s: %v", timeout, err)
		}
		<-tick.C
	}
}

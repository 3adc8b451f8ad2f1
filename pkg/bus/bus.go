// Package bus is the bridge's spine on NATS JetStream: it opens the
// connection (to an external NATS, or to a nats-server embedded in the
// process), creates the events and dead-letter streams, publishes events and
// waits for their acknowledgement, and runs the durable consumers that turn
// events into effects exactly once (see Run).
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/ledger"
)

// Defaults of Options.
const (
	// DefaultListen is the embedded server's client address in a normal
	// install: loopback only, so that bridgectl on the same host reaches it
	// and nothing else does.
	DefaultListen          = "127.0.0.1:4222"
	DefaultMaxAge          = 7 * 24 * time.Hour
	DefaultDuplicateWindow = time.Hour
	DefaultPublishTimeout  = 5 * time.Second
	// DeadLetterMaxAge is how long dead letters are kept: long enough for
	// someone to come back from holiday and replay them.
	DeadLetterMaxAge = 30 * 24 * time.Hour
)

// Headers the bus sets besides Nats-Msg-Id and Content-Type.
const (
	// HeaderTraceparent carries the W3C trace context of the event.
	HeaderTraceparent = "traceparent"
	// HeaderReplayOf is set on an event republished by Replay to the
	// dead-letter sequence it came from.
	HeaderReplayOf = "Bridge-Replay-Of"
	// HeaderContentType is the Content-Type header.
	HeaderContentType = "Content-Type"
)

// DeadLetterContentType is the Content-Type of a dead letter.
const DeadLetterContentType = "application/protobuf; proto=bridge.v1.DeadLetter"

// Options configure Open. With only DataDir set, Open starts an embedded
// server without a TCP listener; zero durations and counts take the
// defaults above.
type Options struct {
	// URL of an external NATS server or cluster. Empty starts an embedded
	// nats-server with JetStream in this process.
	URL string
	// Credentials is a .creds file for the external NATS (nats.UserCredentials).
	Credentials string
	// DataDir is the embedded server's JetStream storage directory.
	DataDir string
	// Listen is the embedded server's client address "host:port" (port 0
	// picks a free one); empty means no TCP listener, in-process clients
	// only. Installs use DefaultListen so that bridgectl, another process,
	// can reach the embedded server.
	Listen string
	// Prefix is the subject prefix; event.DefaultPrefix when empty.
	Prefix string
	// Replicas of the streams (and the ledger bucket): 1 (default), or 3
	// on a cluster.
	Replicas int
	// SyncInterval is the embedded server's fsync policy: "" keeps
	// nats-server's default (2m: a process crash loses nothing, a power
	// loss may lose the last writes), "always" syncs every write, or a
	// duration.
	SyncInterval string
	// MaxAge bounds how long events are kept (DefaultMaxAge).
	MaxAge time.Duration
	// DuplicateWindow is how long the stream remembers a Nats-Msg-Id
	// (DefaultDuplicateWindow).
	DuplicateWindow time.Duration
	// PublishTimeout bounds the wait for a publish acknowledgement
	// (DefaultPublishTimeout).
	PublishTimeout time.Duration
	// Name is the connection name shown by the server.
	Name string
	// Logger receives connection and embedded-server events; nothing is
	// logged when nil.
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Prefix == "" {
		o.Prefix = event.DefaultPrefix
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Replicas < 0:
		return fmt.Errorf("bus: replicas %d: must be positive", o.Replicas)
	case o.DuplicateWindow > o.MaxAge:
		return fmt.Errorf("bus: duplicate window %s longer than max age %s", o.DuplicateWindow, o.MaxAge)
	case o.URL == "" && o.DataDir == "":
		return errors.New("bus: embedded server needs a data dir")
	}
	return nil
}

// Bus is a connection to JetStream with the bridge's streams in place. It is
// safe for concurrent use.
type Bus struct {
	o   Options
	log *slog.Logger
	srv *server.Server // nil when connected to an external NATS
	nc  *nats.Conn
	js  jetstream.JetStream

	closed    chan struct{} // closed by the connection's closed handler
	closeOnce sync.Once
	closeErr  error

	readyMu sync.Mutex
	ready   atomic.Pointer[readiness]
}

type readiness struct {
	at  time.Time
	err error
}

// Open connects to NATS (starting the embedded server when Options.URL is
// empty) and creates or updates the events and dead-letter streams. Close
// releases what Open started.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	b := &Bus{o: o, log: o.Logger, closed: make(chan struct{})}

	opts := b.connOptions()
	url := o.URL
	if url == "" {
		srv, err := startEmbedded(ctx, o)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		url = nats.DefaultURL // unused: the in-process option wins
		opts = append(opts, nats.InProcessServer(srv))
	} else if o.Credentials != "" {
		opts = append(opts, nats.UserCredentials(o.Credentials))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	b.nc = nc
	b.js, err = jetstream.New(nc)
	if err != nil {
		_ = b.Close(ctx)
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if err := b.createStreams(ctx); err != nil {
		_ = b.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return b, nil
}

func (b *Bus) connOptions() []nats.Option {
	name := b.o.Name
	if name == "" {
		name = "bridge"
	}
	return []nats.Option{
		nats.Name(name),
		// A bridge never gives up on NATS: events wait in the stream, and
		// /readyz says why nothing moves meanwhile.
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Warn("nats async error", "subject", subject, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
	}
}

// reconnectDelay backs off from 250ms to 15s, with jitter so that many
// replicas do not reconnect in step after a server restart.
func reconnectDelay(attempts int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < attempts && d < 15*time.Second; i++ {
		d *= 2
	}
	d = min(d, 15*time.Second)
	return d/2 + rand.N(d/2+1)
}

func (b *Bus) createStreams(ctx context.Context) error {
	p := b.o.Prefix
	streams := []jetstream.StreamConfig{{
		Name:        event.EventsStream(p),
		Description: "bridge events",
		Subjects:    []string{event.SubjectWildcard(p)},
		// Limits retention: every consumer keeps its own place, and Replay
		// and status need the history.
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		Storage:    jetstream.FileStorage,
		Replicas:   b.o.Replicas,
		MaxAge:     b.o.MaxAge,
		Duplicates: b.o.DuplicateWindow,
	}, {
		Name:        event.DeadLetterStream(p),
		Description: "bridge dead letters: events a consumer gave up on, with the reason",
		Subjects:    []string{event.DeadLetterWildcard(p)},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    b.o.Replicas,
		MaxAge:      max(DeadLetterMaxAge, b.o.MaxAge),
		Duplicates:  b.o.DuplicateWindow,
	}}
	for _, cfg := range streams {
		if err := b.ensureStream(ctx, cfg); err != nil {
			return fmt.Errorf("bus: create stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// ensureStream creates the stream, or updates it only when its settings
// differ. Every process opens the bus (each service, every bridgectl
// command): an update of an unchanged stream is a needless write to the
// stream's configuration, and nats-server 2.15.3 races on it with a
// consumer being added at the same time.
func (b *Bus) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) error {
	s, err := b.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = b.js.CreateStream(ctx, cfg)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return err
		}
		// Another process created it meanwhile: compare with theirs.
		s, err = b.js.Stream(ctx, cfg.Name)
	}
	if err != nil {
		return err
	}
	if have := s.CachedInfo().Config; sameStream(have, cfg) {
		return nil
	}
	_, err = b.js.UpdateStream(ctx, cfg)
	return err
}

// sameStream reports whether have already has every setting want sets.
func sameStream(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description &&
		slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention &&
		have.Discard == want.Discard &&
		have.Storage == want.Storage &&
		have.Replicas == want.Replicas &&
		have.MaxAge == want.MaxAge &&
		have.Duplicates == want.Duplicates
}

// OpenLedger opens the effect ledger bucket of this bus's prefix, with the
// bus's replicas.
func (b *Bus) OpenLedger(ctx context.Context) (*ledger.Ledger, error) {
	return ledger.Open(ctx, b.js, ledger.Options{Bucket: ledger.Bucket(b.o.Prefix), Replicas: b.o.Replicas})
}

// ErrTooLarge is wrapped by the error of a publish whose message the NATS
// server can never accept: it is larger than the server's max_payload
// (1 MiB by default on an external NATS, 8 MiB on the embedded one).
// Retrying will not help; raising max_payload will.
var ErrTooLarge = errors.New("event larger than the NATS server's max_payload")

// PubAck is the stream's acknowledgement of a publish.
type PubAck struct {
	Stream   string
	Sequence uint64
	// Duplicate is set when the stream already held an event with the same
	// idempotency key (within the duplicate window) and stored nothing.
	Duplicate bool
}

// Publish stores ev on its subject and returns once JetStream has
// acknowledged it, bounded by ctx and Options.PublishTimeout. The event's
// idempotency key is the Nats-Msg-Id, so a second publish of the same
// meaning is acknowledged as a Duplicate and stored once. An invalid event
// returns an error wrapping event.ErrInvalid, and one the server can never
// accept an error wrapping ErrTooLarge.
//
// Publish is safe for heavy concurrent use: it takes no lock of its own.
func (b *Bus) Publish(ctx context.Context, ev *event.Event) (PubAck, error) {
	if err := event.Validate(ev); err != nil {
		return PubAck{}, fmt.Errorf("bus: publish: %w", err)
	}
	data, err := event.Marshal(ev)
	if err != nil {
		return PubAck{}, fmt.Errorf("bus: publish: %w", err)
	}
	h := nats.Header{
		jetstream.MsgIDHeader: []string{ev.GetIdempotencyKey()},
		HeaderContentType:     []string{event.ContentType},
	}
	if tp := ev.GetTraceparent(); tp != "" {
		h[HeaderTraceparent] = []string{tp}
	}
	return b.publish(ctx, &nats.Msg{Subject: event.Subject(b.o.Prefix, event.Kind(ev)), Header: h, Data: data})
}

func (b *Bus) publish(ctx context.Context, m *nats.Msg) (PubAck, error) {
	// The server counts headers and data against max_payload (the subject
	// and reply are not); checking here says why before any round trip.
	size := int64(m.Size() - len(m.Subject) - len(m.Reply))
	if limit := b.nc.MaxPayload(); limit > 0 && size > limit {
		return PubAck{}, fmt.Errorf("bus: publish %s: %d bytes, limit %d: %w: %w",
			m.Subject, size, limit, ErrTooLarge, nats.ErrMaxPayload)
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.PublishTimeout)
	defer cancel()
	ack, err := b.js.PublishMsg(ctx, m)
	if errors.Is(err, nats.ErrMaxPayload) {
		// The limit changed between the check and the send: a reconnect
		// to a server with a lower max_payload.
		return PubAck{}, fmt.Errorf("bus: publish %s: %w: %w", m.Subject, ErrTooLarge, err)
	}
	if err != nil {
		return PubAck{}, fmt.Errorf("bus: publish %s: %w", m.Subject, err)
	}
	return PubAck{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// readyTTL is how long a Ready answer is reused: probes and dashboards may
// ask often, JetStream need not answer each of them.
const readyTTL = time.Second

// Ready returns nil when the connection is up and JetStream answers, and an
// error saying why not otherwise (for /readyz). The answer is cached for
// about a second.
func (b *Bus) Ready(ctx context.Context) error {
	if r := b.ready.Load(); r != nil && time.Since(r.at) < readyTTL {
		return r.err
	}
	b.readyMu.Lock()
	defer b.readyMu.Unlock()
	if r := b.ready.Load(); r != nil && time.Since(r.at) < readyTTL {
		return r.err
	}
	err := b.check(ctx)
	if ctx.Err() == nil {
		// An answer cut short by the caller says nothing about the bus.
		b.ready.Store(&readiness{at: time.Now(), err: err})
	}
	return err
}

func (b *Bus) check(ctx context.Context) error {
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("bus: nats connection %s", st)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus: jetstream not answering: %w", err)
	}
	return nil
}

// Close drains the connection (pending publishes and acks are flushed),
// then shuts the embedded server down and waits for it. It is bounded by
// ctx; a second call returns the first call's result.
func (b *Bus) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		if b.nc != nil {
			if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				b.nc.Close()
			}
			select {
			case <-b.closed:
			case <-ctx.Done():
				b.nc.Close()
				b.closeErr = fmt.Errorf("bus: close: drain: %w", ctx.Err())
			}
		}
		b.shutdownServer()
	})
	return b.closeErr
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// JetStream returns the JetStream context of the connection.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn returns the NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Prefix returns the subject prefix.
func (b *Bus) Prefix() string { return b.o.Prefix }

// Replicas returns the replica count of the streams and the ledger.
func (b *Bus) Replicas() int { return b.o.Replicas }

// ClientURL returns the URL another process connects to: the embedded
// server's TCP address, "" when it has no listener, or the external URL.
func (b *Bus) ClientURL() string {
	if b.srv == nil {
		return b.o.URL
	}
	if b.o.Listen == "" {
		return ""
	}
	return b.srv.ClientURL()
}

func formatSeq(seq uint64) string { return strconv.FormatUint(seq, 10) }

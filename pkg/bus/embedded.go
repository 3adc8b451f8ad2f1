package bus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedMaxPayload raises nats-server's 1 MiB default: a vulnerability
// report of a large image, even normalised, can pass 1 MiB. 8 MiB is the
// largest size nats-server does not warn about.
const embeddedMaxPayload = 8 << 20

// startEmbedded starts a nats-server with JetStream in this process and
// waits until it accepts connections (bounded by ctx).
func startEmbedded(ctx context.Context, o Options) (*server.Server, error) {
	so := &server.Options{
		ServerName: "bridge",
		JetStream:  true,
		StoreDir:   o.DataDir,
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true, // main owns the signals.
	}
	if o.Listen == "" {
		so.DontListen = true
	} else {
		host, port, err := splitListen(o.Listen)
		if err != nil {
			return nil, err
		}
		so.Host, so.Port = host, port
	}
	switch strings.ToLower(o.SyncInterval) {
	case "":
	case "always":
		so.SyncAlways = true
	default:
		d, err := time.ParseDuration(o.SyncInterval)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("bus: sync interval %q: want \"always\" or a positive duration", o.SyncInterval)
		}
		so.SyncInterval = d
	}

	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	sl := &serverLog{log: o.Logger.With("component", "nats-server")}
	srv.SetLoggerV2(sl, false, false, false)
	go srv.Start()

	// ReadyForConnections polls in short slices so that ctx and a fatal
	// start-up error (port in use) end the wait early.
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		if msg := sl.fatal.Load(); msg != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("bus: embedded server: %s", *msg)
		}
		if ctx.Err() != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("bus: embedded server not ready: %w", ctx.Err())
		}
	}
	return srv, nil
}

func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("bus: listen %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bus: listen %q: bad port", addr)
	}
	if port == 0 {
		// nats-server reads port 0 as "default 4222"; -1 picks a free one.
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// serverLog sends nats-server's log to slog. Notices (the start-up banner,
// one line each) go to debug; warnings and errors keep their level. A fatal
// message is kept so start-up can fail with it: nats-server would otherwise
// call os.Exit through its own logger.
type serverLog struct {
	log   *slog.Logger
	fatal atomic.Pointer[string]
}

func (l *serverLog) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLog) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l *serverLog) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }
func (l *serverLog) Debugf(format string, v ...any)  { l.emit(slog.LevelDebug, format, v) }
func (l *serverLog) Tracef(string, ...any)           {}
func (l *serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.fatal.Store(&msg)
	l.log.Error("nats-server", "detail", msg)
}

func (l *serverLog) emit(level slog.Level, format string, v []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, "nats-server", "detail", fmt.Sprintf(format, v...))
	}
}

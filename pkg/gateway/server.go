package gateway

import (
	"net/http"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
)

// Server timeouts used where the config leaves one at zero. WriteTimeout
// runs from the end of the request headers, so it covers reading the body
// and the publish as well as the answer: it must exceed ReadTimeout plus
// the publish timeout.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 40 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// maxHeaderBytes is ample for webhook headers (GitHub's are under 2 KiB) and
// a sixteenth of net/http's default.
const maxHeaderBytes = 64 << 10

// NewServer returns an HTTP server for h on addr with every timeout set:
// those of t, or the defaults above where t has zero. A server without them
// lets a slow client hold a connection and a goroutine forever.
func NewServer(addr string, h http.Handler, t config.Gateway) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: orDefault(t.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(t.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(t.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(t.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

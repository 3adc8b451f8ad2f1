// Package gateway is the webhook gateway's HTTP side: it authenticates each
// webhook, turns its body into an event with the source's parser, persists
// the event through a Publisher and answers 202 only once the event store
// has acknowledged it, so an accepted webhook is never lost.
//
// Every source is one endpoint, POST /webhooks/<source>, run through the
// same steps in the same order: method, secret, authentication, content
// type, body size, parse, in-flight limit, publish. A rejection at any step
// publishes nothing and answers one line of JSON, {"error":"<reason>"}.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
)

// Publisher persists an event. It returns only once the event store has
// acknowledged the write; duplicate reports that the store already held an
// event with the same idempotency key (and kept the first one). An error
// wrapping ErrEventTooLarge is answered 413; any other error 503 with
// Retry-After, since the store may take the event later.
type Publisher interface {
	Publish(ctx context.Context, ev *event.Event) (duplicate bool, err error)
}

// ErrEventTooLarge is wrapped by a Publisher's error when the event store
// will never accept the event, however long the sender waits: it is larger
// than the store's message limit (NATS max_payload). The gateway answers 413
// without Retry-After, so that the sender stops retrying.
var ErrEventTooLarge = errors.New("gateway: event too large for the event store")

// PublishFunc adapts a function to Publisher, e.g. around (*bus.Bus).Publish.
type PublishFunc func(ctx context.Context, ev *event.Event) (duplicate bool, err error)

// Publish calls f.
func (f PublishFunc) Publish(ctx context.Context, ev *event.Event) (bool, error) { return f(ctx, ev) }

// Defaults of Options' zero values.
const (
	DefaultMaxBodyBytes   = 25 << 20 // GitHub's own payload cap
	DefaultMaxInFlight    = 1024
	DefaultPublishTimeout = 5 * time.Second
	DefaultRetryAfter     = 5 * time.Second
)

// Options configures a Gateway. Publisher and Secrets are required.
type Options struct {
	Publisher Publisher
	// Secrets is read on every request (providers are cheap per call), so a
	// rotated token is picked up without a restart.
	Secrets secrets.Provider
	// Metrics defaults to a set registered on a private registry.
	Metrics *metrics.Metrics
	// Logger defaults to discarding.
	Logger *slog.Logger
	// MaxBodyBytes is the largest body accepted; larger is 413. Default 25 MiB.
	MaxBodyBytes int64
	// MaxInFlight bounds concurrent publishes across all sources; a request
	// beyond it is answered 503 at once rather than queued, so that a slow
	// event store sheds load instead of piling up goroutines. Default 1024.
	MaxInFlight int
	// PublishTimeout bounds the wait for the store's acknowledgement; it must
	// stay well under the senders' own timeouts (Healthchecks gives up after
	// 30 s). Default 5s.
	PublishTimeout time.Duration
	// RetryAfter is sent, rounded up to whole seconds, with every 503.
	// Default 5s.
	RetryAfter time.Duration
}

// Gateway serves the webhook endpoints. It is safe for concurrent use.
type Gateway struct {
	pub            Publisher
	secrets        secrets.Provider
	m              *metrics.Metrics
	log            *slog.Logger
	maxBody        int64
	publishTimeout time.Duration
	// inFlight is a non-blocking semaphore: a full channel means overloaded.
	inFlight chan struct{}
	routes   []*route
	mux      *http.ServeMux
	buffers  sync.Pool // *bytes.Buffer: request bodies, then the answer

	// Header values shared by every answer, so that setting them does not
	// allocate; net/http only reads them.
	jsonType   []string
	retryAfter []string
	allowPost  []string
}

// New returns a gateway serving every source. It panics without a
// Publisher or a secrets Provider: that is a wiring mistake.
func New(o Options) *Gateway {
	if o.Publisher == nil || o.Secrets == nil {
		panic("gateway: New needs a Publisher and a secrets Provider")
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New(prometheus.NewRegistry())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	g := &Gateway{
		pub:            o.Publisher,
		secrets:        o.Secrets,
		m:              o.Metrics,
		log:            o.Logger,
		maxBody:        o.MaxBodyBytes,
		publishTimeout: o.PublishTimeout,
		inFlight:       make(chan struct{}, o.MaxInFlight),
		mux:            http.NewServeMux(),
		jsonType:       []string{"application/json"},
		retryAfter:     []string{strconv.FormatInt(int64(math.Ceil(o.RetryAfter.Seconds())), 10)},
		allowPost:      []string{http.MethodPost},
	}
	g.buffers.New = func() any { return new(bytes.Buffer) }
	// One line per source: GitHub and Trivy slot in here.
	g.register(healthchecksEndpoint())
	g.register(githubEndpoint())
	g.register(trivyEndpoint())
	return g
}

// register serves e at POST /webhooks/<e.source>.
func (g *Gateway) register(e endpoint) {
	if (e.authorize == nil) == (e.verify == nil) || (e.parse == nil) == (e.stream == nil) || (e.stream != nil && e.verify != nil) {
		panic("gateway: endpoint " + e.source + " needs one of authorize or verify, and one of parse or stream (not with verify)")
	}
	rt := newRoute(g, e)
	g.routes = append(g.routes, rt)
	g.mux.Handle("/webhooks/"+e.source, rt)
}

// Handler serves POST /webhooks/<source> for every source; other paths are
// 404. Mount it beside /healthz, /readyz and /metrics.
func (g *Gateway) Handler() http.Handler { return g.mux }

// Disabled returns, for each source whose secret is not set, why it
// answers 503, e.g. "healthchecks ingest is disabled: HEALTHCHECKS_TOKEN is
// not set". It is meant for /readyz's reasons: a disabled source does not
// make the gateway unready, since the others still work. A failing secret
// store is the secrets provider's to report, not listed here.
func (g *Gateway) Disabled(ctx context.Context) []string {
	var reasons []string
	for _, rt := range g.routes {
		s, err := g.secrets.Get(ctx, rt.e.secret)
		if errors.Is(err, secrets.ErrNotFound) || (err == nil && s.IsZero()) {
			reasons = append(reasons, rt.disabled)
		}
	}
	return reasons
}

// maxPooledBuffer keeps the odd multi-megabyte report from pinning memory.
const maxPooledBuffer = 1 << 20

func (g *Gateway) buffer() *bytes.Buffer {
	b := g.buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func (g *Gateway) release(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		g.buffers.Put(b)
	}
}

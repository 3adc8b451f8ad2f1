package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source"
)

// endpoint is one webhook source: how a request proves it comes from the
// sender (a verify step) and how its body becomes an event (a parse step).
// Exactly one of authorize and verify is set, and exactly one of parse and
// stream.
type endpoint struct {
	// source names the endpoint (/webhooks/<source>) and labels its metrics.
	source string
	// secret names the credential the sender proves it holds. While it is
	// not set the endpoint answers 503: the source is disabled, not broken.
	secret string
	// authorize checks the headers before the body is read (a bearer
	// token), so an unauthenticated sender cannot make the gateway read
	// 25 MiB.
	authorize func(h http.Header, secret string) bool
	// verify checks the raw body (an HMAC signature) once it is read.
	verify func(h http.Header, body []byte, secret string) bool
	// mediaTypes are the accepted Content-Types, without parameters; ""
	// accepts a request that has none.
	mediaTypes []string
	// parse turns an authenticated body into an event. It returns errors
	// matching source.ErrMalformed (400) or source.ErrUnsupported (200,
	// ignored). It must not keep body: the buffer is reused.
	parse func(h http.Header, body []byte) (*event.Event, error)
	// stream, instead of parse, reads the body as it arrives, for sources
	// whose bodies can be large (a Trivy report, up to the 25 MiB limit):
	// the gateway then never holds the body. It goes with authorize only,
	// since a signature needs the whole body first. Its errors are parse's,
	// or else wrap the reader's own: over the limit (413) or unreadable
	// (400). A malformed body is 400 even when it would also have been
	// over the limit, since parsing stops at the first error.
	stream func(h http.Header, body io.Reader) (*event.Event, error)
	// kinds are the event kinds parse makes, so that their metric series
	// exist from the start.
	kinds []string
	// ignoredReasons are the reason labels of the *source.Ignored errors
	// parse returns. Their series exist from the start, and a reason not
	// listed is counted as "unsupported", so that the label set stays
	// bounded whatever a parser returns.
	ignoredReasons []string
}

// Rejection reasons: the reason label of bridge_events_rejected_total.
const (
	reasonMethod = iota
	reasonDisabled
	reasonUnauthorized
	reasonContentType
	reasonTooLarge
	reasonMalformed
	reasonOverloaded
	reasonUnavailable
	reasonEventTooLarge
	numReasons
)

var reasonLabels = [numReasons]string{
	reasonMethod:        "method",
	reasonDisabled:      "disabled",
	reasonUnauthorized:  "unauthorized",
	reasonContentType:   "content_type",
	reasonTooLarge:      "too_large",
	reasonMalformed:     "malformed",
	reasonOverloaded:    "overloaded",
	reasonUnavailable:   "unavailable",
	reasonEventTooLarge: "event_too_large",
}

// answeredCodes are the status codes an endpoint answers; their duration
// series are made up front so the hot path does no label lookup.
var answeredCodes = []int{
	http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized,
	http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge,
	http.StatusUnsupportedMediaType, http.StatusServiceUnavailable,
}

// Secret states, to log a change once rather than on every request.
const (
	secretOK int32 = iota
	secretNotSet
	secretFailed
)

// preallocLimit caps how much of a declared Content-Length is allocated
// before the bytes arrive.
const preallocLimit = 64 << 10

// route is an endpoint bound to a gateway, with its metric series resolved.
type route struct {
	g        *Gateway
	e        endpoint
	disabled string // the 503 reason while the secret is not set
	badType  string // the 415 reason, naming what to send

	received  prometheus.Counter
	ignored   prometheus.Counter            // reason "unsupported"
	ignoredBy map[string]prometheus.Counter // by declared reason
	rejected  [numReasons]prometheus.Counter
	published map[string]prometheus.Counter // by kind
	duration  map[int]prometheus.Observer   // by status code

	secretState atomic.Int32
	// refused is the size of the smallest event the store refused as too
	// large since it was last logged, 0 when none: the warning is logged
	// once, not for every large report, until an event at least that large
	// is stored again (max_payload was raised).
	refused atomic.Int64
}

func newRoute(g *Gateway, e endpoint) *route {
	rt := &route{
		g:         g,
		e:         e,
		disabled:  e.source + " ingest is disabled: " + e.secret + " is not set",
		received:  g.m.Received.WithLabelValues(e.source),
		ignored:   g.m.Ignored.WithLabelValues(e.source, "unsupported"),
		published: make(map[string]prometheus.Counter, len(e.kinds)),
		duration:  make(map[int]prometheus.Observer, len(answeredCodes)),
	}
	var named []string
	for _, t := range e.mediaTypes {
		if t != "" {
			named = append(named, t)
		}
	}
	rt.badType = "unsupported content type: send " + strings.Join(named, " or ")
	for i, r := range reasonLabels {
		rt.rejected[i] = g.m.Rejected.WithLabelValues(e.source, r)
	}
	for _, k := range e.kinds {
		rt.published[k] = g.m.Published.WithLabelValues(e.source, k)
	}
	if len(e.ignoredReasons) > 0 {
		rt.ignoredBy = make(map[string]prometheus.Counter, len(e.ignoredReasons))
		for _, r := range e.ignoredReasons {
			rt.ignoredBy[r] = g.m.Ignored.WithLabelValues(e.source, r)
		}
	}
	for _, c := range answeredCodes {
		rt.duration[c] = g.m.IngestDuration.WithLabelValues(e.source, strconv.Itoa(c))
	}
	return rt
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt.received.Inc()
	code := rt.serve(w, r)
	obs, ok := rt.duration[code]
	if !ok {
		obs = rt.g.m.IngestDuration.WithLabelValues(rt.e.source, strconv.Itoa(code))
	}
	obs.Observe(time.Since(start).Seconds())
}

// serve runs the steps in the documented order and returns the status code
// it answered.
func (rt *route) serve(w http.ResponseWriter, r *http.Request) int {
	g, e := rt.g, &rt.e
	buf := g.buffer()
	defer g.release(buf)

	if r.Method != http.MethodPost {
		w.Header()["Allow"] = g.allowPost
		return rt.reject(w, r, buf, http.StatusMethodNotAllowed, reasonMethod, "method not allowed: use POST")
	}

	secret, code := rt.secret(r.Context())
	switch code {
	case secretNotSet:
		return rt.reject(w, r, buf, http.StatusServiceUnavailable, reasonDisabled, rt.disabled)
	case secretFailed:
		return rt.reject(w, r, buf, http.StatusServiceUnavailable, reasonUnavailable, "secret store unavailable")
	}

	if e.authorize != nil && !e.authorize(r.Header, secret) {
		return rt.reject(w, r, buf, http.StatusUnauthorized, reasonUnauthorized, "missing or invalid credentials")
	}

	if !acceptsMediaType(e.mediaTypes, r.Header.Get("Content-Type")) {
		return rt.reject(w, r, buf, http.StatusUnsupportedMediaType, reasonContentType, rt.badType)
	}

	if r.ContentLength > g.maxBody {
		return rt.reject(w, r, buf, http.StatusRequestEntityTooLarge, reasonTooLarge, rt.tooLarge())
	}
	var (
		ev  *event.Event
		err error
	)
	if e.stream != nil {
		ev, err = e.stream(r.Header, http.MaxBytesReader(w, r.Body, g.maxBody))
		if err != nil && !errors.Is(err, source.ErrMalformed) && !errors.Is(err, source.ErrUnsupported) {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return rt.reject(w, r, buf, http.StatusRequestEntityTooLarge, reasonTooLarge, rt.tooLarge())
			}
			return rt.reject(w, r, buf, http.StatusBadRequest, reasonMalformed, "the body could not be read")
		}
	} else {
		if n := r.ContentLength; n > 0 {
			// Size the buffer from the header, but only so far: an
			// unauthenticated sender (HMAC sources verify after reading) must
			// not make the gateway allocate 25 MiB by claiming it.
			buf.Grow(int(min(n, preallocLimit)) + bytes.MinRead)
		}
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.maxBody)); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return rt.reject(w, r, buf, http.StatusRequestEntityTooLarge, reasonTooLarge, rt.tooLarge())
			}
			return rt.reject(w, r, buf, http.StatusBadRequest, reasonMalformed, "the body could not be read")
		}

		if e.verify != nil && !e.verify(r.Header, buf.Bytes(), secret) {
			return rt.reject(w, r, buf, http.StatusUnauthorized, reasonUnauthorized, "missing or invalid credentials")
		}

		ev, err = e.parse(r.Header, buf.Bytes())
	}
	switch {
	case errors.Is(err, source.ErrUnsupported):
		rt.ignoredCounter(err).Inc()
		buf.Reset()
		return g.answer(w, http.StatusOK, appendObject(buf.AvailableBuffer(), "ignored", err.Error()))
	case err != nil:
		return rt.reject(w, r, buf, http.StatusBadRequest, reasonMalformed, err.Error())
	}

	select {
	case g.inFlight <- struct{}{}:
	default:
		return rt.reject(w, r, buf, http.StatusServiceUnavailable, reasonOverloaded, "overloaded")
	}
	g.m.InFlight.Inc()
	ctx, cancel := context.WithTimeout(r.Context(), g.publishTimeout)
	duplicate, err := g.pub.Publish(ctx, ev)
	cancel()
	g.m.InFlight.Dec()
	<-g.inFlight
	if errors.Is(err, ErrEventTooLarge) {
		rt.refusedTooLarge(r.Context(), ev, err)
		return rt.reject(w, r, buf, http.StatusRequestEntityTooLarge, reasonEventTooLarge,
			"event too large for the event store (raise NATS max_payload)")
	}
	if err != nil {
		g.log.LogAttrs(r.Context(), slog.LevelWarn, "publishing a webhook event failed",
			slog.String("source", e.source), slog.String("event_id", ev.GetId()),
			slog.String("key", ev.GetIdempotencyKey()), slog.Any("err", err))
		return rt.reject(w, r, buf, http.StatusServiceUnavailable, reasonUnavailable, "event store unavailable")
	}

	if n := rt.refused.Load(); n != 0 && int64(proto.Size(ev)) >= n && rt.refused.CompareAndSwap(n, 0) {
		g.log.LogAttrs(r.Context(), slog.LevelInfo, "the event store takes large events again",
			slog.String("source", e.source), slog.Int("size", proto.Size(ev)))
	}

	kind := event.Kind(ev)
	if c, ok := rt.published[kind]; ok {
		c.Inc()
	} else {
		g.m.Published.WithLabelValues(e.source, kind).Inc()
	}
	if g.log.Enabled(r.Context(), slog.LevelDebug) {
		g.log.LogAttrs(r.Context(), slog.LevelDebug, "webhook event accepted",
			slog.String("source", e.source), slog.String("event_id", ev.GetId()),
			slog.String("type", ev.GetType()), slog.String("subject", ev.GetSubject()),
			slog.String("key", ev.GetIdempotencyKey()), slog.Bool("duplicate", duplicate))
	}
	buf.Reset() // the event holds copies: the body is no longer needed
	b := buf.AvailableBuffer()
	b = append(b, `{"id":`...)
	b = appendString(b, ev.GetId())
	b = append(b, `,"key":`...)
	b = appendString(b, ev.GetIdempotencyKey())
	if duplicate {
		b = append(b, `,"duplicate":true`...)
	}
	b = append(b, "}\n"...)
	return g.answer(w, http.StatusAccepted, b)
}

// secret returns the endpoint's secret and its state, logging a change of
// state once: a missing token would otherwise log on every request.
func (rt *route) secret(ctx context.Context) (string, int32) {
	s, err := rt.g.secrets.Get(ctx, rt.e.secret)
	state := secretOK
	switch {
	case errors.Is(err, secrets.ErrNotFound) || (err == nil && s.IsZero()):
		state = secretNotSet
	case err != nil:
		state = secretFailed
	}
	if rt.secretState.Load() != state && rt.secretState.Swap(state) != state {
		switch state {
		case secretOK:
			rt.g.log.LogAttrs(ctx, slog.LevelInfo, "webhook source enabled",
				slog.String("source", rt.e.source), slog.String("secret", rt.e.secret))
		case secretNotSet:
			rt.g.log.LogAttrs(ctx, slog.LevelWarn, "webhook source disabled: secret not set",
				slog.String("source", rt.e.source), slog.String("secret", rt.e.secret))
		case secretFailed:
			rt.g.log.LogAttrs(ctx, slog.LevelWarn, "reading a webhook secret failed",
				slog.String("source", rt.e.source), slog.String("secret", rt.e.secret), slog.Any("err", err))
		}
	}
	return s.Reveal(), state
}

// refusedTooLarge logs, once until it changes, that the store refuses
// events of this source as too large: every one is counted, but a sender
// retrying a large report must not flood the log.
func (rt *route) refusedTooLarge(ctx context.Context, ev *event.Event, err error) {
	size := int64(proto.Size(ev))
	for {
		old := rt.refused.Load()
		if old != 0 && old <= size {
			return
		}
		if !rt.refused.CompareAndSwap(old, size) {
			continue
		}
		if old == 0 {
			rt.g.log.LogAttrs(ctx, slog.LevelWarn, "event too large for the event store: raise the NATS server's max_payload",
				slog.String("source", rt.e.source), slog.String("event_id", ev.GetId()),
				slog.String("key", ev.GetIdempotencyKey()), slog.Int64("size", size), slog.Any("err", err))
		}
		return
	}
}

// ignoredCounter returns the series an ignored delivery is counted in: its
// *source.Ignored reason when the endpoint declares it, else "unsupported".
func (rt *route) ignoredCounter(err error) prometheus.Counter {
	if ig, ok := errors.AsType[*source.Ignored](err); ok {
		if c, ok := rt.ignoredBy[ig.Reason]; ok {
			return c
		}
	}
	return rt.ignored
}

func (rt *route) tooLarge() string {
	return "body larger than " + strconv.FormatInt(rt.g.maxBody, 10) + " bytes"
}

// reject answers a refused request and counts it. Rejections are logged
// at debug only: a misconfigured sender or a scan can send floods.
func (rt *route) reject(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, code, reason int, msg string) int {
	rt.rejected[reason].Inc()
	if rt.g.log.Enabled(r.Context(), slog.LevelDebug) {
		rt.g.log.LogAttrs(r.Context(), slog.LevelDebug, "webhook rejected",
			slog.String("source", rt.e.source), slog.Int("status", code),
			slog.String("reason", reasonLabels[reason]), slog.String("error", msg),
			slog.String("remote", r.RemoteAddr))
	}
	if code == http.StatusServiceUnavailable {
		w.Header()["Retry-After"] = rt.g.retryAfter
	}
	buf.Reset()
	return rt.g.answer(w, code, appendObject(buf.AvailableBuffer(), "error", msg))
}

// acceptsMediaType reports whether the Content-Type header's media type,
// parameters ignored, is one of types ("" standing for no header). It
// avoids mime.ParseMediaType, which allocates a map per call.
func acceptsMediaType(types []string, header string) bool {
	mt, _, _ := strings.Cut(header, ";")
	mt = strings.TrimSpace(mt)
	for _, t := range types {
		if strings.EqualFold(mt, t) {
			return true
		}
	}
	return false
}

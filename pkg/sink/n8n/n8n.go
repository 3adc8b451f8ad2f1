// Package n8n is the sink of the n8n-trigger: it POSTs events, as
// CloudEvents 1.0 structured JSON, to the n8n webhooks whose routes match
// them, one attempt per delivery.
//
// One Deliver posts to every matching route. A route that answered 2xx is
// remembered (in memory, per idempotency key) until the whole delivery
// succeeds, so a retry after a partial failure calls only the routes that
// failed. That memory does not survive a restart: for exactly-once per
// route across crashes, run one Sink (and one durable consumer, named
// with Route.ID) per route; the ledger then covers each route alone.
//
// Answers: 2xx is success; 404 (n8n's "The requested webhook \"POST
// <path>\" is not registered.": the workflow is inactive or gone) and
// every other 4xx but 429 are permanent, with n8n's message as the
// reason (401 and 403, a refused N8N_AUTH, are sink.Unauthorized); 429 and
// 503 keep Retry-After; other 5xx, timeouts and transport errors are
// transient.
//
// A route that needs auth while N8N_AUTH is not set runs dry: the sink
// logs what it would POST. N8N_AUTH is the header value for header auth,
// or user:password for basic auth; it never appears in a log or an error.
package n8n

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// Name is the consumer this sink runs in.
const Name = "n8n-trigger"

// DefaultTimeout bounds each POST when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// OutcomePosted: every matching route accepted the event (or some ran dry).
const OutcomePosted = "posted"

// Options configure a Sink.
type Options struct {
	// Routes are tried in order; an event goes to every one that matches.
	Routes []Route
	// Auth returns N8N_AUTH; it is called at each delivery that needs it,
	// so a rotated credential is used without a restart. Nil, a
	// secrets.ErrNotFound or an empty secret means routes that need auth
	// run dry; another error fails the delivery as transient.
	Auth func(ctx context.Context) (secrets.Secret, error)
	// Logger receives dry-run lines. Nil discards them.
	Logger *slog.Logger
	// HTTPClient sends the requests. Nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each POST. Zero means DefaultTimeout.
	Timeout time.Duration
}

// Sink implements sink.Sink for n8n. It is safe for concurrent use.
type Sink struct {
	routes  []Route
	auth    func(ctx context.Context) (secrets.Secret, error)
	log     *slog.Logger
	hc      *http.Client
	timeout time.Duration

	mu sync.Mutex
	// done holds, per idempotency key, the IDs of the routes that already
	// accepted the event during a delivery that has not fully succeeded.
	done map[string]map[string]bool
}

// maxPending bounds done: past it, the memory is dropped (a later retry
// may then call a route twice, which is what it would do without it).
const maxPending = 10000

var _ sink.Sink = (*Sink)(nil)

// New returns a Sink. It makes no call to n8n.
func New(o Options) *Sink {
	s := &Sink{
		routes:  o.Routes,
		auth:    o.Auth,
		log:     o.Logger,
		hc:      o.HTTPClient,
		timeout: o.Timeout,
		done:    make(map[string]map[string]bool),
	}
	if s.auth == nil {
		s.auth = func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, secrets.ErrNotFound }
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// Deliver POSTs the event to every matching route not yet done.
//
// Result.Fields holds, per route, "route.<id>" = "<HTTP status>" or
// "dry_run". No match gives OutcomeSkipped; routes that all ran dry give
// sink.OutcomeDryRun. The first failure stops the delivery: the error
// names the route's URL without user info, never the credential.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	ev := d.Event
	var matched []Route
	for _, r := range s.routes {
		if r.Match(ev) {
			matched = append(matched, r)
		}
	}
	if len(matched) == 0 {
		return sink.Result{Outcome: sink.OutcomeSkipped}, nil
	}
	body, err := Render(ev)
	if err != nil {
		return sink.Result{}, sink.Permanent(err)
	}
	key := ev.GetIdempotencyKey()
	res := sink.Result{Outcome: sink.OutcomeDryRun, Fields: map[string]string{}}
	var cred *secrets.Secret // read once, only if a route needs it
	for _, r := range matched {
		id := r.ID()
		if s.isDone(key, id) {
			res.Fields["route."+id] = "done"
			res.Outcome = OutcomePosted
			continue
		}
		needsAuth := r.Auth == AuthHeader || r.Auth == AuthBasic
		if needsAuth && cred == nil {
			c, err := s.credential(ctx)
			if err != nil {
				return sink.Result{}, err
			}
			cred = &c
		}
		if needsAuth && cred.IsZero() {
			s.dryRun(ctx, ev, r, body)
			res.Fields["route."+id] = sink.OutcomeDryRun
			continue
		}
		var c secrets.Secret
		if cred != nil {
			c = *cred
		}
		status, err := s.post(ctx, ev, r, c, body)
		if err != nil {
			return sink.Result{}, err
		}
		s.markDone(key, id)
		res.Fields["route."+id] = strconv.Itoa(status)
		res.Outcome = OutcomePosted
	}
	s.forget(key)
	return res, nil
}

func (s *Sink) credential(ctx context.Context) (secrets.Secret, error) {
	c, err := s.auth(ctx)
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return secrets.Secret{}, nil
	case err != nil:
		return secrets.Secret{}, sink.Transient(fmt.Errorf("n8n: read %s: %w", secrets.N8NAuth, err), 0)
	}
	return c, nil
}

func (s *Sink) isDone(key, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[key][id]
}

func (s *Sink) markDone(key, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.done) >= maxPending {
		clear(s.done)
	}
	if s.done[key] == nil {
		s.done[key] = make(map[string]bool)
	}
	s.done[key][id] = true
}

func (s *Sink) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.done, key)
}

// dryRun logs the request the sink would send, without the credential.
func (s *Sink) dryRun(ctx context.Context, ev *event.Event, r Route, body []byte) {
	attrs := []slog.Attr{
		slog.String("event_id", ev.GetId()),
		slog.String("route", r.ID()),
		slog.String("url", redactURL(r.URL)),
		slog.String("auth", r.Auth),
		slog.String("reason", secrets.N8NAuth+" not set"),
		slog.String("content_type", r.contentType()),
		slog.String("body", string(body)),
	}
	if r.Auth == AuthHeader {
		attrs = append(attrs, slog.String("header", r.Header))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would POST to n8n", attrs...)
}

// post sends body to r and classifies the answer. It returns the status of
// a 2xx answer.
func (s *Sink) post(ctx context.Context, ev *event.Event, r Route, cred secrets.Secret, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	target := redactURL(r.URL)
	scrub := func(msg string) string {
		msg = strings.Join(strings.Fields(msg), " ")
		if v := cred.Reveal(); v != "" {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
			// An echoed Authorization header carries the base64 form.
			msg = strings.ReplaceAll(msg, base64.StdEncoding.EncodeToString([]byte(v)), "[redacted]")
			if _, pw, ok := strings.Cut(v, ":"); ok && pw != "" && r.Auth == AuthBasic {
				msg = strings.ReplaceAll(msg, pw, "[redacted]")
			}
		}
		return msg
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return 0, sink.Permanent(fmt.Errorf("n8n: POST %s: %s", target, scrub(err.Error())))
	}
	req.Header.Set("Content-Type", r.contentType())
	req.Header.Set("User-Agent", "stoa-bridge-n8n-trigger")
	if tp := ev.GetTraceparent(); tp != "" {
		req.Header.Set("traceparent", tp)
	}
	switch r.Auth {
	case AuthHeader:
		req.Header.Set(r.Header, cred.Reveal())
	case AuthBasic:
		user, pw, ok := strings.Cut(cred.Reveal(), ":")
		if !ok {
			return 0, sink.Permanent(fmt.Errorf("n8n: POST %s: %s is not user:password, which basic auth needs", target, secrets.N8NAuth))
		}
		req.SetBasicAuth(user, pw)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a secret path; target is safe
		}
		return 0, sink.Transient(fmt.Errorf("n8n: POST %s: %s", target, scrub(err.Error())), 0)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	e := &StatusError{
		Code: resp.StatusCode,
		msg:  scrub(fmt.Sprintf("n8n: POST %s: %s: %s", target, resp.Status, describe(answer))),
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return 0, sink.Transient(e, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// n8n's webhook auth: 401 "Authorization is required!", 403
		// "Authorization data is wrong!". N8N_AUTH may have been rotated.
		return 0, sink.Unauthorized(e)
	default:
		return 0, sink.Permanent(e)
	}
}

// StatusError is an answer from n8n that was not 2xx. Its text is a
// dead-letter reason: one line, n8n's message, never the credential.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	msg  string
}

func (e *StatusError) Error() string { return e.msg }

// describe returns n8n's message from an error answer: the message and
// hint of its JSON error body ({"code":404,"message":…,"hint":…}), or the
// plain text it sends for failed auth ("Authorization data is wrong!").
func describe(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Hint    string `json:"hint"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		if e.Hint != "" {
			return e.Message + " (" + e.Hint + ")"
		}
		return e.Message
	}
	s := strings.TrimSpace(string(body))
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	if s == "" {
		return "no message"
	}
	return s
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redactURL drops user info and the query (either may carry a secret).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable url]"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "[redacted]"
	}
	return u.String()
}

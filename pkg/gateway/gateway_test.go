package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/gateway"
	"github.com/stoa-platform/bridge/pkg/gateway/gatewaytest"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/healthchecks"
)

const (
	token = "hc-6Jq2v9XbTz4LwP0sKd8R" // the configured HEALTHCHECKS_TOKEN
	path  = "/webhooks/healthchecks"
)

var fixtures = []string{"healthchecks-down.json", "healthchecks-up.json", "healthchecks-down-with-tags.json"}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// secretMap is a secrets.Provider over a map; Set rotates a value.
type secretMap struct {
	mu  sync.Mutex
	m   map[string]string
	err error // returned for every name when set: a failing store
}

func newSecrets(kv ...string) *secretMap {
	s := &secretMap{m: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.m[kv[i]] = kv[i+1]
	}
	return s
}

func (s *secretMap) Get(_ context.Context, name string) (secrets.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return secrets.Secret{}, s.err
	}
	v, ok := s.m[name]
	if !ok {
		return secrets.Secret{}, secrets.ErrNotFound
	}
	return secrets.New(v), nil
}

func (s *secretMap) Set(name, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = v
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a gateway behind a real HTTP server, with its logs and metrics.
type harness struct {
	srv  *httptest.Server
	g    *gateway.Gateway
	m    *metrics.Metrics
	logs *syncBuffer
}

func newHarness(t *testing.T, o gateway.Options) *harness {
	t.Helper()
	h := &harness{m: metrics.New(prometheus.NewRegistry()), logs: new(syncBuffer)}
	o.Metrics = h.m
	o.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Secrets == nil {
		o.Secrets = newSecrets(secrets.HealthchecksToken, token)
	}
	h.g = gateway.New(o)
	h.srv = httptest.NewServer(h.g.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

type request struct {
	method      string
	path        string
	auth        string // Authorization header; "-" for none
	contentType string // "" sends none
	body        []byte
	chunked     bool // hide the length: no Content-Length, chunked encoding
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (h *harness) do(t *testing.T, r request) response {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = path
	}
	var body io.Reader = bytes.NewReader(r.body)
	if r.chunked {
		body = io.MultiReader(body)
	}
	req, err := http.NewRequest(r.method, h.srv.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	switch r.auth {
	case "":
		req.Header.Set("Authorization", "Bearer "+token)
	case "-":
	default:
		req.Header.Set("Authorization", r.auth)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(b)}
}

func (h *harness) rejected(reason string) float64 {
	return testutil.ToFloat64(h.m.Rejected.WithLabelValues("healthchecks", reason))
}

func (h *harness) observed(t *testing.T, code string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.m.IngestDuration.WithLabelValues("healthchecks", code).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

var reasons = []string{"method", "disabled", "unauthorized", "content_type", "too_large", "malformed", "overloaded", "unavailable", "event_too_large"}

// checkNoLeak fails if the configured token, or a wrong one the test sent,
// shows up in the logs or an answer.
func checkNoLeak(t *testing.T, h *harness, res response, sent ...string) {
	t.Helper()
	var hdr strings.Builder
	_ = res.header.Write(&hdr)
	for _, s := range append([]string{token}, sent...) {
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("token %q appears in the logs:\n%s", s, h.logs)
		}
		if strings.Contains(res.body, s) || strings.Contains(hdr.String(), s) {
			t.Errorf("token %q appears in the answer: %s %s", s, hdr.String(), res.body)
		}
	}
}

func TestRejections(t *testing.T) {
	down := readFixture(t, "healthchecks-down.json")
	big := append(bytes.Repeat([]byte(" "), 4096), down...) // valid JSON, over a 1 KiB limit
	const wrong = "hc-not-the-token-at-all"

	tests := []struct {
		name       string
		opts       gateway.Options // Publisher defaults to a Recorder
		secrets    *secretMap      // defaults to HEALTHCHECKS_TOKEN=token
		req        request
		wantCode   int
		wantReason string // the "error" of the answer
		wantLabel  string // the Rejected reason label
	}{
		{
			name:     "GET",
			req:      request{method: http.MethodGet},
			wantCode: http.StatusMethodNotAllowed, wantReason: "method not allowed: use POST", wantLabel: "method",
		},
		{
			name:     "PUT with a valid body",
			req:      request{method: http.MethodPut, body: down},
			wantCode: http.StatusMethodNotAllowed, wantReason: "method not allowed: use POST", wantLabel: "method",
		},
		{
			name:     "token not configured",
			secrets:  newSecrets(),
			req:      request{body: down},
			wantCode: http.StatusServiceUnavailable, wantLabel: "disabled",
			wantReason: "healthchecks ingest is disabled: HEALTHCHECKS_TOKEN is not set",
		},
		{
			name:     "token configured empty",
			secrets:  newSecrets(secrets.HealthchecksToken, ""),
			req:      request{body: down, auth: "Bearer "},
			wantCode: http.StatusServiceUnavailable, wantLabel: "disabled",
			wantReason: "healthchecks ingest is disabled: HEALTHCHECKS_TOKEN is not set",
		},
		{
			name:     "secret store failing",
			secrets:  &secretMap{err: errors.New("vault: 500 internal error")},
			req:      request{body: down},
			wantCode: http.StatusServiceUnavailable, wantReason: "secret store unavailable", wantLabel: "unavailable",
		},
		{
			name:     "no token",
			req:      request{body: down, auth: "-"},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "wrong token",
			req:      request{body: down, auth: "Bearer " + wrong},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "token prefix",
			req:      request{body: down, auth: "Bearer " + token[:len(token)-1]},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "token without scheme",
			req:      request{body: down, auth: token},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "token as basic auth",
			req:      request{body: down, auth: "Basic " + token},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "wrong content type",
			req:      request{body: down, contentType: "text/plain"},
			wantCode: http.StatusUnsupportedMediaType, wantReason: "unsupported content type: send application/json", wantLabel: "content_type",
		},
		{
			name:     "form content type",
			req:      request{body: down, contentType: "application/x-www-form-urlencoded"},
			wantCode: http.StatusUnsupportedMediaType, wantReason: "unsupported content type: send application/json", wantLabel: "content_type",
		},
		{
			name:     "over the body limit with Content-Length",
			opts:     gateway.Options{MaxBodyBytes: 1024},
			req:      request{body: big},
			wantCode: http.StatusRequestEntityTooLarge, wantReason: "body larger than 1024 bytes", wantLabel: "too_large",
		},
		{
			name:     "over the body limit without Content-Length",
			opts:     gateway.Options{MaxBodyBytes: 1024},
			req:      request{body: big, chunked: true},
			wantCode: http.StatusRequestEntityTooLarge, wantReason: "body larger than 1024 bytes", wantLabel: "too_large",
		},
		{
			name:     "malformed JSON",
			req:      request{body: down[:len(down)-2]},
			wantCode: http.StatusBadRequest, wantReason: "healthchecks: body is not valid JSON", wantLabel: "malformed",
		},
		{
			name:     "status paused",
			req:      request{body: bytes.Replace(down, []byte(`"status": "down"`), []byte(`"status": "paused"`), 1)},
			wantCode: http.StatusBadRequest, wantReason: `healthchecks: "status" is neither "down" nor "up"`, wantLabel: "malformed",
		},
		{
			name:     "empty body",
			req:      request{},
			wantCode: http.StatusBadRequest, wantReason: "healthchecks: body is not valid JSON", wantLabel: "malformed",
		},
		{
			name:     "publisher error",
			opts:     gateway.Options{Publisher: gatewaytest.Failing{}},
			req:      request{body: down},
			wantCode: http.StatusServiceUnavailable, wantReason: "event store unavailable", wantLabel: "unavailable",
		},
		{
			name: "event over the store's message limit",
			opts: gateway.Options{Publisher: gatewaytest.Failing{
				Err: fmt.Errorf("service: %w: %w", gateway.ErrEventTooLarge, errors.New("nats: maximum payload exceeded")),
			}},
			req:      request{body: down},
			wantCode: http.StatusRequestEntityTooLarge, wantLabel: "event_too_large",
			wantReason: "event too large for the event store (raise NATS max_payload)",
		},
		{
			name:     "publisher never acknowledges",
			opts:     gateway.Options{Publisher: gatewaytest.NewBlocking(), PublishTimeout: 20 * time.Millisecond},
			req:      request{body: down},
			wantCode: http.StatusServiceUnavailable, wantReason: "event store unavailable", wantLabel: "unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := new(gatewaytest.Recorder)
			o := tt.opts
			if o.Publisher == nil {
				o.Publisher = rec
			}
			if tt.secrets != nil {
				o.Secrets = tt.secrets
			}
			h := newHarness(t, o)
			res := h.do(t, tt.req)

			if res.code != tt.wantCode {
				t.Errorf("status = %d, want %d (body %s)", res.code, tt.wantCode, res.body)
			}
			want, _ := json.Marshal(map[string]string{"error": tt.wantReason})
			if res.body != string(want)+"\n" {
				t.Errorf("body = %q, want %q", res.body, string(want)+"\n")
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			wantRetry := ""
			if tt.wantCode == http.StatusServiceUnavailable {
				wantRetry = "5"
			}
			if got := res.header.Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, wantRetry)
			}
			if tt.wantCode == http.StatusMethodNotAllowed {
				if got := res.header.Get("Allow"); got != http.MethodPost {
					t.Errorf("Allow = %q, want POST", got)
				}
			}
			if evs := rec.Events(); len(evs) != 0 {
				t.Errorf("published %d events, want none: %v", len(evs), evs)
			}
			for _, r := range reasons {
				want := 0.0
				if r == tt.wantLabel {
					want = 1
				}
				if got := h.rejected(r); got != want {
					t.Errorf("rejected{reason=%q} = %v, want %v", r, got, want)
				}
			}
			if got := testutil.ToFloat64(h.m.Received.WithLabelValues("healthchecks")); got != 1 {
				t.Errorf("received = %v, want 1", got)
			}
			if got := h.observed(t, strconv.Itoa(tt.wantCode)); got != 1 {
				t.Errorf("ingest duration observations for %d = %d, want 1", tt.wantCode, got)
			}
			if got := testutil.ToFloat64(h.m.InFlight); got != 0 {
				t.Errorf("in flight = %v after the answer, want 0", got)
			}
			checkNoLeak(t, h, res, wrong)
		})
	}
}

func TestPublishErrorLoggedWithEventID(t *testing.T) {
	h := newHarness(t, gateway.Options{Publisher: gatewaytest.Failing{}})
	res := h.do(t, request{body: readFixture(t, "healthchecks-down.json")})
	if res.code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", res.code)
	}
	var line struct {
		Level, Msg, EventID, Key, Err string
	}
	for l := range strings.Lines(h.logs.String()) {
		var raw map[string]any
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if raw["level"] == "WARN" {
			line.Level, _ = raw["level"].(string)
			line.Msg, _ = raw["msg"].(string)
			line.EventID, _ = raw["event_id"].(string)
			line.Key, _ = raw["key"].(string)
			line.Err, _ = raw["err"].(string)
		}
	}
	if line.Level == "" {
		t.Fatalf("no warning logged:\n%s", h.logs)
	}
	if line.EventID == "" || line.Err != gatewaytest.ErrUnavailable.Error() ||
		line.Key != "check:803f680d-e89b-492b-82ef-2be7b774a92d:down:2025-06-03T05:16:41Z" {
		t.Errorf("warning = %+v, want the event id, key and publish error", line)
	}
}

// TestEventTooLargeLoggedOnce: refusals of events too large for the store
// are each counted but logged once, and again only after an event as large
// was stored (max_payload raised) and then one is refused again.
func TestEventTooLargeLoggedOnce(t *testing.T) {
	small, large := readFixture(t, "healthchecks-down-with-tags.json"), readFixture(t, "healthchecks-down.json")
	var limit atomic.Int64   // the store's message limit, in encoded event bytes
	sizes := map[int]int64{} // by body length
	pub := gateway.PublishFunc(func(_ context.Context, ev *event.Event) (bool, error) {
		if n := int64(proto.Size(ev)); n > limit.Load() {
			return false, fmt.Errorf("store: %d bytes: %w", n, gateway.ErrEventTooLarge)
		}
		return false, nil
	})
	h := newHarness(t, gateway.Options{Publisher: pub})
	for _, body := range [][]byte{small, large} {
		ev, err := healthchecks.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		sizes[len(body)] = int64(proto.Size(ev))
	}
	if sizes[len(small)] >= sizes[len(large)] {
		t.Fatalf("event sizes: small %d, large %d; want small < large", sizes[len(small)], sizes[len(large)])
	}

	const warn = `"msg":"event too large for the event store: raise the NATS server's max_payload"`
	const again = `"msg":"the event store takes large events again"`
	steps := []struct {
		name      string
		limit     int64
		body      []byte
		wantCode  int
		wantWarns int // in the whole log so far
		wantAgain int
	}{
		{"large refused", sizes[len(small)], large, http.StatusRequestEntityTooLarge, 1, 0},
		{"large refused again", sizes[len(small)], large, http.StatusRequestEntityTooLarge, 1, 0},
		{"small stored: the limit may not have changed", sizes[len(small)], small, http.StatusAccepted, 1, 0},
		{"large refused a third time", sizes[len(small)], large, http.StatusRequestEntityTooLarge, 1, 0},
		{"limit raised: large stored", sizes[len(large)], large, http.StatusAccepted, 1, 1},
		{"large stored again", sizes[len(large)], large, http.StatusAccepted, 1, 1},
		{"limit lowered: large refused", sizes[len(small)], large, http.StatusRequestEntityTooLarge, 2, 1},
	}
	for _, st := range steps {
		limit.Store(st.limit)
		res := h.do(t, request{body: st.body})
		if res.code != st.wantCode {
			t.Fatalf("%s: status = %d, want %d (%s)", st.name, res.code, st.wantCode, res.body)
		}
		if got := res.header.Get("Retry-After"); got != "" {
			t.Errorf("%s: Retry-After = %q, want none", st.name, got)
		}
		logs := h.logs.String()
		if n := strings.Count(logs, warn); n != st.wantWarns {
			t.Errorf("%s: too large warned %d times, want %d:\n%s", st.name, n, st.wantWarns, logs)
		}
		if n := strings.Count(logs, again); n != st.wantAgain {
			t.Errorf("%s: takes large events again logged %d times, want %d:\n%s", st.name, n, st.wantAgain, logs)
		}
	}
	if got := h.rejected("event_too_large"); got != 4 {
		t.Errorf("rejected{event_too_large} = %v, want 4", got)
	}
	if got := h.rejected("unavailable"); got != 0 {
		t.Errorf("rejected{unavailable} = %v, want 0", got)
	}
	if strings.Contains(h.logs.String(), "publishing a webhook event failed") {
		t.Errorf("a too large event was logged as a publish failure:\n%s", h.logs)
	}
}

func TestDisabledLoggedOnceAndReported(t *testing.T) {
	// Only the Healthchecks token is missing: the other sources are enabled.
	sec := newSecrets(secrets.GitHubWebhookSecret, "gh-secret", secrets.TrivyToken, "trivy-token")
	h := newHarness(t, gateway.Options{Secrets: sec, Publisher: new(gatewaytest.Recorder)})
	down := readFixture(t, "healthchecks-down.json")
	const reason = "healthchecks ingest is disabled: HEALTHCHECKS_TOKEN is not set"

	if diff := cmp.Diff([]string{reason}, h.g.Disabled(context.Background())); diff != "" {
		t.Errorf("Disabled() mismatch (-want +got):\n%s", diff)
	}
	for range 3 {
		if res := h.do(t, request{body: down}); res.code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", res.code)
		}
	}
	if n := strings.Count(h.logs.String(), `"msg":"webhook source disabled: secret not set","source":"healthchecks","secret":"HEALTHCHECKS_TOKEN"`); n != 1 {
		t.Errorf("disabled logged %d times, want once:\n%s", n, h.logs)
	}

	sec.Set(secrets.HealthchecksToken, token)
	if res := h.do(t, request{body: down}); res.code != http.StatusAccepted {
		t.Fatalf("after setting the token: status = %d, want 202 (%s)", res.code, res.body)
	}
	if n := strings.Count(h.logs.String(), `"msg":"webhook source enabled"`); n != 1 {
		t.Errorf("enabled logged %d times, want once:\n%s", n, h.logs)
	}
	if got := h.g.Disabled(context.Background()); len(got) != 0 {
		t.Errorf("Disabled() = %q after setting the token, want none", got)
	}
}

func TestTokenRotation(t *testing.T) {
	sec := newSecrets(secrets.HealthchecksToken, token)
	h := newHarness(t, gateway.Options{Secrets: sec, Publisher: new(gatewaytest.Recorder)})
	const rotated = "hc-rotated-Yc81nB3w"
	sec.Set(secrets.HealthchecksToken, rotated)

	if res := h.do(t, request{body: readFixture(t, "healthchecks-down.json")}); res.code != http.StatusUnauthorized {
		t.Errorf("old token: status = %d, want 401", res.code)
	}
	if res := h.do(t, request{body: readFixture(t, "healthchecks-down.json"), auth: "bearer " + rotated}); res.code != http.StatusAccepted {
		t.Errorf("new token: status = %d, want 202 (%s)", res.code, res.body)
	}
}

func TestOverloaded(t *testing.T) {
	pub := gatewaytest.NewBlocking()
	h := newHarness(t, gateway.Options{Publisher: pub, MaxInFlight: 1, RetryAfter: 1500 * time.Millisecond})
	down, up := readFixture(t, "healthchecks-down.json"), readFixture(t, "healthchecks-up.json")

	first := make(chan response, 1)
	go func() { first <- h.do(t, request{body: down}) }()
	waitFor(t, "the first publish to be held", func() bool { return pub.Waiting() == 1 })
	if got := testutil.ToFloat64(h.m.InFlight); got != 1 {
		t.Errorf("in flight = %v while a publish is held, want 1", got)
	}

	res := h.do(t, request{body: up})
	if res.code != http.StatusServiceUnavailable || res.body != `{"error":"overloaded"}`+"\n" {
		t.Errorf("beyond the limit: %d %q, want 503 overloaded", res.code, res.body)
	}
	if got := res.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.5s rounded up)", got)
	}
	if got := h.rejected("overloaded"); got != 1 {
		t.Errorf("rejected{overloaded} = %v, want 1", got)
	}

	pub.Release()
	if res := <-first; res.code != http.StatusAccepted {
		t.Fatalf("held request: status = %d, want 202 (%s)", res.code, res.body)
	}
	evs := pub.Events()
	if len(evs) != 1 || evs[0].GetType() != event.TypePrefix+event.KindCheckDown {
		t.Errorf("published %v, want only the first request's check.down", evs)
	}
	if got := testutil.ToFloat64(h.m.InFlight); got != 0 {
		t.Errorf("in flight = %v after the answers, want 0", got)
	}
	// The slot is free again.
	if res := h.do(t, request{body: up}); res.code != http.StatusAccepted {
		t.Errorf("after release: status = %d, want 202 (%s)", res.code, res.body)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline: it waits for a condition, never for a fixed time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type accepted struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Duplicate bool   `json:"duplicate"`
}

func decodeAccepted(t *testing.T, res response) accepted {
	t.Helper()
	if res.code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202 (%s)", res.code, res.body)
	}
	if !strings.HasSuffix(res.body, "}\n") || strings.Count(res.body, "\n") != 1 {
		t.Errorf("body %q is not one line of JSON", res.body)
	}
	dec := json.NewDecoder(strings.NewReader(res.body))
	dec.DisallowUnknownFields()
	var a accepted
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("body %q: %v", res.body, err)
	}
	return a
}

func TestAccepted(t *testing.T) {
	contentTypes := []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"}
	for _, file := range fixtures {
		for _, ct := range contentTypes {
			t.Run(file+"/content-type="+ct, func(t *testing.T) {
				rec := new(gatewaytest.Recorder)
				h := newHarness(t, gateway.Options{Publisher: rec})
				body := readFixture(t, file)
				a := decodeAccepted(t, h.do(t, request{body: body, contentType: ct}))

				want, err := healthchecks.Parse(body)
				if err != nil {
					t.Fatal(err)
				}
				evs := rec.Events()
				if len(evs) != 1 {
					t.Fatalf("published %d events, want 1", len(evs))
				}
				got := evs[0]
				if a.ID != got.GetId() || a.Key != got.GetIdempotencyKey() || a.Duplicate {
					t.Errorf("answer %+v does not name the published event (id %s, key %s)", a, got.GetId(), got.GetIdempotencyKey())
				}
				want.Id = got.GetId() // fresh per parse
				if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
					t.Errorf("published event mismatch (-want +got):\n%s", diff)
				}
				kind := event.Kind(want)
				if n := testutil.ToFloat64(h.m.Published.WithLabelValues("healthchecks", kind)); n != 1 {
					t.Errorf("published{kind=%s} = %v, want 1", kind, n)
				}
				if n := h.observed(t, "202"); n != 1 {
					t.Errorf("ingest duration observations for 202 = %d, want 1", n)
				}
				for _, r := range reasons {
					if n := h.rejected(r); n != 0 {
						t.Errorf("rejected{reason=%q} = %v, want 0", r, n)
					}
				}
				if !strings.Contains(h.logs.String(), `"event_id":"`+got.GetId()+`"`) {
					t.Errorf("no log line with the event id:\n%s", h.logs)
				}
				checkNoLeak(t, h, response{body: a.ID + a.Key, header: http.Header{}})
			})
		}
	}
}

func TestDuplicate(t *testing.T) {
	rec := new(gatewaytest.Recorder)
	h := newHarness(t, gateway.Options{Publisher: rec})
	body := readFixture(t, "healthchecks-down.json")

	first := decodeAccepted(t, h.do(t, request{body: body}))
	// Healthchecks' retry of a slow delivery: the same body again.
	again := decodeAccepted(t, h.do(t, request{body: body}))
	if first.Duplicate || !again.Duplicate {
		t.Errorf("duplicate flags = %t then %t, want false then true", first.Duplicate, again.Duplicate)
	}
	if first.Key != again.Key {
		t.Errorf("keys differ: %q then %q", first.Key, again.Key)
	}
	if n := len(rec.Events()); n != 1 {
		t.Errorf("stored %d events, want 1", n)
	}
}

func TestUnknownPath(t *testing.T) {
	h := newHarness(t, gateway.Options{Publisher: new(gatewaytest.Recorder)})
	for _, p := range []string{"/webhooks/unknown", "/webhooks/healthchecks/x", "/"} {
		if res := h.do(t, request{path: p, body: readFixture(t, "healthchecks-down.json")}); res.code != http.StatusNotFound {
			t.Errorf("POST %s: status = %d, want 404", p, res.code)
		}
	}
}

func TestNewServer(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Gateway
		want [4]time.Duration // read header, read, write, idle
	}{
		{"defaults", config.Gateway{}, [4]time.Duration{5 * time.Second, 30 * time.Second, 40 * time.Second, 120 * time.Second}},
		{"configured", config.Gateway{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second},
			[4]time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.NotFoundHandler()
			s := gateway.NewServer("127.0.0.1:0", h, tt.cfg)
			got := [4]time.Duration{s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout}
			if got != tt.want {
				t.Errorf("timeouts = %v, want %v", got, tt.want)
			}
			if s.Addr != "127.0.0.1:0" || s.Handler == nil || s.MaxHeaderBytes == 0 {
				t.Errorf("server = %+v, want addr, handler and a header limit set", s)
			}
		})
	}
}

// FuzzHandler sends any body with any content type through the handler: it
// never panics, never answers 5xx (the publisher never fails), answers one
// line of JSON, and publishes exactly what healthchecks.Parse makes, only
// when it answers 202.
func FuzzHandler(f *testing.F) {
	for _, file := range fixtures {
		f.Add(readFixture(f, file), "")
		f.Add(readFixture(f, file), "application/json; charset=utf-8")
	}
	f.Add([]byte(`{"status":"up"}`), "text/plain")
	f.Add([]byte("\xff\xfe"), "application/json")
	f.Add([]byte(`[]`), ";")

	rec := new(gatewaytest.Recorder)
	g := gateway.New(gateway.Options{
		Publisher:    rec,
		Secrets:      newSecrets(secrets.HealthchecksToken, token),
		MaxBodyBytes: 64 << 10,
	})
	handler := g.Handler()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		before := len(rec.Events())
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)

		res := w.Body.String()
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, res)
		}
		if strings.Count(res, "\n") != 1 || !strings.HasSuffix(res, "\n") || !json.Valid([]byte(res)) {
			t.Fatalf("answer %q is not one line of JSON", res)
		}
		evs := rec.Events()
		switch w.Code {
		case http.StatusAccepted:
			var a accepted
			if err := json.Unmarshal([]byte(res), &a); err != nil {
				t.Fatal(err)
			}
			want, err := healthchecks.Parse(body)
			if err != nil {
				t.Fatalf("202 for a body Parse refuses: %v", err)
			}
			if a.Duplicate {
				if len(evs) != before {
					t.Fatalf("a duplicate was stored")
				}
				return
			}
			if len(evs) != before+1 {
				t.Fatalf("202 but %d events stored, want 1", len(evs)-before)
			}
			got := evs[len(evs)-1]
			want.Id = got.GetId()
			if !proto.Equal(want, got) || a.Key != got.GetIdempotencyKey() {
				t.Fatalf("published %v, want %v", got, want)
			}
		case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
			if len(evs) != before {
				t.Fatalf("status %d but an event was published", w.Code)
			}
		default:
			t.Fatalf("unexpected status %d: %s", w.Code, res)
		}
	})
}

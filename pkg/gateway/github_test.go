package gateway_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/eventtest"
	"github.com/stoa-platform/bridge/pkg/gateway"
	"github.com/stoa-platform/bridge/pkg/gateway/gatewaytest"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/github"
)

// A flag of its own: other sources' tests in this package may define -update.
var updateGitHub = flag.Bool("update-github", false, "rewrite testdata/github-*.golden.json")

const (
	ghSecret = "gh-whsec-Qm4t7Zp2LkV9sB1x" // the configured GITHUB_WEBHOOK_SECRET
	ghPath   = "/webhooks/github"
	formType = "application/x-www-form-urlencoded"
)

var ghIgnoredReasons = []string{"ping", "release_action", "draft", "event_type", "unsupported"}

func ghSign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// ghFixtures lists every GitHub webhook body in testdata.
func ghFixtures(t testing.TB) []string {
	t.Helper()
	return eventtest.Fixtures(t, "github-*.json")
}

// ghEvent is the X-GitHub-Event of a fixture: github-<event>.<action>….json.
func ghEvent(file string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(file, "github-"), ".")
	return name
}

// delivery is one GitHub webhook request.
type delivery struct {
	event       string // X-GitHub-Event; "-" sends none
	id          string // X-GitHub-Delivery; "" picks one, "-" sends none
	contentType string // "" is application/json; "-" sends none
	form        bool   // send the body as payload=<body>
	body        []byte
	// sig is X-Hub-Signature-256: "" signs the sent body with ghSecret,
	// "-" sends none.
	sig    string
	header http.Header // more headers
}

func (d delivery) request(t testing.TB, target string) *http.Request {
	t.Helper()
	body := d.body
	if d.form {
		body = []byte(url.Values{"payload": {string(body)}}.Encode())
		if d.contentType == "" {
			d.contentType = formType
		}
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range d.header {
		req.Header[k] = v
	}
	set := func(k, v, dflt string) {
		switch v {
		case "-":
		case "":
			req.Header.Set(k, dflt)
		default:
			req.Header.Set(k, v)
		}
	}
	set("X-GitHub-Event", d.event, "release")
	set("X-GitHub-Delivery", d.id, "0f5c2a40-0000-11ef-8000-"+fmt.Sprintf("%012x", time.Now().UnixNano()&0xffffffffffff))
	set("Content-Type", d.contentType, "application/json")
	set("X-Hub-Signature-256", d.sig, ghSign(ghSecret, body))
	req.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	return req
}

func newGitHubHarness(t *testing.T, o gateway.Options) *harness {
	t.Helper()
	if o.Secrets == nil {
		o.Secrets = newSecrets(secrets.GitHubWebhookSecret, ghSecret)
	}
	return newHarness(t, o)
}

func (h *harness) deliver(t *testing.T, d delivery) response {
	t.Helper()
	res, err := h.srv.Client().Do(d.request(t, h.srv.URL+ghPath))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(b)}
}

// checkGitHubMetrics checks that exactly the named ignored and rejected
// series moved, by one.
func checkGitHubMetrics(t *testing.T, h *harness, ignored, rejected string) {
	t.Helper()
	for _, r := range ghIgnoredReasons {
		want := map[bool]float64{true: 1}[r == ignored]
		if got := testutil.ToFloat64(h.m.Ignored.WithLabelValues("github", r)); got != want {
			t.Errorf("ignored{reason=%q} = %v, want %v", r, got, want)
		}
	}
	for _, r := range reasons {
		want := map[bool]float64{true: 1}[r == rejected]
		if got := testutil.ToFloat64(h.m.Rejected.WithLabelValues("github", r)); got != want {
			t.Errorf("rejected{reason=%q} = %v, want %v", r, got, want)
		}
	}
}

// TestGitHubFixtures sends every GitHub fixture, signed, as JSON and as a
// form, and checks the answer, what was published and the metrics.
func TestGitHubFixtures(t *testing.T) {
	tests := map[string]struct {
		code   int
		golden string // the published event; "" publishes none
		reason string // the ignored reason
		answer string // the "ignored" text
	}{
		"github-release.published.json":   {code: 202, golden: "github-release.published.golden.json"},
		"github-release.published.2.json": {code: 202, golden: "github-release.published.2.golden.json"},
		"github-release.released.json":    {code: 202, golden: "github-release.released.golden.json"},
		"github-release.created.json":     {code: 200, reason: "release_action", answer: "github: release action created: nothing to do"},
		"github-release.created.2.json":   {code: 200, reason: "release_action", answer: "github: release action created: nothing to do"},
		"github-release.deleted.json":     {code: 200, reason: "release_action", answer: "github: release action deleted: nothing to do"},
		"github-release.edited.json":      {code: 200, reason: "release_action", answer: "github: release action edited: nothing to do"},
		"github-release.prereleased.json": {code: 200, reason: "release_action", answer: "github: release action prereleased: nothing to do"},
		"github-ping.json":                {code: 200, reason: "ping", answer: "github: ping: nothing to do"},
		"github-ping.2.json":              {code: 200, reason: "ping", answer: "github: ping: nothing to do"},
		"github-ping.app.json":            {code: 200, reason: "ping", answer: "github: ping: nothing to do"},
	}
	for _, file := range ghFixtures(t) {
		for _, form := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/form=%t", file, form), func(t *testing.T) {
				tt, ok := tests[file]
				if !ok {
					t.Fatalf("no expectation for fixture %s: add it to the table", file)
				}
				rec := new(gatewaytest.Recorder)
				h := newGitHubHarness(t, gateway.Options{Publisher: rec})
				res := h.deliver(t, delivery{event: ghEvent(file), body: readFixture(t, file), form: form})

				if res.code != tt.code {
					t.Fatalf("status = %d, want %d (%s)", res.code, tt.code, res.body)
				}
				evs := rec.Events()
				if tt.golden == "" {
					want, _ := json.Marshal(map[string]string{"ignored": tt.answer})
					if res.body != string(want)+"\n" {
						t.Errorf("answer = %q, want %q", res.body, string(want)+"\n")
					}
					if len(evs) != 0 {
						t.Errorf("published %d events, want none", len(evs))
					}
					checkGitHubMetrics(t, h, tt.reason, "")
					return
				}
				a := decodeAccepted(t, res)
				if len(evs) != 1 {
					t.Fatalf("published %d events, want 1", len(evs))
				}
				if a.ID != evs[0].GetId() || a.Key != evs[0].GetIdempotencyKey() || a.Duplicate {
					t.Errorf("answer %+v does not name the published event (id %s, key %s)", a, evs[0].GetId(), evs[0].GetIdempotencyKey())
				}
				eventtest.Check(t, filepath.Join("testdata", tt.golden), eventtest.Golden(t, evs[0]), *updateGitHub, "update-github")
				if n := testutil.ToFloat64(h.m.Published.WithLabelValues("github", event.KindReleasePublished)); n != 1 {
					t.Errorf("published{kind=release.published} = %v, want 1", n)
				}
				checkGitHubMetrics(t, h, "", "")
				checkNoLeak(t, h, res, ghSecret)
			})
		}
	}
}

// mutate returns a fixture with edit applied to its decoded JSON.
func mutate(t testing.TB, file string, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFixture(t, file), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGitHubDeliveries(t *testing.T) {
	published := readFixture(t, "github-release.published.json")
	releaseField := func(k string, v any) []byte {
		return mutate(t, "github-release.published.json", func(m map[string]any) { m["release"].(map[string]any)[k] = v })
	}
	big := append(bytes.Repeat([]byte(" "), 4096), published...)

	tests := []struct {
		name       string
		opts       gateway.Options
		secrets    *secretMap
		d          delivery
		wantCode   int
		wantAnswer string // a substring of the answer
		published  bool
		prerelease bool
		ignored    string // the ignored reason label
		rejected   string // the rejected reason label
	}{
		{
			name:     "GitHub Enterprise Server",
			d:        delivery{body: published, header: http.Header{"X-Github-Enterprise-Version": {"3.14.2"}, "X-Github-Enterprise-Host": {"github.example.com"}}},
			wantCode: 202, wantAnswer: `"key":"release:codertocat/hello-world@0.0.1"`, published: true,
		},
		{
			name: "GitHub App delivery",
			d: delivery{body: mutate(t, "github-release.published.json", func(m map[string]any) {
				m["installation"] = map[string]any{"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
			}), header: http.Header{"X-Github-Hook-Installation-Target-Type": {"integration"}}},
			wantCode: 202, wantAnswer: `"key":"release:codertocat/hello-world@0.0.1"`, published: true,
		},
		{
			name:     "published pre-release",
			d:        delivery{body: releaseField("prerelease", true)},
			wantCode: 202, wantAnswer: `"key":"release:codertocat/hello-world@0.0.1#prerelease"`, published: true, prerelease: true,
		},
		{
			name:     "JSON with a charset",
			d:        delivery{body: published, contentType: "application/json; charset=utf-8"},
			wantCode: 202, wantAnswer: `"key":`, published: true,
		},
		{
			name:     "draft",
			d:        delivery{body: releaseField("draft", true)},
			wantCode: 200, wantAnswer: `{"ignored":"github: draft release: nothing to do"}`, ignored: "draft",
		},
		{
			name: "unpublished",
			d: delivery{body: mutate(t, "github-release.published.json", func(m map[string]any) {
				m["action"] = "unpublished"
			})},
			wantCode: 200, wantAnswer: `{"ignored":"github: release action unpublished: nothing to do"}`, ignored: "release_action",
		},
		{
			name:     "push",
			d:        delivery{event: "push", body: []byte(`{"ref":"refs/heads/main"}`)},
			wantCode: 200, wantAnswer: `{"ignored":"github: event type \"push\" is not handled"}`, ignored: "event_type",
		},
		{
			name:     "no X-GitHub-Event",
			d:        delivery{event: "-", body: published},
			wantCode: 400, wantAnswer: `{"error":"github: the X-GitHub-Event header is missing"}`, rejected: "malformed",
		},
		{
			name:     "no X-GitHub-Delivery",
			d:        delivery{id: "-", body: published},
			wantCode: 400, wantAnswer: `{"error":"github: the X-GitHub-Delivery header is missing"}`, rejected: "malformed",
		},
		{
			name:     "malformed JSON",
			d:        delivery{body: published[:100]},
			wantCode: 400, wantAnswer: `{"error":"github: body is not valid JSON"}`, rejected: "malformed",
		},
		{
			name:     "form without payload",
			d:        delivery{contentType: formType, body: []byte("release=0.0.1")},
			wantCode: 400, wantAnswer: `{"error":"github: the form has no payload field"}`, rejected: "malformed",
		},
		{
			name:     "text/plain",
			d:        delivery{contentType: "text/plain", body: published},
			wantCode: 415, wantAnswer: `{"error":"unsupported content type: send application/json or application/x-www-form-urlencoded"}`, rejected: "content_type",
		},
		{
			name:     "no Content-Type",
			d:        delivery{contentType: "-", body: published},
			wantCode: 415, wantAnswer: `unsupported content type`, rejected: "content_type",
		},
		{
			name:     "over the body limit",
			opts:     gateway.Options{MaxBodyBytes: 1024},
			d:        delivery{body: big},
			wantCode: 413, wantAnswer: `{"error":"body larger than 1024 bytes"}`, rejected: "too_large",
		},
		{
			name:     "secret not set",
			secrets:  newSecrets(secrets.HealthchecksToken, token),
			d:        delivery{body: published},
			wantCode: 503, wantAnswer: `{"error":"github ingest is disabled: GITHUB_WEBHOOK_SECRET is not set"}`, rejected: "disabled",
		},
		{
			name:     "event store down",
			opts:     gateway.Options{Publisher: gatewaytest.Failing{}},
			d:        delivery{body: published},
			wantCode: 503, wantAnswer: `{"error":"event store unavailable"}`, rejected: "unavailable",
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
			h := newGitHubHarness(t, o)
			res := h.deliver(t, tt.d)

			if res.code != tt.wantCode || !strings.Contains(res.body, tt.wantAnswer) {
				t.Errorf("answer = %d %q, want %d containing %q", res.code, res.body, tt.wantCode, tt.wantAnswer)
			}
			evs := rec.Events()
			if got := len(evs) == 1; got != tt.published || len(evs) > 1 {
				t.Fatalf("published %d events, want published %t", len(evs), tt.published)
			}
			if tt.published {
				rp := evs[0].GetReleasePublished()
				if rp.GetPrerelease() != tt.prerelease || rp.GetOrigin() != "webhook" || evs[0].GetSubject() != "Codertocat/Hello-World" {
					t.Errorf("published %v, want prerelease %t, origin webhook, subject Codertocat/Hello-World", evs[0], tt.prerelease)
				}
			}
			checkGitHubMetrics(t, h, tt.ignored, tt.rejected)
			checkNoLeak(t, h, res, ghSecret)
		})
	}
}

// TestGitHubSignature checks every way a signature can be wrong: 401,
// nothing published, neither the secret nor the signature in the logs or
// the answer.
func TestGitHubSignature(t *testing.T) {
	body := readFixture(t, "github-release.published.json")
	good := ghSign(ghSecret, body)
	tests := []struct {
		name     string
		d        delivery
		wantCode int
	}{
		{"valid", delivery{body: body, sig: good}, 202},
		{"valid, form-encoded", delivery{body: body, form: true}, 202},
		{"wrong secret", delivery{body: body, sig: ghSign("gh-whsec-wrong", body)}, 401},
		{"truncated", delivery{body: body, sig: good[:len(good)-8]}, 401},
		{"sha1= only", delivery{body: body, sig: "-", header: http.Header{"X-Hub-Signature": {"sha1=" + strings.Repeat("ab", 20)}}}, 401},
		{"sha1= in X-Hub-Signature-256", delivery{body: body, sig: "sha1=" + good[len("sha256="):len("sha256=")+40]}, 401},
		{"missing", delivery{body: body, sig: "-"}, 401},
		{"empty", delivery{body: body, sig: "sha256="}, 401},
		{"body altered after signing", delivery{body: bytes.Replace(body, []byte(`"0.0.1"`), []byte(`"9.9.9"`), 1), sig: good}, 401},
		{"form signed over its JSON, not the raw body", delivery{body: body, form: true, sig: good}, 401},
		{"signature of another delivery", delivery{body: body, sig: ghSign(ghSecret, readFixture(t, "github-release.released.json"))}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := new(gatewaytest.Recorder)
			h := newGitHubHarness(t, gateway.Options{Publisher: rec})
			res := h.deliver(t, tt.d)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%s)", res.code, tt.wantCode, res.body)
			}
			wantEvents, rejected := 1, ""
			if tt.wantCode == http.StatusUnauthorized {
				wantEvents, rejected = 0, "unauthorized"
				if res.body != `{"error":"missing or invalid credentials"}`+"\n" {
					t.Errorf("answer = %q, want the 401 reason", res.body)
				}
			}
			if n := len(rec.Events()); n != wantEvents {
				t.Errorf("published %d events, want %d", n, wantEvents)
			}
			checkGitHubMetrics(t, h, "", rejected)
			sent := []string{ghSecret}
			if s := tt.d.sig; len(s) > len("sha256=") && s != "-" {
				sent = append(sent, s, s[len("sha256="):])
			}
			checkNoLeak(t, h, res, sent...)
		})
	}
}

// TestGitHubDuplicates runs the gateway on the real bus: GitHub's redelivery
// of one delivery, and its two deliveries for one release, each leave one
// event on the stream.
func TestGitHubDuplicates(t *testing.T) {
	tests := []struct {
		name  string
		first delivery
		then  delivery
	}{
		{
			name:  "same delivery twice",
			first: delivery{id: "5a7e0b3c-1111-11ef-8000-000000000001", body: readFixture(t, "github-release.published.json")},
			then:  delivery{id: "5a7e0b3c-1111-11ef-8000-000000000001", body: readFixture(t, "github-release.published.json")},
		},
		{
			name:  "published then released",
			first: delivery{id: "5a7e0b3c-2222-11ef-8000-000000000001", body: readFixture(t, "github-release.published.json")},
			then:  delivery{id: "5a7e0b3c-2222-11ef-8000-000000000002", body: readFixture(t, "github-release.released.json")},
		},
		{
			name:  "JSON then form-encoded",
			first: delivery{body: readFixture(t, "github-release.published.2.json")},
			then:  delivery{body: readFixture(t, "github-release.published.2.json"), form: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, pub := realBus(t)
			h := newGitHubHarness(t, gateway.Options{Publisher: pub})

			first := decodeAccepted(t, h.deliver(t, tt.first))
			again := decodeAccepted(t, h.deliver(t, tt.then))
			if first.Duplicate || !again.Duplicate {
				t.Errorf("duplicate flags = %t then %t, want false then true", first.Duplicate, again.Duplicate)
			}
			if first.Key != again.Key {
				t.Errorf("keys differ: %q then %q", first.Key, again.Key)
			}

			ev, _ := onlyEvent(t, b)
			if ev.GetId() != first.ID || ev.GetIdempotencyKey() != first.Key {
				t.Errorf("stored event %s (key %s), want the first one %s (key %s)", ev.GetId(), ev.GetIdempotencyKey(), first.ID, first.Key)
			}
			if got := testutil.ToFloat64(h.m.Published.WithLabelValues("github", event.KindReleasePublished)); got != 2 {
				t.Errorf("published{kind=release.published} = %v, want 2 (both acknowledged, one a duplicate)", got)
			}
		})
	}
}

// TestGitHubAcceptedMatchesParse checks that the gateway publishes what
// github.Parse makes, no more, no less.
func TestGitHubAcceptedMatchesParse(t *testing.T) {
	rec := new(gatewaytest.Recorder)
	h := newGitHubHarness(t, gateway.Options{Publisher: rec})
	body := readFixture(t, "github-release.published.json")
	d := delivery{body: body}
	a := decodeAccepted(t, h.deliver(t, d))

	want, err := github.Parse(d.request(t, "http://x").Header, body)
	if err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	want.Id = a.ID
	if diff := cmp.Diff(want, evs[0], protocmp.Transform()); diff != "" {
		t.Errorf("published event mismatch (-want +got):\n%s", diff)
	}
}

// FuzzGitHubSignature sends any body with any signature through the
// handler, and the same body correctly signed: it never panics, never
// answers 5xx, answers one line of JSON, and only a correct signature
// gets past 401.
func FuzzGitHubSignature(f *testing.F) {
	for _, file := range ghFixtures(f) {
		body := readFixture(f, file)
		f.Add(body, ghSign(ghSecret, body), ghEvent(file), false)
		f.Add(body, ghSign(ghSecret, body)[:30], ghEvent(file), false)
		f.Add(body, "sha1="+strings.Repeat("0", 40), ghEvent(file), false)
		f.Add([]byte(url.Values{"payload": {string(body)}}.Encode()), "", ghEvent(file), true)
	}
	f.Add([]byte("{}"), "", "", false)

	rec := new(gatewaytest.Recorder)
	g := gateway.New(gateway.Options{
		Publisher:    rec,
		Secrets:      newSecrets(secrets.GitHubWebhookSecret, ghSecret),
		MaxBodyBytes: 256 << 10,
	})
	handler := g.Handler()
	f.Fuzz(func(t *testing.T, body []byte, sig, eventName string, form bool) {
		for _, signed := range []bool{false, true} {
			s := sig
			if signed {
				s = ghSign(ghSecret, body)
			}
			req := httptest.NewRequest(http.MethodPost, ghPath, bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", eventName)
			req.Header.Set("X-GitHub-Delivery", "fuzz")
			req.Header.Set("X-Hub-Signature-256", s)
			req.Header.Set("Content-Type", map[bool]string{false: "application/json", true: formType}[form])
			before := len(rec.Events())
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req)

			res := w.Body.String()
			if w.Code >= 500 {
				t.Fatalf("status %d: %s", w.Code, res)
			}
			if strings.Count(res, "\n") != 1 || !strings.HasSuffix(res, "\n") || !json.Valid([]byte(res)) {
				t.Fatalf("answer %q is not one line of JSON", res)
			}
			valid := github.Verify(req.Header.Get("X-Hub-Signature-256"), body, ghSecret) == nil
			if !valid && w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d for a bad signature", w.Code)
			}
			if w.Code != http.StatusAccepted && len(rec.Events()) != before {
				t.Fatalf("status %d but an event was published", w.Code)
			}
		}
	})
}

// BenchmarkGitHubIngest measures the handler alone on a signed release
// delivery, from request to answer, with a publisher that costs nothing:
// the gateway's share of an ingest (HMAC, JSON decode, event, answer).
func BenchmarkGitHubIngest(b *testing.B) {
	body := readFixture(b, "github-release.published.json")
	sig := ghSign(ghSecret, body)
	g := gateway.New(gateway.Options{
		Publisher: gatewaytest.Discard{},
		Secrets:   newSecrets(secrets.GitHubWebhookSecret, ghSecret),
		Metrics:   metrics.New(prometheus.NewRegistry()),
	})
	serveParallel(b, g.Handler(), ghPath, http.Header{
		"Content-Type":        {"application/json"},
		"X-Github-Event":      {"release"},
		"X-Github-Delivery":   {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		"X-Hub-Signature-256": {sig},
	}, body)
}

// TestGitHubPromotedPrerelease: a pre-release later promoted under the same
// tag ("released" without the prerelease flag) is a new event, not a
// duplicate of the pre-release that the stream would drop.
func TestGitHubPromotedPrerelease(t *testing.T) {
	_, pub := realBus(t)
	h := newGitHubHarness(t, gateway.Options{Publisher: pub})
	pre := decodeAccepted(t, h.deliver(t, delivery{id: "5a7e0b3c-3333-11ef-8000-000000000001", body: mutate(t, "github-release.published.json", func(m map[string]any) { m["release"].(map[string]any)["prerelease"] = true })}))
	full := decodeAccepted(t, h.deliver(t, delivery{id: "5a7e0b3c-3333-11ef-8000-000000000002", body: readFixture(t, "github-release.released.json")}))
	if pre.Duplicate || full.Duplicate || pre.Key == full.Key {
		t.Errorf("pre-release %+v then promotion %+v: want two events with distinct keys", pre, full)
	}
}

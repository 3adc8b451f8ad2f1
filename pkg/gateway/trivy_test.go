package gateway_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/eventtest"
	"github.com/stoa-platform/bridge/pkg/gateway"
	"github.com/stoa-platform/bridge/pkg/gateway/gatewaytest"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
	"github.com/stoa-platform/bridge/pkg/source/trivy/trivytest"
)

var updateTrivy = flag.Bool("update-trivy", false, "rewrite testdata/trivy-*.golden.json")

const (
	trivyToken = "tv-Xb3n8QkP2wLs7Rd4" // the configured TRIVY_TOKEN
	trivyPath  = "/webhooks/trivy"
)

// trivyIgnoredReasons are the ignored series of the trivy source.
var trivyIgnoredReasons = append([]string{"unsupported"}, trivy.IgnoredReasons...)

// trivyFixtures lists testdata/trivy-*.json, goldens aside.
func trivyFixtures(t testing.TB) []string {
	t.Helper()
	names := eventtest.Fixtures(t, "trivy-*.json")
	if len(names) < 10 {
		t.Fatalf("found %d Trivy fixtures in testdata, want the 10 that testdata/README.md lists", len(names))
	}
	return names
}

func newTrivyHarness(t *testing.T, o gateway.Options) *harness {
	t.Helper()
	if o.Secrets == nil {
		o.Secrets = newSecrets(secrets.TrivyToken, trivyToken, secrets.HealthchecksToken, token)
	}
	return newHarness(t, o)
}

// post sends body to /webhooks/trivy with the Trivy token, as JSON.
func (h *harness) post(t *testing.T, body []byte) response {
	t.Helper()
	return h.do(t, request{path: trivyPath, auth: "Bearer " + trivyToken, contentType: "application/json", body: body})
}

// checkTrivyMetrics checks that exactly the named ignored and rejected
// series of the trivy source moved, by one.
func checkTrivyMetrics(t *testing.T, h *harness, ignored, rejected string) {
	t.Helper()
	for _, r := range trivyIgnoredReasons {
		want := map[bool]float64{true: 1}[r == ignored]
		if got := testutil.ToFloat64(h.m.Ignored.WithLabelValues("trivy", r)); got != want {
			t.Errorf("ignored{reason=%q} = %v, want %v", r, got, want)
		}
	}
	for _, r := range reasons {
		want := map[bool]float64{true: 1}[r == rejected]
		if got := testutil.ToFloat64(h.m.Rejected.WithLabelValues("trivy", r)); got != want {
			t.Errorf("rejected{reason=%q} = %v, want %v", r, got, want)
		}
	}
}

// TestTrivyFixtures posts every Trivy and Trivy Operator fixture and checks
// the answer, whether an event was published, the event against its
// golden file, and the metrics.
func TestTrivyFixtures(t *testing.T) {
	// The answer for each fixture; "" is 202 with an event.
	ignoredWant := map[string]struct{ answer, reason string }{
		"trivy-operator-webhook-envelope.delete.json": {`{"ignored":"trivy-operator: a deleted report needs no action"}` + "\n", trivy.ReasonDeleted},
	}
	for _, file := range trivyFixtures(t) {
		for _, ct := range []string{"application/json", ""} {
			t.Run(file+"/content-type="+ct, func(t *testing.T) {
				rec := new(gatewaytest.Recorder)
				h := newTrivyHarness(t, gateway.Options{Publisher: rec})
				res := h.do(t, request{path: trivyPath, auth: "Bearer " + trivyToken, contentType: ct, body: readFixture(t, file)})

				if ig, ok := ignoredWant[file]; ok {
					if res.code != http.StatusOK || res.body != ig.answer {
						t.Errorf("answer = %d %q, want 200 %q", res.code, res.body, ig.answer)
					}
					if n := len(rec.Events()); n != 0 {
						t.Errorf("published %d events, want none", n)
					}
					checkTrivyMetrics(t, h, ig.reason, "")
					return
				}
				a := decodeAccepted(t, res)
				evs := rec.Events()
				if len(evs) != 1 {
					t.Fatalf("published %d events, want 1", len(evs))
				}
				ev := evs[0]
				if a.ID != ev.GetId() || a.Key != ev.GetIdempotencyKey() || a.Duplicate {
					t.Errorf("answer %+v does not name the published event (id %s, key %s)", a, ev.GetId(), ev.GetIdempotencyKey())
				}
				eventtest.Check(t, filepath.Join("testdata", strings.TrimSuffix(file, ".json")+".golden.json"), eventtest.Golden(t, ev), *updateTrivy, "update-trivy")
				if n := testutil.ToFloat64(h.m.Published.WithLabelValues("trivy", event.KindVulnerabilityFound)); n != 1 {
					t.Errorf("published{kind=vulnerability.found} = %v, want 1", n)
				}
				checkTrivyMetrics(t, h, "", "")
				checkNoLeak(t, h, res, trivyToken)
			})
		}
	}
}

// TestTrivyIgnored checks the other deliveries Trivy Operator broadcasts:
// answered 200 with the reason, counted by reason, nothing published.
func TestTrivyIgnored(t *testing.T) {
	configAudit := `{"apiVersion":"aquasecurity.github.io/v1alpha1","kind":"ConfigAuditReport","metadata":{"name":"x"},"report":{"checks":[]}}`
	tests := []struct {
		name, body, answer, reason string
	}{
		{"config audit report", configAudit, "trivy-operator: a ConfigAuditReport is not a VulnerabilityReport: nothing to do", trivy.ReasonReportKind},
		{"wrapped config audit report", `{"verb":"update","operatorObject":` + configAudit + `}`,
			"trivy-operator: a ConfigAuditReport is not a VulnerabilityReport: nothing to do", trivy.ReasonReportKind},
		{"deleted, whatever the object", `{"verb":"delete","operatorObject":{}}`, "trivy-operator: a deleted report needs no action", trivy.ReasonDeleted},
		{"unknown verb", `{"verb":"patch","operatorObject":` + configAudit + `}`, "trivy-operator: only the update and delete verbs are handled", trivy.ReasonVerb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := new(gatewaytest.Recorder)
			h := newTrivyHarness(t, gateway.Options{Publisher: rec})
			res := h.post(t, []byte(tt.body))
			want := `{"ignored":"` + tt.answer + `"}` + "\n"
			if res.code != http.StatusOK || res.body != want {
				t.Errorf("answer = %d %q, want 200 %q", res.code, res.body, want)
			}
			if n := len(rec.Events()); n != 0 {
				t.Errorf("published %d events, want none", n)
			}
			checkTrivyMetrics(t, h, tt.reason, "")
		})
	}
}

func TestTrivyRejections(t *testing.T) {
	alpine := readFixture(t, "trivy-alpine-39.json")
	padded := append(append([]byte(nil), alpine...), bytes.Repeat([]byte(" "), 2048)...) // a whole report, then over 24 KiB
	const wrong = "tv-not-the-token-at-all"
	tests := []struct {
		name       string
		opts       gateway.Options
		secrets    *secretMap // defaults to TRIVY_TOKEN and HEALTHCHECKS_TOKEN set
		req        request
		wantCode   int
		wantReason string
		wantLabel  string
	}{
		{
			name:     "token not configured",
			secrets:  newSecrets(secrets.HealthchecksToken, token),
			req:      request{auth: "Bearer " + trivyToken, body: alpine},
			wantCode: http.StatusServiceUnavailable, wantLabel: "disabled",
			wantReason: "trivy ingest is disabled: TRIVY_TOKEN is not set",
		},
		{
			name:     "no token",
			req:      request{auth: "-", body: alpine},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "wrong token",
			req:      request{auth: "Bearer " + wrong, body: alpine},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "the Healthchecks token",
			req:      request{auth: "Bearer " + token, body: alpine},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "token without scheme",
			req:      request{auth: trivyToken, body: alpine},
			wantCode: http.StatusUnauthorized, wantReason: "missing or invalid credentials", wantLabel: "unauthorized",
		},
		{
			name:     "plain text",
			req:      request{auth: "Bearer " + trivyToken, contentType: "text/plain", body: alpine},
			wantCode: http.StatusUnsupportedMediaType, wantReason: "unsupported content type: send application/json", wantLabel: "content_type",
		},
		{
			name:     "curl's default form type",
			req:      request{auth: "Bearer " + trivyToken, contentType: "application/x-www-form-urlencoded", body: alpine},
			wantCode: http.StatusUnsupportedMediaType, wantReason: "unsupported content type: send application/json", wantLabel: "content_type",
		},
		{
			name:     "over the limit with Content-Length",
			opts:     gateway.Options{MaxBodyBytes: 1024},
			req:      request{auth: "Bearer " + trivyToken, body: alpine},
			wantCode: http.StatusRequestEntityTooLarge, wantReason: "body larger than 1024 bytes", wantLabel: "too_large",
		},
		{
			name:     "over the limit without Content-Length",
			opts:     gateway.Options{MaxBodyBytes: 1024},
			req:      request{auth: "Bearer " + trivyToken, body: alpine, chunked: true},
			wantCode: http.StatusRequestEntityTooLarge, wantReason: "body larger than 1024 bytes", wantLabel: "too_large",
		},
		{
			name:     "over the limit only after the report",
			opts:     gateway.Options{MaxBodyBytes: int64(len(alpine)) + 1024},
			req:      request{auth: "Bearer " + trivyToken, body: padded, chunked: true},
			wantCode: http.StatusRequestEntityTooLarge, wantReason: "body larger than " + strconv.Itoa(len(alpine)+1024) + " bytes", wantLabel: "too_large",
		},
		{
			name:     "not JSON",
			req:      request{auth: "Bearer " + trivyToken, body: []byte("SchemaVersion=2")},
			wantCode: http.StatusBadRequest, wantReason: "trivy: body is not valid JSON", wantLabel: "malformed",
		},
		{
			name:     "empty body",
			req:      request{auth: "Bearer " + trivyToken},
			wantCode: http.StatusBadRequest, wantReason: "trivy: body is not valid JSON", wantLabel: "malformed",
		},
		{
			name:     "truncated report",
			req:      request{auth: "Bearer " + trivyToken, body: alpine[:len(alpine)/2], chunked: true},
			wantCode: http.StatusBadRequest, wantReason: "trivy: body is not valid JSON", wantLabel: "malformed",
		},
		{
			name:     "a Healthchecks body",
			req:      request{auth: "Bearer " + trivyToken, body: readFixture(t, "healthchecks-down.json")},
			wantCode: http.StatusBadRequest, wantReason: "trivy: body is neither a Trivy JSON report nor a Trivy Operator report", wantLabel: "malformed",
		},
		{
			name:     "an old report",
			req:      request{auth: "Bearer " + trivyToken, body: bytes.Replace(alpine, []byte(`"SchemaVersion": 2`), []byte(`"SchemaVersion": 1`), 1)},
			wantCode: http.StatusBadRequest, wantReason: "trivy: only SchemaVersion 2 reports are supported", wantLabel: "malformed",
		},
		{
			name:     "GET",
			req:      request{method: http.MethodGet, auth: "Bearer " + trivyToken},
			wantCode: http.StatusMethodNotAllowed, wantReason: "method not allowed: use POST", wantLabel: "method",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := new(gatewaytest.Recorder)
			tt.opts.Publisher = rec
			if tt.secrets != nil {
				tt.opts.Secrets = tt.secrets
			}
			h := newTrivyHarness(t, tt.opts)
			tt.req.path = trivyPath
			res := h.do(t, tt.req)

			want := `{"error":"` + tt.wantReason + `"}` + "\n"
			if res.code != tt.wantCode || res.body != want {
				t.Errorf("answer = %d %q, want %d %q", res.code, res.body, tt.wantCode, want)
			}
			if got := res.header.Get("Retry-After"); (tt.wantCode == http.StatusServiceUnavailable) != (got != "") {
				t.Errorf("Retry-After = %q with status %d", got, tt.wantCode)
			}
			if n := len(rec.Events()); n != 0 {
				t.Errorf("published %d events, want none", n)
			}
			checkTrivyMetrics(t, h, "", tt.wantLabel)
			checkNoLeak(t, h, res, trivyToken, wrong)
		})
	}
}

// TestTrivyDisabled: a missing TRIVY_TOKEN is a readiness reason of its own.
func TestTrivyDisabled(t *testing.T) {
	h := newTrivyHarness(t, gateway.Options{Publisher: new(gatewaytest.Recorder), Secrets: newSecrets(secrets.HealthchecksToken, token)})
	const reason = "trivy ingest is disabled: TRIVY_TOKEN is not set"
	if got := h.g.Disabled(context.Background()); !slices.Contains(got, reason) {
		t.Errorf("Disabled() = %q, want it to contain %q", got, reason)
	}
}

// TestTrivyDuplicatesOnBus posts reports to a gateway publishing to real
// JetStream: a report sent twice, a re-scan that finds the same thing at
// another time, and the operator's bare and wrapped forms of one report
// are each stored once, the first one kept.
func TestTrivyDuplicatesOnBus(t *testing.T) {
	alpine := readFixture(t, "trivy-alpine-39.json")
	rescan := bytes.Replace(alpine, []byte(`"2021-08-25T12:20:30.000000005Z"`), []byte(`"2021-09-01T08:00:00Z"`), 1)
	if bytes.Equal(rescan, alpine) {
		t.Fatal("the re-scan did not change CreatedAt")
	}
	single := readFixture(t, "trivy-operator-vulnerabilityreport.single.json")
	wrapped := append(append([]byte(`{"verb":"update","operatorObject":`), single...), '}')
	resynced := bytes.Replace(single, []byte(`"updateTimestamp": "2023-03-23T16:23:01Z"`), []byte(`"updateTimestamp": "2023-03-24T16:23:01Z"`), 1)

	tests := []struct {
		name        string
		first, then []byte
		firstTime   string // of the stored event
	}{
		{"same report twice", alpine, alpine, "2021-08-25T12:20:30.000000005Z"},
		{"re-scan with another CreatedAt", alpine, rescan, "2021-08-25T12:20:30.000000005Z"},
		{"operator: bare, then wrapped", single, wrapped, "2023-03-23T16:23:01Z"},
		{"operator: re-sync", single, resynced, "2023-03-23T16:23:01Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, pub := realBus(t)
			h := newTrivyHarness(t, gateway.Options{Publisher: pub})

			first := decodeAccepted(t, h.post(t, tt.first))
			again := decodeAccepted(t, h.post(t, tt.then))
			if first.Duplicate || !again.Duplicate {
				t.Errorf("duplicate flags = %t then %t, want false then true", first.Duplicate, again.Duplicate)
			}
			if first.Key != again.Key {
				t.Errorf("keys differ: %q then %q", first.Key, again.Key)
			}

			ev, subject := onlyEvent(t, b)
			if ev.GetId() != first.ID || ev.GetIdempotencyKey() != first.Key {
				t.Errorf("stored event %s (key %s), want the first one %s (key %s)", ev.GetId(), ev.GetIdempotencyKey(), first.ID, first.Key)
			}
			if got := ev.GetTime().AsTime().Format(time.RFC3339Nano); got != tt.firstTime {
				t.Errorf("stored event's time = %s, want the first report's %s", got, tt.firstTime)
			}
			if subject != event.Subject(b.Prefix(), event.KindVulnerabilityFound) {
				t.Errorf("stored on %s, want the vulnerability.found subject", subject)
			}
		})
	}

	// Different findings for the same artifact are a new event.
	t.Run("new findings", func(t *testing.T) {
		b := bustest.Open(t, bus.Options{})
		pub := gateway.PublishFunc(func(ctx context.Context, ev *event.Event) (bool, error) {
			ack, err := b.Publish(ctx, ev)
			return ack.Duplicate, err
		})
		h := newTrivyHarness(t, gateway.Options{Publisher: pub})
		fixed := bytes.Replace(alpine, []byte(`"InstalledVersion": "1.1.20-r4"`), []byte(`"InstalledVersion": "1.1.20-r5"`), 1)
		first := decodeAccepted(t, h.post(t, alpine))
		then := decodeAccepted(t, h.post(t, fixed))
		if then.Duplicate || first.Key == then.Key {
			t.Errorf("changed findings: key %q then %q, duplicate %t; want a new event", first.Key, then.Key, then.Duplicate)
		}
	})
}

// largeReport is just under the default body limit (25 MiB).
const largeReport = gateway.DefaultMaxBodyBytes - 4096

// TestTrivyLargeReport posts a 25 MiB report with thousands of findings
// through HTTP with the default limits, and checks that the gateway parses
// it as it arrives: everything the request allocates, both sides and the
// event included, stays well under the size of the body.
func TestTrivyLargeReport(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a 25 MiB report")
	}
	body, n := trivytest.Report(largeReport)
	rec := new(gatewaytest.Recorder)
	h := newTrivyHarness(t, gateway.Options{Publisher: rec})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := h.do(t, request{path: trivyPath, auth: "Bearer " + trivyToken, body: body, chunked: true})
	runtime.ReadMemStats(&after)

	a := decodeAccepted(t, res)
	evs := rec.Events()
	if len(evs) != 1 || evs[0].GetIdempotencyKey() != a.Key {
		t.Fatalf("published %d events, want the one answered", len(evs))
	}
	if got := len(evs[0].GetVulnerabilityReport().GetFindings()); got != n {
		t.Errorf("%d findings, want %d", got, n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(body))/2 {
		t.Errorf("a %d-byte report allocated %d bytes: the gateway holds the body", len(body), alloc)
	}
}

// BenchmarkTrivyIngestLarge measures the handler alone on a 25 MiB report
// (a publisher that costs nothing), in MB/s of report.
func BenchmarkTrivyIngestLarge(b *testing.B) {
	body, n := trivytest.Report(largeReport)
	g := gateway.New(gateway.Options{
		Publisher: gatewaytest.Discard{},
		Secrets:   newSecrets(secrets.TrivyToken, trivyToken),
	})
	hd := g.Handler()
	rb := new(rewindBody)
	req := httptest.NewRequest(http.MethodPost, trivyPath, rb)
	req.Header.Set("Authorization", "Bearer "+trivyToken)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	w := &discardWriter{h: make(http.Header)}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rb.Reset(body)
		clear(w.h)
		hd.ServeHTTP(w, req)
		if w.code != http.StatusAccepted {
			b.Fatalf("status %d", w.code)
		}
	}
	b.ReportMetric(float64(n), "findings/op")
}

package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source"
)

type oneSecret struct{ name, value string }

func (s oneSecret) Get(_ context.Context, name string) (secrets.Secret, error) {
	if name != s.name {
		return secrets.Secret{}, secrets.ErrNotFound
	}
	return secrets.New(s.value), nil
}

type countingPublisher struct{ n int }

func (p *countingPublisher) Publish(context.Context, *event.Event) (bool, error) {
	p.n++
	return false, nil
}

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// signedEndpoint is shaped like the GitHub source to come: an HMAC of the
// body, form or JSON bodies, deliveries it ignores.
func signedEndpoint() endpoint {
	return endpoint{
		source: "signed",
		secret: "SIGNED_SECRET",
		verify: func(h http.Header, body []byte, secret string) bool {
			return hmac.Equal([]byte(h.Get("X-Signature")), []byte(sign(secret, string(body))))
		},
		mediaTypes: []string{"application/json", "application/x-www-form-urlencoded"},
		parse: func(_ http.Header, body []byte) (*event.Event, error) {
			switch string(body) {
			case "ping":
				return nil, source.Unsupportedf("signed: ping needs no action")
			case "bad":
				return nil, source.Malformedf("signed: body is bad")
			}
			at := time.Date(2025, 6, 3, 5, 16, 41, 0, time.UTC)
			ev := event.New(event.KindReleasePublished, "/webhooks/signed", "o/r", event.ReleaseKey("o", "r", string(body), false), at)
			ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: &bridgev1.ReleasePublished{Owner: "o", Repo: "r", Tag: string(body)}}
			return ev, nil
		},
	}
}

// TestBodyVerifiedSource checks that a source authenticated by a signature
// of its body slots in: the signature is checked after the body is read,
// and an ignored delivery is answered 200 without publishing.
func TestBodyVerifiedSource(t *testing.T) {
	const secret = "signing-secret"
	tests := []struct {
		name      string
		body      string
		sig       string
		wantCode  int
		wantBody  string
		published int
	}{
		{"signed", "v1.2.3", sign(secret, "v1.2.3"), http.StatusAccepted, `"key":"release:o/r@v1.2.3"`, 1},
		{"ignored", "ping", sign(secret, "ping"), http.StatusOK, `{"ignored":"signed: ping needs no action"}` + "\n", 0},
		{"malformed", "bad", sign(secret, "bad"), http.StatusBadRequest, `{"error":"signed: body is bad"}` + "\n", 0},
		{"bad signature", "v1.2.3", sign("other", "v1.2.3"), http.StatusUnauthorized, `{"error":"missing or invalid credentials"}` + "\n", 0},
		{"no signature", "v1.2.3", "", http.StatusUnauthorized, `{"error":"missing or invalid credentials"}` + "\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := new(countingPublisher)
			m := metrics.New(prometheus.NewRegistry())
			g := New(Options{Publisher: pub, Secrets: oneSecret{"SIGNED_SECRET", secret}, Metrics: m})
			g.register(signedEndpoint())

			req := httptest.NewRequest(http.MethodPost, "/webhooks/signed", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.sig != "" {
				req.Header.Set("X-Signature", tt.sig)
			}
			w := httptest.NewRecorder()
			g.Handler().ServeHTTP(w, req)

			if w.Code != tt.wantCode || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("answer = %d %q, want %d containing %q", w.Code, w.Body, tt.wantCode, tt.wantBody)
			}
			if pub.n != tt.published {
				t.Errorf("published %d events, want %d", pub.n, tt.published)
			}
			ignored := testutil.ToFloat64(m.Ignored.WithLabelValues("signed", "unsupported"))
			if want := map[bool]float64{true: 1}[tt.wantCode == http.StatusOK]; ignored != want {
				t.Errorf("ignored = %v, want %v", ignored, want)
			}
			if tt.published > 0 {
				if n := testutil.ToFloat64(m.Published.WithLabelValues("signed", event.KindReleasePublished)); n != 1 {
					t.Errorf("published{kind=release.published} = %v, want 1", n)
				}
			}
		})
	}
}

func TestRegisterNeedsOneVerifyStep(t *testing.T) {
	g := New(Options{Publisher: new(countingPublisher), Secrets: oneSecret{}})
	e := signedEndpoint()
	e.authorize = bearer // both steps: a wiring mistake
	defer func() {
		if recover() == nil {
			t.Error("register with authorize and verify did not panic")
		}
	}()
	g.register(e)
}

// TestIgnoredReasons checks that a *source.Ignored is counted under its
// reason when the endpoint declares it, and under "unsupported" otherwise,
// so that a parser cannot grow the label set; the answer carries its detail.
func TestIgnoredReasons(t *testing.T) {
	const secret = "signing-secret"
	tests := []struct {
		reason    string
		wantLabel string
	}{
		{"declared", "declared"},
		{"not-declared", "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			m := metrics.New(prometheus.NewRegistry())
			g := New(Options{Publisher: new(countingPublisher), Secrets: oneSecret{"SIGNED_SECRET", secret}, Metrics: m})
			e := signedEndpoint()
			e.ignoredReasons = []string{"declared"}
			e.parse = func(http.Header, []byte) (*event.Event, error) {
				return nil, &source.Ignored{Reason: tt.reason, Detail: "signed: nothing to do"}
			}
			g.register(e)

			req := httptest.NewRequest(http.MethodPost, "/webhooks/signed", strings.NewReader("x"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Signature", sign(secret, "x"))
			w := httptest.NewRecorder()
			g.Handler().ServeHTTP(w, req)

			if want := `{"ignored":"signed: nothing to do"}` + "\n"; w.Code != http.StatusOK || w.Body.String() != want {
				t.Errorf("answer = %d %q, want 200 %q", w.Code, w.Body, want)
			}
			for _, label := range []string{"declared", "not-declared", "unsupported"} {
				want := map[bool]float64{true: 1}[label == tt.wantLabel]
				if got := testutil.ToFloat64(m.Ignored.WithLabelValues("signed", label)); got != want {
					t.Errorf("ignored{reason=%q} = %v, want %v", label, got, want)
				}
			}
		})
	}
}

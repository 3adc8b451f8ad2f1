package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/gateway"
	"github.com/stoa-platform/bridge/pkg/gateway/gatewaytest"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
)

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmark measures the handler rather than httptest's recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// serveParallel serves the same request from every benchmark goroutine,
// with no network, and reports requests/s; every answer must be 202.
func serveParallel(b *testing.B, h http.Handler, path string, header http.Header, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rb := new(rewindBody)
		req := httptest.NewRequest(http.MethodPost, path, rb)
		req.Header = header.Clone()
		req.ContentLength = int64(len(body))
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			rb.Reset(body)
			clear(w.h)
			h.ServeHTTP(w, req)
			if w.code != http.StatusAccepted {
				b.Fatalf("status %d", w.code)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// rewindBody lets one request be served again and again.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// BenchmarkHealthchecksIngest measures the handler alone, from request to
// answer, with a publisher that costs nothing: the gateway's own share of
// an ingest. The end-to-end figure with JetStream is measured elsewhere.
func BenchmarkHealthchecksIngest(b *testing.B) {
	body := readFixture(b, "healthchecks-down.json")
	g := gateway.New(gateway.Options{
		Publisher: gatewaytest.Discard{},
		Secrets:   newSecrets(secrets.HealthchecksToken, token),
		Metrics:   metrics.New(prometheus.NewRegistry()),
	})
	serveParallel(b, g.Handler(), "/webhooks/healthchecks", http.Header{"Authorization": {"Bearer " + token}}, body)
}

// BenchmarkHealthchecksIngestHTTP adds a loopback HTTP server and client,
// as a sender sees it.
func BenchmarkHealthchecksIngestHTTP(b *testing.B) {
	body := readFixture(b, "healthchecks-down.json")
	g := gateway.New(gateway.Options{
		Publisher: gatewaytest.Discard{},
		Secrets:   newSecrets(secrets.HealthchecksToken, token),
	})
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/healthchecks", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

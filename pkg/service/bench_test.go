package service_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/service"
)

// startService runs parts with cfg (on an embedded NATS server in a
// temporary directory, no TCP listener) until the test ends, and returns
// the HTTP address. The test fails if Run does not shut down cleanly.
func startService(tb testing.TB, cfg config.Config, sec secrets.Provider, parts ...service.Part) string {
	tb.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.NATS.Listen = ""
	cfg.NATS.DataDir = tb.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, cfg, slog.New(slog.DiscardHandler), service.Options{
			Parts:    parts,
			Embedded: true,
			Secrets:  sec,
			Ready:    func(addr string) { ready <- addr },
		})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("service.Run after cancel = %v, want nil (graceful shutdown)", err)
			}
		case <-time.After(20 * time.Second):
			tb.Error("service.Run did not return within 20s of cancel")
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		tb.Fatalf("service.Run: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("service did not start in 30s")
	}
	return ""
}

// BenchmarkIngestHealthchecks measures POST /webhooks/healthchecks through
// the real HTTP server, bearer check, parse and JetStream publish with ack
// (embedded NATS, file storage): requests/s with parallel clients.
func BenchmarkIngestHealthchecks(b *testing.B) {
	addr := startService(b, config.Default(), secrets.Static{secrets.HealthchecksToken: "bench-token"}, service.Gateway)
	url := "http://" + addr + "/webhooks/healthchecks"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	run := time.Now().UnixNano()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Appendf(nil, `{"status":"down","now":"2026-01-01T00:00:00+00:00","code":"%08x-0000-4000-8000-%012d","name":"bench","check":{"tags":"bench"}}`, run&0xffffffff, i)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer bench-token")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// githubBodies returns n signed release deliveries, each a distinct tag.
func githubBodies(tb testing.TB, n int, secret string) (bodies [][]byte, sigs []string) {
	tb.Helper()
	tmpl, err := os.ReadFile("testdata/release.published.json")
	if err != nil {
		tb.Fatal(err)
	}
	run := time.Now().UnixNano()
	for i := range n {
		b := bytes.Replace(tmpl, []byte(`"tag_name": "0.0.1"`), fmt.Appendf(nil, `"tag_name": "v%d.%d.0"`, run, i), 1)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(b)
		bodies = append(bodies, b)
		sigs = append(sigs, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return bodies, sigs
}

func postGitHub(client *http.Client, url string, body []byte, sig string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "release")
	req.Header.Set("X-GitHub-Delivery", sig[7:43])
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

const benchSecret = "bench-secret"

// BenchmarkIngestGitHub measures signed release deliveries through the real
// HTTP server, HMAC check, parse and JetStream publish with ack (embedded
// NATS, file storage): the most requests/s parallel clients get (closed loop).
func BenchmarkIngestGitHub(b *testing.B) {
	addr := startService(b, config.Default(), secrets.Static{secrets.GitHubWebhookSecret: benchSecret}, service.Gateway)
	url := "http://" + addr + "/webhooks/github"
	bodies, sigs := githubBodies(b, 4096, benchSecret)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// Past 4096 the tags repeat: later ones are duplicates, which
			// the stream still has to check, so the work stays the same.
			i := int(n.Add(1)) % len(bodies)
			code, err := postGitHub(client, url, bodies[i], sigs[i])
			if err != nil || code != http.StatusAccepted {
				b.Errorf("POST = %d, %v", code, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkIngestGitHubRate500 sends signed release deliveries on a fixed
// schedule of 500 requests/s (open loop) and reports the latency
// percentiles, each measured from the request's scheduled time, so a stall
// shows up instead of being hidden by a client that waited.
func BenchmarkIngestGitHubRate500(b *testing.B) {
	const rate = 500
	addr := startService(b, config.Default(), secrets.Static{secrets.GitHubWebhookSecret: benchSecret}, service.Gateway)
	url := "http://" + addr + "/webhooks/github"
	bodies, sigs := githubBodies(b, b.N, benchSecret)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		at := start.Add(time.Duration(i) * time.Second / rate)
		time.Sleep(time.Until(at))
		wg.Go(func() {
			code, err := postGitHub(client, url, bodies[i], sigs[i])
			lat[i] = time.Since(at)
			if err != nil || code != http.StatusAccepted {
				b.Errorf("POST = %d, %v", code, err)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

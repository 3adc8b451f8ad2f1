package service_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

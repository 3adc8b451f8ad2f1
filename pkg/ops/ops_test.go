package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/ops"
)

func TestReadyz(t *testing.T) {
	natsDown := errors.New("nats: no servers available")
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantBody map[string]any
	}{
		{"ready", nil, 200, map[string]any{"status": "ready", "notes": map[string]any{"slack": "dry-run"}}},
		{"not ready", natsDown, 503, map[string]any{
			"status": "not ready", "failing": map[string]any{"nats": natsDown.Error()},
			"notes": map[string]any{"slack": "dry-run"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			var notes ops.Notes
			notes.Set("slack", "dry-run")
			ops.Register(mux, prometheus.NewRegistry(), &notes, ops.Check{Name: "nats", Fn: func(context.Context) error { return tt.err }})
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.wantCode {
				t.Fatalf("GET /readyz = %d, want %d", rec.Code, tt.wantCode)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.wantBody)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("body = %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	ops.Register(mux, reg, &ops.Notes{})
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "bridge_test_total 1"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s = %d %q, want 200 containing %q", path, rec.Code, rec.Body.String(), want)
		}
	}
}

func TestReadyzDynamicNote(t *testing.T) {
	mux := http.NewServeMux()
	var notes ops.Notes
	disabled := "healthchecks ingest is disabled"
	notes.SetFunc("webhook-gateway", func(context.Context) string { return disabled })
	ops.Register(mux, prometheus.NewRegistry(), &notes)
	get := func() string {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Body.String()
	}
	if got := get(); !strings.Contains(got, disabled) {
		t.Errorf("/readyz = %s, want the note", got)
	}
	disabled = ""
	if got := get(); strings.Contains(got, "notes") {
		t.Errorf("/readyz = %s, want no notes once the secret is set", got)
	}
}

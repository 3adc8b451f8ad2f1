// Package ops serves what an orchestrator and a scraper ask of every
// service: /healthz (the process is alive), /readyz (it can do its job, and
// if not, why) and /metrics.
package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition. A failing check makes /readyz answer 503.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Notes collects readiness remarks that do not make a service unready: a
// flow disabled for want of its secret, a sink in dry-run. Safe for
// concurrent use.
type Notes struct {
	mu  sync.Mutex
	m   map[string]string
	fns map[string]func(context.Context) string
}

// SetFunc records a remark computed at each /readyz request, so it follows
// a rotated secret; fn returns "" when there is nothing to remark.
func (n *Notes) SetFunc(name string, fn func(context.Context) string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fns == nil {
		n.fns = make(map[string]func(context.Context) string)
	}
	n.fns[name] = fn
}

// Set records a remark under name, replacing any earlier one.
func (n *Notes) Set(name, note string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = make(map[string]string)
	}
	n.m[name] = note
}

// Clear removes the remark under name.
func (n *Notes) Clear(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.m, name)
}

func (n *Notes) snapshot(ctx context.Context) map[string]string {
	n.mu.Lock()
	out := make(map[string]string, len(n.m)+len(n.fns))
	for k, v := range n.m {
		out[k] = v
	}
	fns := make(map[string]func(context.Context) string, len(n.fns))
	for k, fn := range n.fns {
		fns[k] = fn
	}
	n.mu.Unlock()
	for k, fn := range fns {
		if v := fn(ctx); v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// readiness is the /readyz body.
type readiness struct {
	Status string `json:"status"`
	// Failing says why the service is not ready, per check.
	Failing map[string]string `json:"failing,omitempty"`
	// Notes are remarks that do not block readiness.
	Notes map[string]string `json:"notes,omitempty"`
}

// Register adds /healthz, /readyz and /metrics to mux.
func Register(mux *http.ServeMux, g prometheus.Gatherer, notes *Notes, checks ...Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := readiness{Status: "ready", Notes: notes.snapshot(ctx)}
		for _, c := range checks {
			if err := c.Fn(ctx); err != nil {
				if body.Failing == nil {
					body.Failing = make(map[string]string)
				}
				body.Failing[c.Name] = err.Error()
			}
		}
		code := http.StatusOK
		if len(body.Failing) > 0 {
			body.Status = "not ready"
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}

// Names returns the check names, sorted; for start-up logs.
func Names(checks []Check) []string {
	out := make([]string, 0, len(checks))
	for _, c := range checks {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

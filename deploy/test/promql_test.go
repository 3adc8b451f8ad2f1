// Package deploy_test checks the files of deploy/: the Dockerfile's
// structure, the Argo CD Application, the Prometheus alert rules and the
// Grafana dashboard, whose queries may only name metrics and labels the
// bridge really exports.
package deploy_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stoa-platform/bridge/pkg/metrics"
)

// targetLabels are added by the scrape (Prometheus Operator's ServiceMonitor
// and Kubernetes service discovery), not by the bridge: any series has them.
var targetLabels = []string{"namespace", "pod", "instance", "job", "service", "container", "endpoint"}

// series maps every series name the bridge exports (histograms as _bucket,
// _sum and _count) to its label names.
type series map[string]map[string]bool

// recorder keeps the collectors metrics.New registers: a vector with no
// child yet exports nothing, so Gather alone would miss it.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var (
	// Desc has no accessors: its String is the only way to its name and
	// variable labels (constrained labels print as "c(name)").
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)

	exportedOnce sync.Once
	exported     series
	exportedErr  error
)

// bridgeSeries returns what a bridge process exports: pkg/metrics.New on a
// fresh registry, as every service calls it.
func bridgeSeries(t *testing.T) series {
	t.Helper()
	exportedOnce.Do(func() { exported, exportedErr = collectSeries() })
	if exportedErr != nil {
		t.Fatal(exportedErr)
	}
	return exported
}

func collectSeries() (series, error) {
	rec := &recorder{Registry: prometheus.NewRegistry()}
	metrics.New(rec)
	s := series{}
	add := func(name string, labels ...string) {
		if s[name] == nil {
			s[name] = map[string]bool{}
		}
		for _, l := range labels {
			s[name][l] = true
		}
	}
	for _, c := range rec.collectors {
		_, histogram := c.(*prometheus.HistogramVec)
		if _, ok := c.(prometheus.Histogram); ok {
			histogram = true
		}
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if d.Err() != nil {
				return nil, fmt.Errorf("desc %v: %w", d, d.Err())
			}
			m := descName.FindStringSubmatch(d.String())
			if m == nil {
				return nil, fmt.Errorf("no fqName in %v", d)
			}
			var labels []string
			if l := descLabels.FindStringSubmatch(d.String()); l != nil && l[1] != "" {
				for _, name := range strings.Split(l[1], ",") {
					labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(name, "c("), ")"))
				}
			}
			if histogram {
				add(m[1]+"_bucket", append(labels, "le")...)
				add(m[1]+"_sum", labels...)
				add(m[1]+"_count", labels...)
				continue
			}
			add(m[1], labels...)
		}
	}
	// The Go and process collectors: their types are only known once
	// gathered (go_gc_duration_seconds is a summary).
	families, err := rec.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	for _, f := range families {
		var labels []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			add(f.GetName()+"_bucket", append(labels, "le")...)
			add(f.GetName()+"_sum", labels...)
			add(f.GetName()+"_count", labels...)
		case dto.MetricType_SUMMARY:
			add(f.GetName(), append(labels, "quantile")...)
			add(f.GetName()+"_sum", labels...)
			add(f.GetName()+"_count", labels...)
		default:
			add(f.GetName(), labels...)
		}
	}
	return s, nil
}

// checkExpr parses a PromQL expression and returns every problem: a syntax
// error, a metric the bridge does not export, a label (in a matcher, by() or
// on()) that none of the metrics concerned has. It also returns the metric
// names used.
func checkExpr(expr string, known series) (names []string, errs []error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, []error{fmt.Errorf("parse %q: %w", expr, err)}
	}
	labelsUnder := func(n parser.Node) map[string]bool {
		ls := map[string]bool{}
		for _, l := range targetLabels {
			ls[l] = true
		}
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				maps.Copy(ls, known[selectorName(vs)])
			}
			return nil
		})
		return ls
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := selectorName(n)
			names = append(names, name)
			labels, ok := known[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%q: metric %q is not exported by the bridge", expr, name))
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" && !labels[m.Name] && !slices.Contains(targetLabels, m.Name) {
					errs = append(errs, fmt.Errorf("%q: %s has no label %q (it has %v)", expr, name, m.Name, slices.Sorted(maps.Keys(labels))))
				}
			}
		case *parser.AggregateExpr:
			have := labelsUnder(n.Expr)
			for _, l := range n.Grouping {
				if !have[l] {
					errs = append(errs, fmt.Errorf("%q: %s by/without label %q is on none of its metrics", expr, n.Op, l))
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching == nil || !n.VectorMatching.On {
				return nil
			}
			have := labelsUnder(n)
			for _, l := range n.VectorMatching.MatchingLabels {
				if !have[l] {
					errs = append(errs, fmt.Errorf("%q: on() label %q is on none of its metrics", expr, l))
				}
			}
		}
		return nil
	})
	return names, errs
}

func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == "__name__" {
			return m.Value
		}
	}
	return ""
}

// TestCheckExpr shows that the checker the rules and dashboard tests rely
// on catches what it must.
func TestCheckExpr(t *testing.T) {
	known := bridgeSeries(t)
	good := []string{
		`sum by (namespace, sink, reason) (increase(bridge_dead_letters_total[15m])) > 0`,
		`histogram_quantile(0.99, sum by (sink, le) (rate(bridge_action_duration_seconds_bucket{namespace=~"x"}[5m])))`,
		`process_resident_memory_bytes and on (namespace, pod, instance) bridge_secrets_vault_up`,
		`go_gc_duration_seconds{quantile="0.5"}`,
	}
	for _, expr := range good {
		t.Run(expr, func(t *testing.T) {
			if _, errs := checkExpr(expr, known); len(errs) > 0 {
				t.Errorf("checkExpr(%q) = %v, want no error", expr, errs)
			}
		})
	}
	bad := []struct{ expr, want string }{
		{`sum(rate(bridge_nope_total[5m]))`, `metric "bridge_nope_total" is not exported`},
		{`bridge_dead_letters_total{reason_class="permanent"}`, `has no label "reason_class"`},
		{`sum by (reason_class) (bridge_dead_letters_total)`, `label "reason_class" is on none`},
		{`bridge_action_duration_seconds{sink="x"}`, `metric "bridge_action_duration_seconds" is not exported`},
		{`bridge_actions_total and on (sinks) bridge_consumer_pending`, `on() label "sinks"`},
		{`sum(rate(bridge_actions_total[5m])`, `parse`},
	}
	for _, tt := range bad {
		t.Run(tt.expr, func(t *testing.T) {
			_, errs := checkExpr(tt.expr, known)
			if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Errorf("checkExpr(%q) = %v, want an error containing %q", tt.expr, errs, tt.want)
			}
		})
	}
}

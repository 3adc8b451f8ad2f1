package vuln_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

const (
	critical = bridgev1.Severity_SEVERITY_CRITICAL
	high     = bridgev1.Severity_SEVERITY_HIGH
	medium   = bridgev1.Severity_SEVERITY_MEDIUM
	low      = bridgev1.Severity_SEVERITY_LOW
	unknown  = bridgev1.Severity_SEVERITY_UNKNOWN
)

func finding(id, pkg, target string, sev bridgev1.Severity, fixed string) *bridgev1.Finding {
	return &bridgev1.Finding{Id: id, Package: pkg, InstalledVersion: "1.0", FixedVersion: fixed, Severity: sev, Target: target,
		Title: "title of " + id, PrimaryUrl: "https://avd.aquasec.com/nvd/" + strings.ToLower(id)}
}

func ids(fs []*bridgev1.Finding) []string {
	var out []string
	for _, f := range fs {
		if f == nil {
			out = append(out, "<nil>")
			continue
		}
		out = append(out, f.Id+"/"+f.Package+"/"+f.Target)
	}
	return out
}

// day is 2026-03-10 at noon UTC.
var day = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestPolicyApply(t *testing.T) {
	findings := []*bridgev1.Finding{
		finding("CVE-2019-14697", "musl", "alpine", critical, "1.1.20-r5"),
		finding("CVE-2021-1", "openssl", "alpine", high, ""),
		finding("CVE-2021-2", "zlib", "alpine", medium, "1.2.12"),
		finding("CVE-2021-3", "bash", "alpine", low, "5.1"),
		finding("GMS-2022-20", "github.com/x/y", "go.mod", unknown, ""),
		{Id: "CVE-2021-4", Package: "unrated", Severity: bridgev1.Severity_SEVERITY_UNSPECIFIED},
	}
	tests := []struct {
		name string
		c    config.Vulnerabilities
		now  time.Time
		want []string
	}{
		{name: "default threshold is HIGH", want: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine"}},
		{name: "CRITICAL", c: config.Vulnerabilities{MinSeverity: "CRITICAL"}, want: []string{"CVE-2019-14697/musl/alpine"}},
		{name: "medium in any case", c: config.Vulnerabilities{MinSeverity: "medium"},
			want: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine", "CVE-2021-2/zlib/alpine"}},
		{name: "UNKNOWN keeps all, unspecified counts as UNKNOWN", c: config.Vulnerabilities{MinSeverity: "UNKNOWN"},
			want: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine", "CVE-2021-2/zlib/alpine",
				"CVE-2021-3/bash/alpine", "GMS-2022-20/github.com/x/y/go.mod", "CVE-2021-4/unrated/"}},
		{name: "fixed only", c: config.Vulnerabilities{MinSeverity: "LOW", FixedOnly: true},
			want: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-2/zlib/alpine", "CVE-2021-3/bash/alpine"}},
		{name: "ignore without expiry, any case", c: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "cve-2019-14697", Reason: "not reachable"}}},
			want: []string{"CVE-2021-1/openssl/alpine"}},
		{name: "ignore until a later day", now: day,
			c:    config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2026-03-11"}}},
			want: []string{"CVE-2021-1/openssl/alpine"}},
		{name: "ignore applies to the end of its day", now: day.Add(11*time.Hour + 59*time.Minute),
			c:    config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2026-03-10"}}},
			want: []string{"CVE-2021-1/openssl/alpine"}},
		{name: "expired ignore stops applying", now: day.Add(12 * time.Hour),
			c:    config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2026-03-10"}}},
			want: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine"}},
		{name: "ignore below the threshold changes nothing", c: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2021-3"}}},
			want: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = day
			}
			p, err := vuln.NewPolicy(tt.c, at(now), nil)
			if err != nil {
				t.Fatalf("NewPolicy: %v", err)
			}
			in := append([]*bridgev1.Finding(nil), findings...)
			got := p.Apply(in)
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ids(findings), ids(in)); diff != "" {
				t.Errorf("Apply modified its input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewPolicyParses(t *testing.T) {
	p, err := vuln.NewPolicy(config.Vulnerabilities{
		MinSeverity: "critical", FixedOnly: true,
		Ignore: []config.Ignored{{ID: "CVE-1", Reason: "r"}, {ID: " CVE-2 ", Expires: "2026-02-28"}},
	}, nil, nil)
	if err != nil {
		t.Fatalf("NewPolicy: %v", err)
	}
	want := []vuln.Ignore{{ID: "CVE-1", Reason: "r"}, {ID: "CVE-2", Expires: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}}
	if p.MinSeverity != critical || !p.FixedOnly {
		t.Errorf("MinSeverity, FixedOnly = %v, %v, want %v, true", p.MinSeverity, p.FixedOnly, critical)
	}
	if diff := cmp.Diff(want, p.Ignore); diff != "" {
		t.Errorf("Ignore (-want +got):\n%s", diff)
	}
}

func TestNewPolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		c    config.Vulnerabilities
		want []string
	}{
		{name: "severity", c: config.Vulnerabilities{MinSeverity: "SEVERE"}, want: []string{"min_severity \"SEVERE\""}},
		{name: "date", c: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-1", Expires: "10/03/2026"}}},
			want: []string{"ignore[0].expires"}},
		{name: "all at once", c: config.Vulnerabilities{MinSeverity: "x", Ignore: []config.Ignored{{ID: "CVE-1"}, {Expires: "2026-13-01"}}},
			want: []string{"min_severity", "ignore[1].id: required", "ignore[1].expires"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := vuln.NewPolicy(tt.c, nil, nil)
			if err == nil {
				t.Fatalf("NewPolicy(%+v) = %+v, want an error", tt.c, p)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewPolicy error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestPolicyLogsExpiryOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	now := day
	p, err := vuln.NewPolicy(config.Vulnerabilities{MinSeverity: "LOW", Ignore: []config.Ignored{
		{ID: "CVE-2021-1", Expires: "2026-03-10", Reason: "waiting for upstream"},
		{ID: "CVE-2021-2", Expires: "2026-03-11"},
		{ID: "CVE-2021-3"},
	}}, func() time.Time { return now }, log)
	if err != nil {
		t.Fatalf("NewPolicy: %v", err)
	}
	fs := []*bridgev1.Finding{
		finding("CVE-2021-1", "a", "t", high, "2"),
		finding("CVE-2021-2", "b", "t", high, "2"),
		finding("CVE-2021-3", "c", "t", high, "2"),
	}
	steps := []struct {
		now    time.Time
		kept   []string
		logged []string // ids logged as expired by this step
	}{
		{now: day, kept: nil},
		{now: day.Add(12 * time.Hour), kept: []string{"CVE-2021-1/a/t"}, logged: []string{"CVE-2021-1"}},
		{now: day.Add(13 * time.Hour), kept: []string{"CVE-2021-1/a/t"}},
		{now: day.Add(36 * time.Hour), kept: []string{"CVE-2021-1/a/t", "CVE-2021-2/b/t"}, logged: []string{"CVE-2021-2"}},
		{now: day.Add(100 * time.Hour), kept: []string{"CVE-2021-1/a/t", "CVE-2021-2/b/t"}},
	}
	for i, s := range steps {
		now = s.now
		buf.Reset()
		if diff := cmp.Diff(s.kept, ids(p.Apply(fs))); diff != "" {
			t.Errorf("step %d: Apply (-want +got):\n%s", i, diff)
		}
		var logged []string
		for line := range strings.Lines(buf.String()) {
			var rec struct {
				Level  string `json:"level"`
				ID     string `json:"vulnerability_id"`
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("step %d: log line %q: %v", i, line, err)
			}
			if rec.Level != "WARN" {
				t.Errorf("step %d: level %s, want WARN", i, rec.Level)
			}
			if rec.ID == "CVE-2021-1" && rec.Reason != "waiting for upstream" {
				t.Errorf("step %d: reason %q, want the entry's", i, rec.Reason)
			}
			logged = append(logged, rec.ID)
		}
		if diff := cmp.Diff(s.logged, logged); diff != "" {
			t.Errorf("step %d: expired entries logged (-want +got):\n%s", i, diff)
		}
	}
}

package linear

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/event/eventtest"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// fixtureEvent parses a Trivy or Trivy Operator fixture (a path relative to
// testdata) with the real parser, as the webhook gateway does.
func fixtureEvent(t *testing.T, path string) *event.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := trivy.Parse(b)
	if err != nil {
		t.Fatalf("trivy.Parse(%s): %v", path, err)
	}
	return ev
}

// remediationFixtureCases are the remediation tickets of every Trivy and
// Trivy Operator fixture, under the policies worth showing. golden ""
// means the report must open no ticket.
var remediationFixtureCases = []struct {
	name, fixture string
	policy        config.Vulnerabilities
	golden        string
	// fixable and unfixable are the findings listed and those counted
	// without a fixed version; priority is Linear's.
	fixable, unfixable, priority int
}{
	// alpine-39: 2 CRITICAL (musl, musl-utils: one CVE), 4 MEDIUM, all fixed.
	{name: "alpine-39", fixture: "trivy/alpine-39.json", golden: "vuln-alpine-39", fixable: 2, priority: 1},
	{name: "alpine-39 min MEDIUM", fixture: "trivy/alpine-39.json", policy: config.Vulnerabilities{MinSeverity: "MEDIUM"},
		golden: "vuln-alpine-39-medium", fixable: 6, priority: 1},
	{name: "alpine-39 ignored", fixture: "trivy/alpine-39.json",
		policy: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "cve-2019-14697", Reason: "not reachable"}}}},
	{name: "alpine-39 ignored until later", fixture: "trivy/alpine-39.json",
		policy: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2999-12-31"}}}},
	// An expired entry no longer applies: the same ticket as without it.
	{name: "alpine-39 ignore expired", fixture: "trivy/alpine-39.json",
		policy: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2020-01-01"}}},
		golden: "vuln-alpine-39", fixable: 2, priority: 1},
	// debian-buster: 1 CRITICAL fixed, 1 LOW with no fix.
	{name: "debian-buster min LOW", fixture: "trivy/debian-buster.json", policy: config.Vulnerabilities{MinSeverity: "LOW"},
		golden: "vuln-debian-buster", fixable: 1, unfixable: 1, priority: 1},
	{name: "debian-buster fixed only", fixture: "trivy/debian-buster.json", policy: config.Vulnerabilities{MinSeverity: "LOW", FixedOnly: true},
		golden: "vuln-debian-buster-fixed-only", fixable: 1, priority: 1},
	// ubuntu-1804: 4 MEDIUM fixed, 1 LOW affected; nothing HIGH.
	{name: "ubuntu-1804", fixture: "trivy/ubuntu-1804.json"},
	{name: "ubuntu-1804 min LOW", fixture: "trivy/ubuntu-1804.json", policy: config.Vulnerabilities{MinSeverity: "LOW"},
		golden: "vuln-ubuntu-1804-low", fixable: 4, unfixable: 1, priority: 3},
	// centos-7: 1 MEDIUM, 2 LOW (one will_not_fix, no fix); epoch versions.
	{name: "centos-7 min LOW", fixture: "trivy/centos-7.json", policy: config.Vulnerabilities{MinSeverity: "LOW"},
		golden: "vuln-centos-7-low", fixable: 2, unfixable: 1, priority: 3},
	{name: "npm min MEDIUM", fixture: "trivy/npm.json", policy: config.Vulnerabilities{MinSeverity: "MEDIUM"},
		golden: "vuln-npm-medium", fixable: 1, priority: 3},
	// gomod: 1 MEDIUM, 4 UNKNOWN (GMS-2022-20 in three go.mod targets).
	{name: "gomod min UNKNOWN", fixture: "trivy/gomod.json", policy: config.Vulnerabilities{MinSeverity: "UNKNOWN"},
		golden: "vuln-gomod-unknown", fixable: 5, priority: 3},
	{name: "operator single", fixture: "trivy-operator/vulnerabilityreport.single.json",
		golden: "vuln-operator-single", fixable: 1, priority: 1},
	{name: "operator extended min MEDIUM", fixture: "trivy-operator/vulnerabilityreport.extended.json",
		policy: config.Vulnerabilities{MinSeverity: "MEDIUM"}, golden: "vuln-operator-extended-medium", fixable: 5, priority: 3},
	{name: "operator empty", fixture: "trivy-operator/vulnerabilityreport.empty.json",
		policy: config.Vulnerabilities{MinSeverity: "UNKNOWN"}},
}

// TestRenderRemediationFixtures renders the remediation ticket of every
// fixture (fixture → trivy.Parse → policy → ticket) against its golden,
// and checks that the reports with nothing fixable open no ticket through
// the sink and the Linear fake.
func TestRenderRemediationFixtures(t *testing.T) {
	covered := map[string]bool{}
	for _, tt := range remediationFixtureCases {
		covered[tt.fixture] = true
	}
	all := append(eventtest.Fixtures(t, "trivy/*.json"), eventtest.Fixtures(t, "trivy-operator/*.json")...)
	for _, f := range all {
		if !covered[f] {
			t.Errorf("fixture %s has no case", f)
		}
	}

	for _, tt := range remediationFixtureCases {
		t.Run(tt.name, func(t *testing.T) {
			p, err := vuln.NewPolicy(tt.policy, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev := fixtureEvent(t, tt.fixture)
			rep := ev.GetVulnerabilityReport()
			var fixable []*bridgev1.Finding
			unfixable := 0
			for _, f := range p.Apply(rep.GetFindings()) {
				if f.GetFixedVersion() == "" {
					unfixable++
				} else {
					fixable = append(fixable, f)
				}
			}
			fixable = vuln.Diff(nil, fixable).New
			if len(fixable) != tt.fixable || unfixable != tt.unfixable {
				t.Fatalf("fixable, unfixable = %d, %d; want %d, %d", len(fixable), unfixable, tt.fixable, tt.unfixable)
			}
			if tt.golden == "" {
				f := newFixture(t)
				f.s = New(Options{
					APIURL: f.srv.URL(),
					APIKey: func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil },
					Team:   "PLAT", Lookup: f.led, Timeout: 5 * time.Second, Policy: p,
				})
				r := f.mustDeliver(t, ev)
				if r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonNothingFixable {
					t.Errorf("result %+v, want skipped: %s", r, ReasonNothingFixable)
				}
				if n := len(f.srv.Issues()); n != 0 {
					t.Errorf("%d issues, want none", n)
				}
				return
			}
			// The workloads as the sink lists them for this one report: an
			// operator report's own, none for a CI scan.
			var ws vuln.State
			ws.AddWorkload(rep.GetArtifact(), time.Now())
			tk := renderRemediation(rep, vuln.GroupKey(rep.GetArtifact()), fixable, unfixable, ws.WorkloadNames())
			if w := vuln.Workload(rep.GetArtifact()); w != "" && !strings.Contains(tk.Description, "- `"+w+"`") {
				t.Errorf("description does not list the workload %s:\n%s", w, tk.Description)
			}
			if tk.Priority != tt.priority {
				t.Errorf("priority = %d, want %d", tk.Priority, tt.priority)
			}
			golden(t, tt.golden, fmt.Sprintf("Title: %s\nPriority: %d\nLabels: %s\n\n%s",
				tk.Title, tk.Priority, strings.Join(tk.Labels, ", "), tk.Description))
			checkRemediation(t, tk.Description, fixable)
		})
	}
}

// checkRemediation checks what each golden must show, so that -update
// cannot bless a broken ticket: one table row per fixable finding, most
// severe first, with its link and installed → fixed versions.
func checkRemediation(t *testing.T, desc string, fixable []*bridgev1.Finding) {
	t.Helper()
	var rows []string
	for _, l := range strings.Split(desc, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| Vulnerability |") {
			rows = append(rows, l)
		}
	}
	if len(rows) != len(fixable) {
		t.Fatalf("%d table rows, want %d:\n%s", len(rows), len(fixable), desc)
	}
	for i, f := range fixable {
		row := rows[i]
		if n := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|"); n != 6 {
			t.Errorf("row %d has %d cell separators, want 6: %s", i, n, row)
		}
		want := []string{" " + severityName(f.GetSeverity()) + " ", "`" + f.GetInstalledVersion() + "` → `" + f.GetFixedVersion() + "`"}
		if u := f.GetPrimaryUrl(); u != "" {
			want = append(want, "["+f.GetId()+"]("+u+")")
		} else {
			want = append(want, "| "+f.GetId()+" |")
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("row %d lacks %q: %s", i, w, row)
			}
		}
	}
	if strings.Count(desc, "`")%2 != 0 {
		t.Errorf("unbalanced code spans:\n%s", desc)
	}
}

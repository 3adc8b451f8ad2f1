package slack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/event/eventtest"
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

// vulnFixtureCases are the first alerts of every Trivy and Trivy Operator
// fixture, under the policies worth showing. golden "" means the report
// must make no alert at all.
var vulnFixtureCases = []struct {
	name, fixture string
	policy        config.Vulnerabilities
	golden        string
	// text is the alert's fallback text: the counts by severity.
	text string
}{
	// alpine-39: 2 CRITICAL (musl, musl-utils: one CVE), 4 MEDIUM, all fixed.
	{name: "alpine-39", fixture: "trivy/alpine-39.json", golden: "vuln-alpine-39", text: "2 critical"},
	{name: "alpine-39 min MEDIUM", fixture: "trivy/alpine-39.json", policy: config.Vulnerabilities{MinSeverity: "MEDIUM"},
		golden: "vuln-alpine-39-medium", text: "2 critical, 4 medium"},
	{name: "alpine-39 ignored", fixture: "trivy/alpine-39.json",
		policy: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "cve-2019-14697", Reason: "not reachable"}}}},
	{name: "alpine-39 ignored until later", fixture: "trivy/alpine-39.json",
		policy: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2999-12-31"}}}},
	// An expired entry no longer applies: the same alert as without it.
	{name: "alpine-39 ignore expired", fixture: "trivy/alpine-39.json",
		policy: config.Vulnerabilities{Ignore: []config.Ignored{{ID: "CVE-2019-14697", Expires: "2020-01-01"}}},
		golden: "vuln-alpine-39", text: "2 critical"},
	// debian-buster: 1 CRITICAL fixed, 1 LOW with no fix.
	{name: "debian-buster min LOW", fixture: "trivy/debian-buster.json", policy: config.Vulnerabilities{MinSeverity: "LOW"},
		golden: "vuln-debian-buster-low", text: "1 critical, 1 low"},
	{name: "debian-buster fixed only", fixture: "trivy/debian-buster.json", policy: config.Vulnerabilities{MinSeverity: "LOW", FixedOnly: true},
		golden: "vuln-debian-buster-fixed-only", text: "1 critical"},
	// ubuntu-1804: 4 MEDIUM fixed, 1 LOW affected; nothing HIGH.
	{name: "ubuntu-1804", fixture: "trivy/ubuntu-1804.json"},
	{name: "ubuntu-1804 min LOW", fixture: "trivy/ubuntu-1804.json", policy: config.Vulnerabilities{MinSeverity: "LOW"},
		golden: "vuln-ubuntu-1804-low", text: "4 medium, 1 low"},
	// centos-7: 1 MEDIUM, 2 LOW (one will_not_fix, no fix); epoch versions.
	{name: "centos-7 min LOW", fixture: "trivy/centos-7.json", policy: config.Vulnerabilities{MinSeverity: "LOW"},
		golden: "vuln-centos-7-low", text: "1 medium, 2 low"},
	{name: "npm min MEDIUM", fixture: "trivy/npm.json", policy: config.Vulnerabilities{MinSeverity: "MEDIUM"},
		golden: "vuln-npm-medium", text: "1 medium"},
	// gomod: 1 MEDIUM, 4 UNKNOWN (GMS-2022-20 in three go.mod targets).
	{name: "gomod min UNKNOWN", fixture: "trivy/gomod.json", policy: config.Vulnerabilities{MinSeverity: "UNKNOWN"},
		golden: "vuln-gomod-unknown", text: "1 medium, 4 unknown"},
	{name: "operator single", fixture: "trivy-operator/vulnerabilityreport.single.json",
		golden: "vuln-operator-single", text: "1 critical"},
	{name: "operator extended min MEDIUM", fixture: "trivy-operator/vulnerabilityreport.extended.json",
		policy: config.Vulnerabilities{MinSeverity: "MEDIUM"}, golden: "vuln-operator-extended-medium", text: "5 medium"},
	{name: "operator empty", fixture: "trivy-operator/vulnerabilityreport.empty.json",
		policy: config.Vulnerabilities{MinSeverity: "UNKNOWN"}},
}

// TestRenderVulnerabilityFixtures renders the first alert of every fixture
// (fixture → trivy.Parse → policy → alert) against its golden, and checks
// that the reports with nothing to say post nothing through the sink.
func TestRenderVulnerabilityFixtures(t *testing.T) {
	covered := map[string]bool{}
	for _, tt := range vulnFixtureCases {
		covered[tt.fixture] = true
	}
	all := append(eventtest.Fixtures(t, "trivy/*.json"), eventtest.Fixtures(t, "trivy-operator/*.json")...)
	for _, f := range all {
		if !covered[f] {
			t.Errorf("fixture %s has no case", f)
		}
	}

	for _, tt := range vulnFixtureCases {
		t.Run(tt.name, func(t *testing.T) {
			p, err := vuln.NewPolicy(tt.policy, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev := fixtureEvent(t, tt.fixture)
			rep := ev.GetVulnerabilityReport()
			cur := p.Apply(rep.GetFindings())
			if tt.golden == "" {
				if len(cur) != 0 {
					t.Fatalf("%d findings kept, want none", len(cur))
				}
				e, _ := newVulnEnv(t, func(o *Options) { o.Policy = p })
				if diff := cmp.Diff(skipped(reasonNothingAbove), e.mustDeliver(t, ev)); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				if n := slackCalls(e.fake); n != 0 {
					t.Errorf("%d Slack calls, want 0", n)
				}
				return
			}
			var workloads []string
			if w := vuln.Workload(rep.GetArtifact()); w != "" {
				workloads = []string{w}
			}
			m := renderVulnerabilityAlert(rep, cur, vuln.Diff(nil, cur), false, workloads)
			checkGolden(t, tt.golden, m)
			if !strings.Contains(m.Text, ": "+tt.text+" (first report") {
				t.Errorf("text %q, want the counts %q", m.Text, tt.text)
			}
			checkVulnAlert(t, m, cur, workloads)
		})
	}
}

// checkVulnAlert checks what each golden must show, so that -update
// cannot bless a broken alert: the findings most severe first, each with
// installed → fixed (or "no fix") and its advisory link, the workloads,
// and Block Kit's limits.
func checkVulnAlert(t *testing.T, m message, cur []*bridgev1.Finding, workloads []string) {
	t.Helper()
	texts := mrkdwnTexts(t, m)
	all := strings.Join(texts, "\n")
	for _, s := range texts {
		if n := len([]rune(s)); n > 3000 {
			t.Errorf("a text of %d characters, over Slack's 3000", n)
		}
	}
	if len(m.Blocks) > 50 {
		t.Errorf("%d blocks, over Slack's 50", len(m.Blocks))
	}
	sorted := vuln.Diff(nil, cur).New
	for i, f := range sorted[:min(len(sorted), maxFindingsShown)] {
		pos := strings.Index(all, "`"+f.GetPackage()+"`")
		if pos < 0 || !strings.Contains(all, "|"+f.GetId()+">") && f.GetPrimaryUrl() != "" {
			t.Errorf("finding %d (%s in %s) not shown with its link:\n%s", i, f.GetId(), f.GetPackage(), all)
			continue
		}
		want := "→ no fix"
		if f.GetFixedVersion() != "" {
			want = "→ `" + f.GetFixedVersion() + "`"
		}
		if !strings.Contains(all, "`"+f.GetInstalledVersion()+"` "+want) {
			t.Errorf("finding %s lacks %q:\n%s", f.GetId(), "`"+f.GetInstalledVersion()+"` "+want, all)
		}
	}
	lines := slices.DeleteFunc(strings.Split(all, "\n"), func(l string) bool { return !strings.HasPrefix(l, "• ") })
	rank := map[string]int{"CRITICAL": 5, "HIGH": 4, "MEDIUM": 3, "LOW": 2, "UNKNOWN": 1}
	for i := 1; i < len(lines); i++ {
		sev := func(l string) int { return rank[strings.Trim(strings.Fields(l)[1], "*")] }
		if sev(lines[i]) > sev(lines[i-1]) {
			t.Errorf("findings not most severe first:\n%s\n%s", lines[i-1], lines[i])
		}
	}
	for _, w := range workloads {
		if !strings.Contains(all, "Workloads: `"+w+"`") {
			t.Errorf("alert lacks workload %s:\n%s", w, all)
		}
	}
	if len(workloads) == 0 && strings.Contains(all, "Workloads:") {
		t.Errorf("alert lists workloads for a report without one:\n%s", all)
	}
}

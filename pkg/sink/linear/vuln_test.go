package linear

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
)

func TestSeverityPriority(t *testing.T) {
	tests := []struct {
		sev  bridgev1.Severity
		want int
	}{
		{bridgev1.Severity_SEVERITY_CRITICAL, 1},
		{bridgev1.Severity_SEVERITY_HIGH, 2},
		{bridgev1.Severity_SEVERITY_MEDIUM, 3},
		{bridgev1.Severity_SEVERITY_LOW, 4},
		{bridgev1.Severity_SEVERITY_UNKNOWN, 4},
		{bridgev1.Severity_SEVERITY_UNSPECIFIED, 4},
	}
	for _, tt := range tests {
		t.Run(tt.sev.String(), func(t *testing.T) {
			fs := []*bridgev1.Finding{{Severity: bridgev1.Severity_SEVERITY_LOW}, {Severity: tt.sev}}
			want := min(tt.want, 4)
			if got := severityPriority(fs); got != want {
				t.Errorf("severityPriority(LOW, %s) = %d, want %d", tt.sev, got, want)
			}
		})
	}
}

func TestFindingsEncoding(t *testing.T) {
	fs := []*bridgev1.Finding{
		{Id: "CVE-2", Package: "b|c", Target: "t, u"},
		{Id: "CVE-1", Package: "a", Target: "t"},
		{Id: "CVE-1", Package: "a", Target: "t", InstalledVersion: "other"},
	}
	enc := encodeFindings(fs)
	got, err := decodeFindings(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := []*bridgev1.Finding{{Id: "CVE-1", Package: "a", Target: "t"}, {Id: "CVE-2", Package: "b|c", Target: "t, u"}}
	if diff := cmp.Diff(want, got, cmp.Comparer(proto.Equal)); diff != "" {
		t.Errorf("decode(encode) (-want +got):\n%s", diff)
	}
	rev := slices.Clone(fs)
	slices.Reverse(rev)
	if enc != encodeFindings(rev) {
		t.Errorf("encoding depends on order")
	}
}

// vulnReport builds a vulnerability.found event for the app image.
func vulnReport(key string, findings ...*bridgev1.Finding) *event.Event {
	return imageReport("ghcr.io/stoa/app:1.0", key, findings...)
}

func imageReport(image, key string, findings ...*bridgev1.Finding) *event.Event {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ev := event.New(event.KindVulnerabilityFound, "/webhooks/trivy", image, event.VulnerabilityKey(image, key), at)
	ev.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: &bridgev1.VulnerabilityReport{
		Artifact: &bridgev1.Artifact{Kind: trivy.KindImage, Name: image, Digest: "sha256:abc"},
		Findings: findings,
		Scanner:  "trivy",
	}}
	return ev
}

func finding(id, pkg, sev string, fixed string) *bridgev1.Finding {
	return &bridgev1.Finding{
		Id: id, Package: pkg, InstalledVersion: "1.0", FixedVersion: fixed,
		Severity:   bridgev1.Severity(bridgev1.Severity_value["SEVERITY_"+sev]),
		PrimaryUrl: "https://avd.aquasec.com/nvd/" + strings.ToLower(id), Target: "app (alpine 3.20)",
	}
}

var (
	cveA = finding("CVE-2026-0001", "openssl", "CRITICAL", "3.0.1")
	cveB = finding("CVE-2026-0002", "zlib", "HIGH", "1.3.1")
	cveC = finding("CVE-2026-0003", "curl", "HIGH", "8.9.0")
	// cveLow is below the default threshold; cveNoFix has no fixed version.
	cveLow   = finding("CVE-2026-0004", "bash", "LOW", "5.2")
	cveNoFix = finding("CVE-2026-0005", "glibc", "CRITICAL", "")
)

const group = "ghcr.io/stoa/app@sha256:abc"

// vulnSink is the fixture's sink with vulnerability options.
func (f *fixture) vulnSink(closeWhenFixed bool) *Sink {
	return New(Options{
		APIURL:         f.srv.URL(),
		APIKey:         func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil },
		Team:           "PLAT",
		Lookup:         f.led,
		Timeout:        5 * time.Second,
		CloseWhenFixed: closeWhenFixed,
	})
}

func comments(is lineartest.Issue) []string {
	var out []string
	for _, c := range is.Comments {
		out = append(out, c.Body)
	}
	return out
}

func TestRemediationSequence(t *testing.T) {
	for _, closeWhenFixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("close_when_fixed=%t", closeWhenFixed), func(t *testing.T) {
			f := newFixture(t)
			f.s = f.vulnSink(closeWhenFixed)

			// Nothing fixable and no ticket: nothing.
			r := f.mustDeliver(t, vulnReport("0", cveLow, cveNoFix))
			if r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonNothingFixable {
				t.Fatalf("report with nothing fixable: %+v", r)
			}
			if n := len(f.srv.Issues()); n != 0 {
				t.Fatalf("Linear has %d issues, want 0", n)
			}

			// Report A: one ticket, listing the fixable findings.
			evA := vulnReport("A", cveA, cveB, cveLow, cveNoFix)
			r = f.mustDeliver(t, evA)
			is := f.onlyIssue(t)
			if r.Outcome != OutcomeCreated || r.Fields["issue_id"] != is.ID || r.Fields["identifier"] != is.Identifier {
				t.Errorf("A: result %+v, issue %s %s", r, is.ID, is.Identifier)
			}
			if diff := cmp.Diff([]string{VulnOpenKey(group)}, r.Links); diff != "" {
				t.Errorf("A: Links (-want +got):\n%s", diff)
			}
			if is.Title != "Remediate 2 vulnerabilities in ghcr.io/stoa/app:1.0" || is.Priority != 1 || is.TeamID != teamID {
				t.Errorf("A: title, priority, team = %q, %d, %s", is.Title, is.Priority, is.TeamID)
			}
			if diff := cmp.Diff([]string{teamLabel}, is.LabelIDs); diff != "" {
				t.Errorf("A: labels (-want +got):\n%s", diff)
			}
			if len(is.Attachments) != 1 || is.Attachments[0].URL != ArtifactURL(group) {
				t.Errorf("A: attachments = %+v, want %s", is.Attachments, ArtifactURL(group))
			}
			for _, id := range []string{"CVE-2026-0001", "CVE-2026-0002"} {
				if !strings.Contains(is.Description, id) {
					t.Errorf("A: description lacks %s", id)
				}
			}
			for _, id := range []string{"CVE-2026-0004", "CVE-2026-0005"} {
				if strings.Contains(is.Description, id) {
					t.Errorf("A: description lists %s (below threshold or not fixable)", id)
				}
			}

			// Report B: cveA fixed, cveC new: one comment naming those two.
			evB := vulnReport("B", cveB, cveC, cveNoFix)
			r = f.mustDeliver(t, evB)
			is = f.onlyIssue(t)
			if r.Outcome != OutcomeUpdated {
				t.Errorf("B: Outcome = %q, want %q", r.Outcome, OutcomeUpdated)
			}
			if len(is.Comments) != 1 {
				t.Fatalf("B: %d comments, want 1: %q", len(is.Comments), comments(is))
			}
			body := is.Comments[0].Body
			for id, want := range map[string]bool{"CVE-2026-0001": true, "CVE-2026-0003": true, "CVE-2026-0002": false, "CVE-2026-0005": false} {
				if strings.Contains(body, id) != want {
					t.Errorf("B: comment names %s: %t, want %t:\n%s", id, !want, want, body)
				}
			}
			if !strings.Contains(body, "**New** (1)") || !strings.Contains(body, "**Fixed** (1)") {
				t.Errorf("B: comment:\n%s", body)
			}

			// The same findings again (a new event, as after a re-scan with
			// another key): nothing.
			r = f.mustDeliver(t, vulnReport("B2", cveC, cveB, cveNoFix))
			if r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonUnchanged {
				t.Errorf("B again: %+v, want skipped unchanged", r)
			}
			// And the very same event once more.
			if r := f.mustDeliver(t, evB); r.Outcome != OutcomeUpdated {
				t.Errorf("B redelivered: %+v", r)
			}
			if is = f.onlyIssue(t); len(is.Comments) != 1 {
				t.Errorf("B again: %d comments, want 1", len(is.Comments))
			}

			// All fixed: the closing comment.
			r = f.mustDeliver(t, vulnReport("C", cveLow, cveNoFix))
			is = f.onlyIssue(t)
			if len(is.Comments) != 2 || !strings.Contains(is.Comments[1].Body, "All findings are fixed") {
				t.Fatalf("all fixed: comments %q", comments(is))
			}
			for _, id := range []string{"CVE-2026-0002", "CVE-2026-0003"} {
				if !strings.Contains(is.Comments[1].Body, id) {
					t.Errorf("all fixed: comment lacks %s", id)
				}
			}
			wantState := lineartest.StateBacklog
			if closeWhenFixed {
				wantState = lineartest.StateCompleted
			}
			if is.StateType != wantState || (r.Fields["closed"] == "true") != closeWhenFixed {
				t.Errorf("all fixed: state %s, closed field %q; want %s", is.StateType, r.Fields["closed"], wantState)
			}

			// A new fixable finding: with the ticket closed, a new ticket;
			// else a comment on the open one.
			f.mustDeliver(t, vulnReport("D", cveA))
			issues := f.srv.Issues()
			if closeWhenFixed {
				if len(issues) != 2 {
					t.Fatalf("after close: %d issues, want 2", len(issues))
				}
				if issues[1].Title != "Remediate 1 vulnerability in ghcr.io/stoa/app:1.0" || issues[1].StateType == lineartest.StateCompleted {
					t.Errorf("after close: new issue %q in %s", issues[1].Title, issues[1].StateType)
				}
				return
			}
			if len(issues) != 1 || len(issues[0].Comments) != 3 || !strings.Contains(issues[0].Comments[2].Body, "CVE-2026-0001") {
				t.Errorf("open ticket: %d issues, comments %q", len(issues), comments(issues[0]))
			}
		})
	}
}

// TestRemediationLostCreate: Linear creates the issue but the answer is
// lost; neither the retry nor another report of the group (the ledger
// knows of no ticket either way) makes a second ticket.
func TestRemediationLostCreate(t *testing.T) {
	tests := []struct {
		name      string
		attempt   int
		uncertain bool
		// other: the next delivery is another report of the group.
		other bool
	}{
		{name: "uncertain retry", attempt: 2, uncertain: true},
		{name: "plain retry", attempt: 2},
		{name: "another report", attempt: 1, other: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			lose := &loseTransport{}
			f.s = f.vulnSink(false)
			f.s.hc = &http.Client{Transport: lose}
			f.mustDeliver(t, imageReport("ghcr.io/stoa/other:1.0", "W", cveA)) // warms the caches
			ev := vulnReport("A", cveA)
			lose.arm("issueCreate")
			_, err := f.deliver(t, f.s, ev, 1, false)
			if err == nil || sink.IsPermanent(err) {
				t.Fatalf("Deliver with a lost answer = %v, want a transient error", err)
			}
			next := ev
			if tt.other {
				next = vulnReport("A2", cveA, cveB)
			}
			r, err := f.deliver(t, f.s, next, tt.attempt, tt.uncertain)
			if err != nil {
				t.Fatalf("next Deliver = %v", sink.Describe(err))
			}
			var mine []lineartest.Issue
			for _, is := range f.srv.Issues() {
				if strings.Contains(is.Title, "app:1.0") {
					mine = append(mine, is)
				}
			}
			if len(mine) != 1 {
				t.Fatalf("%d tickets for the group, want 1: %+v", len(mine), mine)
			}
			if r.Outcome != OutcomeCreated || r.Fields["issue_id"] != mine[0].ID {
				t.Errorf("next Deliver = %+v, issue %s", r, mine[0].ID)
			}
			if len(mine[0].Attachments) != 1 || mine[0].Attachments[0].URL != ArtifactURL(group) {
				t.Errorf("attachments = %+v, want the marker once", mine[0].Attachments)
			}
		})
	}
}

// loseTransport sends a request and, when armed for its operation, drops
// the answer: Linear acted, the sink cannot know. (lineartest.LoseResponse
// counts requests; the look-before-create reads come before the create.)
type loseTransport struct {
	mu sync.Mutex
	op string
}

func (l *loseTransport) arm(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.op = op
}

func (l *loseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.op != "" && bytes.Contains(body, []byte(l.op)) {
		l.op = ""
		resp.Body.Close()
		return nil, errors.New("connection reset (test)")
	}
	return resp, err
}

func TestRemediationDryRun(t *testing.T) {
	f := newFixture(t)
	s := New(Options{Team: "PLAT", Lookup: f.led})
	r, err := s.Deliver(context.Background(), sink.Delivery{Event: vulnReport("A", cveA), Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != sink.OutcomeDryRun || r.Fields["action"] != ActionCreate {
		t.Errorf("dry-run: %+v", r)
	}
	if f.srv.Requests() != 0 {
		t.Errorf("dry-run made %d requests", f.srv.Requests())
	}
}

func TestArtifactURL(t *testing.T) {
	got := ArtifactURL("ghcr.io/stoa/app@sha256:abc")
	if want := "https://bridge.invalid/artifact/ghcr.io%2Fstoa%2Fapp@sha256:abc"; got != want {
		t.Errorf("ArtifactURL = %q, want %q", got, want)
	}
}

// operatorReport builds an operator report of the app image from the
// workload ns/kindName, scanned at at.
func operatorReport(ns, kindName, key string, at time.Time, findings ...*bridgev1.Finding) *event.Event {
	ev := vulnReport(key, findings...)
	ev.Time = timestamppb.New(at)
	rep := ev.GetVulnerabilityReport()
	rep.Artifact.Namespace, rep.Artifact.Workload = ns, kindName
	rep.ScannedAt = timestamppb.New(at)
	rep.Scanner = "trivy-operator"
	return ev
}

// TestRemediationWorkloads: one image reported from several workloads is
// one ticket listing them all; the list follows the workloads without a
// comment, and a workload unseen for longer than vuln.WorkloadTTL goes.
func TestRemediationWorkloads(t *testing.T) {
	f := newFixture(t)
	f.s = f.vulnSink(false)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

	workloads := func(t *testing.T, desc string) []string {
		t.Helper()
		var out []string
		for _, l := range strings.Split(desc, "\n") {
			if w, ok := strings.CutPrefix(l, "- `"); ok {
				out = append(out, strings.TrimSuffix(w, "`"))
			}
		}
		return out
	}

	// Three workloads, the same findings: one ticket, no comment.
	for i, w := range []string{"Deployment/web", "CronJob/sync", "StatefulSet/db"} {
		r := f.mustDeliver(t, operatorReport("prod", w, fmt.Sprint("w", i), t0.Add(time.Duration(i)*time.Minute), cveA, cveB))
		if i > 0 && r.Outcome != OutcomeUpdated {
			t.Errorf("report %d: outcome %q, want %q", i, r.Outcome, OutcomeUpdated)
		}
	}
	is := f.onlyIssue(t)
	want := []string{"prod/CronJob/sync", "prod/Deployment/web", "prod/StatefulSet/db"}
	if diff := cmp.Diff(want, workloads(t, is.Description)); diff != "" {
		t.Errorf("workloads (-want +got):\n%s\n%s", diff, is.Description)
	}
	if !strings.Contains(is.Description, "**Affected workloads** (3):") {
		t.Errorf("description lacks the section heading:\n%s", is.Description)
	}
	if n := f.srv.Calls("issueCreate"); n != 1 {
		t.Errorf("%d issueCreate calls, want 1", n)
	}
	if len(is.Comments) != 0 {
		t.Errorf("comments %q, want none", comments(is))
	}

	// A workload the ticket lists, again, a day later: no visible change,
	// but the record keeps the new last-seen time.
	before := f.srv.Calls("issueUpdate")
	r := f.mustDeliver(t, operatorReport("prod", "Deployment/web", "w0b", t0.Add(24*time.Hour), cveA, cveB))
	if r.Outcome != sink.OutcomeSkipped || r.Fields["reason"] != ReasonUnchanged {
		t.Errorf("same workload again: %+v, want skipped unchanged", r)
	}
	if n := f.srv.Calls("issueUpdate"); n != before {
		t.Errorf("same workload again: %d issueUpdate calls, want none", n-before)
	}
	rec, _, _ := f.led.Result(context.Background(), VulnOpenKey(group))
	ws, err := decodeWorkloads(rec.Fields["workloads"])
	if err != nil {
		t.Fatal(err)
	}
	if got := ws["prod/Deployment/web"]; !got.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("recorded last seen of prod/Deployment/web = %s, want %s", got, t0.Add(24*time.Hour))
	}

	// Four days on, only the web deployment reported since: the other two
	// go; so does web itself, 72h after its last report, below.
	r = f.mustDeliver(t, operatorReport("prod", "Deployment/web", "w0c", t0.Add(96*time.Hour), cveA, cveB))
	if r.Outcome != OutcomeUpdated {
		t.Errorf("after expiry: outcome %q, want %q", r.Outcome, OutcomeUpdated)
	}
	is = f.onlyIssue(t)
	if diff := cmp.Diff([]string{"prod/Deployment/web"}, workloads(t, is.Description)); diff != "" {
		t.Errorf("after expiry: workloads (-want +got):\n%s\n%s", diff, is.Description)
	}
	if len(is.Comments) != 0 || f.srv.Calls("issueCreate") != 1 {
		t.Errorf("after expiry: comments %q, %d issueCreate", comments(is), f.srv.Calls("issueCreate"))
	}

	// A findings change from a new workload: the comment as before, and
	// the list rewritten with it.
	r = f.mustDeliver(t, operatorReport("jobs", "Job/migrate", "j0", t0.Add(97*time.Hour), cveA, cveB, cveC))
	is = f.onlyIssue(t)
	if r.Outcome != OutcomeUpdated || len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "CVE-2026-0003") {
		t.Errorf("new finding: %+v, comments %q", r, comments(is))
	}
	if diff := cmp.Diff([]string{"jobs/Job/migrate", "prod/Deployment/web"}, workloads(t, is.Description)); diff != "" {
		t.Errorf("new finding: workloads (-want +got):\n%s", diff)
	}

	// A CI scan of the image (no workload) long after: the workloads
	// expire and the section goes.
	ci := vulnReport("ci", cveA, cveB, cveC)
	ci.Time = timestamppb.New(t0.Add(30 * 24 * time.Hour))
	f.mustDeliver(t, ci)
	is = f.onlyIssue(t)
	if strings.Contains(is.Description, "Affected workloads") || len(workloads(t, is.Description)) != 0 {
		t.Errorf("all expired: description still lists workloads:\n%s", is.Description)
	}
	if !strings.Contains(is.Description, "CVE-2026-0001") || !strings.Contains(is.Description, "\n---\n") {
		t.Errorf("all expired: description lost its table or footer:\n%s", is.Description)
	}
}

func TestWithWorkloads(t *testing.T) {
	base := "intro\n\n| a |\n\n---\n_footer_\n"
	linked := "intro\n\n| a |\n\n" + upgradeLinePrefix + "PLAT-7 (Upgrade)\n\n---\n_footer_\n"
	tests := []struct {
		name, desc string
		ws         []string
		want       string
	}{
		{name: "none to none", desc: base, want: base},
		{name: "insert", desc: base, ws: []string{"a/B/c"},
			want: "intro\n\n| a |\n\n**Affected workloads** (1):\n\n- `a/B/c`\n\n---\n_footer_\n"},
		{name: "insert above the links", desc: linked, ws: []string{"a/B/c"},
			want: "intro\n\n| a |\n\n**Affected workloads** (1):\n\n- `a/B/c`\n\n" + upgradeLinePrefix + "PLAT-7 (Upgrade)\n\n---\n_footer_\n"},
		{name: "replace", desc: "intro\n\n**Affected workloads** (1):\n\n- `a/B/c`\n\n" + upgradeLinePrefix + "X\n\n---\nf",
			ws:   []string{"a/B/c", "d/E/f"},
			want: "intro\n\n**Affected workloads** (2):\n\n- `a/B/c`\n- `d/E/f`\n\n" + upgradeLinePrefix + "X\n\n---\nf"},
		{name: "remove", desc: "intro\n\n**Affected workloads** (1):\n\n- `a/B/c`\n\n" + upgradeLinePrefix + "X\n\n---\nf",
			want: "intro\n\n" + upgradeLinePrefix + "X\n\n---\nf"},
		{name: "no footer", desc: "intro\n", ws: []string{"a/B/c"},
			want: "intro\n\n**Affected workloads** (1):\n\n- `a/B/c`\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withWorkloads(tt.desc, tt.ws)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("withWorkloads (-want +got):\n%s", diff)
			}
			if again := withWorkloads(got, tt.ws); again != got {
				t.Errorf("not idempotent:\n%s", again)
			}
		})
	}
}

func TestRenderWorkloadsBounded(t *testing.T) {
	var ws []string
	for i := range maxWorkloadsListed + 5 {
		ws = append(ws, fmt.Sprintf("ns/Deployment/w%02d", i))
	}
	got := renderWorkloads(ws)
	if n := strings.Count(got, "\n- `"); n != maxWorkloadsListed {
		t.Errorf("%d workloads listed, want %d:\n%s", n, maxWorkloadsListed, got)
	}
	if !strings.Contains(got, "- and 5 more\n") || !strings.HasPrefix(got, fmt.Sprintf("**Affected workloads** (%d):", len(ws))) {
		t.Errorf("section:\n%s", got)
	}
}

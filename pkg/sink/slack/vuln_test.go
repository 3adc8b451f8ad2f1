package slack

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

const vulnsID = "C0SECURITY"

// alpineGroup is the group key of the alpine-39 fixture's image: a Trivy
// report scanned from a tarball has no registry digest.
const alpineGroup = "ghcr.io/aquasecurity/trivy-test-images:alpine-39"

// alpineEvent is the event trivy.Parse makes of the alpine-39 fixture:
// 2 CRITICAL (musl, musl-utils), 4 MEDIUM.
func alpineEvent(t *testing.T) *event.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "trivy", "alpine-39.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := trivy.Parse(b)
	if err != nil {
		t.Fatalf("trivy.Parse: %v", err)
	}
	return ev
}

// busyboxFinding is invented: a HIGH finding the second report adds.
func busyboxFinding() *bridgev1.Finding {
	return &bridgev1.Finding{
		Id: "CVE-2099-0001", Package: "busybox", InstalledVersion: "1.29.3-r10", FixedVersion: "1.29.3-r11",
		Severity: bridgev1.Severity_SEVERITY_HIGH, Title: "busybox: invented for the test",
		PrimaryUrl: "https://avd.aquasec.com/nvd/cve-2099-0001",
		Target:     "testdata/fixtures/images/alpine-39.tar.gz (alpine 3.9.4)",
	}
}

// laterReport derives another report of the same artifact, scanned shift
// after ev, with its own key and the findings edit returns.
func laterReport(ev *event.Event, shift time.Duration, key string, edit func([]*bridgev1.Finding) []*bridgev1.Finding) *event.Event {
	out := proto.Clone(ev).(*event.Event)
	out.Id = ev.GetId() + "-" + key
	out.IdempotencyKey = ev.GetIdempotencyKey() + "-" + key
	at := ev.GetTime().AsTime().Add(shift)
	out.Time = timestamppb.New(at)
	rep := out.GetVulnerabilityReport()
	rep.ScannedAt = timestamppb.New(at)
	if edit != nil {
		rep.Findings = edit(rep.Findings)
	}
	return out
}

// reportB is report A a day later with musl-utils fixed and busybox new.
func reportB(a *event.Event) *event.Event {
	return laterReport(a, 24*time.Hour, "b", func(fs []*bridgev1.Finding) []*bridgev1.Finding {
		var out []*bridgev1.Finding
		for _, f := range fs {
			if f.GetPackage() != "musl-utils" {
				out = append(out, f)
			}
		}
		return append(out, busyboxFinding())
	})
}

func defaultPolicy(t *testing.T) *vuln.Policy {
	t.Helper()
	p, err := vuln.NewPolicy(config.Vulnerabilities{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func openVulnStore(t *testing.T) *vuln.Store {
	t.Helper()
	b := bustest.Open(t, bus.Options{})
	s, err := vuln.OpenStore(t.Context(), b.JetStream(), "", 0)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

// newVulnEnv is newEnv with a vulnerabilities channel and a state store
// on a real JetStream KeyValue.
func newVulnEnv(t *testing.T, mods ...func(*Options)) (*env, *vuln.Store) {
	t.Helper()
	store := openVulnStore(t)
	mods = append([]func(*Options){func(o *Options) {
		o.Channels.Vulnerabilities = vulnsID
		o.Vulns = store
	}}, mods...)
	e := newEnv(t, mods...)
	e.fake.AddChannel(vulnsID, "security")
	return e, store
}

func TestRenderVulnerability(t *testing.T) {
	p := defaultPolicy(t)
	a := alpineEvent(t).GetVulnerabilityReport()
	b := reportB(alpineEvent(t)).GetVulnerabilityReport()
	curA, curB := p.Apply(a.GetFindings()), p.Apply(b.GetFindings())
	tests := []struct {
		golden string
		msg    message
	}{
		{"vuln-alpine-39", renderVulnerabilityAlert(a, curA, vuln.Diff(nil, curA), false, nil)},
		{"vuln-diff", renderVulnerabilityAlert(b, curB, vuln.Diff(curA, curB), true,
			[]string{"prod/Deployment/api", "staging/Deployment/api"})},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) { checkGolden(t, tt.golden, tt.msg) })
	}
}

// TestRenderVulnerabilityProperties checks what the goldens show, so that
// an -update cannot bless a regression unnoticed.
func TestRenderVulnerabilityProperties(t *testing.T) {
	p := defaultPolicy(t)
	a := alpineEvent(t).GetVulnerabilityReport()
	b := reportB(alpineEvent(t)).GetVulnerabilityReport()
	curA, curB := p.Apply(a.GetFindings()), p.Apply(b.GetFindings())

	first := renderVulnerabilityAlert(a, curA, vuln.Diff(nil, curA), false, nil)
	if want := ":rotating_light: " + alpineGroup + ": 2 critical (first report for this artifact)"; first.Text != want {
		t.Errorf("first text %q, want %q", first.Text, want)
	}
	body := string(marshalGolden(t, first))
	for _, want := range []string{
		"<https://avd.aquasec.com/nvd/cve-2019-14697|CVE-2019-14697> `musl` `1.1.20-r4` → `1.1.20-r5`",
		"*Critical*\\n2",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("first alert lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "CVE-2019-1549") {
		t.Errorf("first alert shows a MEDIUM finding below the threshold:\n%s", body)
	}

	second := renderVulnerabilityAlert(b, curB, vuln.Diff(curA, curB), true, nil)
	if want := ":rotating_light: " + alpineGroup + ": 1 critical, 1 high (1 new, 1 fixed since the last report)"; second.Text != want {
		t.Errorf("diff text %q, want %q", second.Text, want)
	}
	texts := strings.Join(mrkdwnTexts(t, second), "\n")
	for _, want := range []string{
		":new: *HIGH* <https://avd.aquasec.com/nvd/cve-2099-0001|CVE-2099-0001> `busybox`",
		"*Fixed since the last report*\n• *CRITICAL* <https://avd.aquasec.com/nvd/cve-2019-14697|CVE-2019-14697> `musl-utils` `1.1.20-r4` fixed",
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("diff alert lacks %q:\n%s", want, texts)
		}
	}

	t.Run("no fix, all fixed, hostile", func(t *testing.T) {
		f := &bridgev1.Finding{Id: "CVE-1|<!channel>", Package: "<@U1>", InstalledVersion: "1`", Severity: bridgev1.Severity_SEVERITY_CRITICAL,
			PrimaryUrl: "javascript:alert(1)"}
		m := renderVulnerabilityAlert(&bridgev1.VulnerabilityReport{Artifact: &bridgev1.Artifact{Name: "<!here>"}},
			[]*bridgev1.Finding{f}, vuln.Diff(nil, []*bridgev1.Finding{f}), false, nil)
		got := strings.Join(mrkdwnTexts(t, m), "\n") + m.Text
		if strings.Contains(got, "<!") || strings.Contains(got, "<@") || strings.Contains(got, "javascript") {
			t.Errorf("hostile finding not neutralised:\n%s", got)
		}
		if !strings.Contains(got, "→ no fix") {
			t.Errorf("finding without a fixed version lacks \"no fix\":\n%s", got)
		}
		gone := renderVulnerabilityAlert(a, nil, vuln.Diff(curA, nil), true, nil)
		if !strings.Contains(gone.Text, "0 new, 2 fixed since the last report") || !strings.Contains(gone.Text, ":white_check_mark:") {
			t.Errorf("all-fixed text %q", gone.Text)
		}
	})

	t.Run("at most ten findings", func(t *testing.T) {
		var fs []*bridgev1.Finding
		for i := range 25 {
			fs = append(fs, &bridgev1.Finding{Id: "CVE-2024-" + string(rune('A'+i)), Package: "p", Severity: bridgev1.Severity_SEVERITY_HIGH})
		}
		m := renderVulnerabilityAlert(a, fs, vuln.Diff(nil, fs), false, nil)
		texts := strings.Join(mrkdwnTexts(t, m), "\n")
		if n := strings.Count(texts, "• "); n != maxFindingsShown {
			t.Errorf("%d findings shown, want %d", n, maxFindingsShown)
		}
		if !strings.Contains(texts, "… and 15 more") || !strings.Contains(m.Text, "25 high") {
			t.Errorf("alert of 25 findings:\n%s\n%s", texts, m.Text)
		}
	})
}

func TestVulnerabilityFlow(t *testing.T) {
	ctx := t.Context()
	e, store := newVulnEnv(t)
	a := alpineEvent(t)
	b := reportB(a)

	steps := []struct {
		name   string
		ev     *event.Event
		reason string // empty: an alert is posted
		// contains is in the alert's blocks.
		contains []string
		// messages is the channel's count after the step.
		messages int
	}{
		{name: "first report", ev: a, messages: 1, contains: []string{"first report for this artifact", "CVE-2019-14697"}},
		{name: "same report again", ev: a, reason: reasonNoChange, messages: 1},
		{name: "one fixed, one new", ev: b, messages: 2,
			contains: []string{"1 new, 1 fixed since the last report", "CVE-2099-0001", "`musl-utils` `1.1.20-r4` fixed"}},
		{name: "report B again", ev: b, reason: reasonNoChange, messages: 2},
		{name: "older report", ev: laterReport(a, -time.Hour, "old", nil), reason: reasonOlderReport, messages: 2},
		{name: "only below the threshold now", ev: laterReport(a, 48*time.Hour, "medium", func(fs []*bridgev1.Finding) []*bridgev1.Finding {
			var out []*bridgev1.Finding
			for _, f := range fs {
				if f.GetSeverity() < bridgev1.Severity_SEVERITY_HIGH {
					out = append(out, f)
				}
			}
			return out
		}), messages: 3, contains: []string{"0 new, 2 fixed since the last report", "All reported vulnerabilities fixed"}},
	}
	for _, st := range steps {
		r := e.mustDeliver(t, st.ev)
		msgs := e.fake.Messages(vulnsID)
		if len(msgs) != st.messages {
			t.Fatalf("%s: %d alerts, want %d", st.name, len(msgs), st.messages)
		}
		if st.reason != "" {
			if diff := cmp.Diff(skipped(st.reason), r); diff != "" {
				t.Errorf("%s: result (-want +got):\n%s", st.name, diff)
			}
			continue
		}
		last := msgs[len(msgs)-1]
		if r.Outcome != OutcomePosted || r.Fields["ts"] != last.TS || r.Fields["channel"] != vulnsID || r.Fields["artifact"] != alpineGroup {
			t.Errorf("%s: result %+v, want posted at %s", st.name, r, last.TS)
		}
		if k, _ := last.Metadata.EventPayload["idempotency_key"].(string); k != st.ev.GetIdempotencyKey() {
			t.Errorf("%s: metadata key %q, want %q", st.name, k, st.ev.GetIdempotencyKey())
		}
		for _, want := range st.contains {
			if !strings.Contains(string(last.Blocks), want) {
				t.Errorf("%s: alert lacks %q:\n%s", st.name, want, last.Blocks)
			}
		}
	}

	st, ok, err := store.Get(ctx, alpineGroup)
	if err != nil || !ok {
		t.Fatalf("Get state = %v, %v", ok, err)
	}
	if len(st.Findings) != 0 || !st.ReportedAt.Equal(a.GetTime().AsTime().Add(48*time.Hour)) {
		t.Errorf("final state: %d findings reported at %v, want none at the last report's time", len(st.Findings), st.ReportedAt)
	}
}

func TestVulnerabilityBelowThreshold(t *testing.T) {
	e, store := newVulnEnv(t)
	ev := laterReport(alpineEvent(t), 0, "medium", func(fs []*bridgev1.Finding) []*bridgev1.Finding {
		var out []*bridgev1.Finding
		for _, f := range fs {
			if f.GetSeverity() == bridgev1.Severity_SEVERITY_MEDIUM {
				out = append(out, f)
			}
		}
		return out
	})
	if n := len(ev.GetVulnerabilityReport().GetFindings()); n != 4 {
		t.Fatalf("%d MEDIUM findings in the fixture, want 4", n)
	}
	r := e.mustDeliver(t, ev)
	if diff := cmp.Diff(skipped(reasonNothingAbove), r); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if n := slackCalls(e.fake); n != 0 {
		t.Errorf("%d Slack calls, want 0", n)
	}
	// The state is written all the same: a later finding above the
	// threshold is then news, with a diff line.
	if _, ok, err := store.Get(t.Context(), alpineGroup); err != nil || !ok {
		t.Errorf("state after a report below the threshold: %v, %v, want one", ok, err)
	}

	t.Run("a stricter policy", func(t *testing.T) {
		p, err := vuln.NewPolicy(config.Vulnerabilities{MinSeverity: "MEDIUM"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := newVulnEnv(t, func(o *Options) { o.Policy = p })
		if r := e.mustDeliver(t, ev); r.Outcome != OutcomePosted {
			t.Errorf("MEDIUM report with min_severity MEDIUM: %q, want posted", r.Outcome)
		}
	})
}

func TestVulnerabilityUncertain(t *testing.T) {
	e, store := newVulnEnv(t)
	ev := alpineEvent(t)
	e.fake.LoseResponse("chat.postMessage", 1)
	if _, err := e.deliver(t, ev, 1, false); err == nil || sink.IsPermanent(err) || sink.IsWait(err) {
		t.Fatalf("Deliver with the answer lost = %v, want transient", err)
	}
	msgs := e.fake.Messages(vulnsID)
	if len(msgs) != 1 {
		t.Fatalf("%d alerts after the lost answer, want 1", len(msgs))
	}
	// Post first, state second: the failed attempt left no state, so the
	// retry diffs the same way and must find its message.
	if _, ok, err := store.Get(t.Context(), alpineGroup); err != nil || ok {
		t.Fatalf("state after the lost answer: %v, %v, want none", ok, err)
	}
	r, err := e.deliver(t, ev, 2, true)
	if err != nil {
		t.Fatalf("uncertain Deliver = %v", err)
	}
	if n := e.fake.Calls("chat.postMessage"); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
	if r.Outcome != OutcomePosted || r.Fields["ts"] != msgs[0].TS {
		t.Errorf("uncertain result %+v, want posted at %s", r, msgs[0].TS)
	}
	if got := e.logs.lines(t, "found the security alert an earlier attempt posted"); len(got) != 1 {
		t.Errorf("%d 'found' log lines, want 1", len(got))
	}
	if _, ok, err := store.Get(t.Context(), alpineGroup); err != nil || !ok {
		t.Errorf("state after the retry: %v, %v, want one", ok, err)
	}
	if r := e.mustDeliver(t, ev); r.Outcome != sink.OutcomeSkipped {
		t.Errorf("the same report after: %q, want skipped", r.Outcome)
	}
}

func TestVulnerabilityWorkloads(t *testing.T) {
	e, store := newVulnEnv(t)
	a := alpineEvent(t)
	var evs []*event.Event
	for i, w := range []string{"Deployment/api", "Deployment/worker", "CronJob/sync"} {
		ev := laterReport(a, time.Duration(i)*time.Minute, w, nil)
		art := ev.GetVulnerabilityReport().GetArtifact()
		art.Namespace, art.Workload = "prod", w
		evs = append(evs, ev)
	}
	for i, ev := range evs {
		r := e.mustDeliver(t, ev)
		if want := map[bool]string{true: OutcomePosted, false: sink.OutcomeSkipped}[i == 0]; r.Outcome != want {
			t.Errorf("workload %d: %q, want %q", i, r.Outcome, want)
		}
	}
	if n := len(e.fake.Messages(vulnsID)); n != 1 {
		t.Errorf("%d alerts for one image in three workloads, want 1", n)
	}
	st, _, err := store.Get(t.Context(), alpineGroup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"prod/CronJob/sync", "prod/Deployment/api", "prod/Deployment/worker"}
	if diff := cmp.Diff(want, st.WorkloadNames()); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	// The next alert lists all three.
	r := e.mustDeliver(t, laterReport(evs[0], time.Hour, "b", func(fs []*bridgev1.Finding) []*bridgev1.Finding {
		return append(fs, busyboxFinding())
	}))
	if r.Outcome != OutcomePosted {
		t.Fatalf("report B: %q, want posted", r.Outcome)
	}
	msgs := e.fake.Messages(vulnsID)
	if w := "Workloads: `prod/CronJob/sync` `prod/Deployment/api` `prod/Deployment/worker`"; !strings.Contains(string(msgs[len(msgs)-1].Blocks), w) {
		t.Errorf("alert lacks %q:\n%s", w, msgs[len(msgs)-1].Blocks)
	}
}

// workloadReport is the alpine report as the operator sends it for one
// workload, scanned shift after the fixture, of the image with digest.
func workloadReport(t *testing.T, digest, workload string, shift time.Duration) *event.Event {
	t.Helper()
	ev := laterReport(alpineEvent(t), shift, digest+"-"+workload+"-"+shift.String(), nil)
	art := ev.GetVulnerabilityReport().GetArtifact()
	art.Digest, art.Namespace, art.Workload = digest, "prod", workload
	return ev
}

// lastWorkloads returns the workloads line of the last alert posted.
func lastWorkloads(t *testing.T, e *env) string {
	t.Helper()
	msgs := e.fake.Messages(vulnsID)
	if len(msgs) == 0 {
		t.Fatal("no alert")
	}
	b := string(msgs[len(msgs)-1].Blocks)
	i := strings.Index(b, "Workloads: ")
	if i < 0 {
		return ""
	}
	return b[i : i+strings.IndexByte(b[i:], '"')]
}

// TestVulnerabilityWorkloadsGo checks that a workload leaves an image's
// alert when it is reported on another image, or not reported for longer
// than vuln.WorkloadTTL, and that neither posts an alert of its own.
func TestVulnerabilityWorkloadsGo(t *testing.T) {
	const oldImage, newImage = "sha256:0ld", "sha256:new"
	oldGroup := "ghcr.io/aquasecurity/trivy-test-images@" + oldImage
	fixedB := func(fs []*bridgev1.Finding) []*bridgev1.Finding { return append(fs, busyboxFinding()) }

	t.Run("moved to a new image", func(t *testing.T) {
		e, store := newVulnEnv(t)
		for _, w := range []string{"Deployment/api", "Deployment/worker"} {
			e.mustDeliver(t, workloadReport(t, oldImage, w, 0))
		}
		if got, want := lastWorkloads(t, e), "Workloads: `prod/Deployment/api`"; got != want {
			t.Errorf("first alert: %q, want %q", got, want)
		}
		// api rolls out a new image: its first report posts the new image's alert.
		if r := e.mustDeliver(t, workloadReport(t, newImage, "Deployment/api", time.Hour)); r.Outcome != OutcomePosted {
			t.Errorf("new image: %q, want posted", r.Outcome)
		}
		st, _, err := store.Get(t.Context(), oldGroup)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"prod/Deployment/worker"}, st.WorkloadNames()); diff != "" {
			t.Errorf("old image's workloads after the move (-want +got):\n%s", diff)
		}
		n := len(e.fake.Messages(vulnsID))
		// The old image's next alert no longer lists api.
		ev := workloadReport(t, oldImage, "Deployment/worker", 2*time.Hour)
		ev.GetVulnerabilityReport().Findings = fixedB(ev.GetVulnerabilityReport().GetFindings())
		if r := e.mustDeliver(t, ev); r.Outcome != OutcomePosted {
			t.Fatalf("old image, one new finding: %q, want posted", r.Outcome)
		}
		if got := len(e.fake.Messages(vulnsID)); got != n+1 {
			t.Errorf("%d alerts, want %d", got, n+1)
		}
		if got, want := lastWorkloads(t, e), "Workloads: `prod/Deployment/worker`"; got != want {
			t.Errorf("old image's next alert: %q, want %q", got, want)
		}
	})

	t.Run("unseen for longer than the TTL", func(t *testing.T) {
		e, store := newVulnEnv(t)
		e.mustDeliver(t, workloadReport(t, oldImage, "Deployment/api", 0))
		e.mustDeliver(t, workloadReport(t, oldImage, "Deployment/worker", time.Hour))
		// worker is rescanned each day; api is never reported again.
		for day := 1; day <= 3; day++ {
			r := e.mustDeliver(t, workloadReport(t, oldImage, "Deployment/worker", time.Hour+time.Duration(day)*24*time.Hour))
			if r.Outcome != sink.OutcomeSkipped {
				t.Errorf("day %d: %q, want skipped: only the workloads changed", day, r.Outcome)
			}
			st, _, err := store.Get(t.Context(), oldGroup)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"prod/Deployment/api", "prod/Deployment/worker"}
			if day == 3 { // 73h after api's last report.
				want = want[1:]
			}
			if diff := cmp.Diff(want, st.WorkloadNames()); diff != "" {
				t.Errorf("day %d: workloads (-want +got):\n%s", day, diff)
			}
		}
		if n := len(e.fake.Messages(vulnsID)); n != 1 {
			t.Errorf("%d alerts, want 1: workloads going post nothing", n)
		}
		ev := workloadReport(t, oldImage, "Deployment/worker", 4*24*time.Hour)
		ev.GetVulnerabilityReport().Findings = fixedB(ev.GetVulnerabilityReport().GetFindings())
		e.mustDeliver(t, ev)
		if got, want := lastWorkloads(t, e), "Workloads: `prod/Deployment/worker`"; got != want {
			t.Errorf("next alert: %q, want %q", got, want)
		}
	})

	t.Run("an older scan of another workload still lists it", func(t *testing.T) {
		e, store := newVulnEnv(t)
		e.mustDeliver(t, workloadReport(t, oldImage, "Deployment/api", time.Hour))
		r := e.mustDeliver(t, workloadReport(t, oldImage, "Deployment/worker", 0))
		if diff := cmp.Diff(skipped(reasonOlderReport), r); diff != "" {
			t.Errorf("older scan (-want +got):\n%s", diff)
		}
		st, _, err := store.Get(t.Context(), oldGroup)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"prod/Deployment/api", "prod/Deployment/worker"}, st.WorkloadNames()); diff != "" {
			t.Errorf("workloads (-want +got):\n%s", diff)
		}
	})
}

func TestVulnerabilityDryRun(t *testing.T) {
	rt := &refuse{t: t}
	e, store := newVulnEnv(t, func(o *Options) {
		o.Token = secrets.Secret{}
		o.HTTPClient = &http.Client{Transport: rt}
	})
	ev := alpineEvent(t)
	r := e.mustDeliver(t, ev)
	want := sink.Result{Outcome: sink.OutcomeDryRun, Fields: map[string]string{
		"channel": vulnsID, "ts": dryRunTS, "artifact": alpineGroup, "new": "2", "fixed": "0",
	}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("dry-run result (-want +got):\n%s", diff)
	}
	lines := e.logs.lines(t, "dry-run: would call Slack")
	if len(lines) != 1 || !strings.Contains(lines[0]["text"].(string), "2 critical") {
		t.Errorf("dry-run lines %v, want one with the alert", lines)
	}
	if _, ok, err := store.Get(t.Context(), alpineGroup); err != nil || !ok {
		t.Errorf("state after a dry run: %v, %v, want one", ok, err)
	}
	if r := e.mustDeliver(t, ev); r.Outcome != sink.OutcomeSkipped {
		t.Errorf("the same report after a dry run: %q, want skipped", r.Outcome)
	}
}

func TestVulnerabilityErrors(t *testing.T) {
	ev := alpineEvent(t)
	t.Run("no store", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Channels.Vulnerabilities = vulnsID })
		if _, err := e.deliver(t, ev, 1, false); !sink.IsPermanent(err) {
			t.Errorf("Deliver without a store = %v, want permanent", err)
		}
	})
	t.Run("no artifact", func(t *testing.T) {
		e, _ := newVulnEnv(t)
		bad := proto.Clone(ev).(*event.Event)
		bad.GetVulnerabilityReport().Artifact = nil
		if _, err := e.deliver(t, bad, 1, false); !sink.IsPermanent(err) {
			t.Errorf("Deliver without an artifact = %v, want permanent", err)
		}
	})
	t.Run("no channel", func(t *testing.T) {
		e, store := newVulnEnv(t, func(o *Options) { o.Channels.Vulnerabilities = "" })
		if _, err := e.deliver(t, ev, 1, false); !sink.IsPermanent(err) || !strings.Contains(err.Error(), "slack.channels.vulnerabilities") {
			t.Errorf("Deliver without a channel = %v, want permanent naming the setting", err)
		}
		if _, ok, _ := store.Get(t.Context(), alpineGroup); ok {
			t.Error("state written though nothing was posted")
		}
	})
	t.Run("channel not found", func(t *testing.T) {
		e, _ := newVulnEnv(t, func(o *Options) { o.Channels.Vulnerabilities = "C0NOWHERE" })
		if _, err := e.deliver(t, ev, 1, false); !sink.IsPermanent(err) {
			t.Errorf("Deliver to a missing channel = %v, want permanent", err)
		}
	})
}

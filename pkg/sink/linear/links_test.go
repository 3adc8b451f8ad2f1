package linear

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
)

// linkInventory: Grafana lists its image (spelled short of Docker Hub's
// full name, as people write it); Keycloak lists none.
func linkInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Parse([]byte(`
tools:
  - {name: Grafana, repo: grafana/grafana, deployed: 10.4.0, images: [docker.io/grafana/grafana]}
  - {name: Keycloak, repo: keycloak/keycloak, deployed: 26.5.0, tag_pattern: "{version}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (f *fixture) linkSink(t *testing.T, hc *http.Client) *Sink {
	return New(Options{
		APIURL:     f.srv.URL(),
		APIKey:     func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil },
		Team:       "PLAT",
		Inventory:  linkInventory(t),
		Lookup:     f.led,
		Logger:     slog.New(slog.NewJSONHandler(f.logs, nil)),
		HTTPClient: hc,
		Timeout:    5 * time.Second,
	})
}

// linkReport is a report of image (named as the Trivy source names it)
// at digest with one fixable critical finding.
func linkReport(image, digest, key string) *event.Event {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ev := event.New(event.KindVulnerabilityFound, "/webhooks/trivy", image, event.VulnerabilityKey(image, key), at)
	ev.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: &bridgev1.VulnerabilityReport{
		Artifact: &bridgev1.Artifact{Kind: "container_image", Name: image, Digest: digest},
		Findings: []*bridgev1.Finding{{
			Id: "CVE-2026-0001", Package: "openssl", InstalledVersion: "3.0.0", FixedVersion: "3.0.1",
			Severity: bridgev1.Severity_SEVERITY_CRITICAL, Target: "grafana (alpine 3.20)",
		}},
		Scanner: "trivy",
	}}
	return ev
}

func (f *fixture) issue(t *testing.T, id string) lineartest.Issue {
	t.Helper()
	is, ok := f.srv.Issue(id)
	if !ok {
		t.Fatalf("no issue %s", id)
	}
	return is
}

// linkLine is the description's line that starts with prefix, or "".
func linkLine(desc, prefix string) string {
	for _, l := range strings.Split(desc, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestLinkUpgradeToOpenVulnerabilityTickets(t *testing.T) {
	f := newFixture(t)
	f.s = f.linkSink(t, nil)

	// A closed remediation ticket of the image, an open one, and one of
	// another image whose name starts the same.
	closedR := f.mustDeliver(t, linkReport("index.docker.io/grafana/grafana:10.3.0", "sha256:0", "r0"))
	f.srv.Close(closedR.Fields["issue_id"])
	vuln := f.mustDeliver(t, linkReport("index.docker.io/grafana/grafana:10.4.0", "sha256:1", "r1"))
	f.mustDeliver(t, linkReport("index.docker.io/grafana/grafana-oss:10.4.0", "sha256:2", "r2"))
	if n := f.srv.Calls("issueRelationCreate"); n != 0 {
		t.Fatalf("%d relations before any upgrade ticket, want 0", n)
	}

	ev := releaseEvent("grafana", "grafana", "v11.0.0", false)
	up := f.mustDeliver(t, ev)
	if up.Outcome != OutcomeCreated {
		t.Fatalf("release: %+v", up)
	}
	upID, vulnID := up.Fields["issue_id"], vuln.Fields["issue_id"]
	want := []lineartest.Relation{{IssueID: upID, RelatedIssueID: vulnID, Type: "related"}}
	relations := func() []lineartest.Relation {
		var out []lineartest.Relation
		for _, r := range f.srv.Relations() {
			r.ID = ""
			out = append(out, r)
		}
		return out
	}
	if diff := cmp.Diff(want, relations()); diff != "" {
		t.Fatalf("relations (-want +got):\n%s", diff)
	}
	upIssue, vulnIssue := f.issue(t, upID), f.issue(t, vulnID)
	wantLine := "Open vulnerability tickets for this tool's images: " + vulnIssue.Identifier
	if got := linkLine(upIssue.Description, vulnLinePrefix); got != wantLine {
		t.Errorf("upgrade ticket line = %q, want %q", got, wantLine)
	}
	// Above the footer.
	if !strings.Contains(upIssue.Description, wantLine+"\n\n---\n_Opened by bridge") {
		t.Errorf("upgrade ticket description:\n%s", upIssue.Description)
	}
	wantPending := "Pending upgrade: " + upIssue.Identifier + " (Upgrade Grafana 10.4.0 → 11.0.0)"
	if got := linkLine(vulnIssue.Description, upgradeLinePrefix); got != wantPending {
		t.Errorf("remediation ticket line = %q, want %q", got, wantPending)
	}

	// Redelivered: nothing more.
	if _, err := f.s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 2, Uncertain: true}); err != nil {
		t.Fatal(sink.Describe(err))
	}
	// A newer release updates the ticket and links again: the relation
	// exists, the pending line follows the new title.
	f.mustDeliver(t, releaseEvent("grafana", "grafana", "v11.0.1", false))
	if diff := cmp.Diff(want, relations()); diff != "" {
		t.Errorf("relations after a newer release (-want +got):\n%s", diff)
	}
	if n := f.srv.Calls("issueRelationCreate"); n != 1 {
		t.Errorf("issueRelationCreate called %d times, want 1", n)
	}
	wantPending = "Pending upgrade: " + upIssue.Identifier + " (Upgrade Grafana 10.4.0 → 11.0.1)"
	if got := linkLine(f.issue(t, vulnID).Description, upgradeLinePrefix); got != wantPending {
		t.Errorf("remediation ticket line after a newer release = %q, want %q", got, wantPending)
	}
	if got := f.issue(t, upID).Description; got != upIssue.Description {
		t.Errorf("upgrade ticket description changed:\n%s", cmp.Diff(upIssue.Description, got))
	}
	if got := f.issue(t, closedR.Fields["issue_id"]).Description; strings.Contains(got, upgradeLinePrefix) {
		t.Errorf("closed remediation ticket names the upgrade:\n%s", got)
	}
}

func TestLinkVulnerabilityToPendingUpgrade(t *testing.T) {
	f := newFixture(t)
	f.s = f.linkSink(t, nil)

	up := f.mustDeliver(t, releaseEvent("grafana", "grafana", "v11.0.0", false))
	upID := up.Fields["issue_id"]
	if d := f.issue(t, upID).Description; strings.Contains(d, vulnLinePrefix) {
		t.Errorf("upgrade ticket with no vulnerability ticket has the line:\n%s", d)
	}

	// Two images of the tool, then the same report again.
	ev := linkReport("index.docker.io/grafana/grafana:11.0.0", "sha256:1", "r1")
	v1 := f.mustDeliver(t, ev)
	v2 := f.mustDeliver(t, linkReport("index.docker.io/grafana/grafana:10.4.0", "sha256:2", "r2"))
	f.mustDeliver(t, ev)
	if _, err := f.s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 2, Uncertain: true}); err != nil {
		t.Fatal(sink.Describe(err))
	}

	var got []string
	for _, r := range f.srv.Relations() {
		got = append(got, r.IssueID+"→"+r.RelatedIssueID+" "+r.Type)
	}
	want := []string{upID + "→" + v1.Fields["issue_id"] + " related", upID + "→" + v2.Fields["issue_id"] + " related"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("relations (-want +got):\n%s", diff)
	}
	upIssue := f.issue(t, upID)
	wantLine := vulnLinePrefix + v1.Fields["identifier"] + ", " + v2.Fields["identifier"]
	if got := linkLine(upIssue.Description, vulnLinePrefix); got != wantLine {
		t.Errorf("upgrade ticket line = %q, want %q", got, wantLine)
	}
	for _, v := range []sink.Result{v1, v2} {
		wantPending := "Pending upgrade: " + upIssue.Identifier + " (Upgrade Grafana 10.4.0 → 11.0.0)"
		if got := linkLine(f.issue(t, v.Fields["issue_id"]).Description, upgradeLinePrefix); got != wantPending {
			t.Errorf("%s line = %q, want %q", v.Fields["identifier"], got, wantPending)
		}
	}

	// Once the upgrade ticket is closed, a new remediation ticket names
	// no pending upgrade.
	f.srv.Close(upID)
	v3 := f.mustDeliver(t, linkReport("index.docker.io/grafana/grafana:11.0.1", "sha256:3", "r3"))
	if d := f.issue(t, v3.Fields["issue_id"]).Description; strings.Contains(d, upgradeLinePrefix) {
		t.Errorf("remediation ticket names a closed upgrade:\n%s", d)
	}
	if n := len(f.srv.Relations()); n != 2 {
		t.Errorf("%d relations, want 2", n)
	}
}

// TestLinkNone: a tool without images, or an image of no tool, makes no
// link query at all.
func TestLinkNone(t *testing.T) {
	f := newFixture(t)
	f.s = f.linkSink(t, nil)
	f.mustDeliver(t, linkReport("index.docker.io/library/nginx:1.25", "sha256:1", "n1"))
	r := f.mustDeliver(t, releaseEvent("keycloak", "keycloak", "26.6.0", false))
	if r.Outcome != OutcomeCreated {
		t.Fatalf("release: %+v", r)
	}
	// (remediationCreate reads the issue of its derived id: "issue" counts
	// that look-before-create.)
	for _, op := range []string{"issues", "issueRelationCreate", "issueUpdate"} {
		if n := f.srv.Calls(op); n != 0 {
			t.Errorf("%s called %d times, want 0", op, n)
		}
	}
}

// failOp answers 500 to the requests of one GraphQL operation.
type failOp struct{ op string }

func (t failOp) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(body, []byte("query "+t.op+" (")) || bytes.Contains(body, []byte("mutation "+t.op+" (")) {
		return &http.Response{
			StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
			Header: http.Header{"Content-Type": {"application/json"}}, Request: req,
			Body: io.NopCloser(strings.NewReader(`{"errors":[{"message":"Internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`)),
		}, nil
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(req)
}

// TestLinkFailureKeepsTicket: a link that fails is a warning; the ticket
// is the delivery's effect, and it succeeded.
func TestLinkFailureKeepsTicket(t *testing.T) {
	for _, op := range []string{"OpenIssuesByAttachmentPrefix", "CreateIssueRelation", "UpdateIssueDescription"} {
		t.Run(op, func(t *testing.T) {
			f := newFixture(t)
			f.s = f.linkSink(t, &http.Client{Transport: failOp{op: op}})
			f.mustDeliver(t, linkReport("index.docker.io/grafana/grafana:10.4.0", "sha256:1", "r1"))
			r, err := f.s.Deliver(context.Background(), sink.Delivery{Event: releaseEvent("grafana", "grafana", "v11.0.0", false), Attempt: 1})
			if err != nil || r.Outcome != OutcomeCreated {
				t.Fatalf("Deliver = %+v, %v; want created", r, sink.Describe(err))
			}
			if !strings.Contains(f.logs.String(), "could not link the upgrade ticket") {
				t.Errorf("no warning in:\n%s", f.logs)
			}
		})
	}
}

func TestWithLine(t *testing.T) {
	const p = "Pending upgrade: "
	tests := []struct {
		name, desc, line, want string
	}{
		{"before the footer", "Body.\n\n---\n_footer_\n", p + "A-1", "Body.\n\n" + p + "A-1\n\n---\n_footer_\n"},
		{"last footer", "a\n---\nb\n\n---\n_f_\n", p + "A-1", "a\n---\nb\n\n" + p + "A-1\n\n---\n_f_\n"},
		{"no footer", "Body.\n", p + "A-1", "Body.\n\n" + p + "A-1\n"},
		{"empty", "", p + "A-1", "\n\n" + p + "A-1\n"},
		{"replaced", "Body.\n\n" + p + "A-1\n\n---\n_f_\n", p + "A-2", "Body.\n\n" + p + "A-2\n\n---\n_f_\n"},
		{"same", "Body.\n\n" + p + "A-1\n\n---\n_f_\n", p + "A-1", "Body.\n\n" + p + "A-1\n\n---\n_f_\n"},
		{"removed", "Body.\n\n" + p + "A-1\n\n---\n_f_\n", "", "Body.\n\n---\n_f_\n"},
		{"nothing to remove", "Body.\n", "", "Body.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withLine(tt.desc, p, tt.line); got != tt.want {
				t.Errorf("withLine = %q, want %q", got, tt.want)
			}
		})
	}
	if diff := cmp.Diff([]string{"SEC-1", "SEC-2"}, lineItems("x\n"+vulnLinePrefix+"SEC-1, SEC-2\n", vulnLinePrefix)); diff != "" {
		t.Errorf("lineItems (-want +got):\n%s", diff)
	}
	if relationID("a", "b") != relationID("b", "a") || relationID("a", "b") == relationID("a", "c") {
		t.Error("relationID is not a function of the unordered pair")
	}
}

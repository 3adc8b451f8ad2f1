package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVulnerabilityFlow: a Trivy report makes one Slack security alert and
// one Linear remediation ticket; the same report again makes nothing; a
// later report with a finding fixed makes one alert naming it and one
// comment on the same ticket.
func TestVulnerabilityFlow(t *testing.T) {
	u := startUpgradeBridge(t)
	u.slack.AddChannel("C0SECURITY", "security")
	postTrivy := func(body []byte) {
		t.Helper()
		code, answer := post(t, "http://"+u.addr+"/webhooks/trivy", map[string]string{
			"Content-Type": "application/json", "Authorization": "Bearer " + trivyToken,
		}, body)
		if code != 202 {
			t.Fatalf("POST /webhooks/trivy = %d %s, want 202", code, answer)
		}
	}
	reportA := readFile(t, "trivy/alpine-39.json")
	postTrivy(reportA)
	alerts := u.waitMessages("C0SECURITY", 1)
	if !strings.Contains(alerts[0].Text, "CVE-") && !strings.Contains(string(alerts[0].Blocks), "CVE-") {
		t.Errorf("the alert names no CVE: %q", alerts[0].Text)
	}
	issues := u.waitIssues(t, 1)
	if !strings.HasPrefix(issues[0].Title, "Remediate ") {
		t.Errorf("ticket title = %q, want a remediation ticket", issues[0].Title)
	}
	if issues[0].Priority != 1 {
		t.Errorf("priority = %d, want 1 (urgent) for CRITICAL findings", issues[0].Priority)
	}

	// The same report again: the stream already has it.
	postTrivy(reportA)
	u.settle()
	if n := len(u.slack.Messages("C0SECURITY")); n != 1 {
		t.Errorf("%d alerts after the same report again, want 1", n)
	}

	// Report B: the first CRITICAL finding fixed.
	var doc map[string]any
	if err := json.Unmarshal(reportA, &doc); err != nil {
		t.Fatal(err)
	}
	res := doc["Results"].([]any)[0].(map[string]any)
	vulns := res["Vulnerabilities"].([]any)
	var fixed string
	for i, v := range vulns {
		if v.(map[string]any)["Severity"] == "CRITICAL" {
			fixed = v.(map[string]any)["VulnerabilityID"].(string)
			res["Vulnerabilities"] = append(vulns[:i:i], vulns[i+1:]...)
			break
		}
	}
	doc["CreatedAt"] = time.Now().UTC().Format(time.RFC3339Nano)
	reportB, _ := json.Marshal(doc)
	postTrivy(reportB)
	alerts = u.waitMessages("C0SECURITY", 2)
	if !strings.Contains(alerts[1].Text+string(alerts[1].Blocks), fixed) {
		t.Errorf("the second alert does not name the fixed %s", fixed)
	}
	waitFor(t, 60*time.Second, "one comment on the remediation ticket", func() error {
		is, _ := u.linear.Issue(issues[0].ID)
		if len(is.Comments) != 1 {
			return fmt.Errorf("%d comments", len(is.Comments))
		}
		if !strings.Contains(is.Comments[0].Body, fixed) {
			return fmt.Errorf("comment %q does not name %s", is.Comments[0].Body, fixed)
		}
		return nil
	})
	u.settle()
	if n := len(u.linear.Issues()); n != 1 {
		t.Errorf("%d tickets, want 1 open ticket for the artifact", n)
	}
}

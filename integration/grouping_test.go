package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOneSignalPerImage: Trivy Operator reports one image once per
// workload; three workloads of one image are one alert and one ticket, and
// the ticket lists the three workloads.
func TestOneSignalPerImage(t *testing.T) {
	u := startUpgradeBridge(t)
	u.slack.AddChannel("C0SECURITY", "security")
	single := string(readFile(t, "trivy-operator/vulnerabilityreport.single.json"))
	workloads := []string{"nginx-deployment-965685897", "web-7f9c4d", "edge-5b6d8c"}
	for _, w := range workloads {
		body := strings.ReplaceAll(single, "nginx-deployment-965685897", w)
		code, answer := post(t, "http://"+u.addr+"/webhooks/trivy", map[string]string{
			"Content-Type": "application/json", "Authorization": "Bearer " + trivyToken,
		}, []byte(body))
		if code != 202 {
			t.Fatalf("POST the report of %s = %d %s, want 202", w, code, answer)
		}
	}
	issues := u.waitIssues(t, 1)
	waitFor(t, 60*time.Second, "the ticket listing the three workloads", func() error {
		is, _ := u.linear.Issue(issues[0].ID)
		for _, w := range workloads {
			if !strings.Contains(is.Description, "default/ReplicaSet/"+w) {
				return fmt.Errorf("the description does not list %s yet", w)
			}
		}
		if len(is.Comments) != 0 {
			return fmt.Errorf("%d comments, want none: workloads are not news", len(is.Comments))
		}
		return nil
	})
	u.settle()
	if n := len(u.slack.Messages("C0SECURITY")); n != 1 {
		t.Errorf("%d security alerts, want 1 for one image", n)
	}
	if n := len(u.linear.Issues()); n != 1 {
		t.Errorf("%d tickets, want 1 for one image", n)
	}
}

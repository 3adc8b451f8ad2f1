package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
	"github.com/stoa-platform/bridge/pkg/watcher/githubtest"
)

// upgradeBridge is a bridge wired to a Linear fake, a GitHub API fake and
// the Slack fake, with the test inventory.
type upgradeBridge struct {
	*bridge
	linear *lineartest.Server
	github *githubtest.Server
}

func startUpgradeBridge(t *testing.T) *upgradeBridge {
	t.Helper()
	lin := lineartest.New(t)
	lin.AddTeam("team-plat", "PLAT", "Platform")
	lin.AddLabel("team-plat", "label-upgrade", "upgrade")
	gh := githubtest.New(t)
	gh.AddRepo("Codertocat", "Hello-World")
	inv, err := filepath.Abs(filepath.Join("testdata", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := startBridge(t, bridgeOpts{
		extraYAML: fmt.Sprintf(`
github:
  api_url: %q
  inventory: %q
  poll_interval: 2s
linear:
  api_url: %q
  team: PLAT
`, gh.URL(), inv, lin.URL()),
		env: []string{"BRIDGE_SECRET_LINEAR_API_KEY=" + lin.APIKey()},
	})
	b.slack.AddChannel("C0RELEASES", "releases")
	return &upgradeBridge{bridge: b, linear: lin, github: gh}
}

// sendRelease posts a signed GitHub release delivery built from the
// example body, for repo at tag.
func (u *upgradeBridge) sendRelease(t *testing.T, owner, repo, tag string, prerelease bool) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(readFile(t, "github/release.published.json"), &body); err != nil {
		t.Fatal(err)
	}
	rel := body["release"].(map[string]any)
	rel["tag_name"] = tag
	rel["prerelease"] = prerelease
	rel["html_url"] = "https://github.com/" + owner + "/" + repo + "/releases/tag/" + tag
	rel["body"] = "## Changes\n- BREAKING CHANGE: the config format moved\n- faster"
	r := body["repository"].(map[string]any)
	r["name"], r["full_name"] = repo, owner+"/"+repo
	r["owner"].(map[string]any)["login"] = owner
	raw, _ := json.Marshal(body)
	code, answer := post(t, "http://"+u.addr+"/webhooks/github", map[string]string{
		"Content-Type": "application/json", "X-GitHub-Event": "release",
		"X-GitHub-Delivery": owner + repo + tag, "X-Hub-Signature-256": signGitHub(raw),
	}, raw)
	if code != 202 {
		t.Fatalf("release %s/%s@%s = %d %s, want 202", owner, repo, tag, code, answer)
	}
}

func (u *upgradeBridge) waitIssues(t *testing.T, n int) []lineartest.Issue {
	t.Helper()
	var issues []lineartest.Issue
	waitFor(t, 60*time.Second, fmt.Sprintf("%d Linear issues", n), func() error {
		if issues = u.linear.Issues(); len(issues) != n {
			return fmt.Errorf("have %d", len(issues))
		}
		return nil
	})
	return issues
}

// TestUpgradeTickets: a webhook release of an inventory tool makes exactly
// one ticket and one Slack note; the watcher seeing it again makes none; a
// newer release updates the open ticket; after it is closed, the next
// release opens a new one; what is not an upgrade makes nothing.
func TestUpgradeTickets(t *testing.T) {
	u := startUpgradeBridge(t)
	// Linear fails for a while: still exactly one ticket.
	u.linear.RateLimit(2)
	u.linear.Fail(2, 503)
	u.sendRelease(t, "Codertocat", "Hello-World", "0.0.1", false)
	issues := u.waitIssues(t, 1)
	is := issues[0]
	if is.Title != "Upgrade Hello-World 0.0.0 → 0.0.1" {
		t.Errorf("title = %q", is.Title)
	}
	if is.Priority != 4 {
		t.Errorf("priority = %d, want 4 (low) for a patch jump", is.Priority)
	}
	if len(is.Labels) != 1 || is.Labels[0] != "upgrade" {
		t.Errorf("labels = %v, want [upgrade]", is.Labels)
	}
	if len(is.Attachments) != 1 || is.Attachments[0].URL != "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1" {
		t.Errorf("attachments = %+v, want the release URL", is.Attachments)
	}
	if !strings.Contains(is.Description, "BREAKING") {
		t.Errorf("description lacks the breaking-change hint:\n%s", is.Description)
	}
	notes := u.waitMessages("C0RELEASES", 1)
	if !strings.Contains(string(notes[0].Blocks)+notes[0].Text, is.Identifier) {
		t.Errorf("Slack note %q does not name the ticket %s", notes[0].Text, is.Identifier)
	}

	// The watcher polls the same release: the stream already has its key.
	u.github.AddRelease("Codertocat", "Hello-World", "0.0.1", false, false)
	waitFor(t, 30*time.Second, "the watcher to poll", func() error {
		if u.github.Requests("Codertocat/Hello-World") < 2 {
			return fmt.Errorf("%d polls", u.github.Requests("Codertocat/Hello-World"))
		}
		return nil
	})
	u.settle()
	if n := len(u.linear.Issues()); n != 1 {
		t.Fatalf("%d issues after the watcher saw the same release, want 1", n)
	}

	// Not upgrades: not newer, an ignored pre-release, another repository.
	u.sendRelease(t, "Codertocat", "Hello-World", "0.0.0", false)
	u.sendRelease(t, "Codertocat", "Hello-World", "0.2.0-rc.1", true)
	u.sendRelease(t, "someone", "elsewhere", "9.9.9", false)
	u.settle()
	if n := len(u.linear.Issues()); n != 1 {
		t.Fatalf("%d issues after releases that are no upgrade, want 1", n)
	}

	// A newer release while the ticket is open: title updated, one comment.
	u.sendRelease(t, "Codertocat", "Hello-World", "0.1.0", false)
	waitFor(t, 60*time.Second, "the ticket to be updated", func() error {
		is, _ := u.linear.Issue(is.ID)
		if is.Title != "Upgrade Hello-World 0.0.0 → 0.1.0" || len(is.Comments) != 1 {
			return fmt.Errorf("title %q, %d comments", is.Title, len(is.Comments))
		}
		return nil
	})
	u.settle()
	if n := len(u.linear.Issues()); n != 1 {
		t.Fatalf("%d issues after a newer release while open, want 1", n)
	}
	if n := len(u.slack.Messages("C0RELEASES")); n != 1 {
		t.Errorf("%d Slack notes, want 1 (an update is no new ticket)", n)
	}

	// Closed: the next release opens a new ticket.
	u.linear.Close(is.ID)
	u.sendRelease(t, "Codertocat", "Hello-World", "1.0.0", false)
	issues = u.waitIssues(t, 2)
	if issues[1].Title != "Upgrade Hello-World 0.0.0 → 1.0.0" || issues[1].Priority != 2 {
		t.Errorf("new ticket = %q priority %d, want the major upgrade at priority 2", issues[1].Title, issues[1].Priority)
	}
	u.waitMessages("C0RELEASES", 2)
}

// TestUpgradeTicketLostAnswer: Linear creates the issue but its answer is
// lost (the crash window between the call and the ledger write): the retry
// finds the issue instead of creating a second one.
func TestUpgradeTicketLostAnswer(t *testing.T) {
	u := startUpgradeBridge(t)
	u.linear.LoseResponse(1)
	u.sendRelease(t, "Codertocat", "Hello-World", "0.0.1", false)
	u.waitIssues(t, 1)
	u.waitMessages("C0RELEASES", 1)
	u.settle()
	if n := len(u.linear.Issues()); n != 1 {
		t.Fatalf("%d issues after a lost answer, want 1", n)
	}
}

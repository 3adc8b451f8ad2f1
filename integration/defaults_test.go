package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/watcher/githubtest"
)

// TestDefaultInventoryDryRun: the bridge with the built-in inventory and
// no credentials polls every tool and logs the ticket it would open for a
// newer release.
func TestDefaultInventoryDryRun(t *testing.T) {
	gh := githubtest.New(t)
	gh.AddRelease("keycloak", "keycloak", "26.5.0", false, false)
	gh.AddRelease("keycloak", "keycloak", "26.6.1", false, false)
	b := startBridge(t, bridgeOpts{
		noSlackToken: true,
		extraYAML:    fmt.Sprintf("github:\n  api_url: %q\n  poll_interval: 3s\n", gh.URL()),
	})
	waitFor(t, 60*time.Second, "the dry-run ticket in the log", func() error {
		for _, l := range b.proc.logLines("dry-run: would call Linear") {
			if strings.Contains(fmt.Sprint(l), "Upgrade Keycloak 26.5 → 26.6.1") {
				return nil
			}
		}
		return fmt.Errorf("not logged yet")
	})
	// Every tool of the inventory is polled, spread over the interval.
	waitFor(t, 30*time.Second, "every tool to be polled", func() error {
		for _, repo := range []string{"argoproj/argo-cd", "hashicorp/vault", "n8n-io/n8n", "helm/helm"} {
			if gh.Requests(repo) == 0 {
				return fmt.Errorf("%s not polled yet", repo)
			}
		}
		return nil
	})
	// The Slack note for the new ticket is dry-run too, once.
	waitFor(t, 30*time.Second, "the dry-run release note", func() error {
		for _, l := range b.proc.logLines("dry-run: would call Slack") {
			if strings.Contains(fmt.Sprint(l), "26.6.1") {
				return nil
			}
		}
		return fmt.Errorf("not logged yet")
	})
}

// TestGitHubUnreachable: where GitHub cannot be reached (here: a proxy
// answering 502 for every request), the bridge says so once per tool in its
// log and in /readyz, backs off, and every other flow still works.
func TestGitHubUnreachable(t *testing.T) {
	gh := githubtest.New(t)
	gh.Fail(1_000_000, http.StatusBadGateway)
	b := startBridge(t, bridgeOpts{extraYAML: fmt.Sprintf("github:\n  api_url: %q\n  poll_interval: 2s\n", gh.URL())})
	waitFor(t, 30*time.Second, "/readyz to name the unreachable tools", func() error {
		resp, err := http.Get("http://" + b.addr + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz = %d %s: an unreachable GitHub must not make the bridge unready", resp.StatusCode, body)
		}
		if !strings.Contains(string(body), "keycloak/keycloak: github unreachable") || !strings.Contains(string(body), "helm/helm: github unreachable") {
			return fmt.Errorf("%s", body)
		}
		return nil
	})
	b.mustAccept(checkBody(checkID(7), "down", time.Now()))
	b.waitMessages("C0INCIDENTS", 1)
	// Each tool is retried (with a back-off) several times...
	waitFor(t, 60*time.Second, "three polls of every tool", func() error {
		for _, repo := range []string{"argoproj/argo-cd", "keycloak/keycloak", "helm/helm", "facebook/docusaurus"} {
			if n := gh.Requests(repo); n < 3 {
				return fmt.Errorf("%s polled %d times", repo, n)
			}
		}
		return nil
	})
	// ...and logged once.
	perRepo := make(map[string]int)
	for _, l := range b.proc.logLines("github unreachable") {
		perRepo[fmt.Sprint(l["repo"])]++
	}
	if len(perRepo) != 19 {
		t.Errorf("%d tools logged as unreachable, want all 19", len(perRepo))
	}
	for repo, n := range perRepo {
		if n != 1 {
			t.Errorf("%s logged unreachable %d times, want once", repo, n)
		}
	}
}

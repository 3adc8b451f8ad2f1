package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/secrets/vaulttest"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// TestVaultRotationOnAuthFailure: a Slack token rotated in Vault is picked
// up by the auth failure it causes, not by the periodic read (one hour
// away), and the alert it held up is posted once with the new token: no
// restart, no dead letter, no token in the log.
//
// Relies on: KV v2 read (GET /v1/secret/data/bridge) with X-Vault-Token, and
// a KV v2 write making a new version that the next read returns. Slack
// behaviour (the fake's): a token no longer valid answers ok:false
// invalid_auth.
func TestVaultRotationOnAuthFailure(t *testing.T) {
	v := vaulttest.New(t)
	vaultToken := v.CreateToken([]string{"bridge"}, 0, false, 0)
	slack := slacktest.New(t)
	slack.AddChannel("C0INCIDENTS", "incidents")
	tokenA := slack.Token()
	v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken, "SLACK_BOT_TOKEN": tokenA})

	b := startBridge(t, bridgeOpts{
		slack:        slack,
		noSlackToken: true,
		env:          []string{"VAULT_TOKEN=" + vaultToken},
		extraYAML: fmt.Sprintf(`
vault:
  address: %q
  kv_mount: secret
  path: bridge
  # Only the auth failure can pick the rotation up within the test.
  refresh_interval: 1h
  auth:
    method: token
`, v.URL()),
	})

	first, second := checkID(1), checkID(2)
	at := time.Now().UTC().Truncate(time.Second)
	b.mustAccept(checkBody(first, "down", at))
	b.waitMessages("C0INCIDENTS", 1)
	readsBefore := v.Counts().KVReadsOf("bridge")

	// The rotation: Slack takes only B now, and Vault holds B in a new
	// version. The bridge still has A.
	tokenB := slack.RotateToken()
	if version := v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken, "SLACK_BOT_TOKEN": tokenB}); version != 2 {
		t.Fatalf("Vault KV version after the rotation = %d, want 2", version)
	}
	b.mustAccept(checkBody(second, "down", at.Add(time.Second)))
	msgs := b.waitMessages("C0INCIDENTS", 2)
	b.settle()

	perCheck := map[string]int{}
	for _, m := range b.slack.Messages("C0INCIDENTS") {
		for _, id := range []string{first, second} {
			if strings.Contains(metadataKey(m), id) {
				perCheck[id]++
			}
		}
	}
	if perCheck[first] != 1 || perCheck[second] != 1 {
		t.Errorf("alerts per check = %v, want one each; messages: %s", perCheck, joinKeys(msgs))
	}
	if n := slack.Calls(slacktest.MethodPostMessage); n < 3 {
		t.Errorf("%d chat.postMessage calls, want at least 3: one refused with the old token", n)
	}
	if n := v.Counts().KVReadsOf("bridge") - readsBefore; n < 1 {
		t.Errorf("no KV read of secret/bridge after the rotation")
	}
	if rows := b.listDeadLetters(t); len(rows) != 0 {
		t.Errorf("%d dead letters, want none: %+v", len(rows), rows)
	}
	if got := metric(t, b.addr, `bridge_dead_letters_total{reason_class="permanent",sink="slack-notifier"}`); got != 0 {
		t.Errorf("bridge_dead_letters_total{permanent} = %v, want 0", got)
	}
	if n := len(b.proc.logLines("credential refused; secrets re-read, retrying")); n != 1 {
		t.Errorf("%d retry lines in the log, want 1", n)
	}
	if n := len(b.proc.logLines("vault: secrets read")); n != 2 {
		t.Errorf("%d \"vault: secrets read\" lines, want 2 (version 1 at start, version 2 after the refusal)", n)
	}

	log := b.proc.log.String()
	for what, s := range map[string]string{"old Slack token": tokenA, "new Slack token": tokenB,
		"Vault token": vaultToken, "Healthchecks token": hcToken} {
		if strings.Contains(log, s) {
			t.Errorf("the %s appears in the bridge's log", what)
		}
	}
}

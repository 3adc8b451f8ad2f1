package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/secrets/vaulttest"
)

// TestSecretsFromVault: with vault.address set, the bridge reads
// SLACK_BOT_TOKEN from Vault KV v2 (token auth, VAULT_TOKEN) and posts with
// it; nothing comes from BRIDGE_SECRET_*. Relies on the fake's KV v2 read
// (GET /v1/secret/data/bridge) and X-Vault-Token check.
func TestSecretsFromVault(t *testing.T) {
	v := vaulttest.New(t)
	token := v.CreateToken([]string{"bridge"}, 0, false, 0)
	v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken})
	b := startBridge(t, bridgeOpts{
		noSlackToken: true,
		env:          []string{"VAULT_TOKEN=" + token},
		extraYAML: fmt.Sprintf(`
vault:
  address: %q
  kv_mount: secret
  path: bridge
  refresh_interval: 1s
  auth:
    method: token
`, v.URL()),
	})
	// A rotation: the Slack token is written after start, and read without
	// a restart.
	v.Put("bridge", map[string]string{"SLACK_BOT_TOKEN": b.slack.Token(), "HEALTHCHECKS_TOKEN": hcToken})
	waitFor(t, 30*time.Second, "the Slack token read from Vault", func() error {
		resp, err := http.Get("http://" + b.addr + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if strings.Contains(string(body), "SLACK_BOT_TOKEN is not set") {
			return fmt.Errorf("readyz: %s", body)
		}
		return nil
	})
	b.mustAccept(readFile(t, "down.json"))
	b.waitMessages("C0INCIDENTS", 1)
	if n := v.Counts().KVReadsOf("bridge"); n == 0 {
		t.Errorf("the fake saw no KV read of secret/bridge")
	}
}

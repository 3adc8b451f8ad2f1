package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/secrets/vaulttest"
)

// The tests below drive the real bridge binary against the Vault API fake
// (pkg/secrets/vaulttest, whose package doc is the behaviour table). Each
// names the Vault behaviour it relies on, and each ends with the leak scan.

// deadCheck is the check whose alert goes to a channel the Slack fake does
// not know: channel_not_found is permanent, so it makes one dead letter for
// the leak scan to read.
var deadCheck = checkID(666)

// vaultBridge is a bridge reading its secrets from a Vault fake, with every
// secret value the test handed out and every answer it saw, for the leak
// scan.
type vaultBridge struct {
	t     *testing.T
	vault *vaulttest.Server
	*bridge
	// secrets are the values that must never show, by what they are.
	secrets map[string]string
	// roleID, when set, lets the scan find a leaked secret id the test
	// never saw (one unwrapped by the bridge): a UUID that logs in with
	// it is one.
	roleID string
	// seen holds every answer and error the test got from the bridge.
	seen []string
}

// startVaultBridge starts the bridge with the vault section vaultYAML (its
// auth method and files), KV secret/bridge holding HEALTHCHECKS_TOKEN, and a
// routing rule that sends deadCheck to #nowhere.
func startVaultBridge(t *testing.T, v *vaulttest.Server, auth string, env []string, known map[string]string) *vaultBridge {
	t.Helper()
	b := startBridge(t, bridgeOpts{
		noSlackToken: true,
		env:          env,
		extraYAML: fmt.Sprintf(`
vault:
  address: %q
  kv_mount: secret
  path: bridge
  refresh_interval: 1s
  auth:
%s
routing:
  - subject: check.*
    filter: {check: %q}
    slack_channel: "#nowhere"
`, v.URL(), auth, deadCheck),
	})
	vb := &vaultBridge{t: t, vault: v, bridge: b, secrets: map[string]string{
		"SLACK_BOT_TOKEN":    b.slack.Token(),
		"HEALTHCHECKS_TOKEN": hcToken,
		"vault root token":   v.RootToken(),
	}}
	for k, s := range known {
		vb.secrets[k] = s
	}
	return vb
}

// putSecrets writes a new version of secret/bridge with the Slack fake's
// token: the token is random and only known once the bridge (and its Slack
// fake) runs, so it reaches the bridge as a rotation.
func (vb *vaultBridge) putSecrets() {
	vb.vault.Put("bridge", map[string]string{
		"SLACK_BOT_TOKEN":    vb.slack.Token(),
		"HEALTHCHECKS_TOKEN": hcToken,
	})
}

// waitSlackToken waits until the slack-notifier has a token (its /readyz
// dry-run note is gone).
func (vb *vaultBridge) waitSlackToken() {
	vb.t.Helper()
	waitFor(vb.t, 30*time.Second, "the Slack token read from Vault", func() error {
		if note := vb.readyz().Notes["slack-notifier"]; note != "" {
			return fmt.Errorf("slack-notifier: %s", note)
		}
		return nil
	})
}

// readyzBody is the /readyz answer.
type readyzBody struct {
	code    int
	raw     string
	Status  string            `json:"status"`
	Failing map[string]string `json:"failing"`
	Notes   map[string]string `json:"notes"`
}

func (vb *vaultBridge) readyz() readyzBody {
	vb.t.Helper()
	code, _, raw := vb.get("/readyz")
	r := readyzBody{code: code, raw: raw}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		vb.t.Fatalf("GET /readyz = %d %q: %v", code, raw, err)
	}
	return r
}

// get fetches a path of the bridge's HTTP listener and keeps the answer for
// the leak scan.
func (vb *vaultBridge) get(path string) (int, http.Header, string) {
	vb.t.Helper()
	resp, err := http.Get("http://" + vb.addr + path)
	if err != nil {
		vb.seen = append(vb.seen, err.Error())
		vb.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		vb.t.Fatalf("GET %s: %v", path, err)
	}
	vb.seen = append(vb.seen, string(b))
	return resp.StatusCode, resp.Header, string(b)
}

// postCheck sends a Healthchecks body and returns the answer, kept for the
// leak scan.
func (vb *vaultBridge) postCheck(body []byte) (int, http.Header, string) {
	vb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+vb.addr+"/webhooks/healthchecks", bytes.NewReader(body))
	if err != nil {
		vb.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hcToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		vb.seen = append(vb.seen, err.Error())
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	vb.seen = append(vb.seen, string(b))
	return resp.StatusCode, resp.Header, string(b)
}

// alert sends check n down and waits for its alert in #incidents, the
// want-th there.
func (vb *vaultBridge) alert(n, want int) {
	vb.t.Helper()
	if code, _, answer := vb.postCheck(checkBody(checkID(n), "down", time.Now())); code != http.StatusAccepted {
		vb.t.Fatalf("POST /webhooks/healthchecks = %d %s, want 202", code, answer)
	}
	vb.waitMessages("C0INCIDENTS", want)
}

// metrics returns /metrics, kept for the leak scan.
func (vb *vaultBridge) metrics() string {
	vb.t.Helper()
	_, _, body := vb.get("/metrics")
	return body
}

// sample reads one series from a /metrics body; false when absent.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func (vb *vaultBridge) mustSample(series string) float64 {
	vb.t.Helper()
	f, ok := sample(vb.metrics(), series)
	if !ok {
		vb.t.Fatalf("/metrics has no %s", series)
	}
	return f
}

// tokenShape matches the tokens the fake issues (logins, wrapping): Vault's
// service-token shape. The test never sees most of them, so none may show.
var tokenShape = regexp.MustCompile(`hvs\.[A-Za-z0-9]{8,}`)

// uuidShape matches role ids, secret ids and accessors.
var uuidShape = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// scanLeaks makes one dead letter (deadCheck's alert to a channel Slack does
// not know), then reads the bridge's whole log, /metrics, /readyz and
// bridgectl deadletter list, and with every answer the test saw asserts that
// no secret value appears in any of them. Call it last: its probe logins
// change the fake's counters.
func (vb *vaultBridge) scanLeaks() {
	t := vb.t
	t.Helper()
	if code, _, answer := vb.postCheck(checkBody(deadCheck, "down", time.Now())); code != http.StatusAccepted {
		t.Fatalf("POST the dead-letter check = %d %s, want 202", code, answer)
	}
	dl := vb.waitDeadLetter(t, "slack-notifier")
	if !strings.Contains(dl.Reason, "not_found") && !strings.Contains(dl.Reason, "not found") {
		t.Errorf("dead letter reason = %q, want channel not found", dl.Reason)
	}
	code, out, errOut := vb.ctl("deadletter", "list", "--output", "json")
	if code != 0 {
		t.Fatalf("bridgectl deadletter list = %d: %s", code, errOut)
	}
	sources := map[string]string{
		"bridge log":           vb.proc.log.String(),
		"/metrics":             vb.metrics(),
		"/readyz":              vb.readyz().raw,
		"deadletter list":      out + errOut,
		"answers and failures": strings.Join(vb.seen, "\n"),
	}
	for where, text := range sources {
		if text == "" && where != "answers and failures" {
			t.Errorf("%s: nothing captured: the scan would prove nothing", where)
		}
		for what, secret := range vb.secrets {
			if secret == "" {
				t.Fatalf("secret %s is empty: the scan would prove nothing", what)
			}
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the %s", where, what)
			}
		}
		if tokenShape.MatchString(text) {
			t.Errorf("%s holds a Vault token (hvs.…)", where)
		}
		if vb.roleID != "" {
			for _, id := range uniq(uuidShape.FindAllString(text, -1)) {
				if vb.isSecretID(id) {
					t.Errorf("%s holds the AppRole secret id", where)
				}
			}
		}
	}
}

// isSecretID reports whether id logs in with the role id: then it is a
// secret id (Vault: auth/approle/login answers 200 for a valid pair, 400
// "invalid role or secret ID" otherwise).
func (vb *vaultBridge) isSecretID(id string) bool {
	vb.t.Helper()
	if id == vb.roleID {
		return false
	}
	body, _ := json.Marshal(map[string]string{"role_id": vb.roleID, "secret_id": id})
	resp, err := http.Post(vb.vault.URL()+"/v1/auth/approle/login", "application/json", bytes.NewReader(body))
	if err != nil {
		vb.t.Fatalf("probing the fake Vault: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// writeSecret writes a credential file for the bridge and returns its path.
func writeSecret(t *testing.T, name, value string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// appRoleYAML is the vault.auth section for AppRole with credential files.
func appRoleYAML(roleIDFile, secretIDFile string, wrapped bool) string {
	return fmt.Sprintf(`    method: approle
    role_id_file: %q
    secret_id_file: %q
    wrapped: %t`, roleIDFile, secretIDFile, wrapped)
}

// TestVaultAppRoleWrapped: AppRole login with a response-wrapped secret id.
// Relies on: sys/wrapping/unwrap answering the wrapped secret-id response
// once (single use); auth/approle/login issuing a token for role id +
// secret id; KV v2 GET secret/data/bridge with X-Vault-Token.
func TestVaultAppRoleWrapped(t *testing.T) {
	v := vaulttest.New(t)
	roleID := v.AddAppRole("bridge", vaulttest.Role{Policies: []string{"bridge"}})
	wrapping := v.WrappedSecretID("bridge")
	v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken})
	vb := startVaultBridge(t, v,
		appRoleYAML(writeSecret(t, "role-id", roleID), writeSecret(t, "secret-id", wrapping), true),
		nil, map[string]string{"role id": roleID, "wrapping token": wrapping})
	vb.roleID = roleID

	vb.putSecrets()
	vb.waitSlackToken()
	vb.alert(1, 1)
	c := v.Counts()
	if c.Logins["approle"] != 1 || c.Unwraps != 1 {
		t.Errorf("fake counted %d AppRole logins and %d unwraps, want 1 and 1", c.Logins["approle"], c.Unwraps)
	}
	if c.KVReadsOf("bridge") == 0 {
		t.Error("the fake saw no KV read of secret/bridge")
	}
	vb.scanLeaks()
}

// TestVaultKubernetes: Kubernetes auth with the service-account JWT read
// from vault.auth.token_path. Relies on: auth/kubernetes/login verifying
// the JWT's signature, issuer and expiry against the configured key and the
// role's bound service account and namespace.
func TestVaultKubernetes(t *testing.T) {
	v := vaulttest.New(t)
	v.AddKubernetesRole("bridge", vaulttest.Role{
		Policies:                 []string{"bridge"},
		ServiceAccountNames:      []string{"bridge"},
		ServiceAccountNamespaces: []string{"stoa"},
	})
	jwt := v.ServiceAccountJWT("stoa", "bridge")
	v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken})
	vb := startVaultBridge(t, v, fmt.Sprintf(`    method: kubernetes
    role: bridge
    token_path: %q`, writeSecret(t, "token", jwt)),
		nil, map[string]string{"service-account JWT": jwt, "JWT signature": jwt[strings.LastIndex(jwt, ".")+1:]})

	vb.putSecrets()
	vb.waitSlackToken()
	vb.alert(1, 1)
	if c := v.Counts(); c.Logins["kubernetes"] != 1 || c.FailedLogins["kubernetes"] != 0 {
		t.Errorf("fake counted %d Kubernetes logins (%d refused), want 1 (0)", c.Logins["kubernetes"], c.FailedLogins["kubernetes"])
	}
	vb.scanLeaks()
}

// TestVaultRenewAndRelogin: a 3s renewable AppRole token with a 6s
// max_ttl. Relies on: auth/token/renew-self extending the TTL but never past
// issue time + max_ttl (the lifetime watcher then gives up), a token past
// its TTL being refused (403), and the AppRole secret id (unwrapped once,
// kept in memory) logging in again; the wrapping token works only once.
func TestVaultRenewAndRelogin(t *testing.T) {
	v := vaulttest.New(t)
	roleID := v.AddAppRole("bridge", vaulttest.Role{
		Policies: []string{"bridge"},
		TTL:      3 * time.Second,
		MaxTTL:   6 * time.Second,
	})
	wrapping := v.WrappedSecretID("bridge")
	v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken})
	vb := startVaultBridge(t, v,
		appRoleYAML(writeSecret(t, "role-id", roleID), writeSecret(t, "secret-id", wrapping), true),
		nil, map[string]string{"role id": roleID, "wrapping token": wrapping})
	vb.roleID = roleID

	vb.putSecrets()
	vb.waitSlackToken()
	vb.alert(1, 1)
	waitFor(t, 30*time.Second, "a renewal and a second login", func() error {
		c := v.Counts()
		if c.Renewals < 1 || c.Logins["approle"] < 2 {
			return fmt.Errorf("%d renewals, %d logins", c.Renewals, c.Logins["approle"])
		}
		return nil
	})
	// The secrets are read with the new token: a KV read after the
	// re-login.
	reads := v.Counts().KVReadsOf("bridge")
	waitFor(t, 30*time.Second, "a KV read with the new token", func() error {
		if n := v.Counts().KVReadsOf("bridge"); n <= reads {
			return fmt.Errorf("%d reads", n)
		}
		return nil
	})
	vb.alert(2, 2)
	if c := v.Counts(); c.Unwraps != 1 {
		t.Errorf("fake counted %d unwraps, want 1: the re-login must reuse the unwrapped secret id", c.Unwraps)
	}
	if n := vb.mustSample("bridge_secrets_vault_logins_total"); n < 2 {
		t.Errorf("bridge_secrets_vault_logins_total = %v, want at least 2", n)
	}
	if n := vb.mustSample("bridge_secrets_vault_renewals_total"); n < 1 {
		t.Errorf("bridge_secrets_vault_renewals_total = %v, want at least 1", n)
	}
	vb.scanLeaks()
}

// TestVaultDownKeepsSecrets: token auth (VAULT_TOKEN), then the Vault
// server stops. Relies on: auth/token/lookup-self for the token's TTL, KV v2
// reads, and a stopped server refusing connections. The bridge keeps the
// secrets last read and says so in /metrics and /readyz, which stays 200.
func TestVaultDownKeepsSecrets(t *testing.T) {
	v := vaulttest.New(t)
	token := v.CreateToken([]string{"bridge"}, 0, true, 0)
	v.Put("bridge", map[string]string{"HEALTHCHECKS_TOKEN": hcToken})
	vb := startVaultBridge(t, v, "    method: token", []string{"VAULT_TOKEN=" + token},
		map[string]string{"Vault token": token})

	vb.putSecrets()
	vb.waitSlackToken()
	vb.alert(1, 1)
	if up := vb.mustSample("bridge_secrets_vault_up"); up != 1 {
		t.Errorf("bridge_secrets_vault_up = %v before the stop, want 1", up)
	}

	v.Stop()
	var errs float64
	waitFor(t, 30*time.Second, "bridge_secrets_vault_up 0", func() error {
		body := vb.metrics()
		up, _ := sample(body, "bridge_secrets_vault_up")
		errs, _ = sample(body, "bridge_secrets_refresh_errors_total")
		if up != 0 || errs == 0 {
			return fmt.Errorf("vault_up %v, refresh errors %v", up, errs)
		}
		return nil
	})
	waitFor(t, 30*time.Second, "bridge_secrets_refresh_errors_total to rise", func() error {
		if n := vb.mustSample("bridge_secrets_refresh_errors_total"); n <= errs {
			return fmt.Errorf("still %v", n)
		}
		return nil
	})
	r := vb.readyz()
	if r.code != http.StatusOK {
		t.Errorf("GET /readyz = %d %s, want 200: notes do not block readiness", r.code, r.raw)
	}
	if note := r.Notes["secrets"]; !strings.Contains(note, "unreachable") {
		t.Errorf("/readyz secrets note = %q, want Vault unreachable", note)
	}
	// The last good secrets are still in use: the webhook is authorised
	// and the alert posted.
	vb.alert(2, 2)
	vb.scanLeaks()
}

// TestVaultUnreachableAtStart: Vault is sealed when the bridge starts, and
// unsealed later. Relies on: a sealed Vault answering 503 "Vault is sealed"
// to every endpoint (logins too), and keeping tokens and secrets across
// unseal. Meanwhile the gateway answers 503 with Retry-After for a source
// whose secret is unknown, and /readyz says why.
func TestVaultUnreachableAtStart(t *testing.T) {
	v := vaulttest.New(t)
	roleID := v.AddAppRole("bridge", vaulttest.Role{Policies: []string{"bridge"}})
	secretID := v.SecretID("bridge")
	v.Seal()
	vb := startVaultBridge(t, v,
		appRoleYAML(writeSecret(t, "role-id", roleID), writeSecret(t, "secret-id", secretID), false),
		nil, map[string]string{"role id": roleID, "secret id": secretID})
	vb.putSecrets()

	body := checkBody(checkID(1), "down", time.Now())
	code, h, answer := vb.postCheck(body)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("POST /webhooks/healthchecks while Vault is sealed = %d (Retry-After %q) %s, want 503 with Retry-After",
			code, h.Get("Retry-After"), answer)
	}
	r := vb.readyz()
	if note := r.Notes["secrets"]; !strings.Contains(note, "never read") || !strings.Contains(note, "sealed") {
		t.Errorf("/readyz secrets note = %q, want never read because Vault is sealed", note)
	}
	if r.code != http.StatusOK {
		t.Errorf("GET /readyz = %d %s, want 200: notes do not block readiness", r.code, r.raw)
	}

	v.Unseal()
	waitFor(t, 30*time.Second, "the webhook accepted after the unseal", func() error {
		code, _, answer := vb.postCheck(body)
		if code != http.StatusAccepted {
			return fmt.Errorf("%d %s", code, answer)
		}
		return nil
	})
	vb.waitMessages("C0INCIDENTS", 1)
	if note := vb.readyz().Notes["secrets"]; note != "" {
		t.Errorf("/readyz secrets note = %q after the unseal, want none", note)
	}
	vb.scanLeaks()
}

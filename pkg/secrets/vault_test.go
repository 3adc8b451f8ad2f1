package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/secrets/vaulttest"
)

// syncBuffer is a log sink the provider's goroutines write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness runs one Vault provider against a fake and, when the test ends,
// scans everything it said (log lines, errors, readiness reasons) for
// every secret value and credential the test handed out.
type harness struct {
	t      *testing.T
	fake   *vaulttest.Server
	v      *secrets.Vault
	m      *metrics.Metrics
	logs   *syncBuffer
	mu     sync.Mutex
	said   []string // errors and reasons, for the leak scan
	values []string // secret values and credentials that must never appear
}

// allSecrets is one value per secret name.
func allSecrets(suffix string) map[string]string {
	m := map[string]string{}
	for _, n := range secrets.Names {
		m[n] = "val-" + strings.ToLower(n) + "-" + suffix
	}
	return m
}

func newHarness(t *testing.T, fake *vaulttest.Server) *harness {
	t.Helper()
	h := &harness{t: t, fake: fake, logs: &syncBuffer{}, m: metrics.New(prometheus.NewRegistry())}
	h.secret(fake.RootToken())
	t.Cleanup(h.scan)
	return h
}

// secret registers values that must never be printed.
func (h *harness) secret(vs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.values = append(h.values, vs...)
}

// put writes the secret and registers its values.
func (h *harness) put(data map[string]string) int {
	for _, v := range data {
		h.secret(v)
	}
	return h.fake.Put("bridge", data)
}

// refresh reads the secret now, as after a refused credential.
func (h *harness) refresh() error {
	_, err := h.v.Refresh(context.Background(), time.Time{})
	return err
}

func (h *harness) note(err error) error {
	if err != nil {
		h.mu.Lock()
		h.said = append(h.said, err.Error())
		h.mu.Unlock()
	}
	return err
}

// start makes the provider and runs it until the test ends.
func (h *harness) start(cfg secrets.VaultConfig, env map[string]string) {
	h.t.Helper()
	for _, v := range env {
		h.secret(v)
	}
	cfg.Address = h.fake.URL()
	if cfg.KVMount == "" {
		cfg.KVMount = "secret"
	}
	if cfg.Path == "" {
		cfg.Path = "bridge"
	}
	if cfg.Auth.Method == "" {
		cfg.Auth.Method = "token"
	}
	ctx, cancel := context.WithCancel(context.Background())
	v, err := secrets.NewVault(ctx, secrets.VaultOptions{
		Config:  cfg,
		Env:     mapLookup(env),
		Logger:  slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: h.m,
	})
	if err != nil {
		cancel()
		h.t.Fatalf("NewVault = %v", h.note(err))
	}
	h.v = v
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = v.Run(ctx)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// get returns the value of name, failing the test on error.
func (h *harness) get(name string) string {
	h.t.Helper()
	s, err := h.v.Get(context.Background(), name)
	if err != nil {
		h.t.Fatalf("Get(%s) = %v", name, h.note(err))
	}
	return s.Reveal()
}

func (h *harness) status() (bool, string) {
	ready, reason := h.v.Status()
	h.mu.Lock()
	h.said = append(h.said, reason)
	h.mu.Unlock()
	return ready, reason
}

func (h *harness) scan() {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.logs.String() + "\n" + strings.Join(h.said, "\n")
	for _, v := range h.values {
		if v != "" && strings.Contains(out, v) {
			h.t.Errorf("a secret value (%.6s…) appears in the logs or errors:\n%s", v, out)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Relies on: X-Vault-Token; auth/token/lookup-self (ttl, renewable); KV v2
// data.data and data.metadata.version.
func TestVaultTokenAuth(t *testing.T) {
	tests := []struct {
		name string
		file bool
	}{
		{"VAULT_TOKEN", false},
		{"token_file", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := vaulttest.New(t)
			h := newHarness(t, fake)
			want := allSecrets("1")
			h.put(want)
			tok := fake.CreateToken([]string{"bridge"}, time.Hour, true, 0)
			h.secret(tok)
			cfg := secrets.VaultConfig{}
			env := map[string]string{}
			if tt.file {
				cfg.Auth.TokenFile = writeFile(t, "token", tok)
				env["VAULT_TOKEN"] = "hvs.not-this-one"
			} else {
				env["VAULT_TOKEN"] = tok
			}
			h.start(cfg, env)
			for name, v := range want {
				if got := h.get(name); got != v {
					t.Errorf("Get(%s) = %q, want %q", name, got, v)
				}
			}
			if !strings.Contains(h.logs.String(), `"version":1`) {
				t.Errorf("the log does not give the KV version read:\n%s", h.logs)
			}
			if ready, reason := h.status(); !ready {
				t.Errorf("Status() = false, %q, want ready", reason)
			}
			if got := testutil.ToFloat64(h.m.SecretsVaultUp); got != 1 {
				t.Errorf("bridge_secrets_vault_up = %v, want 1", got)
			}
		})
	}
}

// Relies on: KV v2 answers only the fields written.
func TestVaultMissingField(t *testing.T) {
	fake := vaulttest.New(t)
	h := newHarness(t, fake)
	data := allSecrets("1")
	delete(data, secrets.N8NAuth)
	data[secrets.TrivyToken] = ""
	h.put(data)
	h.start(secrets.VaultConfig{}, map[string]string{"VAULT_TOKEN": fake.RootToken()})
	for _, name := range []string{secrets.N8NAuth, secrets.TrivyToken} {
		_, err := h.v.Get(context.Background(), name)
		h.note(err)
		if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("Get(%s) = %v, want ErrNotFound naming the field", name, err)
		}
	}
	set := secrets.Describe(context.Background(), h.v)
	if set[secrets.N8NAuth] || set[secrets.TrivyToken] || !set[secrets.SlackBotToken] {
		t.Errorf("Describe = %v, want all but N8N_AUTH and TRIVY_TOKEN", set)
	}
	if !strings.Contains(h.logs.String(), secrets.N8NAuth) {
		t.Errorf("the log does not name the missing field:\n%s", h.logs)
	}
}

// Relies on: auth/approle/login (role_id + secret_id); sys/wrapping/unwrap
// of a wrapped secret-id answer, once; a custom auth mount.
func TestVaultAppRole(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the auth config and environment for the role.
		setup   func(t *testing.T, fake *vaulttest.Server, roleID string) (secrets.VaultAuth, map[string]string)
		unwraps int
	}{
		{"role and secret id file", func(t *testing.T, fake *vaulttest.Server, roleID string) (secrets.VaultAuth, map[string]string) {
			return secrets.VaultAuth{Role: roleID, SecretIDFile: writeFile(t, "sid", fake.SecretID("bridge"))}, nil
		}, 0},
		{"role id file and VAULT_SECRET_ID", func(t *testing.T, fake *vaulttest.Server, roleID string) (secrets.VaultAuth, map[string]string) {
			return secrets.VaultAuth{RoleIDFile: writeFile(t, "rid", roleID)}, map[string]string{"VAULT_SECRET_ID": fake.SecretID("bridge")}
		}, 0},
		{"wrapped secret id file", func(t *testing.T, fake *vaulttest.Server, roleID string) (secrets.VaultAuth, map[string]string) {
			return secrets.VaultAuth{Role: roleID, SecretIDFile: writeFile(t, "wrapped", fake.WrappedSecretID("bridge")), Wrapped: true}, nil
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := vaulttest.New(t, vaulttest.WithAppRoleMount("approle-bridge"))
			h := newHarness(t, fake)
			want := allSecrets("ar")
			h.put(want)
			roleID := fake.AddAppRole("bridge", vaulttest.Role{Policies: []string{"bridge"}, TTL: time.Hour})
			h.secret(roleID)
			auth, env := tt.setup(t, fake, roleID)
			h.secretFiles(auth.SecretIDFile)
			auth.Method, auth.Mount = "approle", "approle-bridge"
			h.start(secrets.VaultConfig{Auth: auth}, env)
			if got := h.get(secrets.SlackBotToken); got != want[secrets.SlackBotToken] {
				t.Errorf("Get(SLACK_BOT_TOKEN) = %q, want %q", got, want[secrets.SlackBotToken])
			}
			c := fake.Counts()
			if c.Logins["approle"] != 1 || c.Unwraps != tt.unwraps {
				t.Errorf("logins = %d, unwraps = %d, want 1 and %d", c.Logins["approle"], c.Unwraps, tt.unwraps)
			}
		})
	}
}

// secretFiles registers the contents of credential files.
func (h *harness) secretFiles(paths ...string) {
	for _, p := range paths {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			h.t.Fatal(err)
		}
		h.secret(strings.TrimSpace(string(b)))
	}
}

// Relies on: auth/kubernetes/login verifying the service-account JWT
// against the configured key and the role's bound names and namespaces.
func TestVaultKubernetes(t *testing.T) {
	fake := vaulttest.New(t, vaulttest.WithKubernetesMount("k8s-prod"))
	h := newHarness(t, fake)
	want := allSecrets("k8s")
	h.put(want)
	fake.AddKubernetesRole("bridge", vaulttest.Role{
		Policies:                 []string{"bridge"},
		ServiceAccountNames:      []string{"bridge"},
		ServiceAccountNamespaces: []string{"platform"},
	})
	jwt := fake.ServiceAccountJWT("platform", "bridge")
	h.secret(jwt)
	h.start(secrets.VaultConfig{Auth: secrets.VaultAuth{
		Method: "kubernetes", Mount: "k8s-prod", Role: "bridge", TokenPath: writeFile(t, "token", jwt),
	}}, nil)
	if got := h.get(secrets.LinearAPIKey); got != want[secrets.LinearAPIKey] {
		t.Errorf("Get(LINEAR_API_KEY) = %q, want %q", got, want[secrets.LinearAPIKey])
	}
	if n := fake.Counts().Logins["kubernetes"]; n != 1 {
		t.Errorf("kubernetes logins = %d, want 1", n)
	}
}

// Relies on: auth/token/renew-self extending a renewable token by its own
// TTL, with real expiry.
func TestVaultRenewsShortToken(t *testing.T) {
	t.Parallel()
	fake := vaulttest.New(t)
	h := newHarness(t, fake)
	h.put(allSecrets("r"))
	roleID := fake.AddAppRole("bridge", vaulttest.Role{TTL: 2 * time.Second})
	sid := fake.SecretID("bridge")
	h.secret(roleID, sid)
	h.start(secrets.VaultConfig{Auth: secrets.VaultAuth{Method: "approle", Role: roleID}},
		map[string]string{"VAULT_SECRET_ID": sid})
	waitFor(t, 10*time.Second, "two renewals", func() bool { return fake.Counts().Renewals >= 2 })
	// Renewed past its first TTL, the same token still reads.
	if err := h.note(h.refresh()); err != nil {
		t.Errorf("Refresh after renewals = %v", err)
	}
	if n := fake.Counts().Logins["approle"]; n != 1 {
		t.Errorf("approle logins = %d, want 1: the token was renewed, not replaced", n)
	}
	if got := testutil.ToFloat64(h.m.SecretsRenewals); got < 1 {
		t.Errorf("bridge_secrets_vault_renewals_total = %v, want ≥ 1", got)
	}
}

// Relies on: renew-self capping the TTL at the token's max TTL, and an
// expired token being refused: the watcher gives up and the provider logs
// in again. For token auth, a non-renewable token is replaced by reading
// the token file again.
func TestVaultReloginWhenTokenCannotBeRenewed(t *testing.T) {
	t.Run("approle max ttl", func(t *testing.T) {
		t.Parallel()
		fake := vaulttest.New(t)
		h := newHarness(t, fake)
		h.put(allSecrets("1"))
		roleID := fake.AddAppRole("bridge", vaulttest.Role{TTL: 2 * time.Second, MaxTTL: 2 * time.Second})
		sid := fake.SecretID("bridge")
		h.secret(roleID, sid)
		h.start(secrets.VaultConfig{Auth: secrets.VaultAuth{Method: "approle", Role: roleID}},
			map[string]string{"VAULT_SECRET_ID": sid})
		waitFor(t, 10*time.Second, "two re-logins", func() bool { return fake.Counts().Logins["approle"] >= 3 })
		want := allSecrets("2")
		h.put(want)
		if err := h.note(h.refresh()); err != nil {
			t.Fatalf("Refresh after re-login = %v", err)
		}
		if got := h.get(secrets.SlackBotToken); got != want[secrets.SlackBotToken] {
			t.Errorf("Get(SLACK_BOT_TOKEN) = %q, want %q", got, want[secrets.SlackBotToken])
		}
	})
	t.Run("non-renewable token file", func(t *testing.T) {
		t.Parallel()
		fake := vaulttest.New(t)
		h := newHarness(t, fake)
		h.put(allSecrets("1"))
		first := fake.CreateToken(nil, 2*time.Second, false, 0)
		h.secret(first)
		file := writeFile(t, "token", first)
		h.start(secrets.VaultConfig{Auth: secrets.VaultAuth{TokenFile: file}}, nil)
		// An agent writes the next token before the first expires.
		second := fake.CreateToken(nil, time.Hour, true, 0)
		h.secret(second)
		if err := os.WriteFile(file, []byte(second), 0o600); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "a second login", func() bool { return testutil.ToFloat64(h.m.SecretsLogins) >= 2 })
		// The first token is gone by now; reads go on with the second.
		waitFor(t, 5*time.Second, "the first token to expire", func() bool {
			_, err := secretsWith(fake, first)
			return err != nil
		})
		want := allSecrets("2")
		h.put(want)
		if err := h.note(h.refresh()); err != nil {
			t.Fatalf("Refresh after the first token expired = %v", err)
		}
		if got := h.get(secrets.GitHubToken); got != want[secrets.GitHubToken] {
			t.Errorf("Get(GITHUB_TOKEN) = %q, want %q", got, want[secrets.GitHubToken])
		}
	})
}

// secretsWith reads the secret with token, through a provider of its own.
func secretsWith(fake *vaulttest.Server, token string) (*secrets.Vault, error) {
	v, err := secrets.NewVault(context.Background(), secrets.VaultOptions{
		Config: secrets.VaultConfig{Address: fake.URL(), KVMount: "secret", Path: "bridge", Auth: secrets.VaultAuth{Method: "token"}},
		Env:    mapLookup(map[string]string{"VAULT_TOKEN": token}),
	})
	if err != nil {
		return nil, err
	}
	_, err = v.Get(context.Background(), secrets.SlackBotToken)
	return v, err
}

// Relies on: a KV v2 write making a new version that the next read gets.
func TestVaultRotation(t *testing.T) {
	fake := vaulttest.New(t)
	h := newHarness(t, fake)
	h.put(allSecrets("1"))
	h.start(secrets.VaultConfig{}, map[string]string{"VAULT_TOKEN": fake.RootToken()})
	rotated := allSecrets("1")
	rotated[secrets.SlackBotToken] = "xoxb-rotated-2"
	h.put(rotated)
	if got := h.get(secrets.SlackBotToken); got != allSecrets("1")[secrets.SlackBotToken] {
		t.Errorf("Get before Refresh = %q, want the first version", got)
	}
	if err := h.note(h.refresh()); err != nil {
		t.Fatalf("Refresh = %v", err)
	}
	if got := h.get(secrets.SlackBotToken); got != "xoxb-rotated-2" {
		t.Errorf("Get after Refresh = %q, want xoxb-rotated-2", got)
	}
	if got := testutil.ToFloat64(h.m.SecretsVersion); got != 2 {
		t.Errorf("bridge_secrets_kv_version = %v, want 2", got)
	}
	if !strings.Contains(h.logs.String(), `"version":2`) {
		t.Errorf("the log does not give version 2:\n%s", h.logs)
	}
}

// Relies on: a KV v2 write making a new version that the next read gets,
// and a stopped Vault refusing connections. Refresh's changed answers "did
// the secrets change after since", whoever's read found it.
func TestVaultRefreshReportsChange(t *testing.T) {
	tests := []struct {
		name string
		// act runs between since and the Refresh under test.
		act         func(t *testing.T, h *harness)
		wantChanged bool
		wantErr     bool
	}{
		{name: "nothing written", act: func(*testing.T, *harness) {}},
		{name: "new version", wantChanged: true, act: func(_ *testing.T, h *harness) {
			h.put(allSecrets("2"))
		}},
		{name: "same values written again", wantChanged: true, act: func(_ *testing.T, h *harness) {
			// A new KV version is a change even with the same values: the
			// operator meant something by it.
			h.put(allSecrets("1"))
		}},
		{name: "found by an earlier read", wantChanged: true, act: func(t *testing.T, h *harness) {
			h.put(allSecrets("2"))
			if _, err := h.v.Refresh(context.Background(), time.Now()); err != nil {
				t.Fatalf("first Refresh = %v", h.note(err))
			}
		}},
		{name: "Vault down after an earlier read found it", wantChanged: true, wantErr: true, act: func(t *testing.T, h *harness) {
			h.put(allSecrets("2"))
			if err := h.note(h.refresh()); err != nil {
				t.Fatalf("first Refresh = %v", err)
			}
			h.fake.Stop()
		}},
		{name: "Vault down, nothing read", wantErr: true, act: func(_ *testing.T, h *harness) {
			h.fake.Stop()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := vaulttest.New(t)
			h := newHarness(t, fake)
			h.put(allSecrets("1"))
			h.start(secrets.VaultConfig{RefreshInterval: time.Hour}, map[string]string{"VAULT_TOKEN": fake.RootToken()})
			since := time.Now()
			tt.act(t, h)
			changed, err := h.v.Refresh(context.Background(), since)
			if (h.note(err) != nil) != tt.wantErr {
				t.Errorf("Refresh error = %v, want error %v", err, tt.wantErr)
			}
			if changed != tt.wantChanged {
				t.Errorf("Refresh changed = %v, want %v", changed, tt.wantChanged)
			}
		})
	}

	t.Run("callers failing together all learn of it", func(t *testing.T) {
		t.Parallel()
		fake := vaulttest.New(t)
		h := newHarness(t, fake)
		h.put(allSecrets("1"))
		h.start(secrets.VaultConfig{RefreshInterval: time.Hour}, map[string]string{"VAULT_TOKEN": fake.RootToken()})
		since := time.Now()
		want := allSecrets("2")
		h.put(want)
		reads := fake.Counts().KVReadsOf("bridge")
		const callers = 8
		var wg sync.WaitGroup
		results := make([]bool, callers)
		for i := range callers {
			wg.Go(func() {
				changed, err := h.v.Refresh(context.Background(), since)
				results[i] = changed && h.note(err) == nil
			})
		}
		wg.Wait()
		for i, ok := range results {
			if !ok {
				t.Errorf("caller %d: Refresh did not report the change", i)
			}
		}
		if n := fake.Counts().KVReadsOf("bridge") - reads; n < 1 || n > callers {
			t.Errorf("%d KV reads for %d callers, want 1 to %d", n, callers, callers)
		}
		if got := h.get(secrets.SlackBotToken); got != want[secrets.SlackBotToken] {
			t.Errorf("Get after Refresh = %q, want the new version", got)
		}
	})
}

// Relies on: a stopped Vault refusing connections.
func TestVaultDownKeepsLastGood(t *testing.T) {
	fake := vaulttest.New(t)
	h := newHarness(t, fake)
	want := allSecrets("1")
	h.put(want)
	h.start(secrets.VaultConfig{RefreshInterval: time.Hour}, map[string]string{"VAULT_TOKEN": fake.RootToken()})
	fake.Stop()
	if err := h.note(h.refresh()); err == nil {
		t.Fatal("Refresh with Vault stopped = nil, want an error")
	}
	if got := h.get(secrets.SlackBotToken); got != want[secrets.SlackBotToken] {
		t.Errorf("Get with Vault down = %q, want the last good value", got)
	}
	ready, reason := h.status()
	if ready || !strings.HasPrefix(reason, "vault: unreachable since ") || !strings.Contains(reason, "using secrets read at ") {
		t.Errorf("Status() = %v, %q, want not ready, unreachable since …; using secrets read at …", ready, reason)
	}
	if got := testutil.ToFloat64(h.m.SecretsVaultUp); got != 0 {
		t.Errorf("bridge_secrets_vault_up = %v, want 0", got)
	}
	if got := testutil.ToFloat64(h.m.SecretsRefreshErrors); got < 1 {
		t.Errorf("bridge_secrets_refresh_errors_total = %v, want ≥ 1", got)
	}
}

// Relies on: a sealed Vault answering 503 "Vault is sealed", and serving
// again once unsealed.
func TestVaultUnreachableAtStart(t *testing.T) {
	fake := vaulttest.New(t)
	h := newHarness(t, fake)
	want := allSecrets("1")
	h.put(want)
	fake.Seal()
	h.start(secrets.VaultConfig{}, map[string]string{"VAULT_TOKEN": fake.RootToken()})
	_, err := h.v.Get(context.Background(), secrets.SlackBotToken)
	if !errors.Is(h.note(err), secrets.ErrNotLoaded) {
		t.Errorf("Get before the first read = %v, want ErrNotLoaded", err)
	}
	if ready, reason := h.status(); ready || !strings.HasPrefix(reason, "vault: never read: ") {
		t.Errorf("Status() = %v, %q, want not ready, vault: never read: …", ready, reason)
	}
	fake.Unseal()
	waitFor(t, 10*time.Second, "the first read after unseal", func() bool {
		_, err := h.v.Get(context.Background(), secrets.SlackBotToken)
		return err == nil
	})
	if got := h.get(secrets.SlackBotToken); got != want[secrets.SlackBotToken] {
		t.Errorf("Get = %q, want %q", got, want[secrets.SlackBotToken])
	}
	if ready, reason := h.status(); !ready {
		t.Errorf("Status() = false, %q, want ready", reason)
	}
}

func TestNewVaultRejectsUnusableConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  secrets.VaultConfig
	}{
		{"no address", secrets.VaultConfig{Auth: secrets.VaultAuth{Method: "token"}}},
		{"unknown method", secrets.VaultConfig{Address: "http://127.0.0.1:1", Auth: secrets.VaultAuth{Method: "ldap"}}},
		{"missing ca file", secrets.VaultConfig{Address: "https://127.0.0.1:1", CACert: "/nonexistent/ca.pem", Auth: secrets.VaultAuth{Method: "token"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := secrets.NewVault(context.Background(), secrets.VaultOptions{Config: tt.cfg}); err == nil {
				t.Errorf("NewVault(%+v) = nil error", tt.cfg)
			}
		})
	}
}

// VaultConfig mirrors config.Vault field for field, so the service can copy
// one into the other; a key added to the config must be added here too.
func TestVaultConfigMirrorsConfig(t *testing.T) {
	pairs := []struct{ cfg, ours reflect.Type }{
		{reflect.TypeFor[config.Vault](), reflect.TypeFor[secrets.VaultConfig]()},
		{reflect.TypeFor[config.VaultAuth](), reflect.TypeFor[secrets.VaultAuth]()},
	}
	for _, p := range pairs {
		for i := range p.cfg.NumField() {
			f := p.cfg.Field(i)
			g, ok := p.ours.FieldByName(f.Name)
			if !ok {
				t.Errorf("%s has no field %s (config's %s)", p.ours, f.Name, f.Tag.Get("yaml"))
				continue
			}
			if f.Type.Kind() != reflect.Struct && f.Type != g.Type {
				t.Errorf("%s.%s is %s, config's is %s", p.ours, f.Name, g.Type, f.Type)
			}
		}
		if p.cfg.NumField() != p.ours.NumField() {
			t.Errorf("%s has %d fields, %s has %d", p.ours, p.ours.NumField(), p.cfg, p.cfg.NumField())
		}
	}
}

// Relies on: Vault serving HTTPS; the client trusting only vault.ca_cert
// and checking the certificate's name against vault.tls_server_name when
// set (httptest's certificate names 127.0.0.1 and example.com).
func TestVaultTLS(t *testing.T) {
	tests := []struct {
		name       string
		ca         bool
		serverName string
		wantRead   bool
	}{
		{"ca_cert trusted", true, "", true},
		{"ca_cert and tls_server_name in the certificate", true, "example.com", true},
		{"no ca_cert: the system roots refuse a private CA", false, "", false},
		{"tls_server_name not in the certificate", true, "vault.other.test", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := vaulttest.New(t, vaulttest.WithTLS())
			h := newHarness(t, fake)
			want := allSecrets("tls")
			h.put(want)
			tok := fake.CreateToken([]string{"bridge"}, time.Hour, true, 0)
			h.secret(tok)
			cfg := secrets.VaultConfig{TLSServerName: tt.serverName}
			if tt.ca {
				cfg.CACert = writeFile(t, "ca.pem", string(fake.CACertPEM()))
			}
			h.start(cfg, map[string]string{"VAULT_TOKEN": tok})
			if tt.wantRead {
				if got := h.get(secrets.SlackBotToken); got != want[secrets.SlackBotToken] {
					t.Errorf("Get = %q, want the value written", got)
				}
				return
			}
			_, err := h.v.Get(context.Background(), secrets.SlackBotToken)
			if !errors.Is(h.note(err), secrets.ErrNotLoaded) {
				t.Errorf("Get = %v, want ErrNotLoaded: the certificate must be refused", err)
			}
			if ready, reason := h.status(); ready || !strings.Contains(reason, "certificate") {
				t.Errorf("Status() = %t, %q; want not ready, naming the certificate", ready, reason)
			}
		})
	}
}

// Relies on: Vault Enterprise namespaces: X-Vault-Namespace selects the
// namespace whose mounts and tokens a request uses; the same token without
// it finds nothing.
func TestVaultNamespace(t *testing.T) {
	for _, tt := range []struct {
		namespace string
		wantRead  bool
	}{{"platform", true}, {"", false}} {
		t.Run("namespace="+tt.namespace, func(t *testing.T) {
			t.Parallel()
			fake := vaulttest.New(t, vaulttest.WithNamespace("platform"))
			h := newHarness(t, fake)
			want := allSecrets("ns")
			h.put(want)
			tok := fake.CreateToken([]string{"bridge"}, time.Hour, true, 0)
			h.secret(tok)
			h.start(secrets.VaultConfig{Namespace: tt.namespace}, map[string]string{"VAULT_TOKEN": tok})
			if tt.wantRead {
				if got := h.get(secrets.LinearAPIKey); got != want[secrets.LinearAPIKey] {
					t.Errorf("Get = %q, want the value written in the namespace", got)
				}
				return
			}
			if _, err := h.v.Get(context.Background(), secrets.LinearAPIKey); !errors.Is(h.note(err), secrets.ErrNotLoaded) {
				t.Errorf("Get without the namespace = %v, want ErrNotLoaded", err)
			}
		})
	}
}

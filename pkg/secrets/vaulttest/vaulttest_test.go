package vaulttest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/stoa-platform/bridge/pkg/secrets/vaulttest"
)

// client returns a real vault/api client for s using token. Retries are off
// so that a 5xx is seen at once.
func client(t *testing.T, s *vaulttest.Server, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.URL()
	cfg.MaxRetries = 0
	cfg.Timeout = 5 * time.Second
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient: %v", err)
	}
	c.SetToken(token)
	if ns := s.Namespace(); ns != "" {
		c.SetNamespace(ns)
	} else {
		c.ClearNamespace()
	}
	return c
}

// wantResponseError checks that err is Vault's error answer with this status
// and these messages.
func wantResponseError(t *testing.T, err error, status int, msgs ...string) {
	t.Helper()
	var re *api.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want a *api.ResponseError", err)
	}
	if re.StatusCode != status {
		t.Errorf("status = %d, want %d (%v)", re.StatusCode, status, err)
	}
	if msgs == nil {
		msgs = []string{}
	}
	if diff := cmp.Diff(msgs, re.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// Relies on: KV v2 data answers carry data.data and data.metadata.version;
// a write makes a new version; ?version=N reads an older one.
func TestKVv2ReadAndNewVersion(t *testing.T) {
	s := vaulttest.New(t)
	ctx := context.Background()
	kv := client(t, s, s.RootToken()).KVv2("secret")

	if v := s.Put("bridge", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1"}); v != 1 {
		t.Fatalf("Put = version %d, want 1", v)
	}
	got, err := kv.Get(ctx, "bridge")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Data["SLACK_BOT_TOKEN"] != "xoxb-1" || got.VersionMetadata.Version != 1 {
		t.Errorf("Get = %v version %d, want xoxb-1 version 1", got.Data, got.VersionMetadata.Version)
	}

	s.Put("bridge", map[string]string{"SLACK_BOT_TOKEN": "xoxb-2"})
	if got, err = kv.Get(ctx, "bridge"); err != nil {
		t.Fatalf("Get after rotation: %v", err)
	}
	if got.Data["SLACK_BOT_TOKEN"] != "xoxb-2" || got.VersionMetadata.Version != 2 {
		t.Errorf("Get after rotation = %v version %d, want xoxb-2 version 2", got.Data, got.VersionMetadata.Version)
	}

	old, err := kv.GetVersion(ctx, "bridge", 1)
	if err != nil {
		t.Fatalf("GetVersion(1): %v", err)
	}
	if old.Data["SLACK_BOT_TOKEN"] != "xoxb-1" {
		t.Errorf("GetVersion(1) = %v, want xoxb-1", old.Data)
	}

	written, err := kv.Put(ctx, "bridge", map[string]any{"SLACK_BOT_TOKEN": "xoxb-3"})
	if err != nil {
		t.Fatalf("client Put: %v", err)
	}
	if written.VersionMetadata.Version != 3 {
		t.Errorf("client Put = version %d, want 3", written.VersionMetadata.Version)
	}
	_, err = kv.Put(ctx, "bridge", map[string]any{"x": "y"}, api.WithCheckAndSet(1))
	wantResponseError(t, err, http.StatusBadRequest, "check-and-set parameter did not match the current version")

	meta, err := kv.GetMetadata(ctx, "bridge")
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if meta.CurrentVersion != 3 || len(meta.Versions) != 3 {
		t.Errorf("GetMetadata = current %d, %d versions, want 3 and 3", meta.CurrentVersion, len(meta.Versions))
	}

	c := s.Counts()
	want := map[vaulttest.KVRead]int{{Path: "bridge", Version: 1}: 2, {Path: "bridge", Version: 2}: 1}
	if diff := cmp.Diff(want, c.KVReads); diff != "" {
		t.Errorf("KVReads (-want +got):\n%s", diff)
	}
	if n := c.KVReadsOf("bridge"); n != 3 {
		t.Errorf("KVReadsOf(bridge) = %d, want 3", n)
	}
}

// Relies on: a missing KV v2 path or version is 404 {"errors":[]}.
func TestKVv2Missing(t *testing.T) {
	s := vaulttest.New(t)
	s.Put("present", map[string]string{"a": "b"})
	kv := client(t, s, s.RootToken()).KVv2("secret")

	tests := []struct {
		name string
		get  func() (*api.KVSecret, error)
	}{
		{"missing path", func() (*api.KVSecret, error) { return kv.Get(context.Background(), "absent") }},
		{"missing version", func() (*api.KVSecret, error) { return kv.GetVersion(context.Background(), "present", 7) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.get(); !errors.Is(err, api.ErrSecretNotFound) {
				t.Errorf("Get = %v, %v, want api.ErrSecretNotFound", got, err)
			}
		})
	}

	req, err := http.NewRequest(http.MethodGet, s.URL()+"/v1/secret/data/absent", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", s.RootToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || strings.TrimSpace(string(body)) != `{"errors":[]}` {
		t.Errorf("raw GET = %d %s, want 404 {\"errors\":[]}", resp.StatusCode, body)
	}
}

// Relies on: a missing, unknown or expired X-Vault-Token is 403 permission
// denied; a wrapping token is not a client token.
func TestTokenRequired(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := &now
	s := vaulttest.New(t, vaulttest.WithClock(func() time.Time { return *clock }))
	s.Put("bridge", map[string]string{"a": "b"})
	expired := s.CreateToken(nil, time.Minute, true, 0)
	s.AddAppRole("bridge", vaulttest.Role{})
	wrapping := s.WrappedSecretID("bridge")
	now = now.Add(time.Minute)

	for _, tc := range []struct{ name, token string }{
		{"none", ""},
		{"unknown", "hvs.nope"},
		{"expired", expired},
		{"wrapping token", wrapping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(t, s, tc.token).KVv2("secret").Get(context.Background(), "bridge")
			wantResponseError(t, err, http.StatusForbidden, "permission denied")
		})
	}
}

// Relies on: lookup-self reports policies (with "default"), ttl,
// renewable; the root token has ttl 0 and policies [root].
func TestLookupSelf(t *testing.T) {
	s := vaulttest.New(t)
	tok := s.CreateToken([]string{"bridge"}, time.Hour, true, 0)

	tests := []struct {
		name       string
		token      string
		policies   []string
		renewable  bool
		minTTL     time.Duration
		maxTTL     time.Duration
		wantTokens string
	}{
		{"service token", tok, []string{"bridge", "default"}, true, 59 * time.Minute, time.Hour, tok},
		{"root token", s.RootToken(), []string{"root"}, false, 0, 0, s.RootToken()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, err := client(t, s, tt.token).Auth().Token().LookupSelf()
			if err != nil {
				t.Fatalf("LookupSelf: %v", err)
			}
			id, _ := sec.TokenID()
			pol, _ := sec.TokenPolicies()
			ren, _ := sec.TokenIsRenewable()
			ttl, _ := sec.TokenTTL()
			if id != tt.wantTokens {
				t.Errorf("id = %q, want %q", id, tt.wantTokens)
			}
			if diff := cmp.Diff(tt.policies, pol); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
			if ren != tt.renewable {
				t.Errorf("renewable = %v, want %v", ren, tt.renewable)
			}
			if ttl < tt.minTTL || ttl > tt.maxTTL {
				t.Errorf("ttl = %v, want in [%v, %v]", ttl, tt.minTTL, tt.maxTTL)
			}
		})
	}
}

// Relies on: renew-self extends by the increment, never past
// issue_time+max_ttl (with a warning); a non-renewable token is 400 "lease
// is not renewable".
func TestRenewSelf(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := &now
	s := vaulttest.New(t, vaulttest.WithClock(func() time.Time { return *clock }))
	capped := s.CreateToken(nil, time.Minute, true, 90*time.Second)
	fixed := s.CreateToken(nil, time.Minute, false, 0)

	sec, err := client(t, s, capped).Auth().Token().RenewSelf(30)
	if err != nil {
		t.Fatalf("RenewSelf(30): %v", err)
	}
	if sec.Auth.LeaseDuration != 30 || len(sec.Warnings) != 0 {
		t.Errorf("RenewSelf(30) = lease %d, warnings %q; want 30, none", sec.Auth.LeaseDuration, sec.Warnings)
	}
	now = now.Add(25 * time.Second)
	sec, err = client(t, s, capped).Auth().Token().RenewSelf(120)
	if err != nil {
		t.Fatalf("RenewSelf(120) near max_ttl: %v", err)
	}
	if sec.Auth.LeaseDuration != 65 || len(sec.Warnings) != 1 {
		t.Errorf("RenewSelf(120) near max_ttl = lease %d, warnings %q; want 65 (capped), one warning", sec.Auth.LeaseDuration, sec.Warnings)
	}
	if got := s.Counts().Renewals; got != 2 {
		t.Errorf("Renewals = %d, want 2", got)
	}

	_, err = client(t, s, fixed).Auth().Token().RenewSelf(0)
	wantResponseError(t, err, http.StatusBadRequest, "lease is not renewable")

	// Past the token's first expiry (60s): only the renewals keep it alive.
	now = now.Add(64 * time.Second)
	if _, err := client(t, s, capped).Auth().Token().LookupSelf(); err != nil {
		t.Errorf("LookupSelf at 89s, renewed to 90s: %v", err)
	}
	now = now.Add(time.Second)
	_, err = client(t, s, capped).Auth().Token().RenewSelf(0)
	wantResponseError(t, err, http.StatusForbidden, "permission denied")
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Relies on: renew-self with real 2s TTLs; the lifetime watcher renews a
// renewable token and gives up (DoneCh) at max_ttl or on a non-renewable
// token, when it is time to log in again.
func TestLifetimeWatcher(t *testing.T) {
	tests := []struct {
		name        string
		renewable   bool
		maxTTL      time.Duration
		wantRenewal bool
	}{
		{"renewable up to max_ttl", true, 4 * time.Second, true},
		{"non-renewable", false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := vaulttest.New(t)
			tok := s.CreateToken([]string{"bridge"}, 2*time.Second, tt.renewable, tt.maxTTL)
			c := client(t, s, tok)
			self, err := c.Auth().Token().LookupSelf()
			if err != nil {
				t.Fatalf("LookupSelf: %v", err)
			}
			ttl, _ := self.TokenTTL()
			renewable, _ := self.TokenIsRenewable()
			w, err := c.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: &api.Secret{Auth: &api.SecretAuth{
				ClientToken: tok, LeaseDuration: int(ttl / time.Second), Renewable: renewable,
			}}})
			if err != nil {
				t.Fatalf("NewLifetimeWatcher: %v", err)
			}
			go w.Start()
			defer w.Stop()

			renewals := 0
			timeout := time.After(15 * time.Second)
			for done := false; !done; {
				select {
				case r := <-w.RenewCh():
					renewals++
					if r.Secret.Auth == nil || r.Secret.Auth.ClientToken != tok {
						t.Errorf("renewal = %+v, want auth for the token", r.Secret)
					}
				case err := <-w.DoneCh():
					if err != nil {
						t.Errorf("DoneCh = %v, want nil (time to log in again)", err)
					}
					done = true
				case <-timeout:
					t.Fatal("watcher neither renewed nor finished")
				}
			}
			if got := renewals > 0; got != tt.wantRenewal {
				t.Errorf("renewed = %v (%d), want %v", got, renewals, tt.wantRenewal)
			}
			if got := s.Counts().Renewals > 0; got != tt.wantRenewal {
				t.Errorf("server renewals = %d, want some: %v", s.Counts().Renewals, tt.wantRenewal)
			}
			// The token really expires: once it has, Vault denies it.
			waitFor(t, "the token to expire", func() bool {
				_, err := c.Auth().Token().LookupSelf()
				var re *api.ResponseError
				return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
			})
		})
	}
}

// Relies on: AppRole login with role_id + secret_id; a wrapped secret id
// is unwrapped first; wrong credentials are 400 "invalid role or secret
// ID".
func TestAppRoleLogin(t *testing.T) {
	s := vaulttest.New(t)
	roleID := s.AddAppRole("bridge", vaulttest.Role{Policies: []string{"bridge"}, TTL: time.Hour})
	s.Put("bridge", map[string]string{"a": "b"})

	tests := []struct {
		name     string
		secretID string
		opts     []approle.LoginOption
	}{
		{"plain secret id", s.SecretID("bridge"), nil},
		{"wrapped secret id", s.WrappedSecretID("bridge"), []approle.LoginOption{approle.WithWrappingToken()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, s, "")
			auth, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: tt.secretID}, tt.opts...)
			if err != nil {
				t.Fatalf("NewAppRoleAuth: %v", err)
			}
			sec, err := c.Auth().Login(context.Background(), auth)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if diff := cmp.Diff([]string{"bridge", "default"}, sec.Auth.Policies); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
			if sec.Auth.LeaseDuration != 3600 || !sec.Auth.Renewable || sec.Auth.Accessor == "" {
				t.Errorf("auth = %+v, want lease 3600, renewable, an accessor", sec.Auth)
			}
			if _, err := c.KVv2("secret").Get(context.Background(), "bridge"); err != nil {
				t.Errorf("KV read with the login token: %v", err)
			}
		})
	}

	errTests := []struct {
		name, roleID, secretID string
		want                   string
	}{
		{"wrong secret id", roleID, "nope", "invalid role or secret ID"},
		{"wrong role id", "nope", s.SecretID("bridge"), "invalid role or secret ID"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := approle.NewAppRoleAuth(tt.roleID, &approle.SecretID{FromString: tt.secretID})
			if err != nil {
				t.Fatalf("NewAppRoleAuth: %v", err)
			}
			_, err = client(t, s, "").Auth().Login(context.Background(), auth)
			wantResponseError(t, err, http.StatusBadRequest, tt.want)
		})
	}

	c := s.Counts()
	if c.Logins["approle"] != 2 || c.FailedLogins["approle"] != 2 || c.Unwraps != 1 {
		t.Errorf("counts = %+v, want 2 logins, 2 failures, 1 unwrap", c)
	}
}

// Relies on: X-Vault-Wrap-TTL wraps an answer in a single-use token;
// unwrapping twice is 400 "wrapping token is not valid or does not exist".
func TestUnwrapOnce(t *testing.T) {
	s := vaulttest.New(t)
	s.AddAppRole("bridge", vaulttest.Role{})

	admin := client(t, s, s.RootToken())
	admin.SetWrappingLookupFunc(func(string, string) string { return "60s" })
	wrapped, err := admin.Logical().Write("auth/approle/role/bridge/secret-id", nil)
	if err != nil {
		t.Fatalf("wrapped secret-id: %v", err)
	}
	if wrapped.WrapInfo == nil || wrapped.WrapInfo.Token == "" || wrapped.WrapInfo.TTL != 60 ||
		wrapped.WrapInfo.CreationPath != "auth/approle/role/bridge/secret-id" || wrapped.Data != nil {
		t.Fatalf("wrapped answer = %+v (wrap_info %+v), want wrap_info only", wrapped, wrapped.WrapInfo)
	}

	tests := []struct {
		name    string
		unwrap  func(token string) (*api.Secret, error)
		wantErr bool
	}{
		// First as the client token, then in the body with a valid client token.
		{"first use", func(tok string) (*api.Secret, error) { return client(t, s, "").Logical().Unwrap(tok) }, false},
		{"second use", func(tok string) (*api.Secret, error) { return client(t, s, s.RootToken()).Logical().Unwrap(tok) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, err := tt.unwrap(wrapped.WrapInfo.Token)
			if tt.wantErr {
				wantResponseError(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
				return
			}
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if id, _ := sec.Data["secret_id"].(string); id == "" {
				t.Errorf("unwrapped = %v, want a secret_id", sec.Data)
			}
		})
	}
}

// Relies on: Kubernetes login verifies the JWT signature, iss and exp
// (403 permission denied) and the role's bound service account name and
// namespace (403 with Vault's reason).
func TestKubernetesLogin(t *testing.T) {
	s := vaulttest.New(t)
	s.AddKubernetesRole("bridge", vaulttest.Role{
		Policies:                 []string{"bridge"},
		ServiceAccountNames:      []string{"bridge"},
		ServiceAccountNamespaces: []string{"stoa"},
	})
	good := s.ServiceAccountJWT("stoa", "bridge")

	t.Run("bound service account", func(t *testing.T) {
		auth, err := kubernetes.NewKubernetesAuth("bridge", kubernetes.WithServiceAccountToken(good))
		if err != nil {
			t.Fatalf("NewKubernetesAuth: %v", err)
		}
		sec, err := client(t, s, "").Auth().Login(context.Background(), auth)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if sec.Auth.Metadata["service_account_name"] != "bridge" || sec.Auth.ClientToken == "" {
			t.Errorf("auth = %+v, want a token for SA bridge", sec.Auth)
		}
	})

	// A signature from another key: the same claims signed by another fake.
	other := vaulttest.New(t).ServiceAccountJWT("stoa", "bridge")
	expired := s.SignJWT(map[string]any{
		"iss": vaulttest.Issuer, "sub": "system:serviceaccount:stoa:bridge",
		"exp": time.Now().Add(-time.Minute).Unix(),
	})
	wrongIssuer := s.SignJWT(map[string]any{
		"iss": "https://evil.example", "sub": "system:serviceaccount:stoa:bridge",
		"exp": time.Now().Add(time.Hour).Unix(),
	})
	tests := []struct {
		name, role, jwt string
		status          int
		want            string
	}{
		{"bad signature", "bridge", other, http.StatusForbidden, "permission denied"},
		{"tampered payload", "bridge", tamper(good), http.StatusForbidden, "permission denied"},
		{"expired", "bridge", expired, http.StatusForbidden, "permission denied"},
		{"wrong issuer", "bridge", wrongIssuer, http.StatusForbidden, "permission denied"},
		{"wrong service account", "bridge", s.ServiceAccountJWT("stoa", "intruder"), http.StatusForbidden, "service account name not authorized"},
		{"wrong namespace", "bridge", s.ServiceAccountJWT("other", "bridge"), http.StatusForbidden, "namespace not authorized"},
		{"unknown role", "nope", good, http.StatusBadRequest, `invalid role name "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := kubernetes.NewKubernetesAuth(tt.role, kubernetes.WithServiceAccountToken(tt.jwt))
			if err != nil {
				t.Fatalf("NewKubernetesAuth: %v", err)
			}
			_, err = client(t, s, "").Auth().Login(context.Background(), auth)
			wantResponseError(t, err, tt.status, tt.want)
		})
	}

	if c := s.Counts(); c.Logins["kubernetes"] != 1 || c.FailedLogins["kubernetes"] != len(tests) {
		t.Errorf("counts = %+v, want 1 login, %d failures", c, len(tests))
	}
}

// tamper swaps the payload of a JWT for another, keeping the signature.
func tamper(jwt string) string {
	parts := strings.Split(jwt, ".")
	parts[1] = strings.TrimRight(parts[1], "A") + "B"
	return strings.Join(parts, ".")
}

// Relies on: a sealed Vault answers 503 "Vault is sealed" (and sys/health
// says sealed); a stopped one refuses connections.
func TestSealedAndStopped(t *testing.T) {
	s := vaulttest.New(t)
	s.Put("bridge", map[string]string{"a": "b"})
	c := client(t, s, s.RootToken())
	ctx := context.Background()

	h, err := c.Sys().Health()
	if err != nil || !h.Initialized || h.Sealed {
		t.Fatalf("Health = %+v, %v, want initialized and unsealed", h, err)
	}

	s.Seal()
	_, err = c.KVv2("secret").Get(ctx, "bridge")
	wantResponseError(t, err, http.StatusServiceUnavailable, "Vault is sealed")
	if h, err := c.Sys().Health(); err != nil || !h.Sealed {
		t.Errorf("Health when sealed = %+v, %v, want sealed", h, err)
	}
	resp, err := http.Get(s.URL() + "/v1/sys/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("raw sys/health when sealed = %d, want 503", resp.StatusCode)
	}

	s.Unseal()
	if _, err := c.KVv2("secret").Get(ctx, "bridge"); err != nil {
		t.Errorf("Get after Unseal: %v", err)
	}

	s.Stop()
	_, err = c.KVv2("secret").Get(ctx, "bridge")
	var re *api.ResponseError
	if err == nil || errors.As(err, &re) {
		t.Errorf("Get after Stop = %v, want a transport error", err)
	}
}

// Relies on: with X-Vault-Namespace, mounts and tokens live in the
// namespace; without it a namespaced token is denied (403) and the root
// token finds no route (404).
func TestNamespace(t *testing.T) {
	s := vaulttest.New(t, vaulttest.WithNamespace("team-a"))
	s.Put("bridge", map[string]string{"a": "b"})
	tok := s.CreateToken(nil, time.Hour, true, 0)

	tests := []struct {
		name      string
		token     string
		namespace string
		status    int
	}{
		{"namespaced token in its namespace", tok, "team-a", http.StatusOK},
		{"root token in the namespace", s.RootToken(), "team-a/", http.StatusOK},
		{"namespaced token without namespace", tok, "", http.StatusForbidden},
		{"namespaced token in another namespace", tok, "team-b", http.StatusForbidden},
		{"root token without namespace", s.RootToken(), "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, s, tt.token)
			c.SetNamespace(tt.namespace)
			// ReadRaw: Read and KVv2 turn a 404 into "not found".
			resp, err := c.Logical().ReadRaw("secret/data/bridge")
			if resp != nil {
				resp.Body.Close()
			}
			if tt.status == http.StatusOK {
				if err != nil {
					t.Errorf("ReadRaw: %v", err)
				}
				return
			}
			var re *api.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.status {
				t.Errorf("ReadRaw = %v, want status %d", err, tt.status)
			}
		})
	}

	t.Run("login without namespace", func(t *testing.T) {
		roleID := s.AddAppRole("bridge", vaulttest.Role{})
		auth, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: s.SecretID("bridge")})
		if err != nil {
			t.Fatal(err)
		}
		c := client(t, s, "")
		c.ClearNamespace()
		_, err = c.Auth().Login(context.Background(), auth)
		wantResponseError(t, err, http.StatusForbidden, "permission denied")
	})
}

package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"
)

// newClient returns a vault/api client built from the bridge's config
// alone: NewClient picks up VAULT_TOKEN and VAULT_NAMESPACE from the process
// environment, which would bypass the configured auth, so both are reset.
// Retries are off: Run retries with its own backoff and keeps the last
// secrets meanwhile.
func (v *Vault) newClient() (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = v.cfg.Address
	cfg.MaxRetries = 0
	cfg.Timeout = requestTimeout
	err := cfg.ConfigureTLS(&api.TLSConfig{
		CACert:        v.cfg.CACert,
		TLSServerName: v.cfg.TLSServerName,
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: vault tls (vault.ca_cert %s): %w", v.cfg.CACert, err)
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("secrets: vault client: %w", err)
	}
	c.ClearToken()
	if v.cfg.Namespace != "" {
		c.SetNamespace(v.cfg.Namespace)
	} else {
		c.ClearNamespace()
	}
	return c, nil
}

// login authenticates with the configured method and returns the auth
// answer, whose Auth holds the token and its lease. The caller sets the
// token on the shared client.
func (v *Vault) login(ctx context.Context) (*api.Secret, error) {
	// A fresh client without a token: an expired token sent along with a
	// login or an unwrap would be refused.
	c, err := v.newClient()
	if err != nil {
		return nil, err
	}
	a := v.cfg.Auth
	switch a.Method {
	case "token":
		return v.tokenLogin(ctx, c)
	case "approle":
		return v.appRoleLogin(ctx, c)
	case "kubernetes":
		jwt, err := readCredential(a.TokenPath)
		if err != nil {
			return nil, fmt.Errorf("secrets: vault kubernetes auth: service-account token (vault.auth.token_path): %w", err)
		}
		opts := []kubernetes.LoginOption{kubernetes.WithServiceAccountToken(jwt)}
		if a.Mount != "" {
			opts = append(opts, kubernetes.WithMountPath(a.Mount))
		}
		k, err := kubernetes.NewKubernetesAuth(a.Role, opts...)
		if err != nil {
			return nil, fmt.Errorf("secrets: vault kubernetes auth: %w", err)
		}
		s, err := k.Login(ctx, c)
		return checkAuth("kubernetes", s, err)
	}
	return nil, fmt.Errorf("secrets: vault auth method %q unknown", a.Method)
}

// tokenLogin "logs in" with a given token: it reads the token again (a
// Vault agent may have rewritten the file) and looks it up, for its TTL.
func (v *Vault) tokenLogin(ctx context.Context, c *api.Client) (*api.Secret, error) {
	var tok string
	if f := v.cfg.Auth.TokenFile; f != "" {
		t, err := readCredential(f)
		if err != nil {
			return nil, fmt.Errorf("secrets: vault token auth: vault.auth.token_file: %w", err)
		}
		tok = t
	} else {
		t, _ := v.env("VAULT_TOKEN")
		tok = strings.TrimSpace(t)
	}
	if tok == "" {
		return nil, errors.New("secrets: vault token auth: no token: set VAULT_TOKEN or vault.auth.token_file")
	}
	c.SetToken(tok)
	s, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("secrets: vault token auth: lookup-self: %w", err)
	}
	ttl, err := s.TokenTTL()
	if err != nil {
		return nil, fmt.Errorf("secrets: vault token auth: lookup-self ttl: %w", err)
	}
	renewable, _ := s.TokenIsRenewable()
	// The lifetime watcher renews what a login answer holds; shape the
	// lookup like one.
	return &api.Secret{Auth: &api.SecretAuth{
		ClientToken:   tok,
		Renewable:     renewable,
		LeaseDuration: int(ttl.Seconds()),
	}}, nil
}

// appRoleLogin logs in with a role id and a secret id. A wrapped secret id
// is single use: it is unwrapped once and the secret id kept in memory for
// the re-logins after it, until the file holds a new wrapping token.
func (v *Vault) appRoleLogin(ctx context.Context, c *api.Client) (*api.Secret, error) {
	a := v.cfg.Auth
	roleID := a.Role
	if a.RoleIDFile != "" {
		r, err := readCredential(a.RoleIDFile)
		if err != nil {
			return nil, fmt.Errorf("secrets: vault approle auth: vault.auth.role_id_file: %w", err)
		}
		roleID = r
	}
	var secretID string
	if a.SecretIDFile != "" {
		s, err := readCredential(a.SecretIDFile)
		if err != nil {
			return nil, fmt.Errorf("secrets: vault approle auth: vault.auth.secret_id_file: %w", err)
		}
		secretID = s
	} else {
		s, _ := v.env("VAULT_SECRET_ID")
		secretID = strings.TrimSpace(s)
	}
	if secretID == "" {
		return nil, errors.New("secrets: vault approle auth: no secret id: set vault.auth.secret_id_file or VAULT_SECRET_ID")
	}
	if a.Wrapped {
		id, err := v.unwrapSecretID(ctx, secretID)
		if err != nil {
			return nil, err
		}
		secretID = id
	}
	var opts []approle.LoginOption
	if a.Mount != "" {
		opts = append(opts, approle.WithMountPath(a.Mount))
	}
	ar, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: secretID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("secrets: vault approle auth: %w", err)
	}
	s, err := ar.Login(ctx, c)
	return checkAuth("approle", s, err)
}

// unwrapSecretID returns the secret id the wrapping token holds. The
// approle package's WithWrappingToken would unwrap at every login, but a
// wrapping token works once: the second login would fail. So the bridge
// unwraps itself and remembers both the token it used and what it held.
func (v *Vault) unwrapSecretID(ctx context.Context, wrapping string) (string, error) {
	v.authMu.Lock()
	defer v.authMu.Unlock()
	if wrapping == v.unwrappedFrom && !v.unwrapped.IsZero() {
		return v.unwrapped.Reveal(), nil
	}
	// Unwrap sets the wrapping token on a client without one: use a
	// throwaway client.
	c, err := v.newClient()
	if err != nil {
		return "", err
	}
	s, err := c.Logical().UnwrapWithContext(ctx, wrapping)
	if err != nil {
		return "", fmt.Errorf("secrets: vault approle auth: unwrapping the secret id (vault.auth.wrapped): %w", err)
	}
	id, _ := func() (any, bool) {
		if s == nil || s.Data == nil {
			return nil, false
		}
		x, ok := s.Data["secret_id"]
		return x, ok
	}()
	str, ok := id.(string)
	if !ok || str == "" {
		return "", errors.New("secrets: vault approle auth: the wrapping token held no secret_id")
	}
	v.unwrappedFrom = wrapping
	v.unwrapped = New(str)
	return str, nil
}

// checkAuth turns a login answer without a token into an error.
func checkAuth(method string, s *api.Secret, err error) (*api.Secret, error) {
	if err != nil {
		return nil, fmt.Errorf("secrets: vault %s login: %w", method, err)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return nil, fmt.Errorf("secrets: vault %s login: the answer holds no token", method)
	}
	return s, nil
}

// readCredential reads a file holding one credential, without the line
// break that editors and `echo` add.
func readCredential(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

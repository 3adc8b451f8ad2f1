package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/metrics"
)

// ErrNotLoaded is returned by Vault's Get until the first read of the
// secret succeeds.
var ErrNotLoaded = errors.New("secrets not loaded yet")

const (
	// requestTimeout bounds one Vault request.
	requestTimeout = 10 * time.Second
	// Retry delays after a failed login or read; never longer than
	// vault.refresh_interval.
	retryMin = 250 * time.Millisecond
	retryMax = 30 * time.Second
)

// VaultConfig is the vault section of the bridge's config (config.Vault,
// field for field: package config imports this one, so it cannot be used
// here). See deploy/config.example.yaml for each key.
type VaultConfig struct {
	Address         string
	Auth            VaultAuth
	KVMount         string
	Path            string
	Namespace       string
	CACert          string
	TLSServerName   string
	RefreshInterval time.Duration // zero means 5m
}

// VaultAuth is config.VaultAuth: how to log in to Vault.
type VaultAuth struct {
	Method       string // token, approle or kubernetes
	Mount        string // empty: the method's name
	Role         string // kubernetes role, or AppRole role id
	TokenFile    string // token: empty reads VAULT_TOKEN
	RoleIDFile   string // approle: instead of Role
	SecretIDFile string // approle: empty reads VAULT_SECRET_ID
	Wrapped      bool   // approle: the secret id is a wrapping token
	TokenPath    string // kubernetes: the service-account JWT
}

// VaultOptions configures NewVault.
type VaultOptions struct {
	// Config says where the secret is and how to log in; Address is
	// required.
	Config VaultConfig
	// Env looks up VAULT_TOKEN and VAULT_SECRET_ID; nil means
	// os.LookupEnv.
	Env func(string) (string, bool)
	// Logger gets the lifecycle lines (versions read, logins, outages),
	// never a value; nil discards them.
	Logger *slog.Logger
	// Metrics gets the bridge_secrets_* metrics; nil keeps them on a
	// private registry.
	Metrics *metrics.Metrics
	// Now is the clock of Status's times; nil means time.Now.
	Now func() time.Time
}

// Vault reads the bridge's secrets from one KV v2 secret (vault.kv_mount +
// vault.path, one field per secret name) and answers Get from the last
// read, so a call per request costs no Vault round trip. Run keeps the
// token alive and the copy fresh; when Vault cannot be reached the last
// good secrets stay in use.
type Vault struct {
	cfg VaultConfig
	env func(string) (string, bool)
	log *slog.Logger
	m   *metrics.Metrics
	now func() time.Time

	client *api.Client

	// readMu serialises reads, so that an older answer never replaces a
	// newer one.
	readMu sync.Mutex

	// authMu guards the wrapped secret id and the login handed from
	// NewVault to Run.
	authMu        sync.Mutex
	unwrappedFrom string
	unwrapped     Secret
	pending       *api.Secret
	pendingAt     time.Time

	mu        sync.RWMutex
	fields    map[string]Secret
	version   int
	readAt    time.Time // zero: never read
	failing   error     // last failure, nil when the last attempt worked
	downSince time.Time
	// changedAt is when a read last found a new version or value, and
	// readStarted when the last successful read was sent: both on the
	// real clock (not now), for Refresh's since.
	changedAt   time.Time
	readStarted time.Time
}

// NewVault returns a Vault provider and tries once, within ctx, to log in
// and read the secret. A Vault that cannot be reached is no error: Get
// answers ErrNotLoaded and Status says why until Run has read the secret.
// Only a config that cannot work (no address, an unreadable CA file) is.
func NewVault(ctx context.Context, o VaultOptions) (*Vault, error) {
	if o.Config.Address == "" {
		return nil, errors.New("secrets: vault: no address (vault.address)")
	}
	v := &Vault{
		cfg: o.Config,
		env: o.Env,
		log: o.Logger,
		m:   o.Metrics,
		now: o.Now,
	}
	if v.env == nil {
		v.env = os.LookupEnv
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.m == nil {
		v.m = metrics.New(prometheus.NewRegistry())
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch v.cfg.Auth.Method {
	case "token", "approle":
	case "kubernetes":
		if v.cfg.Auth.TokenPath == "" {
			v.cfg.Auth.TokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"
		}
	default:
		return nil, fmt.Errorf("secrets: vault: auth method %q is not token, approle or kubernetes", v.cfg.Auth.Method)
	}
	if v.cfg.RefreshInterval <= 0 {
		v.cfg.RefreshInterval = 5 * time.Minute
	}
	c, err := v.newClient()
	if err != nil {
		return nil, err
	}
	v.client = c
	v.m.SecretsVaultUp.Set(0)

	auth, err := v.login(ctx)
	if err == nil {
		v.loggedIn(auth)
		v.authMu.Lock()
		v.pending, v.pendingAt = auth, time.Now()
		v.authMu.Unlock()
		v.readMu.Lock()
		err = v.read(ctx)
		v.readMu.Unlock()
	} else {
		v.failed(err)
	}
	if err != nil {
		v.log.Warn("vault: secrets not read at start; retrying in the background",
			"address", v.cfg.Address, "err", err)
	}
	return v, nil
}

// Get returns the field name of the secret as last read. A field the secret
// lacks is ErrNotFound; before the first read, ErrNotLoaded.
func (v *Vault) Get(_ context.Context, name string) (Secret, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.readAt.IsZero() {
		reason := "not read yet"
		if v.failing != nil {
			reason = v.failing.Error()
		}
		return Secret{}, fmt.Errorf("secrets: vault %s: %w (%s)", name, ErrNotLoaded, reason)
	}
	s, ok := v.fields[name]
	if !ok {
		return Secret{}, fmt.Errorf("secrets: vault %s/%s version %d: field %s: %w",
			v.cfg.KVMount, v.cfg.Path, v.version, name, ErrNotFound)
	}
	return s, nil
}

// Refresh reads the secret now, and reports whether any value or the KV
// version changed after since: by this read, or by an earlier one (the
// periodic read, another caller's Refresh). Call it once after a service
// refused a credential, with since the time the credential was read: the
// secret may have been rotated meanwhile. Callers that fail together
// share one read: a read sent after this call began answers them all.
// On failure the last good secrets stay in use, and changed still tells
// of a change an earlier read found.
func (v *Vault) Refresh(ctx context.Context, since time.Time) (changed bool, err error) {
	called := time.Now()
	v.readMu.Lock()
	defer v.readMu.Unlock()
	v.mu.RLock()
	fresh := v.failing == nil && v.readStarted.After(called)
	v.mu.RUnlock()
	if !fresh {
		err = v.read(ctx)
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.changedAt.After(since), err
}

// read reads the secret and puts it in use; the caller holds readMu, so
// that an older answer never replaces a newer one.
func (v *Vault) read(ctx context.Context) error {
	started := time.Now()
	kv, err := v.client.KVv2(v.cfg.KVMount).Get(ctx, v.cfg.Path)
	if err != nil {
		err = fmt.Errorf("secrets: vault: reading %s/%s: %w", v.cfg.KVMount, v.cfg.Path, err)
		v.failed(err)
		return err
	}
	fields := make(map[string]Secret, len(kv.Data))
	var odd []string
	for k, x := range kv.Data {
		s, ok := x.(string)
		if !ok {
			odd = append(odd, k)
			continue
		}
		// As for the environment: a value pasted from a file often ends
		// with a line break, and no token does.
		if s = strings.TrimRight(s, "\r\n"); s != "" {
			fields[k] = New(s)
		}
	}
	version := 0
	if kv.VersionMetadata != nil {
		version = kv.VersionMetadata.Version
	}
	now := v.now()

	v.mu.Lock()
	// A value can change under the same version: a secret deleted with
	// its metadata and written again starts over at version 1.
	changed := v.readAt.IsZero() || version != v.version ||
		!maps.EqualFunc(fields, v.fields, func(a, b Secret) bool { return a.Reveal() == b.Reveal() })
	recovered := v.failing != nil && !v.readAt.IsZero()
	v.fields, v.version, v.readAt = fields, version, now
	v.failing, v.downSince = nil, time.Time{}
	v.readStarted = started
	if changed {
		v.changedAt = time.Now()
	}
	v.mu.Unlock()

	v.m.SecretsVaultUp.Set(1)
	v.m.SecretsVersion.Set(float64(version))
	v.m.SecretsLastRead.Set(float64(now.Unix()))
	if recovered {
		v.log.Info("vault: reachable again")
	}
	if changed {
		var missing []string
		for _, n := range Names {
			if _, ok := fields[n]; !ok {
				missing = append(missing, n)
			}
		}
		v.log.Info("vault: secrets read", "mount", v.cfg.KVMount, "path", v.cfg.Path,
			"version", version, "fields", sortedKeys(fields), "missing", missing)
		if len(odd) > 0 {
			slices.Sort(odd)
			v.log.Warn("vault: fields that are not strings are ignored", "fields", odd)
		}
	} else {
		v.log.Debug("vault: secrets read, unchanged", "version", version)
	}
	return nil
}

// Status reports whether the secrets in use are current, and if not why:
// the /readyz reason.
func (v *Vault) Status() (ready bool, reason string) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	switch {
	case v.readAt.IsZero() && v.failing != nil:
		return false, "vault: never read: " + v.failing.Error()
	case v.readAt.IsZero():
		return false, "vault: never read: logging in"
	case v.failing != nil:
		return false, fmt.Sprintf("vault: unreachable since %s; using secrets read at %s (version %d): %v",
			v.downSince.UTC().Format(time.RFC3339), v.readAt.UTC().Format(time.RFC3339), v.version, v.failing)
	}
	return true, ""
}

// Run keeps the secrets fresh until ctx ends: it logs in (again when the
// token can no longer be renewed, with backoff and jitter), renews the
// token with the client's lifetime watcher, and reads the secret every
// vault.refresh_interval, sooner after a failure. It returns nil when ctx
// ends.
func (v *Vault) Run(ctx context.Context) error {
	var retry backoff
	for ctx.Err() == nil {
		auth := v.takePending()
		if auth == nil {
			var err error
			if auth, err = v.login(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				v.failed(err)
				if !sleep(ctx, retry.next(v.cfg.RefreshInterval)) {
					break
				}
				continue
			}
			v.loggedIn(auth)
		}
		retry.reset()
		v.session(ctx, auth)
	}
	return nil
}

// session renews the token of one login and reads the secret on schedule,
// until the token needs a new login or ctx ends.
func (v *Vault) session(ctx context.Context, auth *api.Secret) {
	var done <-chan error
	var renewed <-chan *api.RenewOutput
	// A token without a TTL (root, or periodic ones looked up with ttl 0)
	// never expires: nothing to watch.
	if auth.Auth.LeaseDuration > 0 {
		w, err := v.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: auth})
		if err != nil {
			v.failed(fmt.Errorf("secrets: vault: token lifetime watcher: %w", err))
			sleep(ctx, retryMin)
			return
		}
		go w.Start()
		defer w.Stop()
		done, renewed = w.DoneCh(), w.RenewCh()
	}

	var retry backoff
	next := time.Duration(0)
	v.mu.RLock()
	if !v.readAt.IsZero() && v.failing == nil {
		// NewVault has just read it.
		next = v.cfg.RefreshInterval
	}
	v.mu.RUnlock()
	timer := time.NewTimer(next)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-done:
			if err != nil {
				v.log.Warn("vault: token renewal failed; logging in again", "err", err)
			} else {
				v.log.Info("vault: token at the end of its life; logging in again")
			}
			return
		case r := <-renewed:
			v.m.SecretsRenewals.Inc()
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				v.log.Debug("vault: token renewed", "ttl", time.Duration(r.Secret.Auth.LeaseDuration)*time.Second)
			}
		case <-timer.C:
			v.readMu.Lock()
			err := v.read(ctx)
			v.readMu.Unlock()
			if err == nil {
				retry.reset()
				timer.Reset(v.cfg.RefreshInterval)
				continue
			}
			if ctx.Err() != nil {
				return
			}
			if denied(err) {
				// The token was revoked or expired under us.
				v.log.Warn("vault: token refused; logging in again")
				return
			}
			timer.Reset(retry.next(v.cfg.RefreshInterval))
		}
	}
}

// loggedIn puts a new token in use.
func (v *Vault) loggedIn(auth *api.Secret) {
	v.client.SetToken(auth.Auth.ClientToken)
	v.m.SecretsLogins.Inc()
	v.log.Info("vault: logged in", "method", v.cfg.Auth.Method,
		"ttl", time.Duration(auth.Auth.LeaseDuration)*time.Second, "renewable", auth.Auth.Renewable)
}

// takePending returns the login NewVault made, once, with its lease
// shortened by the time since; nil when there is none or it is spent.
func (v *Vault) takePending() *api.Secret {
	v.authMu.Lock()
	defer v.authMu.Unlock()
	auth, at := v.pending, v.pendingAt
	v.pending = nil
	if auth == nil || auth.Auth.LeaseDuration == 0 {
		return auth
	}
	left := time.Duration(auth.Auth.LeaseDuration)*time.Second - time.Since(at)
	if left < time.Second {
		return nil
	}
	cp := *auth
	a := *auth.Auth
	a.LeaseDuration = int(left.Seconds())
	cp.Auth = &a
	return &cp
}

// failed records a failed login or read. The error is logged only when it
// differs from the last one, not once per retry.
func (v *Vault) failed(err error) {
	v.m.SecretsVaultUp.Set(0)
	v.m.SecretsRefreshErrors.Inc()
	v.mu.Lock()
	same := v.failing != nil && v.failing.Error() == err.Error()
	if v.failing == nil {
		v.downSince = v.now()
	}
	v.failing = err
	read := !v.readAt.IsZero()
	v.mu.Unlock()
	if same {
		return
	}
	if read {
		v.log.Warn("vault: unreachable; keeping the secrets last read", "err", err)
	} else {
		v.log.Warn("vault: secrets not read", "err", err)
	}
}

// denied reports whether Vault refused the token itself.
func denied(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

// backoff gives exponential delays with jitter: the bridge replicas that
// lost Vault together should not come back together.
type backoff struct{ n int }

func (b *backoff) reset() { b.n = 0 }

// next returns the next delay, at most ceiling.
func (b *backoff) next(ceiling time.Duration) time.Duration {
	d := retryMin << min(b.n, 16)
	b.n++
	d = min(d, retryMax, ceiling)
	// Full delay's upper half: never less than half of the nominal delay.
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sortedKeys(m map[string]Secret) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var (
	_ Provider  = (*Vault)(nil)
	_ Refresher = (*Vault)(nil)
)

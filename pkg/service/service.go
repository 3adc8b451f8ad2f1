// Package service assembles the bridge's services from a config: the
// webhook gateway and each sink's consumer. The all-in-one bridge binary runs
// them together on an embedded NATS server; each service binary runs one of
// them against an external NATS. Both only call Run.
package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/gateway"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/ledger"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/ops"
	"github.com/stoa-platform/bridge/pkg/routing"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/silence"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear"
	"github.com/stoa-platform/bridge/pkg/sink/n8n"
	"github.com/stoa-platform/bridge/pkg/sink/slack"
	"github.com/stoa-platform/bridge/pkg/vuln"
	"github.com/stoa-platform/bridge/pkg/watcher"
)

// Part is one of the bridge's services.
type Part string

// The parts Run can start.
const (
	Gateway        Part = "webhook-gateway"
	ReleaseWatcher Part = "release-watcher"
	LinearTicketer Part = "linear-ticketer"
	SlackNotifier  Part = "slack-notifier"
	N8NTrigger     Part = "n8n-trigger"
)

// All is every part, as the all-in-one bridge runs them.
var All = []Part{Gateway, ReleaseWatcher, LinearTicketer, SlackNotifier, N8NTrigger}

// Options says what to run.
type Options struct {
	Parts []Part
	// Embedded allows an empty nats.url to start an embedded NATS server.
	// Only the all-in-one bridge sets it: a lone service on its own private
	// NATS would receive nothing.
	Embedded bool
	// Secrets overrides the provider chosen from the config (tests).
	Secrets secrets.Provider
	// Env looks up environment variables; os.LookupEnv in production.
	Env func(string) (string, bool)
	// Environ lists the environment (os.Environ), to warn about BRIDGE_*
	// variables that set nothing.
	Environ func() []string
	// Ready, if set, is called with the HTTP address once the service
	// listens and its consumers have started (tests).
	Ready func(addr string)
	// Version is the binary's version, stamped at build time with
	// -ldflags -X; Main prints it for --version and logs it at start.
	// Empty means "dev".
	Version string
	// Stdout receives Main's --version output; nil means Main's stderr.
	Stdout io.Writer
}

// Run starts the parts and blocks until ctx is cancelled, then shuts them
// down gracefully: stop accepting webhooks, drain the consumers, drain NATS.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) error {
	if cfg.NATS.URL == "" && !o.Embedded {
		return errors.New("nats.url: required when running a single service (only the all-in-one bridge embeds NATS)")
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)

	// Secrets: Vault when vault.address is set, else the environment.
	var vault *secrets.Vault
	if o.Secrets == nil && cfg.Vault.Address != "" {
		var err error
		vault, err = secrets.NewVault(ctx, secrets.VaultOptions{
			Config:  vaultConfig(cfg.Vault),
			Env:     o.Env,
			Logger:  log.With("component", "vault"),
			Metrics: m,
		})
		if err != nil {
			return err
		}
		o.Secrets = vault
		log.Info("secrets from Vault KV v2", "address", cfg.Vault.Address, "mount", cfg.Vault.KVMount, "path", cfg.Vault.Path, "auth", cfg.Vault.Auth.Method)
	}
	prov := o.Secrets
	if prov == nil {
		prov = secrets.NewEnv(o.Env)
		set := secrets.Describe(ctx, prov)
		var have, missing []string
		for _, n := range secrets.Names {
			if set[n] {
				have = append(have, n)
			} else {
				missing = append(missing, n)
			}
		}
		log.Info("secrets from environment variables BRIDGE_SECRET_<NAME> (no vault.address set)",
			"set", have, "missing", missing)
	}
	refresh := authRefresh(prov, log)
	if refresh != nil {
		log.Info("secrets are read again when Slack, Linear, n8n or GitHub refuses a credential")
	}

	b, err := bus.Open(ctx, bus.Options{
		URL:             cfg.NATS.URL,
		Credentials:     cfg.NATS.Credentials,
		DataDir:         cfg.NATS.DataDir,
		Listen:          cfg.NATS.Listen,
		Prefix:          cfg.NATS.SubjectPrefix,
		Replicas:        cfg.NATS.Replicas,
		SyncInterval:    cfg.NATS.SyncPolicy(),
		MaxAge:          cfg.NATS.MaxAge,
		DuplicateWindow: cfg.NATS.DuplicateWindow,
		PublishTimeout:  cfg.NATS.PublishTimeout,
		Name:            strings.Join(partNames(o.Parts), "+"),
		Logger:          log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := b.Close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("closing nats", "err", err)
		}
	}()
	log.Info("nats connected", "url", b.ClientURL(), "embedded", cfg.NATS.URL == "", "prefix", b.Prefix())

	notes := &ops.Notes{}
	mux := http.NewServeMux()
	ops.Register(mux, reg, notes, ops.Check{Name: "nats", Fn: b.Ready})

	// On every return, cancel the parts first, then wait for them, then
	// (the deferred Close above) drain NATS.
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if vault != nil {
		notes.SetFunc("secrets", func(context.Context) string {
			if ok, reason := vault.Status(); !ok {
				return reason
			}
			return ""
		})
		wg.Go(func() {
			if err := vault.Run(runCtx); err != nil && runCtx.Err() == nil {
				cancel(fmt.Errorf("vault: %w", err))
			}
		})
	}

	if slices.Contains(o.Parts, Gateway) {
		g := gateway.New(gateway.Options{
			Publisher:      publisher{b},
			Secrets:        prov,
			Metrics:        m,
			Logger:         log.With("component", string(Gateway)),
			MaxBodyBytes:   cfg.Gateway.MaxBodyBytes,
			MaxInFlight:    cfg.Gateway.MaxInFlight,
			PublishTimeout: cfg.NATS.PublishTimeout,
			RetryAfter:     cfg.Gateway.RetryAfter,
		})
		mux.Handle("/webhooks/", g.Handler())
		// The gateway itself logs a disabled endpoint (once per change).
		notes.SetFunc(string(Gateway), func(ctx context.Context) string {
			return strings.Join(g.Disabled(ctx), "; ")
		})
	}

	var inv *inventory.Inventory
	if slices.Contains(o.Parts, ReleaseWatcher) || slices.Contains(o.Parts, LinearTicketer) {
		if inv, err = loadInventory(cfg.GitHub.Inventory); err != nil {
			return err
		}
		log.Info("inventory loaded", "file", cmp.Or(cfg.GitHub.Inventory, "(built in)"), "tools", len(inv.Tools))
	}
	// One policy for every sink, so an expired ignore is logged once.
	policy, err := vuln.NewPolicy(cfg.Vulnerabilities, time.Now, log.With("component", "vulnerability-policy"))
	if err != nil {
		return err
	}
	var l *ledger.Ledger
	var silences bus.Silencer
	if slices.Contains(o.Parts, SlackNotifier) || slices.Contains(o.Parts, LinearTicketer) || slices.Contains(o.Parts, N8NTrigger) {
		l, err = ledger.Open(ctx, b.JetStream(), ledger.Options{
			Bucket:   event.LedgerBucket(b.Prefix()),
			Replicas: cfg.NATS.Replicas,
		})
		if err != nil {
			return err
		}
		// One watch for every sink: bridgectl silence add/expire reach the
		// consumers within a moment, and no event reads the bucket.
		st, err := silence.Open(ctx, b.JetStream(), event.SilenceBucket(b.Prefix()), cfg.NATS.Replicas)
		if err != nil {
			return err
		}
		matcher, err := st.Watch(runCtx, log.With("component", "silences"), m.SilencesActive)
		if err != nil {
			return err
		}
		silences = matcher
	}

	if slices.Contains(o.Parts, ReleaseWatcher) {
		state, err := b.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      event.WatcherBucket(b.Prefix()),
			Description: "release-watcher: ETag and last seen release per tool",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    max(cfg.NATS.Replicas, 1),
		})
		if err != nil {
			return fmt.Errorf("release-watcher: state bucket: %w", err)
		}
		token := func(ctx context.Context) (secrets.Secret, error) {
			return prov.Get(ctx, secrets.GitHubToken)
		}
		if _, err := token(ctx); err != nil {
			log.Info("release-watcher polls GitHub without a token (60 requests/hour; conditional requests that answer 304 are free)", "secret", secrets.GitHubToken)
		}
		w := watcher.New(watcher.Options{
			APIURL:    cfg.GitHub.APIURL,
			Token:     token,
			Refresh:   refresh,
			Inventory: inv,
			Interval:  cfg.GitHub.PollInterval,
			State:     state,
			Publisher: publisher{b},
			Logger:    log.With("component", string(ReleaseWatcher)),
			Metrics:   m,
		})
		notes.SetFunc(string(ReleaseWatcher), func(context.Context) string {
			return strings.Join(w.Unreachable(), "; ")
		})
		wg.Go(func() {
			if err := w.Run(runCtx); err != nil && runCtx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", ReleaseWatcher, err))
			}
		})
	}

	if slices.Contains(o.Parts, LinearTicketer) {
		apiKey := func(ctx context.Context) (secrets.Secret, error) {
			return prov.Get(ctx, secrets.LinearAPIKey)
		}
		if _, err := apiKey(ctx); err != nil {
			log.Warn("linear-ticketer in dry-run: it logs the tickets it would open", "secret", secrets.LinearAPIKey, "err", err)
		}
		notes.SetFunc(string(LinearTicketer), func(ctx context.Context) string {
			if k, err := apiKey(ctx); err != nil || k.IsZero() {
				return "dry-run: " + secrets.LinearAPIKey + " is not set"
			}
			return ""
		})
		s := linear.New(linear.Options{
			Policy:         policy,
			CloseWhenFixed: cfg.Linear.CloseWhenFixed,
			TicketAfter:    cfg.Checks.TicketAfter,
			APIURL:         cfg.Linear.APIURL,
			APIKey:         apiKey,
			Team:           cfg.Linear.Team,
			Routing:        routing.New(cfg.Routing),
			Inventory:      inv,
			Lookup:         l,
			Logger:         log.With("sink", string(LinearTicketer)),
		})
		linearKinds := []string{event.KindReleasePublished, event.KindVulnerabilityFound}
		if cfg.Checks.TicketAfter > 0 {
			// Outage tickets (checks.ticket_after).
			linearKinds = append(linearKinds, event.KindCheckDown, event.KindCheckUp)
		}
		consumer := consumerFor(cfg.Consumer, string(LinearTicketer), linearKinds, s, l, log, m, silences)
		consumer.Refresh = refresh
		wg.Go(func() {
			if err := b.Run(runCtx, consumer); err != nil {
				cancel(fmt.Errorf("%s: %w", LinearTicketer, err))
			}
		})
	}

	if slices.Contains(o.Parts, N8NTrigger) {
		if err := runN8N(runCtx, cfg, b, l, silences, prov, log, m, &wg, cancel); err != nil {
			return err
		}
	}

	if slices.Contains(o.Parts, SlackNotifier) {
		slackToken := func(ctx context.Context) (secrets.Secret, error) {
			return prov.Get(ctx, secrets.SlackBotToken)
		}
		if _, err := slackToken(ctx); err != nil {
			log.Warn("slack-notifier in dry-run: it logs what it would send", "secret", secrets.SlackBotToken, "err", err)
		}
		notes.SetFunc(string(SlackNotifier), func(ctx context.Context) string {
			if t, err := slackToken(ctx); err != nil || t.IsZero() {
				return "dry-run: " + secrets.SlackBotToken + " is not set"
			}
			return ""
		})
		vulns, err := vuln.OpenStore(ctx, b.JetStream(), event.VulnBucket(b.Prefix()), cfg.NATS.Replicas)
		if err != nil {
			return err
		}
		s := slack.New(slack.Options{
			Vulns:     vulns,
			Policy:    policy,
			APIURL:    cfg.Slack.APIURL,
			TokenFunc: slackToken,
			Channels:  cfg.Slack.Channels,
			Routing:   routing.New(cfg.Routing),
			Lookup:    l,
			Timeout:   cfg.Slack.Timeout,
			Logger:    log.With("sink", string(SlackNotifier)),
			// The release note waits for the linear-ticketer's ticket.
			TicketsEnabled: cfg.Slack.ReleaseNotes,
		})
		kinds := []string{event.KindCheckDown, event.KindCheckUp, event.KindVulnerabilityFound}
		if cfg.Slack.ReleaseNotes {
			kinds = append(kinds, event.KindReleasePublished)
		}
		consumer := consumerFor(cfg.Consumer, string(SlackNotifier), kinds, s, l, log, m, silences)
		consumer.Refresh = refresh
		wg.Go(func() {
			if err := b.Run(runCtx, consumer); err != nil {
				cancel(fmt.Errorf("%s: %w", SlackNotifier, err))
			}
		})
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		cancel(nil)
		wg.Wait()
		return fmt.Errorf("listen: %w", err)
	}
	srv := gateway.NewServer(cfg.Listen, mux, cfg.Gateway)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("bridge listening", "addr", ln.Addr().String(), "parts", partNames(o.Parts))
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}

	select {
	case <-runCtx.Done():
	case err := <-serveErr:
		cancel(fmt.Errorf("http: %w", err))
	}
	log.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), cfg.Consumer.ShutdownTimeout)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	cancel(nil)
	wg.Wait()
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

func consumerFor(c config.Consumer, name string, kinds []string, s sink.Sink, l *ledger.Ledger, log *slog.Logger, m *metrics.Metrics, sil bus.Silencer) bus.Consumer {
	return bus.Consumer{
		Silences:        sil,
		Name:            name,
		Kinds:           kinds,
		Sink:            s,
		Ledger:          l,
		Concurrency:     c.Concurrency,
		MaxDeliver:      c.MaxDeliver,
		AckWait:         c.AckWait,
		BackoffMin:      c.BackoffMin,
		BackoffMax:      c.BackoffMax,
		ShutdownTimeout: c.ShutdownTimeout,
		Logger:          log,
		Metrics:         m,
	}
}

// publisher adapts the bus to the gateway's Publisher.
type publisher struct{ b *bus.Bus }

func (p publisher) Publish(ctx context.Context, ev *event.Event) (bool, error) {
	ack, err := p.b.Publish(ctx, ev)
	if errors.Is(err, bus.ErrTooLarge) {
		// Retrying cannot help: the gateway answers 413, not 503.
		err = fmt.Errorf("%w: %w", gateway.ErrEventTooLarge, err)
	}
	return ack.Duplicate, err
}

// runN8N starts one consumer per n8n route, named after the route, so that
// each route's call is its own effect in the ledger: a redelivery, or a
// failure of another route, never calls a route twice.
func runN8N(ctx context.Context, cfg config.Config, b *bus.Bus, l *ledger.Ledger, sil bus.Silencer, prov secrets.Provider, log *slog.Logger, m *metrics.Metrics, wg *sync.WaitGroup, cancel context.CancelCauseFunc) error {
	routes, err := n8n.RoutesFrom(cfg.N8N.Routes)
	if err != nil {
		return err
	}
	if len(routes) == 0 {
		log.Info("n8n-trigger has no routes (n8n.routes): nothing to trigger")
		return nil
	}
	auth := func(ctx context.Context) (secrets.Secret, error) { return prov.Get(ctx, secrets.N8NAuth) }
	refresh := authRefresh(prov, log)
	for _, r := range routes {
		name := n8n.Name + "-" + r.ID()
		s := n8n.New(n8n.Options{
			Routes: []n8n.Route{r},
			Auth:   auth,
			Logger: log.With("sink", name),
		})
		consumer := consumerFor(cfg.Consumer, name, nil, s, l, log, m, sil)
		consumer.Refresh = refresh
		log.Info("n8n route", "consumer", name, "subject", r.Subject, "filter", r.Filter, "auth", r.Auth)
		wg.Go(func() {
			if err := b.Run(ctx, consumer); err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	return nil
}

// authRefresh returns the hook that reads the secrets again after a service
// refused a credential (bus.Consumer.Refresh, watcher.Options.Refresh), or
// nil when prov cannot (the environment does not change).
func authRefresh(prov secrets.Provider, log *slog.Logger) func(context.Context, time.Time) bool {
	r, ok := prov.(secrets.Refresher)
	if !ok {
		return nil
	}
	return func(ctx context.Context, since time.Time) bool {
		changed, err := r.Refresh(ctx, since)
		if err != nil {
			// Vault's error names the path, never a value.
			log.Warn("secrets not read again after a refused credential", "err", err)
		}
		return changed
	}
}

// loadInventory reads the inventory file, or the built-in one when path is "".
func loadInventory(path string) (*inventory.Inventory, error) {
	if path == "" {
		return inventory.Default(), nil
	}
	inv, err := inventory.Load(path)
	if err != nil {
		return nil, fmt.Errorf("github.inventory: %w", err)
	}
	return inv, nil
}

func partNames(parts []Part) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// NewLogger returns the JSON (or text) slog logger the config asks for.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// vaultConfig copies the config's vault section into package secrets' own
// mirror of it (secrets cannot import config: config imports secrets).
func vaultConfig(c config.Vault) secrets.VaultConfig {
	return secrets.VaultConfig{
		Address: c.Address,
		Auth: secrets.VaultAuth{
			Method:       c.Auth.Method,
			Mount:        c.Auth.Mount,
			Role:         c.Auth.Role,
			TokenFile:    c.Auth.TokenFile,
			RoleIDFile:   c.Auth.RoleIDFile,
			SecretIDFile: c.Auth.SecretIDFile,
			Wrapped:      c.Auth.Wrapped,
			TokenPath:    c.Auth.TokenPath,
		},
		KVMount:         c.KVMount,
		Path:            c.Path,
		Namespace:       c.Namespace,
		CACert:          c.CACert,
		TLSServerName:   c.TLSServerName,
		RefreshInterval: c.RefreshInterval,
	}
}

package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"

	"github.com/stoa-platform/bridge/pkg/config"
)

// equateEmpty: "routes: []" and no routes at all are the same config.
var equateEmpty = cmpopts.EquateEmpty()

func TestDefaultValidates(t *testing.T) {
	if err := config.Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
}

func TestLoadNoFile(t *testing.T) {
	got, err := config.Load("", nil)
	if err != nil {
		t.Fatalf("Load(\"\", nil) = %v", err)
	}
	if diff := cmp.Diff(config.Default(), got); diff != "" {
		t.Errorf("Load(\"\", nil) differs from Default() (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		file string
		want func(*config.Config) // applied to Default()
	}{
		{"empty.yaml", func(*config.Config) {}},
		{"minimal.yaml", func(c *config.Config) {
			c.Linear.Team = "PLAT"
			c.Vault.Address = "https://vault.example.com:8200"
		}},
		{"full.yaml", func(c *config.Config) {
			*c = config.Config{
				Listen: "127.0.0.1:9090",
				NATS: config.NATS{
					URL:             "nats://nats-0.nats:4222, tls://nats-1.nats:4222",
					Credentials:     "/var/run/secrets/nats/bridge.creds",
					Listen:          "",
					DataDir:         "/var/lib/bridge",
					SubjectPrefix:   "staging.eu-1",
					Replicas:        3,
					SyncInterval:    "always",
					MaxAge:          72 * time.Hour,
					DuplicateWindow: 30 * time.Minute,
					PublishTimeout:  2 * time.Second,
				},
				Gateway: config.Gateway{
					MaxBodyBytes:      10 << 20,
					MaxInFlight:       64,
					ReadHeaderTimeout: 2 * time.Second,
					ReadTimeout:       10 * time.Second,
					WriteTimeout:      15 * time.Second,
					IdleTimeout:       time.Minute,
					RetryAfter:        3 * time.Second,
				},
				Consumer: config.Consumer{
					Concurrency:     4,
					MaxDeliver:      5,
					AckWait:         time.Minute,
					BackoffMin:      500 * time.Millisecond,
					BackoffMax:      time.Minute,
					ShutdownTimeout: 20 * time.Second,
				},
				GitHub: config.GitHub{
					APIURL:       "https://github.example.com/api/v3/",
					Inventory:    "/etc/bridge/inventory.yaml",
					PollInterval: time.Hour,
				},
				Slack: config.Slack{
					APIURL:       "http://127.0.0.1:8081/api/",
					Channels:     config.SlackChannels{Releases: "C0123RELEASES", Vulnerabilities: "#sec-alerts", Checks: "#oncall"},
					Timeout:      3 * time.Second,
					ReleaseNotes: true,
				},
				Linear: config.Linear{APIURL: "http://127.0.0.1:8082/graphql", Team: "PLAT"},
				N8N: config.N8N{Routes: []config.N8NRoute{
					{Subject: "check.down", Filter: map[string]string{"tags": "prod"}, URL: "https://n8n.example.com/webhook/restart", Auth: "header", Header: "X-N8N-Auth"},
					{Subject: "vulnerability.*", URL: "https://n8n.example.com/webhook/vulns", Auth: "basic"},
					{Subject: ">", URL: "http://n8n.n8n.svc:5678/webhook/all"},
				}},
				Vulnerabilities: config.Vulnerabilities{
					MinSeverity: "MEDIUM",
					FixedOnly:   true,
					Ignore: []config.Ignored{
						{ID: "CVE-2024-45337", Expires: "2026-01-31", Reason: "not reachable, ssh server unused"},
						{ID: "GHSA-v778-237x-gjrc"},
					},
				},
				Vault: config.Vault{
					Address:         "https://vault.example.com:8200",
					Auth:            config.VaultAuth{Method: "kubernetes", Mount: "k8s-prod", Role: "bridge", TokenPath: "/var/run/secrets/vault/token"},
					KVMount:         "kv",
					Path:            "platform/bridge",
					Namespace:       "platform",
					CACert:          "/etc/bridge/vault-ca.pem",
					TLSServerName:   "vault.internal",
					RefreshInterval: 10 * time.Minute,
				},
				Log: config.Log{Level: "debug", Format: "text"},
			}
		}},
		{"vault_approle.yaml", func(c *config.Config) {
			c.Vault.Address = "https://vault.example.com:8200"
			c.Vault.Auth.Method = "approle"
			c.Vault.Auth.Mount = "approle-bridge"
			c.Vault.Auth.RoleIDFile = "/etc/bridge/vault/role-id"
			c.Vault.Auth.SecretIDFile = "/etc/bridge/vault/wrapped-secret-id"
			c.Vault.Auth.Wrapped = true
			c.Vault.RefreshInterval = time.Minute
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := config.Load(filepath.Join("testdata", tt.file), nil)
			if err != nil {
				t.Fatalf("Load(%q) = %v, want no error", tt.file, err)
			}
			want := config.Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Errorf("Load(%q) (-want +got):\n%s", tt.file, diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Load(%q).Validate() = %v", tt.file, err)
			}
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"unknown_key.yaml", `nats.replica: unknown key`},
		{"bad_duration.yaml", `consumer.ack_wait: "abc" is not a duration`},
		{"duration_without_unit.yaml", `consumer.ack_wait: 30 is not a duration: add a unit, e.g. "30s"`},
		{"decode_errors.yaml", `nats.replica: unknown key
nats.replicas: "three" is not an integer
gateway.max_in_flight: 99999999999999999999999 is out of range
gateway.retry_after: "soon" is not a duration
slack.channels: want a mapping, got a list
vulnerabilities.fixed_only: "maybe" is not true or false
vulnerabilities.ignore[0].until: unknown key
logging: unknown key`},
		{"flow_style.yaml", `nats.replica: unknown key
nats.max_age: "forever" is not a duration
gateway.timeout: unknown key
consumer.timeout: unknown key`},
		{"duplicate_key.yaml", `log.level: set again (first on line 3)
log.level: set again (first on line 3)`},
		{"alias.yaml", `defaults: unknown key
gateway.read_timeout: "soon" is not a duration
nats.read_timeout: unknown key`},
		{"syntax_error.yaml", `invalid YAML: line 2: found unexpected end of stream`},
		{"two_documents.yaml", `more than one YAML document: the config is one`},
		{"not_a_mapping.yaml", `the file must be a mapping of keys, not a list`},
		{"not_whole.yaml", `consumer.concurrency: 1.5 is not a whole number`},
		{"bad_size.yaml", `gateway.max_body_bytes: "25 lightyears" is not a byte count (like 26214400 or "25MiB")`},
		{"wrong_shape.yaml", `nats: "nats://x:4222" is not a mapping
n8n.routes: want a list, got a mapping
vault.auth: "token" is not a mapping`},
		{"decode_and_validate.yaml", `consumer.ack_wait: "soon" is not a duration
log.level: "loud" is not one of debug, info, warn, error`},
		{"embedded_cluster.yaml", `nats.credentials: set, but nats.url is empty: the embedded server takes no credentials
nats.data_dir: required: the embedded server (nats.url is empty) stores JetStream data there
nats.replicas: must be 1 with the embedded server (nats.url is empty), got 3
vault.auth.role: required for approle auth (the role id), or set vault.auth.role_id_file`},
		{"vault_invalid.yaml", `vault.auth.role_id_file: only used with approle auth
vault.auth.secret_id_file: only used with approle auth
vault.auth.wrapped: only used with approle auth
vault.refresh_interval: must be a positive duration, got 0s`},
		{"url_credentials.yaml", `nats.url: must not hold credentials: use nats.credentials (a .creds file)
github.api_url: must not hold credentials: the token is the GITHUB_TOKEN secret
n8n.routes[0].url: must not hold credentials: use auth: basic and the N8N_AUTH secret
vault.address: must not hold credentials: use vault.auth`},
		{"n8n_routes.yaml", `n8n.routes[0].subject: "check.sideways" matches no event kind (release.published, vulnerability.found, check.down, check.up)
n8n.routes[0].url: "/webhook/x" is not an absolute URL
n8n.routes[0].header: required
n8n.routes[1].subject: "check.>.up" is not a subject pattern: dot-separated tokens, "*" for one token, ">" last for the rest
n8n.routes[1].auth: "bearer" is not one of none, header, basic
n8n.routes[2].subject: required
n8n.routes[2].header: only used with auth: header
n8n.routes[3].subject: "*.*.*" matches no event kind (release.published, vulnerability.found, check.down, check.up)
n8n.routes[3].filter: a field name is empty
n8n.routes[3].header: "Bad Header" is not an HTTP header name
n8n.routes[4].url: required`},
		{"routing.yaml", `routing[0].filter.artifact: bad pattern "ghcr.io/stoa/[*": syntax error in pattern
routing[0].filter.colour: unknown field (known: artifact, check, repo, repository, severity, status, tag, tags)
routing[1].filter.status: "sideways" is not down or up
routing[1]: names no target: set slack_channel, linear_team or both
routing[2].subject: required
routing[2].filter.severity: "urgent" is not UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL
routing[3].subject: "check.>.up" is not a subject pattern: dot-separated tokens, "*" for one token, ">" last for the rest
checks.ticket_after: must not be negative (0 opens no incident tickets)`},
		{"invalid_values.yaml", `listen: "8080" is not a host:port address (like ":8080")
nats.url: "http://nats:4222": the scheme must be nats, tls, ws or wss
nats.url: "nats://" is not an absolute URL
nats.listen: "localhost" is not a host:port address (like ":8080")
nats.subject_prefix: "bridge events.>" is not a subject prefix: dot-separated tokens of letters, digits, "-" and "_"
nats.replicas: must be 1, 3 or 5 (an even count adds no fault tolerance), got 2
nats.sync_interval: "sometimes" is not "", "always" or a positive duration
nats.duplicate_window: must not exceed nats.max_age (1h0m0s), got 2h0m0s
nats.publish_timeout: must be a positive duration, got 0s
gateway.max_body_bytes: must be at least 1, got 0
gateway.max_in_flight: must be at least 1, got -1
gateway.read_header_timeout: must be a positive duration, got -1s
gateway.read_timeout: must be a positive duration, got 0s
gateway.write_timeout: must be a positive duration, got 0s
gateway.idle_timeout: must be a positive duration, got 0s
gateway.retry_after: must be at least 1s (Retry-After is in whole seconds), got 500ms
consumer.concurrency: must be at least 1, got 0
consumer.max_deliver: must be at least 1, got 0
consumer.ack_wait: must be a positive duration, got 0s
consumer.backoff_max: must not be less than consumer.backoff_min (10s), got 1s
consumer.shutdown_timeout: must be a positive duration, got 0s
github.api_url: "api.github.com" is not an absolute URL
github.poll_interval: must be a positive duration, got 0s
slack.api_url: "https://slack.com/api" must end with "/"
slack.channels.releases: required
slack.channels.vulnerabilities: required
slack.channels.checks: required
slack.timeout: must be a positive duration, got 0s
linear.api_url: "ftp://linear.app/graphql": the scheme must be http or https
vulnerabilities.min_severity: "high" is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL
vulnerabilities.ignore[0].id: required
vulnerabilities.ignore[0].expires: "31/01/2026" is not a date (YYYY-MM-DD)
vulnerabilities.ignore[2].id: "CVE-2024-1" is already ignored by vulnerabilities.ignore[1]
vulnerabilities.ignore[2].expires: "2026-02-30" is not a date (YYYY-MM-DD)
vault.address: "vault:8200" is not an absolute URL
vault.auth.method: "ldap" is not one of token, approle, kubernetes
vault.kv_mount: required
vault.path: required
log.level: "verbose" is not one of debug, info, warn, error
log.format: "logfmt" is not one of json, text`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := config.Load(filepath.Join("testdata", tt.file), nil)
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want:\n%s", tt.file, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("Load(%q) error (-want +got):\n%s", tt.file, diff)
			}
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("Load(%q) = %#v, want an Errors of %d problems", tt.file, err, strings.Count(tt.want, "\n")+1)
			}
			if diff := cmp.Diff(config.Config{}, got, equateEmpty); diff != "" {
				t.Errorf("Load(%q) returned a config with its error (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestTooManyProblems(t *testing.T) {
	var b strings.Builder
	for i := range 150 {
		fmt.Fprintf(&b, "key%d: 1\n", i)
	}
	_, err := config.Parse([]byte(b.String()), nil)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 101 {
		t.Fatalf("Parse(150 unknown keys) = %d problems, want 100 and a last line", len(errs))
	}
	if got, want := errs[0].String(), "key0: unknown key"; got != want {
		t.Errorf("first problem = %q, want %q", got, want)
	}
	if got, want := errs[100].String(), "too many problems: only the first 100 are listed"; got != want {
		t.Errorf("last problem = %q, want %q", got, want)
	}
}

func TestErrorsHoldNoCredentials(t *testing.T) {
	_, err := config.Load(filepath.Join("testdata", "url_credentials.yaml"), nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Load(url_credentials.yaml) = %v, want an error without the password", err)
	}
	// Unparseable URLs are not quoted either when they may hold credentials.
	c := config.Default()
	c.N8N.Routes = []config.N8NRoute{{Subject: ">", URL: "http://a:hunter2@[::1"}}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v, want an error without the password", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
		want   string // "" = valid
	}{
		{"defaults", func(*config.Config) {}, ""},
		{"external nats cluster", func(c *config.Config) {
			c.NATS.URL = "nats://a:4222,nats://b:4222, nats://c:4222"
			c.NATS.Replicas = 5
			c.NATS.DataDir = ""
		}, ""},
		{"websocket nats", func(c *config.Config) { c.NATS.URL = "wss://nats.example.com:443" }, ""},
		{"embedded in-process only", func(c *config.Config) { c.NATS.Listen = "" }, ""},
		{"listen any port", func(c *config.Config) { c.Listen = "[::1]:0" }, ""},
		{"listen no port", func(c *config.Config) { c.Listen = "localhost:" }, `listen: "localhost:" has no port number (0 to 65535)`},
		{"listen port too big", func(c *config.Config) { c.Listen = ":65536" }, `listen: ":65536" has no port number (0 to 65535)`},
		{"sync interval duration", func(c *config.Config) { c.NATS.SyncInterval = "10s" }, ""},
		{"sync interval negative", func(c *config.Config) { c.NATS.SyncInterval = "-1s" }, `nats.sync_interval: "-1s" is not "", "always" or a positive duration`},
		{"sync always", func(c *config.Config) { c.NATS.SyncAlways = true }, ""},
		{"sync always and interval always", func(c *config.Config) { c.NATS.SyncAlways, c.NATS.SyncInterval = true, "always" }, ""},
		{"sync always and interval differ", func(c *config.Config) { c.NATS.SyncAlways, c.NATS.SyncInterval = true, "10s" }, `nats.sync_always: true fsyncs every write, but nats.sync_interval is "10s": set one of them`},
		{"prefix with dash", func(c *config.Config) { c.NATS.SubjectPrefix = "prod-eu.bridge_2" }, ""},
		{"prefix empty", func(c *config.Config) { c.NATS.SubjectPrefix = "" }, `nats.subject_prefix: "" is not a subject prefix: dot-separated tokens of letters, digits, "-" and "_"`},
		{"prefix wildcard", func(c *config.Config) { c.NATS.SubjectPrefix = "bridge.*" }, `nats.subject_prefix: "bridge.*" is not a subject prefix: dot-separated tokens of letters, digits, "-" and "_"`},
		{"prefix empty token", func(c *config.Config) { c.NATS.SubjectPrefix = "a..b" }, `nats.subject_prefix: "a..b" is not a subject prefix: dot-separated tokens of letters, digits, "-" and "_"`},
		{"replicas zero", func(c *config.Config) { c.NATS.Replicas = 0 }, `nats.replicas: must be 1, 3 or 5 (an even count adds no fault tolerance), got 0`},
		{"route kinds", func(c *config.Config) {
			c.N8N.Routes = []config.N8NRoute{
				{Subject: "release.published", URL: "https://n/a"},
				{Subject: "vulnerability.found", URL: "https://n/b", Auth: "none"},
				{Subject: "check.*", URL: "https://n/c"},
				{Subject: "*.up", URL: "https://n/d"},
				{Subject: "check.>", URL: "https://n/e"},
				{Subject: ">", URL: "https://n/f"},
			}
		}, ""},
		{"route full subject", func(c *config.Config) {
			c.N8N.Routes = []config.N8NRoute{{Subject: "bridge.events.check.down", URL: "https://n/a"}}
		}, `n8n.routes[0].subject: "bridge.events.check.down" matches no event kind (release.published, vulnerability.found, check.down, check.up)`},
		{"route partial wildcard", func(c *config.Config) {
			c.N8N.Routes = []config.N8NRoute{{Subject: "check.do*", URL: "https://n/a"}}
		}, `n8n.routes[0].subject: "check.do*" is not a subject pattern: dot-separated tokens, "*" for one token, ">" last for the rest`},
		{"route too short", func(c *config.Config) {
			c.N8N.Routes = []config.N8NRoute{{Subject: "check", URL: "https://n/a"}}
		}, `n8n.routes[0].subject: "check" matches no event kind (release.published, vulnerability.found, check.down, check.up)`},
		{"vault approle without address", func(c *config.Config) { c.Vault.Auth.Method = "approle" }, ""},
		{"vault kubernetes", func(c *config.Config) {
			c.Vault.Address = "http://127.0.0.1:8200"
			c.Vault.Auth.Method = "kubernetes"
		}, `vault.auth.role: required for kubernetes auth`},
		{"vault approle role id twice", func(c *config.Config) {
			c.Vault.Address = "http://127.0.0.1:8200"
			c.Vault.Auth.Method = "approle"
			c.Vault.Auth.Role = "0c8e-role-id"
			c.Vault.Auth.RoleIDFile = "/etc/bridge/role-id"
		}, `vault.auth.role_id_file: set together with vault.auth.role: use one`},
		{"vault kubernetes without token path", func(c *config.Config) {
			c.Vault.Address = "http://127.0.0.1:8200"
			c.Vault.Auth.Method = "kubernetes"
			c.Vault.Auth.Role = "bridge"
			c.Vault.Auth.TokenPath = " "
		}, `vault.auth.token_path: required`},
		{"vault token file with kubernetes", func(c *config.Config) {
			c.Vault.Auth.Method = "kubernetes"
			c.Vault.Auth.TokenFile = "/etc/bridge/token"
		}, `vault.auth.token_file: only used with token auth`},
		{"ignore without expiry", func(c *config.Config) {
			c.Vulnerabilities.Ignore = []config.Ignored{{ID: "CVE-1"}, {ID: "CVE-2", Expires: "2030-12-31"}}
		}, ""},
		{"every problem at once", func(c *config.Config) {
			c.Log.Format = ""
			c.Listen = ""
			c.Slack.Timeout = -time.Second
		}, `listen: "" is not a host:port address (like ":8080")
slack.timeout: must be a positive duration, got -1s
log.format: "" is not one of json, text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// A valid config survives yaml.Marshal and Parse unchanged: what bridgectl
// would print is what the bridge reads.
func TestMarshalRoundTrip(t *testing.T) {
	for _, file := range []string{"minimal.yaml", "full.yaml", "empty.yaml"} {
		t.Run(file, func(t *testing.T) {
			c, err := config.Load(filepath.Join("testdata", file), nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatalf("yaml.Marshal: %v", err)
			}
			got, err := config.Parse(out, nil)
			if err != nil {
				t.Fatalf("Parse(Marshal(%s)) = %v\n%s", file, err, out)
			}
			if diff := cmp.Diff(c, got, equateEmpty); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncPolicy(t *testing.T) {
	tests := []struct {
		name     string
		interval string
		always   bool
		want     string
	}{
		{"default", "", false, ""},
		{"interval", "10s", false, "10s"},
		{"interval always", "always", false, "always"},
		{"sync always", "", true, "always"},
		{"both always", "always", true, "always"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := config.NATS{SyncInterval: tt.interval, SyncAlways: tt.always}
			if got := n.SyncPolicy(); got != tt.want {
				t.Errorf("SyncPolicy() = %q, want %q", got, tt.want)
			}
		})
	}
}

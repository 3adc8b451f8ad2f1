// Package config reads the bridge's one YAML file: strict (an unknown key is
// an error), with built-in defaults so that no file is needed at all, with
// BRIDGE_<PATH> environment overrides applied before validation, and a
// Validate that reports every problem at once, each with its key path.
package config

import "time"

// Config mirrors the YAML file. Secrets are never here: the config names
// them (see package secrets) and package secrets fetches them, so a Config
// can be logged, printed and marshalled whole. Validate rejects URLs that
// carry credentials for the same reason.
type Config struct {
	// Listen is the HTTP address of the webhook gateway and of /healthz,
	// /readyz and /metrics.
	Listen          string          `yaml:"listen"`
	NATS            NATS            `yaml:"nats"`
	Gateway         Gateway         `yaml:"gateway"`
	Consumer        Consumer        `yaml:"consumer"`
	GitHub          GitHub          `yaml:"github"`
	Slack           Slack           `yaml:"slack"`
	Linear          Linear          `yaml:"linear"`
	N8N             N8N             `yaml:"n8n"`
	Routing         []Route         `yaml:"routing"`
	Checks          Checks          `yaml:"checks"`
	Vulnerabilities Vulnerabilities `yaml:"vulnerabilities"`
	Vault           Vault           `yaml:"vault"`
	Log             Log             `yaml:"log"`
}

// NATS is where events live.
type NATS struct {
	// URL of an external NATS server or cluster; empty starts an embedded
	// server with JetStream file storage in DataDir.
	URL string `yaml:"url"`
	// Credentials is a NATS .creds file for an external server.
	Credentials string `yaml:"credentials"`
	// Listen is the embedded server's client address, so that bridgectl
	// and other processes can reach it; empty keeps the server in-process
	// only. Ignored when URL is set.
	Listen string `yaml:"listen"`
	// DataDir holds the embedded server's JetStream storage.
	DataDir string `yaml:"data_dir"`
	// SubjectPrefix lets two installs share one NATS: subjects
	// <prefix>.events.*, streams <PREFIX>_EVENTS.
	SubjectPrefix string `yaml:"subject_prefix"`
	// Replicas of the streams and ledger buckets: 1, or 3 on a cluster.
	Replicas int `yaml:"replicas"`
	// SyncInterval is how often the embedded server fsyncs JetStream
	// storage; "always" syncs every write. Empty keeps nats-server's
	// default (2m): a process crash loses nothing, a power loss may.
	SyncInterval string `yaml:"sync_interval"`
	// SyncAlways fsyncs every JetStream write, for a single-node install
	// that must survive a power loss: the same as SyncInterval "always",
	// spelled as a switch.
	SyncAlways bool `yaml:"sync_always"`
	// MaxAge bounds how long events are kept in the stream.
	MaxAge time.Duration `yaml:"max_age"`
	// DuplicateWindow is how long the stream remembers a Nats-Msg-Id.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// PublishTimeout bounds the wait for a JetStream acknowledgement.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
}

// SyncPolicy is the embedded server's fsync policy that SyncInterval and
// SyncAlways ask for together: "always", "", or a duration.
func (n NATS) SyncPolicy() string {
	if n.SyncAlways {
		return "always"
	}
	return n.SyncInterval
}

// Gateway tunes the webhook gateway's HTTP server.
type Gateway struct {
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxInFlight bounds concurrent publishes; beyond it, 503 + Retry-After.
	MaxInFlight       int           `yaml:"max_in_flight"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// RetryAfter is the Retry-After (seconds) sent with a 503.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// Consumer tunes every sink's consumer runner.
type Consumer struct {
	// Concurrency is how many events one runner works on at once; events
	// about one entity are still handled one at a time, in order.
	Concurrency int `yaml:"concurrency"`
	// MaxDeliver is how many attempts before an event is dead-lettered.
	MaxDeliver int `yaml:"max_deliver"`
	// AckWait is how long a delivery may take before JetStream redelivers.
	AckWait time.Duration `yaml:"ack_wait"`
	// BackoffMin and BackoffMax bound the exponential retry delay.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// GitHub is the release source.
type GitHub struct {
	APIURL string `yaml:"api_url"`
	// Inventory is a YAML file of tools; empty uses the built-in inventory.
	Inventory    string        `yaml:"inventory"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Slack is the Slack sink.
type Slack struct {
	// APIURL is Slack's Web API base, with a trailing slash.
	APIURL   string        `yaml:"api_url"`
	Channels SlackChannels `yaml:"channels"`
	// Timeout bounds one Slack API call.
	Timeout time.Duration `yaml:"timeout"`
	// ReleaseNotes posts a note in Channels.Releases for each new upgrade
	// ticket. It needs a linear-ticketer on the same NATS (the note waits
	// for the ticket); set it false where none runs.
	ReleaseNotes bool `yaml:"release_notes"`
}

// SlackChannels names the channel (ID or #name) of each flow.
type SlackChannels struct {
	Releases        string `yaml:"releases"`
	Vulnerabilities string `yaml:"vulnerabilities"`
	Checks          string `yaml:"checks"`
}

// Linear is the Linear sink.
type Linear struct {
	APIURL string `yaml:"api_url"`
	// Team is the key of the Linear team tickets go to (e.g. "PLAT").
	Team string `yaml:"team"`
	// CloseWhenFixed moves a remediation ticket to a completed state once
	// a report shows every finding fixed; otherwise it only says so.
	CloseWhenFixed bool `yaml:"close_when_fixed"`
}

// N8N is the n8n sink.
type N8N struct {
	Routes []N8NRoute `yaml:"routes"`
}

// N8NRoute sends events on Subject (matching Filter) to an n8n webhook URL.
type N8NRoute struct {
	Subject string            `yaml:"subject"`
	Filter  map[string]string `yaml:"filter"`
	URL     string            `yaml:"url"`
	// Auth is "none", "header" or "basic"; the credential is N8N_AUTH.
	Auth string `yaml:"auth"`
	// Header is the header name for header auth.
	Header string `yaml:"header"`
	// ContentType is the media type of the POST: application/cloudevents+json
	// (the default, CloudEvents structured mode) or application/json (the
	// same body, for receivers that parse only that, such as n8n 1.x's
	// Webhook node).
	ContentType string `yaml:"content_type"`
}

// Route sends the events it matches to a Slack channel or a Linear team
// other than the flow's default. Rules are tried in order; for each sink
// the first matching rule that names a target for it wins, and an event no
// rule matches goes to the default (slack.channels.*, linear.team). An
// inventory tool's own linear.team is more specific and beats the rules
// for its upgrade tickets.
type Route struct {
	// Subject is an event kind or a pattern over kinds ("check.*", ">").
	Subject string `yaml:"subject"`
	// Filter holds event fields that must all match (see package match).
	Filter map[string]string `yaml:"filter"`
	// SlackChannel is the channel (ID or #name) for the matched events.
	SlackChannel string `yaml:"slack_channel"`
	// LinearTeam is the key of the team whose tickets the events open.
	LinearTeam string `yaml:"linear_team"`
}

// Checks tunes the incident flow.
type Checks struct {
	// TicketAfter opens a Linear incident ticket for a check down longer
	// than this; recovery comments the outage's duration and closes it.
	// Zero (the default) opens none.
	TicketAfter time.Duration `yaml:"ticket_after"`
}

// Vulnerabilities filters vulnerability findings.
type Vulnerabilities struct {
	MinSeverity string    `yaml:"min_severity"`
	FixedOnly   bool      `yaml:"fixed_only"`
	Ignore      []Ignored `yaml:"ignore"`
}

// Ignored is one ignored CVE, until Expires if set (YYYY-MM-DD).
type Ignored struct {
	ID      string `yaml:"id"`
	Expires string `yaml:"expires"`
	Reason  string `yaml:"reason"`
}

// Vault is where secrets come from; empty Address reads BRIDGE_SECRET_<NAME>.
type Vault struct {
	Address string    `yaml:"address"`
	Auth    VaultAuth `yaml:"auth"`
	KVMount string    `yaml:"kv_mount"`
	Path    string    `yaml:"path"`
	// Namespace is the Vault Enterprise namespace; empty is the root.
	Namespace string `yaml:"namespace"`
	// CACert is a PEM file of the CA(s) that sign Vault's certificate;
	// empty trusts the system roots.
	CACert string `yaml:"ca_cert"`
	// TLSServerName is the name checked against Vault's certificate when
	// it differs from Address's host.
	TLSServerName string `yaml:"tls_server_name"`
	// RefreshInterval is how often the secret is read again, so that a
	// rotated value is picked up without a restart.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// VaultAuth is how the bridge logs in to Vault.
type VaultAuth struct {
	// Method is token, approle or kubernetes.
	Method string `yaml:"method"`
	// Mount is the auth method's mount path; empty means the method's name.
	Mount string `yaml:"mount"`
	// Role is the Kubernetes auth role, or the AppRole role id.
	Role string `yaml:"role"`
	// TokenFile holds the Vault token (token auth); empty reads the
	// VAULT_TOKEN environment variable. Read again at every re-login, so
	// an agent may rewrite it.
	TokenFile string `yaml:"token_file"`
	// RoleIDFile holds the AppRole role id, instead of Role.
	RoleIDFile string `yaml:"role_id_file"`
	// SecretIDFile holds the AppRole secret id; empty reads the
	// VAULT_SECRET_ID environment variable.
	SecretIDFile string `yaml:"secret_id_file"`
	// Wrapped says the AppRole secret id is a response-wrapping token,
	// unwrapped at the first login.
	Wrapped bool `yaml:"wrapped"`
	// TokenPath is the Kubernetes service-account JWT (kubernetes auth),
	// read again at every login since the kubelet rotates it.
	TokenPath string `yaml:"token_path"`
}

// Log configures log/slog.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or text.
	Format string `yaml:"format"`
}

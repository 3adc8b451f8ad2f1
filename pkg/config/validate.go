package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/match"
)

// Severities are the values of vulnerabilities.min_severity, lowest first
// (Trivy's scale).
var Severities = []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Validate reports every problem with c at once, as an Errors in key order,
// each "key.path: reason"; nil when c is usable.
func (c Config) Validate() error { return c.validate().err() }

// checker collects problems.
type checker struct{ errs Errors }

func (ck *checker) add(path, format string, args ...any) {
	ck.errs = append(ck.errs, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func (ck *checker) positive(path string, d time.Duration) {
	if d <= 0 {
		ck.add(path, "must be a positive duration, got %s", d)
	}
}

func (ck *checker) atLeast(path string, n, min int64) {
	if n < min {
		ck.add(path, "must be at least %d, got %d", min, n)
	}
}

func (ck *checker) oneOf(path, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		ck.add(path, "%s is not one of %s", quote(v), strings.Join(allowed, ", "))
	}
}

func (ck *checker) required(path, v string) bool {
	if strings.TrimSpace(v) == "" {
		ck.add(path, "required")
		return false
	}
	return true
}

func (c Config) validate() Errors {
	ck := &checker{}
	embedded := c.NATS.URL == ""

	if reason := hostPort(c.Listen); reason != "" {
		ck.add("listen", "%s", reason)
	}

	// nats
	for u := range strings.SplitSeq(c.NATS.URL, ",") {
		if embedded {
			break
		}
		ck.url("nats.url", strings.TrimSpace(u), "use nats.credentials (a .creds file)", "nats", "tls", "ws", "wss")
	}
	if c.NATS.Credentials != "" && embedded {
		ck.add("nats.credentials", "set, but nats.url is empty: the embedded server takes no credentials")
	}
	if c.NATS.Listen != "" {
		if reason := hostPort(c.NATS.Listen); reason != "" {
			ck.add("nats.listen", "%s", reason)
		}
	}
	if embedded && strings.TrimSpace(c.NATS.DataDir) == "" {
		ck.add("nats.data_dir", "required: the embedded server (nats.url is empty) stores JetStream data there")
	}
	if !validPrefix(c.NATS.SubjectPrefix) {
		ck.add("nats.subject_prefix", `%s is not a subject prefix: dot-separated tokens of letters, digits, "-" and "_"`, quote(c.NATS.SubjectPrefix))
	}
	switch r := c.NATS.Replicas; {
	case r != 1 && r != 3 && r != 5:
		ck.add("nats.replicas", "must be 1, 3 or 5 (an even count adds no fault tolerance), got %d", r)
	case r > 1 && embedded:
		ck.add("nats.replicas", "must be 1 with the embedded server (nats.url is empty), got %d", r)
	}
	switch s := c.NATS.SyncInterval; s {
	case "", "always":
	default:
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			ck.add("nats.sync_interval", `%s is not "", "always" or a positive duration`, quote(s))
		}
	}
	if s := c.NATS.SyncInterval; c.NATS.SyncAlways && s != "" && s != "always" {
		ck.add("nats.sync_always", `true fsyncs every write, but nats.sync_interval is %s: set one of them`, quote(s))
	}
	ck.positive("nats.max_age", c.NATS.MaxAge)
	ck.positive("nats.duplicate_window", c.NATS.DuplicateWindow)
	if c.NATS.MaxAge > 0 && c.NATS.DuplicateWindow > c.NATS.MaxAge {
		// JetStream refuses such a stream.
		ck.add("nats.duplicate_window", "must not exceed nats.max_age (%s), got %s", c.NATS.MaxAge, c.NATS.DuplicateWindow)
	}
	ck.positive("nats.publish_timeout", c.NATS.PublishTimeout)

	// gateway
	ck.atLeast("gateway.max_body_bytes", c.Gateway.MaxBodyBytes, 1)
	ck.atLeast("gateway.max_in_flight", int64(c.Gateway.MaxInFlight), 1)
	ck.positive("gateway.read_header_timeout", c.Gateway.ReadHeaderTimeout)
	ck.positive("gateway.read_timeout", c.Gateway.ReadTimeout)
	ck.positive("gateway.write_timeout", c.Gateway.WriteTimeout)
	ck.positive("gateway.idle_timeout", c.Gateway.IdleTimeout)
	if c.Gateway.RetryAfter < time.Second {
		ck.add("gateway.retry_after", "must be at least 1s (Retry-After is in whole seconds), got %s", c.Gateway.RetryAfter)
	}

	// consumer
	ck.atLeast("consumer.concurrency", int64(c.Consumer.Concurrency), 1)
	ck.atLeast("consumer.max_deliver", int64(c.Consumer.MaxDeliver), 1)
	ck.positive("consumer.ack_wait", c.Consumer.AckWait)
	ck.positive("consumer.backoff_min", c.Consumer.BackoffMin)
	ck.positive("consumer.backoff_max", c.Consumer.BackoffMax)
	if c.Consumer.BackoffMin > 0 && c.Consumer.BackoffMax < c.Consumer.BackoffMin {
		ck.add("consumer.backoff_max", "must not be less than consumer.backoff_min (%s), got %s", c.Consumer.BackoffMin, c.Consumer.BackoffMax)
	}
	ck.positive("consumer.shutdown_timeout", c.Consumer.ShutdownTimeout)

	// github
	ck.apiURL("github.api_url", c.GitHub.APIURL, true, "the token is the GITHUB_TOKEN secret")
	ck.positive("github.poll_interval", c.GitHub.PollInterval)

	// slack
	ck.apiURL("slack.api_url", c.Slack.APIURL, true, "the token is the SLACK_BOT_TOKEN secret")
	ck.required("slack.channels.releases", c.Slack.Channels.Releases)
	ck.required("slack.channels.vulnerabilities", c.Slack.Channels.Vulnerabilities)
	ck.required("slack.channels.checks", c.Slack.Channels.Checks)
	ck.positive("slack.timeout", c.Slack.Timeout)

	// linear
	ck.apiURL("linear.api_url", c.Linear.APIURL, false, "the key is the LINEAR_API_KEY secret")

	// n8n
	for i, r := range c.N8N.Routes {
		p := fmt.Sprintf("n8n.routes[%d]", i)
		if ck.required(p+".subject", r.Subject) {
			if reason := subjectPattern(r.Subject); reason != "" {
				ck.add(p+".subject", "%s", reason)
			}
		}
		ck.filter(p, r.Filter)
		if ck.required(p+".url", r.URL) {
			ck.url(p+".url", r.URL, "use auth: basic and the N8N_AUTH secret", "http", "https")
		}
		if r.ContentType != "" {
			ck.oneOf(p+".content_type", r.ContentType, "application/cloudevents+json", "application/json")
		}
		switch r.Auth {
		case "", "none", "basic":
			if r.Header != "" {
				ck.add(p+".header", "only used with auth: header")
			}
		case "header":
			if ck.required(p+".header", r.Header) && !validHeaderName(r.Header) {
				ck.add(p+".header", "%s is not an HTTP header name", quote(r.Header))
			}
		default:
			ck.add(p+".auth", "%s is not one of none, header, basic", quote(r.Auth))
		}
	}

	// routing
	for i, r := range c.Routing {
		p := fmt.Sprintf("routing[%d]", i)
		if ck.required(p+".subject", r.Subject) {
			if reason := subjectPattern(r.Subject); reason != "" {
				ck.add(p+".subject", "%s", reason)
			}
		}
		ck.filter(p, r.Filter)
		if r.SlackChannel == "" && r.LinearTeam == "" {
			ck.add(p, "names no target: set slack_channel, linear_team or both")
		}
	}

	// checks
	if c.Checks.TicketAfter < 0 {
		ck.add("checks.ticket_after", "must not be negative (0 opens no incident tickets)")
	}

	// vulnerabilities
	ck.oneOf("vulnerabilities.min_severity", c.Vulnerabilities.MinSeverity, Severities...)
	first := make(map[string]int)
	for i, ig := range c.Vulnerabilities.Ignore {
		p := fmt.Sprintf("vulnerabilities.ignore[%d]", i)
		if ck.required(p+".id", ig.ID) {
			if j, dup := first[ig.ID]; dup {
				ck.add(p+".id", "%s is already ignored by vulnerabilities.ignore[%d]", quote(ig.ID), j)
			} else {
				first[ig.ID] = i
			}
		}
		if ig.Expires != "" {
			if _, err := time.Parse(time.DateOnly, ig.Expires); err != nil {
				ck.add(p+".expires", "%s is not a date (YYYY-MM-DD)", quote(ig.Expires))
			}
		}
	}

	// vault
	if c.Vault.Address != "" {
		ck.url("vault.address", c.Vault.Address, "use vault.auth", "http", "https")
	}
	va := c.Vault.Auth
	ck.oneOf("vault.auth.method", va.Method, "token", "approle", "kubernetes")
	switch {
	case c.Vault.Address == "":
	case va.Method == "kubernetes" && va.Role == "":
		ck.add("vault.auth.role", "required for kubernetes auth")
	case va.Method == "approle" && va.Role == "" && va.RoleIDFile == "":
		ck.add("vault.auth.role", "required for approle auth (the role id), or set vault.auth.role_id_file")
	case va.Method == "approle" && va.Role != "" && va.RoleIDFile != "":
		ck.add("vault.auth.role_id_file", "set together with vault.auth.role: use one")
	}
	if va.TokenFile != "" && va.Method != "token" {
		ck.add("vault.auth.token_file", "only used with token auth")
	}
	if va.RoleIDFile != "" && va.Method != "approle" {
		ck.add("vault.auth.role_id_file", "only used with approle auth")
	}
	if va.SecretIDFile != "" && va.Method != "approle" {
		ck.add("vault.auth.secret_id_file", "only used with approle auth")
	}
	if va.Wrapped && va.Method != "approle" {
		ck.add("vault.auth.wrapped", "only used with approle auth")
	}
	if va.Method == "kubernetes" {
		ck.required("vault.auth.token_path", va.TokenPath)
	}
	ck.required("vault.kv_mount", c.Vault.KVMount)
	ck.required("vault.path", c.Vault.Path)
	ck.positive("vault.refresh_interval", c.Vault.RefreshInterval)

	// log
	ck.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	ck.oneOf("log.format", c.Log.Format, "json", "text")

	return ck.errs
}

// filter checks the field filters of the rule at path p.
func (ck *checker) filter(p string, f map[string]string) {
	named := make(map[string]string, len(f))
	for k, v := range f {
		if strings.TrimSpace(k) == "" {
			ck.add(p+".filter", "a field name is empty")
			continue
		}
		named[k] = v
	}
	for _, err := range (match.Rule{Filter: named}).Validate() {
		ck.add(p+"."+strings.SplitN(err.Error(), ":", 2)[0], "%s", strings.TrimSpace(strings.SplitN(err.Error(), ":", 2)[1]))
	}
}

// hostPort says why s is not a listen address ("host:port", host optional).
func hostPort(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return quote(s) + ` is not a host:port address (like ":8080")`
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return quote(s) + " has no port number (0 to 65535)"
	}
	return ""
}

// url checks that s is an absolute URL with one of schemes. A URL holding
// credentials is refused, with hint saying where they go instead, and is
// never repeated in the message: the config holds no secret.
func (ck *checker) url(path, s, hint string, schemes ...string) bool {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		if strings.Contains(s, "@") {
			ck.add(path, "not an absolute URL")
		} else {
			ck.add(path, "%s is not an absolute URL", quote(s))
		}
	case u.User != nil:
		ck.add(path, "must not hold credentials: %s", hint)
	case !slices.Contains(schemes, strings.ToLower(u.Scheme)):
		ck.add(path, "%s: the scheme must be %s", quote(s), orList(schemes))
	default:
		return true
	}
	return false
}

// apiURL checks an HTTP API base URL; slash says it must end in "/"
// because the client joins method names to it.
func (ck *checker) apiURL(path, s string, slash bool, hint string) {
	if ck.url(path, s, hint, "http", "https") && slash && !strings.HasSuffix(s, "/") {
		ck.add(path, `%s must end with "/"`, quote(s))
	}
}

// orList reads "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// validPrefix reports whether p can prefix subjects and, uppercased, name
// streams: dot-separated tokens of letters, digits, '-' and '_'.
func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" {
			return false
		}
		if strings.ContainsFunc(tok, func(r rune) bool { return !isTokenRune(r) }) {
			return false
		}
	}
	return true
}

func isTokenRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// subjectPattern says why s is not an event kind or a NATS-style wildcard
// ("*" one token, ">" the rest) matching at least one kind.
func subjectPattern(s string) string {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		bad := t == "" || strings.ContainsAny(t, " \t\r\n") ||
			(t != "*" && t != ">" && strings.ContainsAny(t, "*>")) ||
			(t == ">" && i != len(toks)-1)
		if bad {
			return quote(s) + ` is not a subject pattern: dot-separated tokens, "*" for one token, ">" last for the rest`
		}
	}
	for _, kind := range event.Kinds {
		if matchSubject(toks, strings.Split(kind, ".")) {
			return ""
		}
	}
	return fmt.Sprintf("%s matches no event kind (%s)", quote(s), strings.Join(event.Kinds, ", "))
}

func matchSubject(pattern, subject []string) bool {
	for i, p := range pattern {
		switch {
		case p == ">":
			return len(subject) > i
		case i >= len(subject):
			return false
		case p != "*" && p != subject[i]:
			return false
		}
	}
	return len(pattern) == len(subject)
}

// validHeaderName reports whether s is an HTTP header field name (an RFC
// 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// Package secrets fetches the bridge's credentials and keeps them out of
// logs: a Secret prints as [redacted] however it is formatted, logged or
// marshalled, and only Reveal gives its value, at the call that sends it.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// The secret names the bridge reads: Vault KV v2 fields under vault.path, or
// environment variables BRIDGE_SECRET_<NAME>.
const (
	GitHubWebhookSecret = "GITHUB_WEBHOOK_SECRET"
	GitHubToken         = "GITHUB_TOKEN"
	SlackBotToken       = "SLACK_BOT_TOKEN"
	LinearAPIKey        = "LINEAR_API_KEY"
	HealthchecksToken   = "HEALTHCHECKS_TOKEN"
	TrivyToken          = "TRIVY_TOKEN"
	N8NAuth             = "N8N_AUTH"
)

// Names lists every secret name, in a fixed order.
var Names = []string{GitHubWebhookSecret, GitHubToken, SlackBotToken, LinearAPIKey, HealthchecksToken, TrivyToken, N8NAuth}

// ErrNotFound is returned by a Provider that has no value for a name.
var ErrNotFound = errors.New("secret not set")

// Provider returns the current value of a named secret. Implementations
// are safe for concurrent use and cheap enough to call per request, so a
// rotated secret is picked up without a restart.
type Provider interface {
	Get(ctx context.Context, name string) (Secret, error)
}

// Refresher is a Provider that can read its secrets again on demand: after
// a service refused a credential, the secret may have been rotated since
// the last read. The environment is not one: a process's environment does
// not change.
type Refresher interface {
	Provider
	// Refresh reads the secrets now and reports whether any changed after
	// since, by this read or an earlier one, so that every caller that
	// failed with the old value learns of a rotation, not only the first
	// to ask.
	Refresh(ctx context.Context, since time.Time) (changed bool, err error)
}

const redacted = "[redacted]"

// Secret holds a credential. Its zero value is the empty secret.
//
// Keep a Secret in an exported field (or none) of any struct that may be
// printed: fmt cannot call the methods of a value it reaches through an
// unexported field, and prints such a Secret's contents.
type Secret struct{ v string }

// New wraps a value.
func New(v string) Secret { return Secret{v: v} }

// Reveal returns the value. Call it only where the value is sent.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler, which yaml and others use.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Format implements fmt.Formatter, so that every verb prints [redacted]:
// without it %d or %o would print the struct's field, the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(f, redacted)
}

package secrets

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// EnvPrefix starts the environment variable of every secret:
// BRIDGE_SECRET_<NAME>, e.g. BRIDGE_SECRET_SLACK_BOT_TOKEN.
const EnvPrefix = "BRIDGE_SECRET_"

// EnvVar returns the environment variable that holds the secret name.
func EnvVar(name string) string { return EnvPrefix + name }

// Env reads secrets from environment variables BRIDGE_SECRET_<NAME>: the
// backend used when no Vault address is configured. It reads the variable
// on every Get, so it is as fresh as the environment it looks at.
type Env struct {
	lookup func(string) (string, bool)
}

// NewEnv returns a Provider reading through lookup; nil means os.LookupEnv.
func NewEnv(lookup func(string) (string, bool)) *Env {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Env{lookup: lookup}
}

// Get returns BRIDGE_SECRET_<name>. An unset or empty variable is
// ErrNotFound. Trailing line breaks are dropped: a value set with
// $(cat token.txt) or from a file-backed Kubernetes secret often ends with
// one, and no token does.
func (e *Env) Get(_ context.Context, name string) (Secret, error) {
	v, _ := e.lookup(EnvVar(name))
	v = strings.TrimRight(v, "\r\n")
	if v == "" {
		return Secret{}, fmt.Errorf("secrets: %s: %w", EnvVar(name), ErrNotFound)
	}
	return New(v), nil
}

// Static is a fixed set of secrets by name, for tests and for callers that
// already hold the values. An empty value counts as unset.
type Static map[string]string

// Get returns s[name], or ErrNotFound.
func (s Static) Get(_ context.Context, name string) (Secret, error) {
	v := s[name]
	if v == "" {
		return Secret{}, fmt.Errorf("secrets: %s: %w", name, ErrNotFound)
	}
	return New(v), nil
}

// Describe reports, for every name in Names, whether p has a value for it:
// what a service logs at start-up ("secrets from environment; set: [...];
// missing: [...]") to say which flows will run for real and which in
// dry-run. It never holds on to a value. An error other than ErrNotFound
// (Vault unreachable) also counts as missing; the caller that needs the
// secret sees the error itself.
func Describe(ctx context.Context, p Provider) map[string]bool {
	set := make(map[string]bool, len(Names))
	for _, name := range Names {
		s, err := p.Get(ctx, name)
		set[name] = err == nil && !s.IsZero()
	}
	return set
}

var (
	_ Provider = (*Env)(nil)
	_ Provider = Static(nil)
)

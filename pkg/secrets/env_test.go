package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/secrets"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestEnvGet(t *testing.T) {
	env := secrets.NewEnv(mapLookup(map[string]string{
		"BRIDGE_SECRET_SLACK_BOT_TOKEN":       "xoxb-1",
		"BRIDGE_SECRET_LINEAR_API_KEY":        "lin_api_2\n",
		"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET": " spaced secret ",
		"BRIDGE_SECRET_TRIVY_TOKEN":           "",
		"BRIDGE_SECRET_N8N_AUTH":              "\r\n",
		"SLACK_BOT_TOKEN":                     "not-this-one",
	}))
	tests := []struct {
		name string
		want string
	}{
		{secrets.SlackBotToken, "xoxb-1"},
		{secrets.LinearAPIKey, "lin_api_2"},
		{secrets.GitHubWebhookSecret, " spaced secret "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := env.Get(context.Background(), tt.name)
			if err != nil {
				t.Fatalf("Get(%s) = %v", tt.name, err)
			}
			if s.Reveal() != tt.want {
				t.Errorf("Get(%s) = %q, want %q", tt.name, s.Reveal(), tt.want)
			}
		})
	}
}

func TestEnvNotFound(t *testing.T) {
	env := secrets.NewEnv(mapLookup(map[string]string{
		"BRIDGE_SECRET_TRIVY_TOKEN": "",
		"BRIDGE_SECRET_N8N_AUTH":    "\n",
		"GITHUB_TOKEN":              "ghp_unprefixed",
	}))
	for _, name := range []string{secrets.TrivyToken, secrets.N8NAuth, secrets.GitHubToken, secrets.HealthchecksToken} {
		t.Run(name, func(t *testing.T) {
			s, err := env.Get(context.Background(), name)
			if !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("Get(%s) = %v, want ErrNotFound", name, err)
			}
			if !s.IsZero() {
				t.Errorf("Get(%s) returned a value with its error", name)
			}
			if !strings.Contains(err.Error(), "BRIDGE_SECRET_"+name) {
				t.Errorf("Get(%s) error %q does not name the variable", name, err)
			}
			if strings.Contains(err.Error(), "ghp_") {
				t.Errorf("Get(%s) error %q holds a value", name, err)
			}
		})
	}
}

func TestNewEnvDefaultsToProcessEnv(t *testing.T) {
	t.Setenv("BRIDGE_SECRET_HEALTHCHECKS_TOKEN", "hc-1")
	s, err := secrets.NewEnv(nil).Get(context.Background(), secrets.HealthchecksToken)
	if err != nil || s.Reveal() != "hc-1" {
		t.Errorf("NewEnv(nil).Get = %q, %v, want hc-1", s.Reveal(), err)
	}
}

func TestStatic(t *testing.T) {
	p := secrets.Static{secrets.SlackBotToken: "xoxb-1", secrets.N8NAuth: ""}
	if s, err := p.Get(context.Background(), secrets.SlackBotToken); err != nil || s.Reveal() != "xoxb-1" {
		t.Errorf("Get(SLACK_BOT_TOKEN) = %q, %v", s.Reveal(), err)
	}
	for _, name := range []string{secrets.N8NAuth, secrets.GitHubToken} {
		if _, err := p.Get(context.Background(), name); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("Get(%s) = %v, want ErrNotFound", name, err)
		}
	}
}

// failing is a provider whose backend is down.
type failing struct{}

func (failing) Get(context.Context, string) (secrets.Secret, error) {
	return secrets.Secret{}, errors.New("vault: connection refused")
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		p    secrets.Provider
		set  []string
	}{
		{"env", secrets.NewEnv(mapLookup(map[string]string{
			"BRIDGE_SECRET_SLACK_BOT_TOKEN": "xoxb-1",
			"BRIDGE_SECRET_TRIVY_TOKEN":     "t",
			"BRIDGE_SECRET_N8N_AUTH":        "",
		})), []string{secrets.SlackBotToken, secrets.TrivyToken}},
		{"static all", func() secrets.Static {
			s := secrets.Static{}
			for _, n := range secrets.Names {
				s[n] = "v"
			}
			return s
		}(), secrets.Names},
		{"none", secrets.Static{}, nil},
		{"backend down", failing{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := make(map[string]bool)
			for _, n := range secrets.Names {
				want[n] = false
			}
			for _, n := range tt.set {
				want[n] = true
			}
			if diff := cmp.Diff(want, secrets.Describe(context.Background(), tt.p)); diff != "" {
				t.Errorf("Describe (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvVar(t *testing.T) {
	if got, want := secrets.EnvVar(secrets.SlackBotToken), "BRIDGE_SECRET_SLACK_BOT_TOKEN"; got != want {
		t.Errorf("EnvVar = %q, want %q", got, want)
	}
}

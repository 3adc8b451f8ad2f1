package config

import (
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
)

// DefaultServiceAccountTokenPath is where Kubernetes projects a pod's
// service-account token: vault.auth.token_path's default.
const DefaultServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Default returns the built-in configuration: the bridge runs with it and no
// file at all (embedded NATS storing in ./data, public API endpoints, sinks
// in dry-run until their secrets are set). Load and Parse start from it, so
// a file only names what it changes. deploy/config.example.yaml spells it
// out key by key; a test keeps the two equal.
func Default() Config {
	return Config{
		Listen: ":8080",
		NATS: NATS{
			URL:             "",
			Listen:          "127.0.0.1:4222",
			DataDir:         "./data",
			SubjectPrefix:   event.DefaultPrefix,
			Replicas:        1,
			MaxAge:          168 * time.Hour,
			DuplicateWindow: time.Hour,
			PublishTimeout:  5 * time.Second,
		},
		Gateway: Gateway{
			MaxBodyBytes:      25 << 20,
			MaxInFlight:       1024,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      40 * time.Second,
			IdleTimeout:       120 * time.Second,
			RetryAfter:        5 * time.Second,
		},
		Consumer: Consumer{
			Concurrency:     8,
			MaxDeliver:      10,
			AckWait:         30 * time.Second,
			BackoffMin:      time.Second,
			BackoffMax:      5 * time.Minute,
			ShutdownTimeout: 10 * time.Second,
		},
		GitHub: GitHub{
			APIURL:       "https://api.github.com/",
			PollInterval: 15 * time.Minute,
		},
		Slack: Slack{
			APIURL: "https://slack.com/api/",
			Channels: SlackChannels{
				Releases:        "#releases",
				Vulnerabilities: "#security",
				Checks:          "#incidents",
			},
			Timeout:      10 * time.Second,
			ReleaseNotes: true,
		},
		Linear: Linear{
			APIURL: "https://api.linear.app/graphql",
		},
		Vulnerabilities: Vulnerabilities{
			MinSeverity: "HIGH",
		},
		Vault: Vault{
			Auth: VaultAuth{
				Method:    "token",
				TokenPath: DefaultServiceAccountTokenPath,
			},
			KVMount:         "secret",
			Path:            "bridge",
			RefreshInterval: 5 * time.Minute,
		},
		Log: Log{
			Level:  "info",
			Format: "json",
		},
	}
}

package config_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/config"
)

// lookup serves env from a map and records every name asked for.
type lookup struct {
	mu    sync.Mutex
	env   map[string]string
	asked []string
}

func (l *lookup) get(name string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, name)
	v, ok := l.env[name]
	return v, ok
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name string
		file string // in testdata; "" = none
		env  map[string]string
		want func(*config.Config) // applied to the file's config
	}{
		{"none", "", nil, func(*config.Config) {}},
		{"strings", "", map[string]string{
			"BRIDGE_LISTEN":                "127.0.0.1:9000",
			"BRIDGE_NATS_DATA_DIR":         "/var/lib/bridge",
			"BRIDGE_SLACK_CHANNELS_CHECKS": "C0INCIDENTS",
			"BRIDGE_LINEAR_TEAM":           "OPS",
			"BRIDGE_VAULT_AUTH_METHOD":     "approle",
		}, func(c *config.Config) {
			c.Listen = "127.0.0.1:9000"
			c.NATS.DataDir = "/var/lib/bridge"
			c.Slack.Channels.Checks = "C0INCIDENTS"
			c.Linear.Team = "OPS"
			c.Vault.Auth.Method = "approle"
		}},
		{"typed", "", map[string]string{
			"BRIDGE_NATS_URL":                   "nats://a:4222,nats://b:4222,nats://c:4222",
			"BRIDGE_NATS_REPLICAS":              "3",
			"BRIDGE_CONSUMER_ACK_WAIT":          "45s",
			"BRIDGE_GATEWAY_MAX_BODY_BYTES":     "1MiB",
			"BRIDGE_VULNERABILITIES_FIXED_ONLY": "true",
			"BRIDGE_GITHUB_POLL_INTERVAL":       " 1h ",
		}, func(c *config.Config) {
			c.NATS.URL = "nats://a:4222,nats://b:4222,nats://c:4222"
			c.NATS.Replicas = 3
			c.Consumer.AckWait = 45 * time.Second
			c.Gateway.MaxBodyBytes = 1 << 20
			c.Vulnerabilities.FixedOnly = true
			c.GitHub.PollInterval = time.Hour
		}},
		{"plain byte count", "", map[string]string{"BRIDGE_GATEWAY_MAX_BODY_BYTES": "1000"},
			func(c *config.Config) { c.Gateway.MaxBodyBytes = 1000 }},
		{"env beats file", "full.yaml", map[string]string{
			"BRIDGE_LOG_LEVEL":        "warn",
			"BRIDGE_NATS_URL":         "",
			"BRIDGE_NATS_CREDENTIALS": "",
			"BRIDGE_NATS_REPLICAS":    "1",
		}, func(c *config.Config) {
			c.Log.Level = "warn"
			c.NATS.URL = "" // back to the embedded server
			c.NATS.Credentials = ""
			c.NATS.Replicas = 1
		}},
		{"not config keys", "", map[string]string{
			"BRIDGE_CONFIG":                 "/etc/bridge.yaml",
			"BRIDGE_SECRET_SLACK_BOT_TOKEN": "xoxb-1",
			"BRIDGE_N8N_ROUTES":             "x",
			"BRIDGE_NATS":                   "x",
			"bridge_log_level":              "debug",
		}, func(*config.Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = filepath.Join("testdata", tt.file)
			}
			want, err := config.Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.want(&want)
			l := &lookup{env: tt.env}
			got, err := config.Load(path, l.get)
			if err != nil {
				t.Fatalf("Load(%q, %v) = %v", path, tt.env, err)
			}
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Errorf("Load(%q, %v) (-want +got):\n%s", path, tt.env, diff)
			}
			for _, name := range l.asked {
				if name == config.ConfigEnv || strings.HasPrefix(name, "BRIDGE_SECRET_") {
					t.Errorf("Load looked up %s, which is not a config key", name)
				}
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad duration", map[string]string{"BRIDGE_CONSUMER_ACK_WAIT": "abc"},
			`consumer.ack_wait (BRIDGE_CONSUMER_ACK_WAIT): "abc" is not a duration`},
		{"bad integer", map[string]string{"BRIDGE_NATS_REPLICAS": "three"},
			`nats.replicas (BRIDGE_NATS_REPLICAS): "three" is not an integer`},
		{"empty integer", map[string]string{"BRIDGE_CONSUMER_CONCURRENCY": ""},
			`consumer.concurrency (BRIDGE_CONSUMER_CONCURRENCY): "" is not an integer`},
		{"bad bool", map[string]string{"BRIDGE_VULNERABILITIES_FIXED_ONLY": "yes please"},
			`vulnerabilities.fixed_only (BRIDGE_VULNERABILITIES_FIXED_ONLY): "yes please" is not true or false`},
		{"bad size", map[string]string{"BRIDGE_GATEWAY_MAX_BODY_BYTES": "big"},
			`gateway.max_body_bytes (BRIDGE_GATEWAY_MAX_BODY_BYTES): "big" is not a byte count (like 26214400 or "25MiB")`},
		{"valid type, invalid value", map[string]string{"BRIDGE_NATS_REPLICAS": "2", "BRIDGE_LOG_FORMAT": "xml"},
			`nats.replicas (BRIDGE_NATS_REPLICAS): must be 1, 3 or 5 (an even count adds no fault tolerance), got 2
log.format (BRIDGE_LOG_FORMAT): "xml" is not one of json, text`},
		{"all at once, in key order", map[string]string{
			"BRIDGE_LOG_LEVEL":         "loud",
			"BRIDGE_CONSUMER_ACK_WAIT": "abc",
			"BRIDGE_NATS_MAX_AGE":      "forever",
		}, `nats.max_age (BRIDGE_NATS_MAX_AGE): "forever" is not a duration
consumer.ack_wait (BRIDGE_CONSUMER_ACK_WAIT): "abc" is not a duration
log.level (BRIDGE_LOG_LEVEL): "loud" is not one of debug, info, warn, error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &lookup{env: tt.env}
			_, err := config.Load("", l.get)
			if err == nil {
				t.Fatalf("Load(%v) = nil error, want:\n%s", tt.env, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("Load(%v) error (-want +got):\n%s", tt.env, diff)
			}
		})
	}
}

func TestEnvAndFileErrorsTogether(t *testing.T) {
	l := &lookup{env: map[string]string{"BRIDGE_NATS_REPLICAS": "x"}}
	_, err := config.Load(filepath.Join("testdata", "unknown_key.yaml"), l.get)
	want := "nats.replica: unknown key\nnats.replicas (BRIDGE_NATS_REPLICAS): \"x\" is not an integer"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want\n%s", err, want)
	}
}

func TestUnknownEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"BRIDGE_CONFIG=/etc/bridge.yaml",
		"BRIDGE_SECRET_SLACK_BOT_TOKEN=xoxb-1",
		"BRIDGE_NATS_URL=nats://x:4222",
		"BRIDGE_NATS_URLS=nats://x:4222",
		"BRIDGE_SLACK_CHANNEL=#x",
		"BRIDGE_N8N_ROUTES=x",
		"BRIDGE_NATS_URLS=again",
	}
	got := config.UnknownEnv(environ)
	want := []string{"BRIDGE_N8N_ROUTES", "BRIDGE_NATS_URLS", "BRIDGE_SLACK_CHANNEL"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UnknownEnv (-want +got):\n%s", diff)
	}
}

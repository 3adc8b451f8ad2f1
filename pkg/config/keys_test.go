package config

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeys(t *testing.T) {
	byPath := make(map[string]key)
	byEnv := make(map[string]string)
	for _, k := range keys() {
		if _, dup := byPath[k.path]; dup {
			t.Errorf("key %s appears twice", k.path)
		}
		byPath[k.path] = k
		if k.env == "" {
			continue
		}
		if other, dup := byEnv[k.env]; dup {
			t.Errorf("%s names both %s and %s", k.env, other, k.path)
		}
		byEnv[k.env] = k.path
	}
	tests := []struct{ path, env string }{
		{"listen", "BRIDGE_LISTEN"},
		{"nats.url", "BRIDGE_NATS_URL"},
		{"nats.data_dir", "BRIDGE_NATS_DATA_DIR"},
		{"nats.listen", "BRIDGE_NATS_LISTEN"},
		{"slack.channels.checks", "BRIDGE_SLACK_CHANNELS_CHECKS"},
		{"vault.auth.method", "BRIDGE_VAULT_AUTH_METHOD"},
		{"vulnerabilities.fixed_only", "BRIDGE_VULNERABILITIES_FIXED_ONLY"},
		// Lists of structs and maps are file-only.
		{"n8n.routes[].url", ""},
		{"n8n.routes[].filter", ""},
		{"vulnerabilities.ignore[].expires", ""},
	}
	for _, tt := range tests {
		k, ok := byPath[tt.path]
		if !ok {
			t.Errorf("no key %s", tt.path)
			continue
		}
		if k.env != tt.env {
			t.Errorf("key %s: env = %q, want %q", tt.path, k.env, tt.env)
		}
	}
}

// No field is a list of strings yet; the env form is ready for one.
func TestSetFromStringList(t *testing.T) {
	var list []string
	v := reflect.ValueOf(&list).Elem()
	if reason := setFromString(v, "x", " a, b ,,c "); reason != "" {
		t.Fatalf("setFromString = %q", reason)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"26214400", 26214400, true},
		{"25MiB", 25 << 20, true},
		{"25 MiB", 25 << 20, true},
		{"1KiB", 1024, true},
		{"2GiB", 2 << 30, true},
		{"10MB", 10_000_000, true},
		{"1KB", 1000, true},
		{"1GB", 1_000_000_000, true},
		{"7B", 7, true},
		{"0", 0, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"25mib", 0, false},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"99999999999GiB", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

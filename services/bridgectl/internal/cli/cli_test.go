package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, lookup)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"frobnicate"}},
		{"config without file", []string{"config", "validate"}},
		{"deadletter without verb", []string{"deadletter"}},
		{"send without kind", []string{"send"}},
		{"send with two files", []string{"send", "check-down", "a.json", "b.json"}},
		{"gateway without url", []string{"send", "check-down", "--gateway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, nil, tt.args...)
			if code != 2 || !strings.Contains(stderr, "usage: bridgectl") {
				t.Errorf("bridgectl %q = %d %q, want 2 and the usage", tt.args, code, stderr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("listen: \":9000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("log:\n  level: loud\nnats:\n  colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, nil, "config", "validate", good); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("validate good = %d %q %q, want 0 ok", code, out, errOut)
	}
	code, _, errOut := run(t, nil, "config", "validate", bad)
	if code != 1 || !strings.Contains(errOut, "log.level") || !strings.Contains(errOut, "nats.colour") {
		t.Errorf("validate bad = %d %q, want 1 and both problems with their keys", code, errOut)
	}
}

func TestSendRejectsBeforeConnecting(t *testing.T) {
	dir := t.TempDir()
	down := filepath.Join(dir, "down.json")
	body := `{"status":"down","now":"2026-01-01T00:00:00+00:00","code":"3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4","name":"x"}`
	if err := os.WriteFile(down, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every case fails before any NATS is needed: nothing listens at the URL.
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"send", "teleport"}, `unknown kind "teleport"`},
		{[]string{"send", "release"}, "a FILE is needed"},
		{[]string{"send", "check-up", down}, "the body is a check.down"},
		{[]string{"send", "check-down", filepath.Join(dir, "missing.json")}, "no such file"},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, nil, append([]string{"--nats", "nats://127.0.0.1:1"}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("bridgectl %q = %d %q, want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestConfigValidateN8NRoutes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n8n.yaml")
	cfg := "n8n:\n  routes:\n    - subject: vulnerability.found\n      url: https://n8n.example/webhook/x\n      filter:\n        colour: red\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, nil, "config", "validate", path)
	if code != 1 || !strings.Contains(errOut, "n8n.routes[0].filter.colour") {
		t.Errorf("validate = %d %q, want 1 naming n8n.routes[0].filter.colour", code, errOut)
	}
}

package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stoa-platform/bridge/pkg/bus/bustest"
)

func TestSilenceAddRejectsBeforeConnecting(t *testing.T) {
	// Nothing listens at this URL: every case must fail before NATS.
	base := []string{"--nats", "nats://127.0.0.1:1", "silence", "add"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown field", []string{"--match", "colour=red", "--for", "1h", "--reason", "x"}, []string{"filter.colour: unknown field"}},
		{"bad status", []string{"--match", "status=sideways", "--for", "1h", "--reason", "x"}, []string{"filter.status", "sideways"}},
		{"no equals", []string{"--match", "check", "--for", "1h", "--reason", "x"}, []string{"want field=value"}},
		{"bad subject", []string{"--subject", "nope.*", "--match", "check=db", "--for", "1h", "--reason", "x"}, []string{"subject:"}},
		{"no match", []string{"--for", "1h", "--reason", "x"}, []string{"match: required"}},
		{"no duration", []string{"--match", "check=db", "--reason", "x"}, []string{"duration: must be positive"}},
		{"bad duration", []string{"--match", "check=db", "--for", "two hours", "--reason", "x"}, []string{"invalid value"}},
		{"no reason", []string{"--match", "check=db", "--for", "1h"}, []string{"reason: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, nil, append(base, tt.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

func TestSilenceLifecycle(t *testing.T) {
	srv := bustest.NewServer(t)
	nats := []string{"--nats", srv.ClientURL()}
	env := map[string]string{"USER": "ana"}
	ctl := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, env, append(nats, args...)...)
	}

	code, out, errOut := ctl("silence", "add", "--match", "check=db-backup", "--match", "tags=prod", "--subject", "check.*", "--for", "2h", "--reason", "planned maintenance")
	if code != 0 {
		t.Fatalf("add = %d %q %q", code, out, errOut)
	}
	m := regexp.MustCompile(`^silence ([0-9a-f]{8}) added: check\.\* check=db-backup tags=prod until `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add printed %q", out)
	}
	id := m[1]

	code, out, _ = ctl("silence", "list")
	if code != 0 || !strings.Contains(out, "ID") || !regexp.MustCompile(id+`\s+check\.\* check=db-backup tags=prod\s+active\s+\S+\s+planned maintenance`).MatchString(out) {
		t.Errorf("list = %d:\n%s", code, out)
	}

	if code, out, errOut = ctl("silence", "expire", id); code != 0 || !strings.Contains(out, "silence "+id+" expired") {
		t.Errorf("expire = %d %q %q", code, out, errOut)
	}
	code, out, _ = ctl("silence", "list", "--output", "json")
	var rows []silenceRow
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Fatalf("list json = %d %v:\n%s", code, err, out)
	}
	if len(rows) != 1 || rows[0].ID != id || rows[0].State != "expired" || rows[0].CreatedBy != "ana" || rows[0].Filter["tags"] != "prod" {
		t.Errorf("json rows = %+v; want the expired silence", rows)
	}

	if code, _, errOut = ctl("silence", "expire", "deadbeef"); code != 1 || !strings.Contains(errOut, `not found: "deadbeef"`) {
		t.Errorf("expire unknown = %d %q, want 1 and not found", code, errOut)
	}
	for _, args := range [][]string{{"silence"}, {"silence", "expire"}, {"silence", "mute"}} {
		if code, _, errOut := ctl(args...); code != 2 || !strings.Contains(errOut, "usage: bridgectl") {
			t.Errorf("%q = %d, want 2 and the usage", args, code)
		}
	}
}

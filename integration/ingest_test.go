package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInput: every rejection through the real binary answers its status
// with a one-line reason and publishes nothing.
func TestBadInput(t *testing.T) {
	b := startBridge(t, bridgeOpts{extraYAML: "gateway:\n  max_body_bytes: 4096\n"})
	down := readFile(t, "down.json")
	url := "http://" + b.addr + "/webhooks/healthchecks"
	tests := []struct {
		name   string
		header map[string]string
		body   []byte
		want   int
	}{
		{"no token", map[string]string{"Content-Type": "application/json"}, down, 401},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, down, 401},
		{"malformed JSON", map[string]string{"Authorization": "Bearer " + hcToken}, []byte(`{"status":`), 400},
		{"not a check", map[string]string{"Authorization": "Bearer " + hcToken}, []byte(`{"status":"paused"}`), 400},
		{"wrong content type", map[string]string{"Authorization": "Bearer " + hcToken, "Content-Type": "text/plain"}, down, 415},
		{"over the body limit", map[string]string{"Authorization": "Bearer " + hcToken}, bytes.Repeat([]byte(" "), 5000), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, answer := post(t, url, tt.header, tt.body)
			if code != tt.want {
				t.Fatalf("status = %d (%s), want %d", code, answer, tt.want)
			}
			var reason struct{ Error string }
			if err := json.Unmarshal([]byte(answer), &reason); err != nil || reason.Error == "" || strings.Count(strings.TrimSpace(answer), "\n") > 0 {
				t.Errorf("answer %q is not a one-line JSON reason", answer)
			}
		})
	}
	if got := metric(t, b.addr, `bridge_events_published_total{kind="check.down",source="healthchecks"}`); got != 0 {
		t.Errorf("%v events published by rejected requests, want 0", got)
	}
	code, out, _ := b.ctl("status", "--output", "json")
	if code != 0 || !strings.Contains(out, `"messages": 0`) {
		t.Errorf("bridgectl status after rejections:\n%s\nwant an empty events stream", out)
	}
	if n := b.slack.Calls("chat.postMessage"); n != 0 {
		t.Errorf("%d Slack posts after rejected requests", n)
	}
}

// TestDryRunWalkthrough follows the README: the bridge with no config file
// and no Slack token logs the alert it would post.
func TestDryRunWalkthrough(t *testing.T) {
	dir := t.TempDir()
	addr, natsAddr := freeAddr(t), freeAddr(t)
	p := start(t, "bridge", dir, []string{
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=demo-token",
		"BRIDGE_LISTEN=" + addr,
		"BRIDGE_NATS_LISTEN=" + natsAddr,
	})
	p.waitReady(addr)
	body := []byte(`{"status":"down","now":"2026-12-04T10:00:00+00:00","code":"3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4",
       "name":"nightly-backup","slug":"nightly-backup","exitstatus":1,
       "last_ping_body":"pg_dump: connection refused",
       "check":{"tags":"prod db","desc":"Nightly Postgres backup"}}`)
	code, answer := post(t, "http://"+addr+"/webhooks/healthchecks", map[string]string{
		"Authorization": "Bearer demo-token", "Content-Type": "application/json",
	}, body)
	if code != 202 {
		t.Fatalf("walkthrough curl = %d %s, want 202", code, answer)
	}
	waitFor(t, 30*time.Second, "the dry-run alert in the log", func() error {
		for _, l := range p.logLines("dry-run: would call Slack") {
			if strings.Contains(fmt.Sprint(l), "nightly-backup") {
				return nil
			}
		}
		return fmt.Errorf("not logged yet")
	})
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("no ./data directory for the embedded JetStream: %v", err)
	}
	if err := p.stop(); err != nil {
		t.Errorf("bridge did not stop cleanly on SIGTERM: %v", err)
	}
}

// TestBridgectl: config validate, send, status.
func TestBridgectl(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "listen: \":9000\"\n")
	code, out, errOut := runCtl(t, nil, "config", "validate", good)
	if code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("config validate good = %d %q %q, want 0 ok", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("nats:\n  replicas: 0\n  colour: blue\nlog:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCtl(t, nil, "config", "validate", bad)
	if code == 0 || !strings.Contains(errOut, "nats.colour") {
		t.Errorf("config validate bad = %d %q, want an error naming nats.colour", code, errOut)
	}

	b := startBridge(t, bridgeOpts{})
	code, out, errOut = b.ctl("send", "check-down")
	if code != 0 || !strings.Contains(out, "published check.down") {
		t.Fatalf("send check-down = %d %q %q", code, out, errOut)
	}
	b.waitMessages("C0INCIDENTS", 1)
	code, out, errOut = b.ctl("send", "check-up")
	if code != 0 {
		t.Fatalf("send check-up = %d %q %q", code, out, errOut)
	}
	waitFor(t, 30*time.Second, "the sample to resolve", func() error {
		m := b.slack.Messages("C0INCIDENTS")[0]
		if len(m.Replies) != 1 || m.Updates != 1 {
			return fmt.Errorf("replies %d updates %d", len(m.Replies), m.Updates)
		}
		return nil
	})
	code, _, errOut = b.ctl("send", "check-up", filepath.Join("testdata", "down.json"))
	if code == 0 || !strings.Contains(errOut, "check.down") {
		t.Errorf("send check-up with a down body = %d %q, want an error naming check.down", code, errOut)
	}
	code, out, errOut = b.ctl("status")
	if code != 0 || !strings.Contains(out, "BRIDGE_EVENTS") || !strings.Contains(out, "slack-notifier") {
		t.Errorf("status = %d\n%s%s\nwant the events stream and the slack-notifier consumer", code, out, errOut)
	}
}

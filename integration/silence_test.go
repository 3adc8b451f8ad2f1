package integration

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSilence: while a silence on one check is active, its down and up
// post nothing, another check still alerts; after bridgectl silence expire
// the silenced check alerts again.
func TestSilence(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	muted, loud := checkID(41), checkID(42)

	code, out, errOut := b.ctl("silence", "add", "--match", "check="+muted, "--for", "1h", "--reason", "x")
	if code != 0 {
		t.Fatalf("silence add = %d %q %q", code, out, errOut)
	}
	m := regexp.MustCompile(`silence ([0-9a-f]{8}) added`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("silence add printed %q", out)
	}
	id := m[1]
	// The bridge learns of it through its KV watch, and logs it.
	waitFor(t, 20*time.Second, "the bridge to see the silence", func() error {
		if len(b.proc.logLines("silence active")) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if got := metric(t, b.addr, "bridge_silences_active"); got != 1 {
		t.Errorf("bridge_silences_active = %v, want 1", got)
	}

	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	b.mustAccept(checkBody(muted, "down", t0))
	b.mustAccept(checkBody(muted, "up", t0.Add(5*time.Minute)))
	b.mustAccept(checkBody(loud, "down", t0))
	b.waitMessages("C0INCIDENTS", 1)
	b.settle()
	msgs := b.slack.Messages("C0INCIDENTS")
	if len(msgs) != 1 || !strings.HasPrefix(metadataKey(msgs[0]), "check:"+loud+":down:") {
		t.Fatalf("messages %s; want only the other check's alert", joinKeys(msgs))
	}
	if n := len(msgs[0].Replies); n != 0 {
		t.Errorf("%d replies, want 0", n)
	}
	if got := metric(t, b.addr, `bridge_actions_total{outcome="silenced",sink="slack-notifier"}`); got != 2 {
		t.Errorf("silenced actions = %v, want 2 (the down and the up)", got)
	}
	lines := b.proc.logLines("event silenced")
	if len(lines) != 2 || lines[0]["silence_id"] != id || lines[0]["reason"] != "x" {
		t.Errorf("event silenced log lines = %v; want 2 naming silence %s", lines, id)
	}

	code, out, errOut = b.ctl("silence", "list")
	if code != 0 || !regexp.MustCompile(id+`\s+> check=`+muted+`\s+active`).MatchString(out) {
		t.Errorf("silence list = %d %q %q", code, out, errOut)
	}
	if code, out, errOut = b.ctl("silence", "expire", id); code != 0 {
		t.Fatalf("silence expire = %d %q %q", code, out, errOut)
	}
	waitFor(t, 20*time.Second, "the bridge to see the expiry", func() error {
		if len(b.proc.logLines("silence expired")) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if got := metric(t, b.addr, "bridge_silences_active"); got != 0 {
		t.Errorf("bridge_silences_active after expire = %v, want 0", got)
	}
	if _, out, _ = b.ctl("silence", "list"); !regexp.MustCompile(id + `\s+.*expired`).MatchString(out) {
		t.Errorf("silence list after expire:\n%s", out)
	}

	// A new outage of the once silenced check alerts.
	b.mustAccept(checkBody(muted, "down", t0.Add(10*time.Minute)))
	msgs = b.waitMessages("C0INCIDENTS", 2)
	if !strings.HasPrefix(metadataKey(msgs[1]), "check:"+muted+":down:") {
		t.Errorf("second alert key = %q, want the once silenced check's down", metadataKey(msgs[1]))
	}
}

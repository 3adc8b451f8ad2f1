package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func signGitHub(body []byte) string {
	mac := hmac.New(sha256.New, []byte(githubSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// streamMessages returns how many events the events stream holds.
func (b *bridge) streamMessages() uint64 {
	b.t.Helper()
	code, out, errOut := b.ctl("status", "--output", "json")
	if code != 0 {
		b.t.Fatalf("bridgectl status: %s", errOut)
	}
	var st struct {
		Streams []struct {
			Name     string `json:"name"`
			Messages uint64 `json:"messages"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		b.t.Fatal(err)
	}
	for _, s := range st.Streams {
		if s.Name == "BRIDGE_EVENTS" {
			return s.Messages
		}
	}
	b.t.Fatalf("no BRIDGE_EVENTS stream in %s", out)
	return 0
}

// TestIngestFixtures posts every GitHub, Trivy and Trivy Operator fixture
// to the real bridge binary, as its sender would, and checks the answer and
// what reached the stream.
func TestIngestFixtures(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	base := "http://" + b.addr
	tests := []struct {
		file      string
		want      int
		duplicate bool // the stream already has this event's key
	}{
		{"github/ping.json", 200, false},
		{"github/ping.2.json", 200, false},
		{"github/ping.app.json", 200, false},
		{"github/release.created.json", 200, false},
		{"github/release.created.2.json", 200, false},
		{"github/release.deleted.json", 200, false},
		{"github/release.edited.json", 200, false},
		{"github/release.prereleased.json", 200, false},
		{"github/release.published.json", 202, false},
		// The same release (Codertocat/Hello-World 0.0.1) in other deliveries.
		{"github/release.published.2.json", 202, true},
		{"github/release.released.json", 202, true},
		{"trivy/alpine-39.json", 202, false},
		{"trivy/centos-7.json", 202, false},
		{"trivy/debian-buster.json", 202, false},
		{"trivy/gomod.json", 202, false},
		{"trivy/npm.json", 202, false},
		{"trivy/ubuntu-1804.json", 202, false},
		{"trivy-operator/vulnerabilityreport.single.json", 202, false},
		{"trivy-operator/vulnerabilityreport.extended.json", 202, false},
		{"trivy-operator/vulnerabilityreport.empty.json", 202, false},
		{"trivy-operator/webhook-envelope.delete.json", 200, false},
	}
	stored := uint64(0)
	for i, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readFile(t, tt.file)
			var code int
			var answer string
			if strings.HasPrefix(tt.file, "github/") {
				event := strings.SplitN(filepath.Base(tt.file), ".", 2)[0]
				code, answer = post(t, base+"/webhooks/github", map[string]string{
					"Content-Type":        "application/json",
					"X-GitHub-Event":      event,
					"X-GitHub-Delivery":   fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
					"X-Hub-Signature-256": signGitHub(body),
				}, body)
			} else {
				code, answer = post(t, base+"/webhooks/trivy", map[string]string{
					"Content-Type":  "application/json",
					"Authorization": "Bearer " + trivyToken,
				}, body)
			}
			if code != tt.want {
				t.Fatalf("status = %d %s, want %d", code, answer, tt.want)
			}
			if got := strings.Contains(answer, `"duplicate":true`); got != tt.duplicate {
				t.Errorf("answer %s: duplicate = %v, want %v", answer, got, tt.duplicate)
			}
			if code == 202 && !tt.duplicate {
				stored++
			}
			if code == 200 && !strings.Contains(answer, "ignored") {
				t.Errorf("answer %s, want the reason it was ignored", answer)
			}
		})
	}
	if got := b.streamMessages(); got != stored {
		t.Errorf("BRIDGE_EVENTS holds %d events, want %d", got, stored)
	}

	// A form-encoded delivery (GitHub's other content type) of a new
	// release is accepted too; a body altered after signing is not.
	form := []byte(strings.Replace(string(readFile(t, "github/release.published.json")), `"tag_name": "0.0.1"`, `"tag_name": "0.0.2"`, 1))
	formBody := []byte("payload=" + url.QueryEscape(string(form)))
	code, answer := post(t, base+"/webhooks/github", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "release",
		"X-GitHub-Delivery": "form-1", "X-Hub-Signature-256": signGitHub(formBody),
	}, formBody)
	if code != 202 {
		t.Errorf("form-encoded release = %d %s, want 202", code, answer)
	}
	altered := append([]byte{}, form...)
	altered[len(altered)-3] = ' '
	code, _ = post(t, base+"/webhooks/github", map[string]string{
		"Content-Type": "application/json", "X-GitHub-Event": "release",
		"X-GitHub-Delivery": "altered-1", "X-Hub-Signature-256": signGitHub(form),
	}, altered)
	if code != 401 {
		t.Errorf("body altered after signing = %d, want 401", code)
	}
	if got := b.streamMessages(); got != stored+1 {
		t.Errorf("BRIDGE_EVENTS holds %d events, want %d", got, stored+1)
	}
	for _, series := range []string{
		`bridge_events_published_total{kind="release.published",source="github"}`,
		`bridge_events_ignored_total{reason="ping",source="github"}`,
		`bridge_events_rejected_total{reason="unauthorized",source="github"}`,
		`bridge_events_published_total{kind="vulnerability.found",source="trivy"}`,
	} {
		if metric(t, b.addr, series) == 0 {
			t.Errorf("%s = 0, want it counted", series)
		}
	}
	for _, secret := range []string{githubSecret, trivyToken} {
		if strings.Contains(b.proc.log.String(), secret) {
			t.Error("a secret reached the bridge's log")
		}
	}
}

// TestBridgectlSendSources: bridgectl sends a recorded release through the
// gateway (signed) and a Trivy report straight onto the stream; both are the
// same events as the webhooks make, so the stream dedupes them.
func TestBridgectlSendSources(t *testing.T) {
	b := startBridge(t, bridgeOpts{})
	release := filepath.Join("testdata", "github", "release.published.json")
	env := []string{"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET=" + githubSecret, "BRIDGE_SECRET_TRIVY_TOKEN=" + trivyToken}
	code, out, errOut := runCtl(t, env, "--nats", b.natsURL, "send", "release", release, "--gateway", "http://"+b.addr)
	if code != 0 || !strings.Contains(out, "202") {
		t.Fatalf("send release --gateway = %d %q %q, want 202", code, out, errOut)
	}
	code, out, errOut = runCtl(t, env, "--nats", b.natsURL, "send", "release", release)
	if code != 0 || !strings.Contains(out, "duplicate") {
		t.Errorf("send release (direct) = %d %q %q, want a duplicate of the gateway's event", code, out, errOut)
	}
	report := filepath.Join("testdata", "trivy", "alpine-39.json")
	code, out, errOut = runCtl(t, env, "--nats", b.natsURL, "send", "vulnerability", report)
	if code != 0 || !strings.Contains(out, "published vulnerability.found") {
		t.Fatalf("send vulnerability = %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCtl(t, env, "--nats", b.natsURL, "send", "vulnerability", "--gateway", "http://"+b.addr, report)
	if code != 0 || !strings.Contains(out, `"duplicate":true`) {
		t.Errorf("send vulnerability --gateway = %d %q %q, want 202 duplicate", code, out, errOut)
	}
	if got := b.streamMessages(); got != 2 {
		t.Errorf("BRIDGE_EVENTS holds %d events, want 2", got)
	}
	code, _, errOut = runCtl(t, env, "--nats", b.natsURL, "send", "release", filepath.Join("testdata", "github", "ping.json"))
	if code == 0 || !strings.Contains(errOut, "send release: github:") {
		t.Errorf("send release of a ping body = %d %q, want the parser's reason", code, errOut)
	}
}

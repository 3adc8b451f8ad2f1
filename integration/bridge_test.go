package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

const (
	hcToken      = "hc-integration-token"
	trivyToken   = "trivy-integration-token"
	githubSecret = "github-integration-secret"
)

// bridge is a running all-in-one bridge with its Slack fake.
type bridge struct {
	t       testing.TB
	dir     string
	addr    string
	natsURL string
	slack   *slacktest.Server
	proc    *proc
	env     []string
	cfg     string
}

type bridgeOpts struct {
	checksChannel string // default "#incidents"
	extraYAML     string
	noSlackToken  bool
	slack         *slacktest.Server // a Slack fake made before the start; default a new one
	env           []string          // more environment, e.g. secrets
}

// startBridge starts the real bridge binary on free ports with a fresh data
// dir, pointed at a Slack fake with channel C0INCIDENTS (#incidents).
func startBridge(t testing.TB, o bridgeOpts) *bridge {
	t.Helper()
	fake := o.slack
	if fake == nil {
		fake = slacktest.New(t)
		fake.AddChannel("C0INCIDENTS", "incidents")
	}
	if o.checksChannel == "" {
		o.checksChannel = "#incidents"
	}
	dir := t.TempDir()
	b := &bridge{t: t, dir: dir, addr: freeAddr(t), slack: fake}
	natsAddr := freeAddr(t)
	b.natsURL = "nats://" + natsAddr
	b.cfg = writeConfig(t, dir, fmt.Sprintf(`
listen: %q
nats:
  listen: %q
  data_dir: %q
consumer:
  concurrency: 4
  ack_wait: 5s
  backoff_min: 100ms
  backoff_max: 1s
  max_deliver: 50
slack:
  api_url: %q
  timeout: 5s
  channels:
    checks: %q
log:
  level: debug
%s`, b.addr, natsAddr, filepath.Join(dir, "data"), fake.URL(), o.checksChannel, o.extraYAML))
	b.env = []string{
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=" + hcToken,
		"BRIDGE_SECRET_TRIVY_TOKEN=" + trivyToken,
		"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET=" + githubSecret,
	}
	b.env = append(b.env, o.env...)
	if !o.noSlackToken {
		b.env = append(b.env, "BRIDGE_SECRET_SLACK_BOT_TOKEN="+fake.Token())
	}
	b.restart()
	return b
}

// restart starts the bridge process (again) on the same data dir.
func (b *bridge) restart() {
	b.t.Helper()
	b.proc = start(b.t, "bridge", b.dir, b.env, "--config", b.cfg)
	b.proc.waitReady(b.addr)
}

// send posts a Healthchecks body and returns the status and answer.
func (b *bridge) send(body []byte) (int, string) {
	b.t.Helper()
	return post(b.t, "http://"+b.addr+"/webhooks/healthchecks", map[string]string{
		"Authorization": "Bearer " + hcToken,
		"Content-Type":  "application/json",
	}, body)
}

// mustAccept posts a body and fails unless it is answered 202.
func (b *bridge) mustAccept(body []byte) {
	b.t.Helper()
	if code, answer := b.send(body); code != 202 {
		b.t.Fatalf("POST /webhooks/healthchecks = %d %s, want 202", code, answer)
	}
}

// ctl runs bridgectl against this bridge's NATS.
func (b *bridge) ctl(args ...string) (int, string, string) {
	b.t.Helper()
	return runCtl(b.t, nil, append([]string{"--nats", b.natsURL}, args...)...)
}

// checkBody renders a Healthchecks body for check id with status at a time.
func checkBody(id, status string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"source": "healthchecks", "status": status, "now": at.UTC().Format("2006-01-02T15:04:05+00:00"),
		"code": id, "slug": "check-" + id[:8], "name": "check " + id[:8], "exitstatus": 1,
		"last_ping_body": "boom", "check": map[string]any{"tags": "prod integration", "desc": ""},
	})
	return b
}

// checkID makes a deterministic UUID for test check n.
func checkID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// waitMessages waits until the channel holds exactly n top-level messages
// and returns them.
func (b *bridge) waitMessages(channel string, n int) []slacktest.Message {
	b.t.Helper()
	var msgs []slacktest.Message
	waitFor(b.t, 60*time.Second, fmt.Sprintf("%d messages in %s", n, channel), func() error {
		msgs = b.slack.Messages(channel)
		if len(msgs) != n {
			return fmt.Errorf("have %d", len(msgs))
		}
		return nil
	})
	return msgs
}

// settle waits until the bridge's consumers have nothing left to do.
func (b *bridge) settle() {
	b.t.Helper()
	settle(b.t, b.natsURL)
}

func metadataKey(m slacktest.Message) string {
	if m.Metadata == nil {
		return ""
	}
	k, _ := m.Metadata.EventPayload["idempotency_key"].(string)
	return k
}

func joinKeys(msgs []slacktest.Message) string {
	var keys []string
	for _, m := range msgs {
		keys = append(keys, metadataKey(m))
	}
	return strings.Join(keys, ", ")
}

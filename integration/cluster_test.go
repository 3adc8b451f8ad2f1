package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// TestTwoNotifiers: a webhook-gateway and two slack-notifier processes on
// one external NATS server; 200 events, each sent twice, make 200 alerts.
func TestTwoNotifiers(t *testing.T) {
	ns := bustest.NewServer(t)
	fake := slacktest.New(t)
	fake.AddChannel("C0INCIDENTS", "incidents")
	env := []string{
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=" + hcToken,
		"BRIDGE_SECRET_SLACK_BOT_TOKEN=" + fake.Token(),
	}
	serviceConfig := func(name, listen string) string {
		dir := t.TempDir()
		return writeConfig(t, dir, fmt.Sprintf(`
listen: %q
nats:
  url: %q
consumer:
  concurrency: 8
  ack_wait: 5s
  backoff_min: 100ms
  backoff_max: 1s
slack:
  api_url: %q
  channels:
    checks: "#incidents"
`, listen, ns.ClientURL(), fake.URL()))
	}
	gwAddr := freeAddr(t)
	gw := start(t, "webhook-gateway", t.TempDir(), env, "--config", serviceConfig("webhook-gateway", gwAddr))
	gw.waitReady(gwAddr)
	var notifierAddrs []string
	for i := range 2 {
		addr := freeAddr(t)
		p := start(t, "slack-notifier", t.TempDir(), env, "--config", serviceConfig(fmt.Sprintf("notifier-%d", i), addr))
		p.waitReady(addr)
		notifierAddrs = append(notifierAddrs, addr)
	}

	const n = 200
	t0 := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range 2 * n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body := checkBody(checkID(5000+i%n), "down", t0)
			code, answer := post(t, "http://"+gwAddr+"/webhooks/healthchecks", map[string]string{"Authorization": "Bearer " + hcToken}, body)
			if code != 202 {
				t.Errorf("event %d: %d %s", i, code, answer)
			}
		})
	}
	wg.Wait()
	waitFor(t, 90*time.Second, fmt.Sprintf("%d alerts", n), func() error {
		if got := len(fake.Messages("C0INCIDENTS")); got < n {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
	settle(t, ns.ClientURL())
	// Both replicas must have posted, or the test proves nothing.
	total := 0.0
	for i, addr := range notifierAddrs {
		posted := metric(t, addr, `bridge_actions_total{outcome="posted",sink="slack-notifier"}`)
		if posted == 0 {
			t.Errorf("notifier %d posted nothing: the load was not shared", i)
		}
		total += posted
	}
	if total != n {
		t.Errorf("the notifiers report %v alerts posted, want %d", total, n)
	}
	msgs := fake.Messages("C0INCIDENTS")
	seen := make(map[string]int)
	for _, m := range msgs {
		seen[metadataKey(m)]++
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s posted %d times", k, c)
		}
	}
	if len(msgs) != n {
		t.Errorf("%d alerts, want %d", len(msgs), n)
	}
}

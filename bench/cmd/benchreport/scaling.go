package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// replicaCounts are the slack-notifier replica counts measured.
var replicaCounts = []int{1, 2, 4}

// scalingResult holds events/s delivered per replica count, one per round.
type scalingResult struct {
	rate map[int][]float64
}

// scaling measures, in cluster mode (webhook-gateway and slack-notifier
// processes on a NATS server started here), how fast 1, 2 and 4 notifier
// replicas drain a backlog of Healthchecks events into Slack. The backlog
// is ingested before the notifiers start; the rate counts the messages
// posted after every replica is ready, over the time to the last one.
func (k *kit) scaling(ctx context.Context) (*scalingResult, error) {
	res := &scalingResult{rate: make(map[int][]float64)}
	for round := 1; round <= k.o.rounds; round++ {
		for _, n := range replicaCounts {
			rate, err := k.scalingRun(ctx, n)
			if err != nil {
				return nil, err
			}
			res.rate[n] = append(res.rate[n], rate)
			k.log.Info("scaling run", "round", round, "replicas", n, "events_per_s", rate)
		}
	}
	return res, nil
}

func (k *kit) scalingRun(ctx context.Context, replicas int) (float64, error) {
	dir, err := os.MkdirTemp(k.tmp, "cluster-")
	if err != nil {
		return 0, fmt.Errorf("benchreport: %w", err)
	}
	ns, err := startNATS(filepath.Join(dir, "nats"))
	if err != nil {
		return 0, err
	}
	defer ns.Shutdown()
	fake := slacktest.New(nil)
	defer fake.Close()
	fake.AddChannel("C0INCIDENTS", "incidents")
	env := []string{
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=" + hcToken,
		"BRIDGE_SECRET_SLACK_BOT_TOKEN=" + fake.Token(),
	}
	service := func(name, bin string) (*proc, string, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		d, err := os.MkdirTemp(dir, name+"-")
		if err != nil {
			return nil, "", fmt.Errorf("benchreport: %w", err)
		}
		cfg := fmt.Sprintf("listen: %q\nnats:\n  url: %q\nslack:\n  api_url: %q\n  channels:\n    checks: \"#incidents\"\n",
			addr, ns.ClientURL(), fake.URL())
		cfgPath := filepath.Join(d, "bridge.yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return nil, "", fmt.Errorf("benchreport: %w", err)
		}
		p, err := startProc(name, filepath.Join(k.bin, bin), d, env, "--config", cfgPath)
		return p, addr, err
	}

	gw, gwAddr, err := service("webhook-gateway", "webhook-gateway")
	if err != nil {
		return 0, err
	}
	defer gw.stop()
	if err := gw.waitReady(ctx, gwAddr); err != nil {
		return 0, err
	}
	// The backlog, sent as fast as the gateway takes it.
	backlog := openLoop{url: "http://" + gwAddr + "/webhooks/healthchecks", rate: 5000, duration: time.Duration(k.o.events) * time.Second / 5000, inFlight: 16}
	sent, err := backlog.run(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range sent {
		if !s.accepted {
			return 0, fmt.Errorf("benchreport: the gateway refused event %s of the backlog", s.code)
		}
	}

	procs := make([]*proc, replicas)
	addrs := make([]string, replicas)
	for i := range replicas {
		if procs[i], addrs[i], err = service(fmt.Sprintf("slack-notifier-%d", i), "slack-notifier"); err != nil {
			return 0, err
		}
		defer procs[i].stop()
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() { errs[i] = procs[i].waitReady(ctx, addrs[i]) })
	}
	wg.Wait()
	ready := time.Now()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	var msgs []slacktest.Message
	err = poll(ctx, 5*time.Minute, fmt.Sprintf("%d Slack messages", len(sent)), func() error {
		msgs = fake.Messages("C0INCIDENTS")
		if len(msgs) < len(sent) {
			return fmt.Errorf("%d so far", len(msgs))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Messages posted while the replicas were still starting do not count.
	lastAt, after := ready, 0
	for _, m := range msgs {
		if at := slackTime(m.TS); at.After(ready) {
			after++
			if at.After(lastAt) {
				lastAt = at
			}
		}
	}
	if after < len(sent)/2 {
		return 0, fmt.Errorf("benchreport: %d of %d events were delivered before all %d replicas were ready: raise -events", len(sent)-after, len(sent), replicas)
	}
	return float64(after) / lastAt.Sub(ready).Seconds(), nil
}

// startNATS starts a NATS server with JetStream file storage in dir on a
// free loopback port.
func startNATS(dir string) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("benchreport: nats server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("benchreport: nats server not ready")
	}
	return ns, nil
}

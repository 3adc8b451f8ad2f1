package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// loadResult is one line of the benchkit's loadgen.
type loadResult struct {
	Mode       string             `json:"mode"`
	Requests   int                `json:"requests"`
	OK         int                `json:"ok"`
	Errors     map[string]int     `json:"errors"`
	Throughput float64            `json:"throughput_rps"`
	LatencyMS  map[string]float64 `json:"latency_ms"`
	Exhausted  bool               `json:"exhausted"`
}

// loadgen runs the benchkit's load generator against url with extra flags.
// A run with errors is no throughput figure: it is an error.
func (k *kit) loadgen(ctx context.Context, url string, args ...string) (loadResult, error) {
	args = append([]string{"-url", url, "-secret", secret, "-d", k.o.duration.String(), "-warmup", "2s"}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(k.refBin, "loadgen"), args...)
	// loadgen reads its body template from ../fixtures, relative to the benchkit.
	cmd.Dir = k.o.benchkit
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("benchreport: loadgen %v: %w", args, err)
	}
	var r loadResult
	if err := json.Unmarshal(out, &r); err != nil {
		return loadResult{}, fmt.Errorf("benchreport: loadgen answer %q: %w", out, err)
	}
	if len(r.Errors) > 0 {
		return r, fmt.Errorf("benchreport: loadgen against %s: errors %v (%s)", url, r.Errors, out)
	}
	return r, nil
}

var listening = regexp.MustCompile(`(?m)^listening (http://\S+)`)

// startRef starts the benchkit's reference server (embedded NATS) and
// returns its base URL.
func (k *kit) startRef(ctx context.Context) (*proc, string, error) {
	dir, err := os.MkdirTemp(k.tmp, "ref-")
	if err != nil {
		return nil, "", fmt.Errorf("benchreport: %w", err)
	}
	p, err := startProc("refserver", filepath.Join(k.refBin, "refserver"), dir, nil, "-addr", "127.0.0.1:0", "-secret", secret)
	if err != nil {
		return nil, "", err
	}
	var url string
	err = poll(ctx, 30*time.Second, "refserver listening", func() error {
		if p.exited() {
			return errStop{fmt.Errorf("refserver exited: %w\n%s", p.err, p.tail(20))}
		}
		b, _ := os.ReadFile(p.log)
		m := listening.FindSubmatch(b)
		if m == nil {
			return fmt.Errorf("not yet")
		}
		url = string(m[1])
		return nil
	})
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, url, nil
}

// bridgeOpts shape an all-in-one bridge.
type bridgeOpts struct {
	syncAlways bool
	slackURL   string // "" runs without Slack
	slackToken string
}

// startBridge starts the all-in-one bridge with embedded NATS in a fresh
// folder and returns its listen address.
func (k *kit) startBridge(ctx context.Context, name string, o bridgeOpts) (*proc, string, error) {
	dir, err := os.MkdirTemp(k.tmp, name+"-")
	if err != nil {
		return nil, "", fmt.Errorf("benchreport: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	// NATS on loopback TCP, as with the default config (and the reference).
	natsAddr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cfg := fmt.Sprintf("listen: %q\nnats:\n  listen: %q\n  data_dir: %q\n  sync_always: %t\n",
		addr, natsAddr, filepath.Join(dir, "data"), o.syncAlways)
	env := []string{
		"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET=" + secret,
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=" + hcToken,
	}
	if o.slackURL != "" {
		cfg += fmt.Sprintf("slack:\n  api_url: %q\n  channels:\n    checks: \"#incidents\"\n", o.slackURL)
		env = append(env, "BRIDGE_SECRET_SLACK_BOT_TOKEN="+o.slackToken)
	}
	cfgPath := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, "", fmt.Errorf("benchreport: %w", err)
	}
	p, err := startProc(name, filepath.Join(k.bin, "bridge"), dir, env, "--config", cfgPath)
	if err != nil {
		return nil, "", err
	}
	if err := p.waitReady(ctx, addr); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// ingestResult holds the closed-loop ingest figures, one per round.
type ingestResult struct {
	ref, bridge, gateway, bridgeSync []float64 // req/s
	ratio, gatewayRatio, syncRatio   []float64 // bridge/ref, gateway/ref, bridge fsync/bridge
}

// ingest runs the closed-loop GitHub webhook load against the reference,
// the bridge and the bridge with nats.sync_always, in turn, every round.
func (k *kit) ingest(ctx context.Context) (*ingestResult, error) {
	ref, refURL, err := k.startRef(ctx)
	if err != nil {
		return nil, err
	}
	defer ref.stop()
	br, brAddr, err := k.startBridge(ctx, "bridge", bridgeOpts{})
	if err != nil {
		return nil, err
	}
	defer br.stop()
	bs, bsAddr, err := k.startBridge(ctx, "bridge-sync", bridgeOpts{syncAlways: true})
	if err != nil {
		return nil, err
	}
	defer bs.stop()

	stopGateway, gwAddr, err := k.startGateway(ctx)
	if err != nil {
		return nil, err
	}
	defer stopGateway()

	var res ingestResult
	c := strconv.Itoa(k.o.conns)
	// Enough pre-signed requests for ~15k req/s; loadgen says when they ran out.
	n := strconv.Itoa(int((k.o.duration + 2*time.Second).Seconds() * 15000))
	for round := 1; round <= k.o.rounds; round++ {
		var rps [4]float64
		for i, url := range []string{refURL + "/webhooks/github", "http://" + brAddr + "/webhooks/github",
			"http://" + gwAddr + "/webhooks/github", "http://" + bsAddr + "/webhooks/github"} {
			r, err := k.loadgen(ctx, url, "-c", c, "-n", n)
			if err != nil {
				return nil, err
			}
			rps[i] = r.Throughput
		}
		res.ref = append(res.ref, rps[0])
		res.bridge = append(res.bridge, rps[1])
		res.gateway = append(res.gateway, rps[2])
		res.bridgeSync = append(res.bridgeSync, rps[3])
		res.ratio = append(res.ratio, rps[1]/rps[0])
		res.gatewayRatio = append(res.gatewayRatio, rps[2]/rps[0])
		res.syncRatio = append(res.syncRatio, rps[3]/rps[1])
		k.log.Info("ingest round", "round", round, "ref", rps[0], "bridge", rps[1], "gateway", rps[2], "bridge_sync_always", rps[3])
	}
	return &res, nil
}

// startGateway starts the split webhook-gateway alone, on a NATS server
// run in this process (idle while loadgen runs, as the reference's embedded
// one is its own), and returns its listen address and how to stop both.
func (k *kit) startGateway(ctx context.Context) (func(), string, error) {
	dir, err := os.MkdirTemp(k.tmp, "gateway-")
	if err != nil {
		return nil, "", fmt.Errorf("benchreport: %w", err)
	}
	ns, err := startNATS(filepath.Join(dir, "nats"))
	if err != nil {
		return nil, "", err
	}
	addr, err := freeAddr()
	if err != nil {
		ns.Shutdown()
		return nil, "", err
	}
	cfg := fmt.Sprintf("listen: %q\nnats:\n  url: %q\n", addr, ns.ClientURL())
	cfgPath := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		ns.Shutdown()
		return nil, "", fmt.Errorf("benchreport: %w", err)
	}
	p, err := startProc("webhook-gateway", filepath.Join(k.bin, "webhook-gateway"), dir,
		[]string{"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET=" + secret}, "--config", cfgPath)
	if err != nil {
		ns.Shutdown()
		return nil, "", err
	}
	stop := func() {
		p.stop()
		ns.Shutdown()
	}
	if err := p.waitReady(ctx, addr); err != nil {
		stop()
		return nil, "", err
	}
	return stop, addr, nil
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// n8nResult is the same job, a Healthchecks webhook turned into one Slack
// message, done by a real n8n and by the all-in-one bridge: events/s from
// the first webhook sent to the last message posted, one per round.
type n8nResult struct {
	skipped string // why it did not run, or ""
	version string
	n8n     []float64
	bridge  []float64
	ratio   []float64 // bridge/n8n
}

// n8nBinEnv names the n8n 1.78.1 binary, as for the integration tests
// (.ci/run installs it and sets it).
const n8nBinEnv = "N8N_BIN"

func (k *kit) n8n(ctx context.Context) (*n8nResult, error) {
	binPath := os.Getenv(n8nBinEnv)
	if binPath == "" {
		return &n8nResult{skipped: n8nBinEnv + " is not set (.ci/run installs n8n 1.78.1 and sets it)"}, nil
	}
	if _, err := os.Stat(binPath); err != nil {
		return nil, fmt.Errorf("benchreport: %s: %w", n8nBinEnv, err)
	}
	res := &n8nResult{}
	for round := 1; round <= k.o.rounds; round++ {
		n, version, err := k.n8nRound(ctx, binPath)
		if err != nil {
			return nil, err
		}
		res.version = version
		b, err := k.bridgeJobRound(ctx)
		if err != nil {
			return nil, err
		}
		res.n8n = append(res.n8n, n)
		res.bridge = append(res.bridge, b)
		res.ratio = append(res.ratio, b/n)
		k.log.Info("n8n round", "round", round, "n8n_events_per_s", n, "bridge_events_per_s", b)
	}
	return res, nil
}

// bridgeJobRound measures the all-in-one bridge on the job.
func (k *kit) bridgeJobRound(ctx context.Context) (float64, error) {
	fake := slacktest.New(nil)
	defer fake.Close()
	fake.AddChannel("C0INCIDENTS", "incidents")
	br, addr, err := k.startBridge(ctx, "bridge-job", bridgeOpts{slackURL: fake.URL(), slackToken: fake.Token()})
	if err != nil {
		return 0, err
	}
	defer br.stop()
	return k.jobRate(ctx, fake, "http://"+addr+"/webhooks/healthchecks", map[string]string{"Authorization": "Bearer " + hcToken})
}

// n8nRound starts a fresh n8n with one active workflow, Webhook node →
// HTTP Request node posting to the Slack fake, and measures it.
func (k *kit) n8nRound(ctx context.Context, binPath string) (float64, string, error) {
	fake := slacktest.New(nil)
	defer fake.Close()
	fake.AddChannel("C0INCIDENTS", "incidents")
	dir, err := os.MkdirTemp(k.tmp, "n8n-")
	if err != nil {
		return 0, "", fmt.Errorf("benchreport: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	env := []string{
		"HOME=" + dir,
		"N8N_USER_FOLDER=" + dir,
		"N8N_PORT=" + port,
		"N8N_LISTEN_ADDRESS=127.0.0.1",
		"N8N_HOST=127.0.0.1",
		"N8N_ENCRYPTION_KEY=" + hex.EncodeToString(key),
		"DB_TYPE=sqlite",
		"N8N_DIAGNOSTICS_ENABLED=false",
		"N8N_PERSONALIZATION_ENABLED=false",
		"N8N_VERSION_NOTIFICATIONS_ENABLED=false",
		"N8N_TEMPLATES_ENABLED=false",
		"N8N_RUNNERS_ENABLED=false",
		"N8N_SECURE_COOKIE=false",
		"N8N_HIRING_BANNER_ENABLED=false",
		"N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false",
		"N8N_GRACEFUL_SHUTDOWN_TIMEOUT=5",
	}
	wfDir := filepath.Join(dir, "workflows")
	if err := os.MkdirAll(wfDir, 0o700); err != nil {
		return 0, "", fmt.Errorf("benchreport: %w", err)
	}
	wf, err := json.MarshalIndent(n8nWorkflow(fake.URL()+"chat.postMessage", fake.Token()), "", "  ")
	if err != nil {
		return 0, "", fmt.Errorf("benchreport: %w", err)
	}
	if err := os.WriteFile(filepath.Join(wfDir, "job.json"), wf, 0o600); err != nil {
		return 0, "", fmt.Errorf("benchreport: %w", err)
	}
	for _, args := range [][]string{
		{"import:workflow", "--separate", "--input=" + wfDir},
		{"update:workflow", "--id=" + n8nWorkflowID, "--active=true"},
	} {
		if err := n8nCLI(ctx, binPath, dir, env, args...); err != nil {
			return 0, "", err
		}
	}
	version, err := n8nOutput(ctx, binPath, dir, env, "--version")
	if err != nil {
		return 0, "", err
	}
	p, err := startProc("n8n", binPath, dir, env, "start")
	if err != nil {
		return 0, "", err
	}
	defer p.stop()
	url := "http://" + addr + "/webhook/" + n8nWebhookPath
	// The webhook of an active workflow is registered after /healthz
	// answers, and a webhook answered in the first moments after that may
	// run no workflow: probe until one has made a Slack message, then
	// until the probes have all landed.
	var lastProbe time.Time
	err = poll(ctx, 3*time.Minute, "n8n's first Slack message", func() error {
		if p.exited() {
			return errStop{fmt.Errorf("n8n exited early: %w\n%s", p.err, p.tail(30))}
		}
		if len(fake.Messages("C0INCIDENTS")) > 0 {
			return nil
		}
		if time.Since(lastProbe) < 500*time.Millisecond {
			return fmt.Errorf("no message yet")
		}
		lastProbe = time.Now()
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"code":"probe","status":"down"}`))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return fmt.Errorf("probe answered %d, no message yet", resp.StatusCode)
	})
	if err != nil {
		return 0, "", fmt.Errorf("%w\nn8n log:\n%s", err, p.tail(30))
	}
	seen, stableSince := -1, time.Now()
	err = poll(ctx, time.Minute, "the probes' Slack messages", func() error {
		if n := len(fake.Messages("C0INCIDENTS")); n != seen {
			seen, stableSince = n, time.Now()
		}
		if time.Since(stableSince) < 2*time.Second {
			return fmt.Errorf("%d messages, still changing", seen)
		}
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	rate, err := k.jobRate(ctx, fake, url, nil)
	return rate, version, err
}

const (
	n8nWorkflowID  = "benchJobWorkflw1"
	n8nWebhookPath = "bench-check-down"
)

// n8nWorkflow is the job in n8n 1.78.1's export format: a Webhook node
// answering at once, then an HTTP Request node posting the alert.
func n8nWorkflow(postURL, token string) map[string]any {
	return map[string]any{
		"id":     n8nWorkflowID,
		"name":   "bench: check down to Slack",
		"active": false,
		"nodes": []map[string]any{
			{
				"id": "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a41", "name": "Webhook",
				"type": "n8n-nodes-base.webhook", "typeVersion": 2, "position": []int{0, 0},
				"webhookId": "7a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
				"parameters": map[string]any{
					"httpMethod": "POST", "path": n8nWebhookPath, "responseMode": "onReceived", "options": map[string]any{},
				},
			},
			{
				"id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a81", "name": "Slack",
				"type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "position": []int{220, 0},
				"parameters": map[string]any{
					"method":      "POST",
					"url":         postURL,
					"sendHeaders": true,
					"headerParameters": map[string]any{"parameters": []map[string]any{
						{"name": "Authorization", "value": "Bearer " + token},
					}},
					"sendBody":    true,
					"contentType": "json",
					"bodyParameters": map[string]any{"parameters": []map[string]any{
						{"name": "channel", "value": "#incidents"},
						{"name": "text", "value": "={{ 'check ' + $json.body.code + ' is ' + $json.body.status }}"},
					}},
					"options": map[string]any{},
				},
			},
		},
		"connections": map[string]any{
			"Webhook": map[string]any{"main": [][]map[string]any{{{"node": "Slack", "type": "main", "index": 0}}}},
		},
		"settings": map[string]any{"executionOrder": "v1"},
		"pinData":  map[string]any{},
	}
}

func n8nCLI(ctx context.Context, binPath, dir string, env []string, args ...string) error {
	_, err := n8nOutput(ctx, binPath, dir, env, args...)
	return err
}

func n8nOutput(ctx context.Context, binPath, dir string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("benchreport: n8n %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// jobRate sends Healthchecks "down" webhooks of distinct checks from 16
// connections for the run's duration, waits until every accepted one is a
// Slack message, and returns the messages per second from the first send
// to the last message.
func (k *kit) jobRate(ctx context.Context, fake *slacktest.Server, url string, header map[string]string) (float64, error) {
	before := len(fake.Messages("C0INCIDENTS"))
	var runID [4]byte
	_, _ = rand.Read(runID[:])
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: k.o.conns}}
	defer client.CloseIdleConnections()
	var next, accepted, refused atomic.Int64
	start := time.Now()
	deadline := start.Add(k.o.duration)
	var wg sync.WaitGroup
	for range k.o.conns {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := next.Add(1)
				code := fmt.Sprintf("%08x-0000-4000-8000-%s0000", i, hex.EncodeToString(runID[:]))
				body, _ := json.Marshal(map[string]any{
					"source": "healthchecks", "status": "down", "now": time.Now().UTC().Format("2006-01-02T15:04:05+00:00"),
					"code": code, "slug": "check-" + code[:8], "name": "check " + code[:8], "exitstatus": 1,
					"last_ping_body": "bench", "check": map[string]any{"tags": "bench", "desc": ""},
				})
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				for name, v := range header {
					req.Header.Set(name, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					refused.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					accepted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if refused.Load() > 0 {
		return 0, fmt.Errorf("benchreport: %s refused %d of %d webhooks", url, refused.Load(), accepted.Load()+refused.Load())
	}
	want := before + int(accepted.Load())
	var msgs []slacktest.Message
	err := poll(ctx, 5*time.Minute, fmt.Sprintf("%d Slack messages", want), func() error {
		msgs = fake.Messages("C0INCIDENTS")
		if len(msgs) < want {
			return fmt.Errorf("%d so far", len(msgs))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	lastAt := start
	for _, m := range msgs[before:] {
		if at := slackTime(m.TS); at.After(lastAt) {
			lastAt = at
		}
	}
	return float64(accepted.Load()) / lastAt.Sub(start).Seconds(), nil
}

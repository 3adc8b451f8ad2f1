package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// latencyResult holds the open-loop figures, one per round.
type latencyResult struct {
	refP99                   []float64 // ms, the reference's ingest
	ingestP50, ingestP99     []float64 // ms, the bridge's 202
	e2eP50, e2eP99           []float64 // ms, webhook sent → Slack called
	rssPeak, hwm             []float64 // MB
	sent, delivered, dropped []int
}

// latency runs, every round, the reference at a fixed rate (loadgen, open
// loop) and then a fresh bridge at the same rate with Healthchecks "down"
// webhooks of distinct checks, each of which ends as one Slack message;
// the Slack fake stamps a message's ts with its arrival time.
func (k *kit) latency(ctx context.Context) (*latencyResult, error) {
	ref, refURL, err := k.startRef(ctx)
	if err != nil {
		return nil, err
	}
	defer ref.stop()
	var res latencyResult
	for round := 1; round <= k.o.rounds; round++ {
		r, err := k.loadgen(ctx, refURL+"/webhooks/github", "-rate", strconv.Itoa(k.o.rate), "-c", "64")
		if err != nil {
			return nil, err
		}
		res.refP99 = append(res.refP99, r.LatencyMS["p99"])
		if err := k.latencyRound(ctx, &res); err != nil {
			return nil, err
		}
		k.log.Info("latency round", "round", round, "ref_p99_ms", r.LatencyMS["p99"],
			"ingest_p99_ms", last(res.ingestP99), "e2e_p50_ms", last(res.e2eP50), "e2e_p99_ms", last(res.e2eP99),
			"rss_peak_mb", last(res.rssPeak))
	}
	return &res, nil
}

func last(v []float64) float64 { return v[len(v)-1] }

func (k *kit) latencyRound(ctx context.Context, res *latencyResult) error {
	fake := slacktest.New(nil)
	defer fake.Close()
	fake.AddChannel("C0INCIDENTS", "incidents")
	br, addr, err := k.startBridge(ctx, "bridge-latency", bridgeOpts{slackURL: fake.URL(), slackToken: fake.Token()})
	if err != nil {
		return err
	}
	defer br.stop()

	// The resident set, sampled while the load runs.
	var peak int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := br.memory(); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	}()

	d := openLoop{url: "http://" + addr + "/webhooks/healthchecks", rate: k.o.rate, warmup: 2 * time.Second, duration: k.o.duration, inFlight: 64}
	sent, err := d.run(ctx)
	if err != nil {
		stopSampling()
		<-sampled
		return err
	}
	// Every accepted event must reach Slack; the bridge delivers at least
	// once, so a lost one would be a bug, not noise.
	want := 0
	for _, s := range sent {
		if s.accepted {
			want++
		}
	}
	var msgs []slacktest.Message
	err = poll(ctx, 2*time.Minute, fmt.Sprintf("%d Slack messages", want), func() error {
		msgs = fake.Messages("C0INCIDENTS")
		if len(msgs) < want {
			return fmt.Errorf("%d so far", len(msgs))
		}
		return nil
	})
	stopSampling()
	<-sampled
	if err != nil {
		return err
	}
	_, hwm, err := br.memory()
	if err != nil {
		return err
	}

	byCode := make(map[string]sentEvent, len(sent))
	var ingest []float64
	for _, s := range sent {
		byCode[s.code] = s
		if s.measured && s.accepted {
			ingest = append(ingest, ms(s.answered.Sub(s.scheduled)))
		}
	}
	var e2e []float64
	for _, m := range msgs {
		s, ok := byCode[checkCode(m)]
		if !ok || !s.measured {
			continue
		}
		e2e = append(e2e, ms(slackTime(m.TS).Sub(s.scheduled)))
	}
	dropped := 0
	for _, s := range sent {
		if !s.accepted {
			dropped++
		}
	}
	res.ingestP50 = append(res.ingestP50, percentile(ingest, 50))
	res.ingestP99 = append(res.ingestP99, percentile(ingest, 99))
	res.e2eP50 = append(res.e2eP50, percentile(e2e, 50))
	res.e2eP99 = append(res.e2eP99, percentile(e2e, 99))
	res.rssPeak = append(res.rssPeak, float64(peak)/(1<<20))
	res.hwm = append(res.hwm, float64(hwm)/(1<<20))
	res.sent = append(res.sent, len(sent))
	res.delivered = append(res.delivered, len(msgs))
	res.dropped = append(res.dropped, dropped)
	return nil
}

// checkCode finds the check in a message's idempotency key
// ("check:<code>:down:<time>").
func checkCode(m slacktest.Message) string {
	if m.Metadata == nil {
		return ""
	}
	key, _ := m.Metadata.EventPayload["idempotency_key"].(string)
	parts := strings.Split(key, ":")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// slackTime reads a Slack ts ("<seconds>.<microseconds>").
func slackTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	us, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(s, us*1000)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the nearest-rank percentile p of v (0 for none).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// openLoop sends Healthchecks "down" webhooks of distinct checks on a
// fixed schedule whatever the server does; a request's latency counts from
// its scheduled time, so a stall is not hidden by a waiting client.
type openLoop struct {
	url              string
	rate             int
	warmup, duration time.Duration
	inFlight         int
}

type sentEvent struct {
	code                string
	scheduled, answered time.Time
	measured, accepted  bool
}

func (o openLoop) run(ctx context.Context) ([]sentEvent, error) {
	var runID [4]byte
	if _, err := rand.Read(runID[:]); err != nil {
		return nil, fmt.Errorf("benchreport: %w", err)
	}
	total := int((o.warmup + o.duration).Seconds() * float64(o.rate))
	events := make([]sentEvent, total)
	bodies := make([][]byte, total)
	now := time.Now().UTC()
	for i := range events {
		// The first 8 characters differ per check: Slack shows "check-<8>".
		code := fmt.Sprintf("%08x-0000-4000-8000-%08x%04x", i, binary.BigEndian.Uint32(runID[:]), 0)
		events[i].code = code
		bodies[i], _ = json.Marshal(map[string]any{
			"source": "healthchecks", "status": "down", "now": now.Format("2006-01-02T15:04:05+00:00"),
			"code": code, "slug": "check-" + code[:8], "name": "check " + code[:8], "exitstatus": 1,
			"last_ping_body": "bench", "check": map[string]any{"tags": "bench", "desc": ""},
		})
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.inFlight, MaxConnsPerHost: o.inFlight},
	}
	defer client.CloseIdleConnections()
	sem := make(chan struct{}, o.inFlight)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(o.rate)
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	for i := range events {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		sem <- struct{}{}
		events[i].scheduled = at
		events[i].measured = !at.Before(measureFrom)
		wg.Go(func() {
			defer func() { <-sem }()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(bodies[i]))
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+hcToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			events[i].answered = time.Now()
			events[i].accepted = resp.StatusCode == http.StatusAccepted
		})
	}
	wg.Wait()
	return events, nil
}

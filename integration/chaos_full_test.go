//go:build chaos

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fullChaosFaults are the faults make chaos adds to the reduced set.
func fullChaosFaults() []chaosFault {
	load := chaosLoad{checks: 30, artifacts: 10, tools: 10, every: 40 * time.Millisecond}
	return []chaosFault{
		{
			name: "linear-ratelimit-5xx",
			load: load,
			during: func(t *testing.T, r *chaosRun) {
				r.sinks.linear.RateLimit(10)
				r.sinks.linear.Fail(8, 502)
				r.sinks.linear.Fail(4, 500)
				r.sinks.linear.RateLimit(5)
			},
			bit: func(t *testing.T, r *chaosRun) {
				if n := r.sinks.linear.Requests(); n < 27+20 {
					t.Errorf("Linear saw %d requests, want at least the 27 faults and the 20 tickets", n)
				}
			},
		},
		{
			name: "n8n-down",
			load: load,
			during: func(t *testing.T, r *chaosRun) {
				r.sinks.n8nGate.down.Store(true)
				time.Sleep(8 * time.Second) // the outage
				r.sinks.n8nGate.down.Store(false)
			},
			bit: func(t *testing.T, r *chaosRun) {
				if n := r.sinks.n8nGate.refused.Load(); n == 0 {
					t.Error("n8n was never called while it was down")
				}
			},
		},
		kill9EachServiceFault(),
		{
			name:  "nats-restart",
			load:  load,
			split: true,
			during: func(t *testing.T, r *chaosRun) {
				// Longer than nats.publish_timeout (2s): the gateway
				// answers 503 for a while.
				r.restartNATS(4 * time.Second)
			},
			bit: func(t *testing.T, r *chaosRun) {
				if r.driver.unavailable.Load() == 0 {
					t.Error("the gateway never answered 503 while NATS was down")
				}
				for _, p := range r.services {
					if len(p.logLines("nats reconnected")) == 0 {
						t.Errorf("%s never reconnected to NATS", p.name)
					}
				}
			},
		},
		{
			name:     "jetstream-storage-full",
			load:     load,
			split:    true,
			maxStore: 64 << 20,
			during: func(t *testing.T, r *chaosRun) {
				fillJetStream(t, r)
			},
			bit: func(t *testing.T, r *chaosRun) {
				if r.driver.unavailable.Load() == 0 {
					t.Error("the gateway never answered 503 while JetStream storage was full")
				}
			},
		},
		{
			// Slack answers slower than consumer.ack_wait for a while: the
			// server redelivers what is still in flight, and a check's up
			// must still never be applied before its down.
			name:   "slow-consumer",
			load:   chaosLoad{checks: 16, artifacts: 4, tools: 4, every: 40 * time.Millisecond},
			tuning: chaosTuning{ackWait: time.Second, concurrency: 4},
			during: func(t *testing.T, r *chaosRun) {
				r.sinks.slackGate.late.Store(int64(1500 * time.Millisecond))
				time.Sleep(8 * time.Second) // how long Slack stays slow
				r.sinks.slackGate.late.Store(0)
			},
			bit: func(t *testing.T, r *chaosRun) {
				if n := r.sinks.slackGate.slowed.Load(); n == 0 {
					t.Error("no Slack call was slowed")
				}
				redelivered := metric(t, r.addr, `bridge_redeliveries_total{sink="slack-notifier"}`)
				t.Logf("slow-consumer: %d Slack calls slowed, %v redeliveries to slack-notifier", r.sinks.slackGate.slowed.Load(), redelivered)
			},
		},
	}
}

// fillJetStream fills the test-started server's JetStream storage with a
// stream of its own until a publish is refused, waits until the gateway
// has answered 503 a few times, and then deletes that stream: the space
// returns.
func fillJetStream(t *testing.T, r *chaosRun) {
	t.Helper()
	nc, err := nats.Connect(r.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CHAOS_FILLER", Subjects: []string{"chaos.filler"}}); err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 512<<10))
	filled := 0
	for {
		if _, err := js.Publish(ctx, "chaos.filler", chunk); err != nil {
			t.Logf("JetStream storage full after %d KiB of filler: %v", filled/1024, err)
			break
		}
		filled += len(chunk)
		if filled > 1<<30 {
			t.Fatal("1 GiB of filler and JetStream still takes more: max_file_store is not applied")
		}
	}
	before := r.driver.unavailable.Load()
	waitFor(t, time.Minute, "the gateway to answer 503", func() error {
		if n := r.driver.unavailable.Load() - before; n < 3 {
			return fmt.Errorf("%d answers 503 so far", n)
		}
		return nil
	})
	if err := js.DeleteStream(ctx, "CHAOS_FILLER"); err != nil {
		t.Fatal(err)
	}
}

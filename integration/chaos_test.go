package integration

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// The chaos suite: a load driver sends signed GitHub releases of inventory
// tools, Trivy reports and Healthchecks downs and ups at a steady rate
// while one fault is injected, then every sink fake is read: each event
// answered 202 has had each of its effects exactly once (Slack alerts,
// replies and updates, Linear tickets, n8n executions) and nothing else
// happened. Each fault prints one "chaos:" line with its figures.
//
// make test runs the reduced set below; make chaos (build tag chaos) runs
// every fault (chaos_full_test.go).

// chaosFault is one subtest of TestChaos.
type chaosFault struct {
	name   string
	load   chaosLoad
	tuning chaosTuning
	// split runs the webhook-gateway and each sink service apart, against
	// a NATS server the test starts (and may restart); otherwise the
	// all-in-one bridge with its embedded NATS.
	split bool
	// maxStore limits the test-started server's JetStream file storage.
	maxStore int64
	// during injects the fault, once a third of the load is accepted,
	// and heals it; the driver keeps sending meanwhile.
	during func(t *testing.T, r *chaosRun)
	// bit checks, at the end, that the fault really hit the run: a fault
	// that never fired proves nothing.
	bit func(t *testing.T, r *chaosRun)
}

// chaosRun is one running topology with its fakes and driver.
type chaosRun struct {
	sinks  *chaosSinks
	driver *chaosDriver
	// addr is the gateway's (or the all-in-one's) listen address.
	addr    string
	natsURL string
	// bridge is the all-in-one process; restart starts it again on the
	// same data dir.
	bridge  *proc
	restart func()
	// ns is the test-started NATS server (split only); restartNATS stops
	// it, waits outage, and starts it again on the same port and store.
	ns          *server.Server
	restartNATS func(outage time.Duration)
	// services are the split processes, the gateway first; startService[i]
	// starts services[i] again, on the same address, configuration and
	// working directory.
	services     []*proc
	startService []func()
}

func reducedChaosFaults() []chaosFault {
	load := chaosLoad{checks: 20, artifacts: 6, tools: 6, every: 40 * time.Millisecond}
	return []chaosFault{
		{
			name: "kill9-all-in-one",
			load: load,
			during: func(t *testing.T, r *chaosRun) {
				// Kill once some effects were made, with more in flight.
				waitFor(t, time.Minute, "some alerts", func() error {
					if n := len(r.sinks.slack.Messages("C0INCIDENTS")); n < 3 {
						return fmt.Errorf("%d alerts", n)
					}
					return nil
				})
				r.bridge.kill9()
				before := r.driver.connErrors.Load()
				waitFor(t, time.Minute, "the driver to find the bridge gone", func() error {
					if r.driver.connErrors.Load() == before {
						return fmt.Errorf("no refused connection yet")
					}
					return nil
				})
				r.restart()
			},
		},
		{
			name: "slack-429-5xx",
			load: load,
			during: func(t *testing.T, r *chaosRun) {
				// Every method, in turn: a 429 storm, then 503s and 500s.
				r.sinks.slack.RateLimit("*", 25, time.Second)
				r.sinks.slack.Fail("*", 10, 503)
				r.sinks.slack.Fail("*", 5, 500)
				r.sinks.slack.RateLimit("*", 10, time.Second)
			},
			bit: func(t *testing.T, r *chaosRun) {
				if n := slackCalls(r.sinks); n < 50+20*3 {
					t.Errorf("Slack saw %d calls, want at least the 50 faults and the 60 effects", n)
				}
			},
		},
	}
}

func TestChaos(t *testing.T) {
	var extra extraBinaries
	for _, f := range append(reducedChaosFaults(), fullChaosFaults()...) {
		t.Run(f.name, func(t *testing.T) {
			r := startChaos(t, f, &extra)
			lanes := chaosEvents(t, f.load, r.sinks.tools, 1)
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.driver.run(lanes, f.load.every)
			}()
			// Registered last, so it runs first: after a fatal error the
			// driver must stop before the processes do and t is done.
			t.Cleanup(func() {
				close(r.driver.stop)
				<-done
			})
			if f.during != nil {
				r.driver.waitAccepted(f.load.total() / 3)
				f.during(t, r)
			}
			<-done
			verifyChaos(t, f.name, r.sinks, r.driver, r.natsURL, f.load)
			if f.bit != nil {
				f.bit(t, r)
			}
		})
	}
}

// startChaos starts the fakes and the topology of fault f.
func startChaos(t *testing.T, f chaosFault, extra *extraBinaries) *chaosRun {
	t.Helper()
	r := &chaosRun{sinks: newChaosSinks(t, f.load.tools)}
	r.driver = &chaosDriver{t: t, addr: func() string { return r.addr }, stop: make(chan struct{})}
	env := r.sinks.env()
	if !f.split {
		r.addr = freeAddr(t)
		natsAddr := freeAddr(t)
		r.natsURL = "nats://" + natsAddr
		cfg := r.sinks.config(t, r.addr, fmt.Sprintf("  listen: %q\n  data_dir: %q", natsAddr, filepath.Join(t.TempDir(), "data")), f.tuning)
		r.restart = func() {
			r.bridge = start(t, "bridge", t.TempDir(), env, "--config", cfg)
			r.bridge.waitReady(r.addr)
		}
		r.restart()
		return r
	}

	extra.build(t)
	storeDir := t.TempDir()
	port := -1
	startNATS := func() {
		r.ns = bustest.NewServerWith(t, func(o *server.Options) {
			o.StoreDir = storeDir
			o.Port = port
			o.JetStreamMaxStore = f.maxStore
		})
		port = r.ns.Addr().(*net.TCPAddr).Port
		r.natsURL = r.ns.ClientURL()
	}
	startNATS()
	r.restartNATS = func(outage time.Duration) {
		r.ns.Shutdown()
		r.ns.WaitForShutdown()
		time.Sleep(outage) // the length of the outage, not a wait for a condition
		startNATS()
	}
	natsYAML := fmt.Sprintf("  url: %q", r.natsURL)
	r.addr = freeAddr(t)
	for i, svc := range []string{"webhook-gateway", "slack-notifier", "linear-ticketer", "n8n-trigger"} {
		addr := r.addr
		if i > 0 {
			addr = freeAddr(t)
		}
		cfg, dir := r.sinks.config(t, addr, natsYAML, f.tuning), t.TempDir()
		r.services = append(r.services, nil)
		r.startService = append(r.startService, func() {
			p := start(t, svc, dir, env, "--config", cfg)
			p.waitReady(addr)
			r.services[i] = p
		})
		r.startService[i]()
	}
	return r
}

// slackCalls counts every call the Slack fake received.
func slackCalls(s *chaosSinks) int {
	n := 0
	for _, m := range []string{slacktest.MethodAuthTest, slacktest.MethodPostMessage, slacktest.MethodUpdate,
		slacktest.MethodHistory, slacktest.MethodReplies, slacktest.MethodList} {
		n += s.slack.Calls(m)
	}
	return n
}

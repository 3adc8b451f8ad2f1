//go:build chaos

package integration

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// serviceKill is one kill -9 of a split service and its restart.
type serviceKill struct {
	name     string
	killed   *proc
	restart  *proc
	accepted int64 // events accepted when it was killed
}

// kill9EachServiceFault kills -9 the webhook-gateway, slack-notifier,
// linear-ticketer and n8n-trigger in turn while the load runs, restarting
// each after a moment before killing the next. A sink service dies with
// deliveries in flight and unacked: the server redelivers them to the
// restarted process, whose ledger and sink lookups must keep each effect
// to one. The gateway's death makes the senders see refused connections
// until it is back; they retry, as for the all-in-one.
func kill9EachServiceFault() chaosFault {
	var kills []serviceKill
	// Lanes long enough that the load is still running at the last kill.
	load := chaosLoad{checks: 40, artifacts: 16, tools: 16, every: 150 * time.Millisecond}
	return chaosFault{
		name:  "kill9-each-service",
		load:  load,
		split: true,
		during: func(t *testing.T, r *chaosRun) {
			for i := range r.services {
				// Some load flows into the services between two kills.
				r.driver.waitAccepted(min(int(r.driver.nAccepted.Load())+3, load.total()))
				p := r.services[i]
				k := serviceKill{name: p.name, killed: p, accepted: r.driver.nAccepted.Load()}
				before := r.driver.connErrors.Load()
				p.kill9()
				if i == 0 {
					waitFor(t, time.Minute, "the driver to find the gateway gone", func() error {
						if r.driver.connErrors.Load() == before {
							return fmt.Errorf("no refused connection yet")
						}
						return nil
					})
				}
				time.Sleep(500 * time.Millisecond) // the outage
				r.startService[i]()
				k.restart = r.services[i]
				kills = append(kills, k)
			}
		},
		bit: func(t *testing.T, r *chaosRun) {
			if len(kills) != len(r.services) {
				t.Fatalf("%d of %d services killed", len(kills), len(r.services))
			}
			for _, k := range kills {
				if err := killedBySIGKILL(k.killed); err != nil {
					t.Error(err)
				}
				if k.accepted >= int64(load.total()) {
					t.Errorf("%s was killed after the load ended (%d events accepted)", k.name, k.accepted)
				}
				if k.restart == k.killed || k.restart.cmd.Process.Pid == k.killed.cmd.Process.Pid {
					t.Errorf("%s was not started again", k.name)
				}
				if len(k.restart.logLines("starting")) == 0 {
					t.Errorf("the restarted %s never logged its start", k.name)
				}
				t.Logf("kill9-each-service: %s pid %d killed at %d accepted, restarted as pid %d",
					k.name, k.killed.cmd.Process.Pid, k.accepted, k.restart.cmd.Process.Pid)
			}
			if r.driver.connErrors.Load() == 0 {
				t.Error("no sender ever found the gateway gone")
			}
		},
	}
}

// killedBySIGKILL reports how p ended unless it was by SIGKILL.
func killedBySIGKILL(p *proc) error {
	if !p.exited() {
		return fmt.Errorf("%s (pid %d) still runs", p.name, p.cmd.Process.Pid)
	}
	if p.err == nil {
		return fmt.Errorf("%s (pid %d) exited cleanly, not by a signal", p.name, p.cmd.Process.Pid)
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		return fmt.Errorf("%s (pid %d) exited with %w, not by a signal", p.name, p.cmd.Process.Pid, p.err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("%s (pid %d) ended with %w, not SIGKILL", p.name, p.cmd.Process.Pid, ee)
	}
	return nil
}

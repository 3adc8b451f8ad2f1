// Package integration runs the real bridge binaries, built by the tests,
// against a real NATS server and fakes that enforce the external services'
// contracts.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries TestMain builds.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bridge-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = dir
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, s := range []string{"bridge", "bridgectl", "webhook-gateway", "slack-notifier"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, s), "./services/"+s+"/cmd/"+s)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", s, err)
			return 1
		}
	}
	return m.Run()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it returns nil or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
}

// proc is one running binary with its log captured.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a binary with args and env (on top of a minimal environment)
// in dir, and stops it with SIGTERM at the end of the test.
func start(t testing.TB, name, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p := &proc{t: t, name: name, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("%s-%s-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), name, time.Now().UnixNano()))
			_ = os.WriteFile(path, []byte(p.log.String()), 0o600)
			t.Logf("%s log: %s; last lines:\n%s", name, path, tail(p.log.String(), 15))
		}
	})
	return p
}

// stop sends SIGTERM and waits; it reports whether the exit was clean.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 20s of SIGTERM", p.name)
	}
	return p.err
}

// kill9 kills the process without any chance to clean up.
func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logLines returns the JSON log lines whose msg equals msg.
func (p *proc) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(p.log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitReady waits until GET http://addr/readyz answers 200.
func (p *proc) waitReady(addr string) {
	p.t.Helper()
	waitFor(p.t, 60*time.Second, p.name+" /readyz", func() error {
		if p.exited() {
			p.t.Fatalf("%s exited early: %v\n%s", p.name, p.err, p.log.String())
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return nil
	})
}

// post sends a webhook and returns the status and body.
func post(t testing.TB, url string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeConfig writes a YAML config into dir and returns its path.
func writeConfig(t testing.TB, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCtl runs bridgectl to completion and returns its exit code and output.
func runCtl(t testing.TB, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "bridgectl"), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("bridgectl: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

// metric reads one sample from a service's /metrics, by its exact
// exposition name with labels in sorted order; 0 when absent.
func metric(t testing.TB, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return 0
}

// settledOnce is one look of settle: nil when no consumer has anything
// pending or awaiting an ack.
func settledOnce(t testing.TB, url string) error {
	t.Helper()
	code, out, errOut := runCtl(t, nil, "--nats", url, "status", "--output", "json")
	if code != 0 {
		return fmt.Errorf("bridgectl status: %s", errOut)
	}
	var st struct {
		Consumers []struct {
			Name       string `json:"name"`
			Pending    uint64 `json:"pending"`
			AckPending int    `json:"ack_pending"`
		} `json:"consumers"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	if len(st.Consumers) == 0 {
		return fmt.Errorf("no consumers yet")
	}
	for _, c := range st.Consumers {
		if c.Pending != 0 || c.AckPending != 0 {
			return fmt.Errorf("consumers not settled: %s: pending %d, ack pending %d", c.Name, c.Pending, c.AckPending)
		}
	}
	return nil
}

// settle waits until every consumer on the NATS at url has nothing pending
// or awaiting an ack, so a test can assert that nothing more happens.
func settle(t testing.TB, url string) {
	t.Helper()
	waitFor(t, 60*time.Second, "consumers to settle", func() error { return settledOnce(t, url) })
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

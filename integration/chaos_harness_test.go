package integration

import (
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
	"github.com/stoa-platform/bridge/pkg/sink/n8n/n8ntest"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
	"github.com/stoa-platform/bridge/pkg/watcher/githubtest"
)

// The chaos suite's world: every sink fake, each behind a proxy the test
// can break, and the configuration the bridge (all-in-one or split) runs
// with.

const (
	chaosN8NPath   = "chaos-check-down"
	chaosN8NHeader = "X-N8N-Auth"
	chaosN8NAuth   = "n8n-chaos-secret"
	chaosTeam      = "PLAT"
)

// chaosSinks are the fakes of one chaos run.
type chaosSinks struct {
	slack     *slacktest.Server
	linear    *lineartest.Server
	github    *githubtest.Server
	n8n       *n8ntest.Server
	slackGate *faultProxy // in front of slack
	n8nGate   *faultProxy // in front of n8n
	inventory string      // path of the generated inventory
	tools     []string    // inventory tool names, one release each
}

func newChaosSinks(t *testing.T, tools int) *chaosSinks {
	t.Helper()
	s := &chaosSinks{
		slack:  slacktest.New(t),
		linear: lineartest.New(t),
		github: githubtest.New(t),
		n8n:    n8ntest.New(t),
	}
	s.slack.AddChannel("C0INCIDENTS", "incidents")
	s.slack.AddChannel("C0SECURITY", "security")
	s.slack.AddChannel("C0RELEASES", "releases")
	s.linear.AddTeam("team-plat", chaosTeam, "Platform")
	s.linear.AddLabel("team-plat", "label-upgrade", "upgrade")
	s.n8n.AddWorkflow(chaosN8NPath, chaosN8NHeader, chaosN8NAuth)
	s.slackGate = newFaultProxy(t, s.slack.URL())
	s.n8nGate = newFaultProxy(t, s.n8n.URL)

	var inv strings.Builder
	inv.WriteString("tools:\n")
	for i := range tools {
		name := fmt.Sprintf("chaos-tool-%02d", i)
		s.tools = append(s.tools, name)
		s.github.AddRepo("chaos", name)
		fmt.Fprintf(&inv, "  - name: %s\n    repo: chaos/%s\n    deployed: \"1.0.0\"\n    tag_pattern: \"v{version}\"\n    prereleases: false\n", name, name)
	}
	s.inventory = filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(s.inventory, []byte(inv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// env is the secrets every bridge process of the run gets.
func (s *chaosSinks) env() []string {
	return []string{
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=" + hcToken,
		"BRIDGE_SECRET_TRIVY_TOKEN=" + trivyToken,
		"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET=" + githubSecret,
		"BRIDGE_SECRET_SLACK_BOT_TOKEN=" + s.slack.Token(),
		"BRIDGE_SECRET_LINEAR_API_KEY=" + s.linear.APIKey(),
		"BRIDGE_SECRET_N8N_AUTH=" + chaosN8NAuth,
	}
}

// chaosTuning is what a fault may change in the consumer settings.
type chaosTuning struct {
	ackWait     time.Duration // default 5s
	concurrency int           // default 4
}

// config renders a bridge configuration listening on listen, with natsYAML
// as its nats: section body (embedded or external).
func (s *chaosSinks) config(t *testing.T, listen, natsYAML string, tu chaosTuning) string {
	t.Helper()
	if tu.ackWait == 0 {
		tu.ackWait = 5 * time.Second
	}
	if tu.concurrency == 0 {
		tu.concurrency = 4
	}
	return writeConfig(t, t.TempDir(), fmt.Sprintf(`
listen: %q
nats:
%s
  publish_timeout: 2s
gateway:
  retry_after: 1s
consumer:
  concurrency: %d
  ack_wait: %s
  backoff_min: 100ms
  backoff_max: 1s
  max_deliver: 1000
slack:
  api_url: %q
  timeout: 10s
  channels:
    checks: "#incidents"
    vulnerabilities: "#security"
    releases: "#releases"
linear:
  api_url: %q
  team: %s
github:
  api_url: %q
  inventory: %q
  poll_interval: 1h
n8n:
  routes:
    - subject: check.down
      url: %q
      auth: header
      header: %s
      content_type: application/json
log:
  level: info
`, listen, natsYAML, tu.concurrency, tu.ackWait, s.slackGate.URL()+"/", s.linear.URL(), chaosTeam,
		s.github.URL(), s.inventory, s.n8nGate.URL()+"/webhook/"+chaosN8NPath, chaosN8NHeader))
}

// faultProxy forwards to a fake unless told to fail or to be slow: the
// faults the fakes themselves cannot inject for a while rather than for a
// number of calls.
type faultProxy struct {
	srv  *httptest.Server
	down atomic.Bool
	// late holds back each answer this long (nanoseconds) after the fake
	// has acted on the request: a slow service whose caller may give up
	// on a call that took effect.
	late atomic.Int64
	// refused counts the requests answered 503 while down.
	refused atomic.Int64
	// slowed counts the answers held back.
	slowed atomic.Int64
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	// A caller giving up on a held-back answer is the point, not news.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			p.refused.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		d := time.Duration(p.late.Load())
		if d <= 0 {
			rp.ServeHTTP(w, r)
			return
		}
		// The fake acts now, on a context the caller cannot cancel; the
		// caller hears of it only after d.
		p.slowed.Add(1)
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) URL() string { return p.srv.URL }

// extraBinaries builds the split services TestMain does not build, once,
// into bin (others may add them to TestMain later: then they are there).
type extraBinaries struct {
	once sync.Once
	err  error
}

func (e *extraBinaries) build(t *testing.T) {
	t.Helper()
	e.once.Do(func() {
		root, _ := filepath.Abs("..")
		for _, s := range []string{"linear-ticketer", "n8n-trigger"} {
			if _, err := os.Stat(filepath.Join(bin, s)); err == nil {
				continue
			}
			cmd := exec.Command("go", "build", "-o", filepath.Join(bin, s), "./services/"+s+"/cmd/"+s)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				e.err = fmt.Errorf("integration: building %s: %w\n%s", s, err, out)
				return
			}
		}
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
}

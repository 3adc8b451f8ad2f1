package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink/linear/lineartest"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

// natsNode is one member of the test's NATS cluster. Its ports and store
// stay the same across a restart, as a node's would in production.
type natsNode struct {
	name        string
	clientPort  int
	clusterPort int
	storeDir    string
	routes      string
	mu          sync.Mutex
	srv         *server.Server
}

func (n *natsNode) clientURL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort) }

func (n *natsNode) server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// start starts the node (again) with fresh options: a nats-server mutates
// the options it was given.
func (n *natsNode) start(t testing.TB) {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: n.name,
		Host:       "127.0.0.1",
		Port:       n.clientPort,
		JetStream:  true,
		StoreDir:   n.storeDir,
		NoLog:      true,
		NoSigs:     true,
		Cluster: server.ClusterOpts{
			Name: "bridge-test",
			Host: "127.0.0.1",
			Port: n.clusterPort,
		},
		Routes: server.RoutesFromStr(n.routes),
	})
	if err != nil {
		t.Fatalf("nats node %s: %v", n.name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats node %s not ready after 20s", n.name)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
}

// stop shuts the node down and waits until it is gone.
func (n *natsNode) stop() {
	s := n.server()
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
	n.mu.Lock()
	n.srv = nil
	n.mu.Unlock()
}

// startNATSCluster starts a 3-node NATS cluster with JetStream in the test
// process and waits until the nodes have elected a JetStream meta leader
// and every node is current with it.
func startNATSCluster(t testing.TB) []*natsNode {
	t.Helper()
	nodes := make([]*natsNode, 3)
	for i := range nodes {
		nodes[i] = &natsNode{
			name:        fmt.Sprintf("n%d", i+1),
			clientPort:  addrPort(t, freeAddr(t)),
			clusterPort: addrPort(t, freeAddr(t)),
			storeDir:    t.TempDir(),
		}
	}
	for _, n := range nodes {
		var routes []string
		for _, o := range nodes {
			if o != n {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.clusterPort))
			}
		}
		n.routes = strings.Join(routes, ",")
	}
	for _, n := range nodes {
		n.start(t)
		t.Cleanup(n.stop)
	}
	waitClusterCurrent(t, nodes)
	return nodes
}

// waitClusterCurrent waits until every node runs, one is the JetStream meta
// leader, every node is current and the leader knows all three peers.
func waitClusterCurrent(t testing.TB, nodes []*natsNode) {
	t.Helper()
	waitFor(t, 60*time.Second, "the JetStream meta leader and three current nodes", func() error {
		leaders := 0
		for _, n := range nodes {
			s := n.server()
			if s == nil || !s.Running() {
				return fmt.Errorf("%s is not running", n.name)
			}
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("%s is not current", n.name)
			}
			if s.JetStreamIsLeader() {
				leaders++
				if peers := s.JetStreamClusterPeers(); len(peers) != len(nodes) {
					return fmt.Errorf("the meta leader %s knows %d peers: %v", n.name, len(peers), peers)
				}
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d meta leaders", leaders)
		}
		return nil
	})
}

func addrPort(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var clusterBuildMu sync.Mutex

// clusterBinary builds a service binary TestMain does not build into bin,
// once per test binary run.
func clusterBinary(t testing.TB, name string) {
	t.Helper()
	clusterBuildMu.Lock()
	defer clusterBuildMu.Unlock()
	out := filepath.Join(bin, name)
	if _, err := os.Stat(out); err == nil {
		return
	}
	cmd := exec.Command("go", "build", "-o", out, "./services/"+name+"/cmd/"+name)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, b)
	}
}

// clusterEvent is one webhook the load driver sends.
type clusterEvent struct {
	path   string // /webhooks/...
	header map[string]string
	body   []byte
	id     string // the check id or the artifact
}

// clusterSend is a webhook sender that retries as Healthchecks and GitHub
// do: on a 503 (or no answer) it waits Retry-After, capped at 2s, and sends
// the same body again, until deadline. It returns the final status and the
// number of retries.
func clusterSend(ctx context.Context, gw string, ev clusterEvent) (int, int, string) {
	retries := 0
	for {
		code, retryAfter, answer := clusterPost(ctx, "http://"+gw+ev.path, ev.header, ev.body)
		if code != http.StatusServiceUnavailable && code != 0 {
			return code, retries, answer
		}
		wait := min(retryAfter, 2*time.Second)
		if wait <= 0 {
			wait = 500 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return code, retries, answer
		case <-time.After(wait):
		}
		retries++
	}
}

func clusterPost(ctx context.Context, url string, header map[string]string, body []byte) (int, time.Duration, string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err.Error()
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, time.Duration(secs) * time.Second, string(b)
}

// sinkEffects sums a service's bridge_actions_total for sink by outcome,
// leaving out the runner's outcomes that are no effect.
func sinkEffects(t testing.TB, addr, sink string) (float64, map[string]float64) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	byOutcome := make(map[string]float64)
	effects := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, "bridge_actions_total{") || !strings.Contains(series, `sink="`+sink+`"`) {
			continue
		}
		_, rest, _ := strings.Cut(series, `outcome="`)
		outcome, _, _ := strings.Cut(rest, `"`)
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		byOutcome[outcome] += v
		switch outcome {
		case "duplicate", "transient", "permanent", "waiting", "skipped":
		default:
			effects += v
		}
	}
	return effects, byOutcome
}

// TestClusterNodeLoss: the split services (a webhook-gateway, two
// slack-notifiers, two linear-ticketers) on a 3-node NATS cluster with
// streams and buckets at R3. The node leading the events stream is shut
// down mid-run and restarted later; the load driver keeps sending at a
// steady rate and retries 503s as a webhook sender would. Afterwards every
// event answered 202 has had each of its effects exactly once, and both
// replicas of each consumer did work.
func TestClusterNodeLoss(t *testing.T) {
	clusterBinary(t, "linear-ticketer")
	nodes := startNATSCluster(t)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.clientURL())
	}
	natsURL := strings.Join(urls, ",")

	slackFake := slacktest.New(t)
	slackFake.AddChannel("C0INCIDENTS", "incidents")
	slackFake.AddChannel("C0SECURITY", "security")
	lin := lineartest.New(t)
	lin.AddTeam("team-plat", "PLAT", "Platform")
	env := []string{
		"BRIDGE_SECRET_HEALTHCHECKS_TOKEN=" + hcToken,
		"BRIDGE_SECRET_TRIVY_TOKEN=" + trivyToken,
		"BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET=" + githubSecret,
		"BRIDGE_SECRET_SLACK_BOT_TOKEN=" + slackFake.Token(),
		"BRIDGE_SECRET_LINEAR_API_KEY=" + lin.APIKey(),
	}
	serviceConfig := func(listen string) string {
		return writeConfig(t, t.TempDir(), fmt.Sprintf(`
listen: %q
nats:
  url: %q
  replicas: 3
  publish_timeout: 3s
gateway:
  retry_after: 1s
consumer:
  concurrency: 4
  ack_wait: 10s
  backoff_min: 100ms
  backoff_max: 1s
  max_deliver: 100
slack:
  api_url: %q
  timeout: 5s
  release_notes: false
  channels:
    checks: "#incidents"
    vulnerabilities: "#security"
linear:
  api_url: %q
  team: PLAT
`, listen, natsURL, slackFake.URL(), lin.URL()))
	}
	startService := func(name string) string {
		addr := freeAddr(t)
		p := start(t, name, t.TempDir(), env, "--config", serviceConfig(addr))
		p.waitReady(addr)
		return addr
	}
	gw := startService("webhook-gateway")
	var notifiers, ticketers []string
	for range 2 {
		notifiers = append(notifiers, startService("slack-notifier"))
		ticketers = append(ticketers, startService("linear-ticketer"))
	}

	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	eventsStream := event.EventsStream(event.DefaultPrefix)
	r3 := []string{
		eventsStream,
		event.DeadLetterStream(event.DefaultPrefix),
		"KV_" + event.LedgerBucket(event.DefaultPrefix),
		"KV_" + event.SilenceBucket(event.DefaultPrefix),
		"KV_" + event.VulnBucket(event.DefaultPrefix),
	}
	// The streams and buckets are R3, each with a leader and two current
	// followers: true once at the start and again after the node is back.
	checkR3 := func(when string) {
		t.Helper()
		waitFor(t, 60*time.Second, "R3 streams with three current peers "+when, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, name := range r3 {
				s, err := js.Stream(ctx, name)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				info := s.CachedInfo()
				if info.Config.Replicas != 3 {
					t.Fatalf("%s %s: replicas %d, want 3", name, when, info.Config.Replicas)
				}
				if err := currentPeers(name, info.Cluster); err != nil {
					return err
				}
			}
			for _, name := range []string{"slack-notifier", "linear-ticketer"} {
				c, err := js.Consumer(ctx, eventsStream, name)
				if err != nil {
					return fmt.Errorf("consumer %s: %w", name, err)
				}
				if err := currentPeers("consumer "+name, c.CachedInfo().Cluster); err != nil {
					return err
				}
			}
			return nil
		})
	}
	checkR3("at the start")

	// The load: 150 check downs and 20 Trivy reports, each for its own
	// check or artifact, interleaved.
	t0 := time.Now().Truncate(time.Second)
	trivy := readFile(t, "trivy/alpine-39.json")
	var events []clusterEvent
	var checks, artifacts []string
	for i := 0; len(checks) < 150 || len(artifacts) < 20; i++ {
		if i%8 == 4 && len(artifacts) < 20 {
			var doc map[string]any
			if err := json.Unmarshal(trivy, &doc); err != nil {
				t.Fatal(err)
			}
			art := fmt.Sprintf("registry.example.org/cluster/app-%02d:1.0", len(artifacts))
			doc["ArtifactName"] = art
			body, _ := json.Marshal(doc)
			events = append(events, clusterEvent{path: "/webhooks/trivy", id: art, body: body, header: map[string]string{
				"Content-Type": "application/json", "Authorization": "Bearer " + trivyToken,
			}})
			artifacts = append(artifacts, art)
			continue
		}
		id := checkID(7000 + len(checks))
		events = append(events, clusterEvent{path: "/webhooks/healthchecks", id: id, body: checkBody(id, "down", t0), header: map[string]string{
			"Content-Type": "application/json", "Authorization": "Bearer " + hcToken,
		}})
		checks = append(checks, id)
	}

	// The schedule: every event once, and from the node loss on, a resend
	// of every 5th event sent before it, as a sender does whose answer was
	// lost. The stream's new leader must still know their Nats-Msg-Id.
	killAt := len(events) / 3
	var schedule []int
	resend := 0
	for i := range events {
		schedule = append(schedule, i)
		if i >= killAt && i%3 == 0 && resend < killAt {
			schedule = append(schedule, resend)
			resend += 5
		}
	}
	restartAt := len(schedule) * 3 / 4

	var (
		mu         sync.Mutex
		accepted   = make(map[string]bool)
		rejected   int
		duplicates int // resends answered 202 duplicate:true
		retries    atomic.Int64
		retried    atomic.Int64
		wg         sync.WaitGroup
		killed     *natsNode
		newLeader  string
		nodeDown   = make(chan struct{})
		answered   = make([]chan struct{}, len(events))
	)
	sendCtx, cancelSend := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelSend()
	tick := time.NewTicker(50 * time.Millisecond)
	for pos, i := range schedule {
		<-tick.C
		switch pos {
		case killAt:
			// The worst case: the node leading the events stream.
			for _, n := range nodes {
				if n.server().JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, eventsStream) {
					killed = n
				}
			}
			if killed == nil {
				t.Fatalf("no node leads %s", eventsStream)
			}
			// Shut down beside the driver, so that sending keeps its pace.
			go func() {
				defer close(nodeDown)
				killed.stop()
			}()
		case restartAt:
			<-nodeDown
			// Not a timing assertion: the restart waits for the failover.
			waitFor(t, 60*time.Second, "a new leader of "+eventsStream, func() error {
				for _, n := range nodes {
					if n != killed && n.server().JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, eventsStream) {
						newLeader = n.name
						return nil
					}
				}
				return fmt.Errorf("none yet")
			})
			killed.start(t)
		}
		ev, first := events[i], answered[i] == nil
		if first {
			answered[i] = make(chan struct{})
		}
		done := answered[i]
		wg.Go(func() {
			if first {
				defer close(done)
			} else {
				// A resend follows the answer to the first send.
				<-done
			}
			code, n, answer := clusterSend(sendCtx, gw, ev)
			retries.Add(int64(n))
			if n > 0 {
				retried.Add(1)
			}
			mu.Lock()
			defer mu.Unlock()
			if code != http.StatusAccepted {
				rejected++
				t.Errorf("%s %s: %d %s", ev.path, ev.id, code, answer)
				return
			}
			if !first {
				if strings.Contains(answer, `"duplicate":true`) {
					duplicates++
				} else {
					t.Errorf("resend of %s: %s, want duplicate:true: the stream stored it twice", ev.id, answer)
				}
			}
			accepted[ev.id] = true
		})
	}
	tick.Stop()
	wg.Wait()
	waitClusterCurrent(t, nodes)
	checkR3("after the node is back")

	acceptedChecks, acceptedArtifacts := 0, 0
	for _, id := range checks {
		if accepted[id] {
			acceptedChecks++
		}
	}
	for _, a := range artifacts {
		if accepted[a] {
			acceptedArtifacts++
		}
	}
	waitFor(t, 120*time.Second, "every effect", func() error {
		if n := len(slackFake.Messages("C0INCIDENTS")); n < acceptedChecks {
			return fmt.Errorf("%d of %d check alerts", n, acceptedChecks)
		}
		if n := len(slackFake.Messages("C0SECURITY")); n < acceptedArtifacts {
			return fmt.Errorf("%d of %d security alerts", n, acceptedArtifacts)
		}
		if n := len(lin.Issues()); n < acceptedArtifacts {
			return fmt.Errorf("%d of %d remediation tickets", n, acceptedArtifacts)
		}
		return nil
	})
	settle(t, natsURL)

	// Count each effect per event.
	checkAlerts := make(map[string]int)
	for _, m := range slackFake.Messages("C0INCIDENTS") {
		parts := strings.Split(metadataKey(m), ":")
		if len(parts) < 2 {
			t.Errorf("a check alert without its key: %q", m.Text)
			continue
		}
		checkAlerts[parts[1]]++
	}
	securityAlerts := make(map[string]int)
	for _, m := range slackFake.Messages("C0SECURITY") {
		securityAlerts[artifactIn(artifacts, m.Text+string(m.Blocks))]++
	}
	tickets := make(map[string]int)
	for _, is := range lin.Issues() {
		tickets[artifactIn(artifacts, is.Title)]++
	}
	effects, duplicated, missing := 0, 0, 0
	tally := func(what string, ids []string, got map[string]int) {
		for id, c := range got {
			effects += c
			if !accepted[id] {
				t.Errorf("%s for %q, which was never accepted (%d)", what, id, c)
			}
		}
		for _, id := range ids {
			switch c := got[id]; {
			case !accepted[id]:
			case c == 0:
				missing++
				t.Errorf("%s %s: none, want exactly 1", what, id)
			case c > 1:
				duplicated += c - 1
				t.Errorf("%s %s: %d, want exactly 1", what, id, c)
			}
		}
	}
	tally("check alert", checks, checkAlerts)
	tally("security alert", artifacts, securityAlerts)
	tally("remediation ticket", artifacts, tickets)

	// Both slack-notifier replicas did work, or the test proves nothing
	// about sharing a durable consumer across a node loss. The 20 reports
	// of the linear-ticketer are too few for a split to be certain (one
	// replica may fetch them all): its share is only reported.
	var work []string
	for _, svc := range []struct {
		sink   string
		addrs  []string
		shared bool
	}{{"slack-notifier", notifiers, true}, {"linear-ticketer", ticketers, false}} {
		for i, addr := range svc.addrs {
			n, byOutcome := sinkEffects(t, addr, svc.sink)
			redelivered := metric(t, addr, `bridge_redeliveries_total{sink="`+svc.sink+`"}`)
			work = append(work, fmt.Sprintf("%s-%d %v redeliveries %v", svc.sink, i, byOutcome, redelivered))
			if n == 0 && svc.shared {
				t.Errorf("%s replica %d had no effect (%v): the load was not shared", svc.sink, i, byOutcome)
			}
		}
	}
	dl, err := js.Stream(context.Background(), event.DeadLetterStream(event.DefaultPrefix))
	if err != nil {
		t.Fatal(err)
	}
	if n := dl.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("%d dead letters, want 0", n)
	}

	t.Logf("cluster node loss (%s, leader of %s, shut down at send %d, %s leading after it, restarted at send %d): sent %d events + %d resends, accepted %d (%d resends answered duplicate, %d sends retried, %d retries after 503), rejected %d, effects %d (want %d), duplicates %d, missing %d",
		killed.name, eventsStream, killAt, newLeader, restartAt, len(events), len(schedule)-len(events), len(accepted), duplicates, retried.Load(), retries.Load(), rejected,
		effects, acceptedChecks+2*acceptedArtifacts, duplicated, missing)
	t.Logf("work per replica: %s", strings.Join(work, "; "))
	if want := acceptedChecks + 2*acceptedArtifacts; effects != want {
		t.Errorf("%d effects, want %d", effects, want)
	}
}

// currentPeers checks a stream's or consumer's cluster: a leader and two
// followers, both current.
func currentPeers(name string, ci *jetstream.ClusterInfo) error {
	if ci == nil || ci.Leader == "" {
		return fmt.Errorf("%s has no leader", name)
	}
	if len(ci.Replicas) != 2 {
		return fmt.Errorf("%s: leader %s and %d followers, want 2", name, ci.Leader, len(ci.Replicas))
	}
	for _, p := range ci.Replicas {
		if !p.Current || p.Offline {
			return fmt.Errorf("%s: follower %s not current", name, p.Name)
		}
	}
	return nil
}

// artifactIn returns the artifact text names, or "" when it names none.
func artifactIn(artifacts []string, text string) string {
	i := slices.IndexFunc(artifacts, func(a string) bool { return strings.Contains(text, a) })
	if i < 0 {
		return ""
	}
	return artifacts[i]
}

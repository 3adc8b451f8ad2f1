package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chaosEvent is one webhook the load driver sends until it is answered 202.
type chaosEvent struct {
	kind   string // "down", "up", "trivy", "release"
	entity string // check id, artifact name, tool name
	path   string
	header map[string]string
	body   []byte
	key    string // the idempotency key from the 202 answer
}

// chaosLoad is how many entities of each kind a run drives: every check
// goes down then up, every artifact gets one report, every tool one
// release.
type chaosLoad struct {
	checks, artifacts, tools int
	// every is the pause between two sends of a lane.
	every time.Duration
}

func (l chaosLoad) total() int { return 2*l.checks + l.artifacts + l.tools }

// chaosDriver sends the load in three lanes (checks, Trivy, GitHub), each
// at a steady rate and in order, retrying like a real sender: a 503 after
// its Retry-After, a refused connection (the process is down) soon after.
type chaosDriver struct {
	t    *testing.T
	addr func() string // the gateway's address, read at each send
	// stop ends the lanes early: the test is over (a fatal error).
	stop chan struct{}

	mu       sync.Mutex
	accepted []*chaosEvent

	attempts    atomic.Int64
	unavailable atomic.Int64 // answered 503
	connErrors  atomic.Int64 // no answer at all
	nAccepted   atomic.Int64
}

// chaosEvents builds the events of a load; ups follow their down in the
// same lane, a few checks later, so that some are in flight together.
func chaosEvents(t *testing.T, l chaosLoad, tools []string, seed int) [][]*chaosEvent {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hc := map[string]string{"Authorization": "Bearer " + hcToken, "Content-Type": "application/json"}
	var checks []*chaosEvent
	const lag = 4
	for i := range l.checks + lag {
		if i < l.checks {
			id := checkID(seed*1000 + i)
			checks = append(checks, &chaosEvent{kind: "down", entity: id, path: "/webhooks/healthchecks", header: hc,
				body: checkBody(id, "down", t0.Add(time.Duration(i)*time.Second))})
		}
		if j := i - lag; j >= 0 {
			id := checkID(seed*1000 + j)
			checks = append(checks, &chaosEvent{kind: "up", entity: id, path: "/webhooks/healthchecks", header: hc,
				body: checkBody(id, "up", t0.Add(time.Duration(j)*time.Second+10*time.Minute))})
		}
	}

	var report map[string]any
	raw := readFile(t, "trivy/alpine-39.json")
	var trivy []*chaosEvent
	for i := range l.artifacts {
		if err := json.Unmarshal(raw, &report); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("ghcr.io/chaos/app-%d-%02d:1.0", seed, i)
		report["ArtifactName"] = name
		md := report["Metadata"].(map[string]any)
		md["RepoTags"] = []string{name}
		md["Reference"] = name
		body, _ := json.Marshal(report)
		trivy = append(trivy, &chaosEvent{kind: "trivy", entity: name, path: "/webhooks/trivy", body: body,
			header: map[string]string{"Authorization": "Bearer " + trivyToken, "Content-Type": "application/json"}})
	}

	var releases []*chaosEvent
	for i := range min(l.tools, len(tools)) {
		var body map[string]any
		if err := json.Unmarshal(readFile(t, "github/release.published.json"), &body); err != nil {
			t.Fatal(err)
		}
		tool := tools[i]
		rel := body["release"].(map[string]any)
		rel["tag_name"] = "v1.1.0"
		rel["prerelease"] = false
		rel["html_url"] = "https://github.com/chaos/" + tool + "/releases/tag/v1.1.0"
		rel["body"] = "## Changes\n- faster"
		r := body["repository"].(map[string]any)
		r["name"], r["full_name"] = tool, "chaos/"+tool
		r["owner"].(map[string]any)["login"] = "chaos"
		b, _ := json.Marshal(body)
		releases = append(releases, &chaosEvent{kind: "release", entity: tool, path: "/webhooks/github", body: b,
			header: map[string]string{
				"Content-Type": "application/json", "X-GitHub-Event": "release",
				"X-GitHub-Delivery": fmt.Sprintf("chaos-%d-%s", seed, tool), "X-Hub-Signature-256": signGitHub(b),
			}})
	}
	return [][]*chaosEvent{checks, trivy, releases}
}

// run sends every lane to the end; it returns when all events are
// accepted, or fails the test when one cannot be within two minutes.
func (d *chaosDriver) run(lanes [][]*chaosEvent, every time.Duration) {
	var wg sync.WaitGroup
	for _, lane := range lanes {
		wg.Go(func() {
			for _, ev := range lane {
				if !d.send(ev) || !d.pause(every) { // the steady rate
					return
				}
			}
		})
	}
	wg.Wait()
}

func (d *chaosDriver) send(ev *chaosEvent) bool {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		d.attempts.Add(1)
		code, answer, retryAfter := postRetryAfter(d.t, "http://"+d.addr()+ev.path, ev.header, ev.body)
		switch code {
		case 202:
			var a struct {
				Key string `json:"key"`
			}
			if err := json.Unmarshal([]byte(answer), &a); err != nil || a.Key == "" {
				d.t.Errorf("%s %s: 202 with %q: no key", ev.kind, ev.entity, answer)
				return false
			}
			ev.key = a.Key
			d.mu.Lock()
			d.accepted = append(d.accepted, ev)
			d.mu.Unlock()
			d.nAccepted.Add(1)
			return true
		case 503:
			d.unavailable.Add(1)
			if retryAfter <= 0 {
				d.t.Errorf("%s %s: 503 without Retry-After: %s", ev.kind, ev.entity, answer)
				retryAfter = time.Second
			}
			if !d.pause(retryAfter) { // as the sender would: Retry-After
				return false
			}
		case 0:
			d.connErrors.Add(1)
			if !d.pause(200 * time.Millisecond) { // the sender's own backoff
				return false
			}
		default:
			d.t.Errorf("%s %s: %d %s, want 202 or 503", ev.kind, ev.entity, code, answer)
			return false
		}
	}
	d.t.Errorf("%s %s: not accepted within 2 minutes", ev.kind, ev.entity)
	return false
}

// pause waits d, or returns false at once when the driver is stopped.
func (d *chaosDriver) pause(dur time.Duration) bool {
	select {
	case <-time.After(dur):
		return true
	case <-d.stop:
		return false
	}
}

// events returns the accepted events.
func (d *chaosDriver) events() []*chaosEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*chaosEvent(nil), d.accepted...)
}

// waitAccepted waits until n events have been accepted.
func (d *chaosDriver) waitAccepted(n int) {
	d.t.Helper()
	waitFor(d.t, 2*time.Minute, fmt.Sprintf("%d accepted events", n), func() error {
		if got := d.nAccepted.Load(); got < int64(n) {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
}

// postRetryAfter is post that also returns the Retry-After of the answer.
func postRetryAfter(t testing.TB, url string, header map[string]string, body []byte) (int, string, time.Duration) {
	t.Helper()
	var ra string
	code, answer := postWith(t, url, header, body, func(h map[string][]string) {
		if v := h["Retry-After"]; len(v) > 0 {
			ra = v[0]
		}
	})
	secs, _ := strconv.Atoi(strings.TrimSpace(ra))
	return code, answer, time.Duration(secs) * time.Second
}

// postWith is post that hands the answer's header to seen.
func postWith(t testing.TB, url string, header map[string]string, body []byte, seen func(map[string][]string)) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, err.Error()
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
	seen(resp.Header)
	return resp.StatusCode, string(b)
}

package watcher_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/github"
	"github.com/stoa-platform/bridge/pkg/watcher"
	"github.com/stoa-platform/bridge/pkg/watcher/githubtest"
)

// recorder publishes to the real bus and remembers what it was asked to
// publish.
type recorder struct {
	b  *bus.Bus
	mu sync.Mutex
	ev []*event.Event
}

func (r *recorder) Publish(ctx context.Context, ev *event.Event) (bool, error) {
	ack, err := r.b.Publish(ctx, ev)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	r.ev = append(r.ev, ev)
	r.mu.Unlock()
	return ack.Duplicate, nil
}

// take returns the tags published since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var tags []string
	for _, ev := range r.ev {
		tags = append(tags, ev.GetReleasePublished().GetTag())
	}
	r.ev = nil
	return tags
}

func (r *recorder) events() []*event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ev)
}

type env struct {
	gh  *githubtest.Server
	b   *bus.Bus
	kv  jetstream.KeyValue
	pub *recorder
	inv *inventory.Inventory
	log *logBuffer
	m   *metrics.Metrics
}

func tool(name, repo, deployed, pattern string, pre bool) inventory.Tool {
	return inventory.Tool{Name: name, Repo: repo, Deployed: deployed, TagPattern: pattern, Prereleases: pre}
}

func newEnv(t *testing.T, tools ...inventory.Tool) *env {
	t.Helper()
	b := bustest.Open(t, bus.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	kv, err := watcher.OpenState(ctx, b.JetStream(), event.WatcherBucket(b.Prefix()), 1)
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		gh:  githubtest.New(t),
		b:   b,
		kv:  kv,
		pub: &recorder{b: b},
		inv: &inventory.Inventory{Tools: tools},
		log: &logBuffer{},
		m:   metrics.New(prometheus.NewRegistry()),
	}
}

func (e *env) watcher(mod ...func(*watcher.Options)) *watcher.Watcher {
	o := watcher.Options{
		APIURL:    e.gh.URL(),
		Inventory: e.inv,
		Interval:  time.Hour,
		State:     e.kv,
		Publisher: e.pub,
		Logger:    slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:   e.m,
	}
	for _, f := range mod {
		f(&o)
	}
	return watcher.New(o)
}

func pollOnce(t *testing.T, w *watcher.Watcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.PollOnce(ctx); err != nil {
		t.Fatalf("PollOnce() = %v, want nil", err)
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many records have msg and every attr given.
func (l *logBuffer) count(msg string, attrs map[string]string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range attrs {
			if fmt.Sprint(rec[k]) != v {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestFirstPollAnnouncesNewestQualifyingOnly(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
	for _, r := range []struct {
		tag        string
		pre, draft bool
	}{
		{"v1.20.4", false, false},
		{"v1.21.1", false, false},
		{"v1.22.0", false, false},
		{"v1.22.1", false, false},
		{"v1.23.0-rc.1", true, false}, // a pre-release, ignored by this tool
		{"v1.23.0", false, true},      // a draft
	} {
		e.gh.AddRelease("hashicorp", "vault", r.tag, r.pre, r.draft)
	}
	pollOnce(t, e.watcher())
	if diff := gocmp.Diff([]string{"v1.22.1"}, e.pub.take()); diff != "" {
		t.Errorf("first poll published tags (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(e.m.Published.WithLabelValues(watcher.MetricsSource, event.KindReleasePublished)); got != 1 {
		t.Errorf("bridge_events_published_total{source=%q} = %v, want 1", watcher.MetricsSource, got)
	}
}

func TestNotModifiedPublishesNothingAndCostsNoRateLimit(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	w := e.watcher()
	pollOnce(t, w)
	e.pub.take()
	_, remaining, _ := e.gh.RateLimit()

	pollOnce(t, w)
	pollOnce(t, w)
	if got := e.pub.take(); len(got) != 0 {
		t.Errorf("polls with no change published %v, want nothing", got)
	}
	if got := e.gh.Conditional("hashicorp/vault"); got != 2 {
		t.Errorf("Conditional() = %d, want 2 (every poll after the first)", got)
	}
	if got := e.gh.NotModified("hashicorp/vault"); got != 2 {
		t.Errorf("NotModified() = %d, want 2", got)
	}
	if _, got, _ := e.gh.RateLimit(); got != remaining {
		t.Errorf("rate limit remaining = %d after two 304s, want %d (unchanged)", got, remaining)
	}
}

func TestNewReleaseIsPublishedOnce(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	w := e.watcher()
	pollOnce(t, w)
	e.pub.take()

	e.gh.AddRelease("hashicorp", "vault", "v1.22.1", false, false)
	e.gh.AddRelease("hashicorp", "vault", "v1.23.0", false, false)
	pollOnce(t, w)
	if diff := gocmp.Diff([]string{"v1.22.1", "v1.23.0"}, e.pub.take()); diff != "" {
		t.Errorf("after two new releases, published (-want +got):\n%s", diff)
	}
	// A backport older than the last seen: not news.
	e.gh.AddRelease("hashicorp", "vault", "v1.22.2", false, false)
	pollOnce(t, w)
	pollOnce(t, w)
	if got := e.pub.take(); len(got) != 0 {
		t.Errorf("later polls published %v, want nothing", got)
	}
}

func TestRestartReannouncesNothing(t *testing.T) {
	e := newEnv(t, tool("Keycloak", "keycloak/keycloak", "26.5.0", "{version}", false))
	e.gh.AddRelease("keycloak", "keycloak", "26.5.1", false, false)
	pollOnce(t, e.watcher())
	if diff := gocmp.Diff([]string{"26.5.1"}, e.pub.take()); diff != "" {
		t.Fatalf("first watcher published (-want +got):\n%s", diff)
	}

	pollOnce(t, e.watcher()) // a new process, the same bucket
	if got := e.pub.take(); len(got) != 0 {
		t.Errorf("restarted watcher published %v, want nothing", got)
	}
	if got := e.gh.NotModified("keycloak/keycloak"); got != 1 {
		t.Errorf("NotModified() = %d, want 1: the ETag survives a restart", got)
	}

	// Releases shipped while it was down: all of them are news, not just
	// the newest (that is the very first poll's rule).
	e.gh.AddRelease("keycloak", "keycloak", "26.5.2", false, false)
	e.gh.AddRelease("keycloak", "keycloak", "26.6.0", false, false)
	pollOnce(t, e.watcher())
	if diff := gocmp.Diff([]string{"26.5.2", "26.6.0"}, e.pub.take()); diff != "" {
		t.Errorf("restarted watcher after new releases published (-want +got):\n%s", diff)
	}
}

func TestNothingAnnounced(t *testing.T) {
	tests := []struct {
		name       string
		tool       inventory.Tool
		tag        string
		pre, draft bool
	}{
		{"same as deployed", tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false), "v1.21.0", false, false},
		{"older than deployed", tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false), "v1.20.9", false, false},
		{"within a wildcard", tool("Gitleaks", "gitleaks/gitleaks", "8.x", "v{version}", false), "v8.30.0", false, false},
		{"github pre-release", tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false), "v1.22.0", true, false},
		{"pre-release version", tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false), "v1.22.0-rc.1", false, false},
		{"draft", tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false), "v1.22.0", false, true},
		{"other tag style", tool("ESO", "external-secrets/external-secrets", "0.12.0", "v{version}", false), "helm-chart-0.13.0", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.tool)
			owner, repo, _ := strings.Cut(tt.tool.Repo, "/")
			e.gh.AddRelease(owner, repo, tt.tag, tt.pre, tt.draft)
			w := e.watcher()
			pollOnce(t, w)
			pollOnce(t, w)
			if got := e.pub.take(); len(got) != 0 {
				t.Errorf("release %s (prerelease %v, draft %v) of %s deployed %s: published %v, want nothing",
					tt.tag, tt.pre, tt.draft, tt.tool.Repo, tt.tool.Deployed, got)
			}
		})
	}
}

func TestPrereleaseCountsWhenToolSaysSo(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", true))
	w := e.watcher()
	e.gh.AddRelease("hashicorp", "vault", "v1.20.0", false, false)
	pollOnce(t, w) // nothing qualifies yet; the tool is now known
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0-rc.1", true, false)
	pollOnce(t, w)
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	pollOnce(t, w)
	if diff := gocmp.Diff([]string{"v1.22.0-rc.1", "v1.22.0"}, e.pub.take()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}

func TestRateLimitExhaustedWaitsForReset(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false),
		tool("Kong", "Kong/kong", "3.9.0", "{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	e.gh.AddRelease("Kong", "kong", "3.10.0", false, false)
	e.gh.ExhaustRateLimit(time.Now().Add(time.Second))

	pollOnce(t, e.watcher())
	if diff := gocmp.Diff([]string{"v1.22.0", "3.10.0"}, e.pub.take()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if got := e.gh.EarlyRequests(); got != 0 {
		t.Errorf("EarlyRequests() = %d, want 0: nothing is sent before the reset", got)
	}
	// One refused, one after the reset; Kong waited without asking.
	if got := e.gh.Requests("hashicorp/vault"); got != 2 {
		t.Errorf("Requests(vault) = %d, want 2", got)
	}
	if got := e.gh.Requests("kong/kong"); got != 1 {
		t.Errorf("Requests(kong) = %d, want 1", got)
	}
	if n := e.log.count("github rate limit reached, pausing polls", map[string]string{"limit": "primary"}); n != 1 {
		t.Errorf("rate-limit log lines = %d, want 1\n%s", n, e.log)
	}
}

func TestSecondaryLimitRetryAfter(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false),
		tool("Kong", "Kong/kong", "3.9.0", "{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	e.gh.AddRelease("Kong", "kong", "3.10.0", false, false)
	e.gh.SecondaryLimit(1, time.Second)

	pollOnce(t, e.watcher())
	if diff := gocmp.Diff([]string{"v1.22.0", "3.10.0"}, e.pub.take()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if got := e.gh.EarlyRequests(); got != 0 {
		t.Errorf("EarlyRequests() = %d, want 0: nothing is sent before Retry-After", got)
	}
	if got := e.gh.Requests("hashicorp/vault"); got != 2 {
		t.Errorf("Requests(vault) = %d, want 2", got)
	}
}

func TestRemainingZeroHoldsTheNextRequest(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false),
		tool("Kong", "Kong/kong", "3.9.0", "{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	e.gh.AddRelease("Kong", "kong", "3.10.0", false, false)
	// One request left in this window: the 200 for vault says Remaining 0.
	e.gh.SetRateLimit(1, time.Now().Add(time.Second))
	w := e.watcher()
	pollOnce(t, w)
	if diff := gocmp.Diff([]string{"v1.22.0", "3.10.0"}, e.pub.take()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if got := e.gh.EarlyRequests(); got != 0 {
		t.Errorf("EarlyRequests() = %d, want 0", got)
	}
	if got := e.gh.Requests("kong/kong"); got != 1 {
		t.Errorf("Requests(kong) = %d, want 1: it waits for the reset rather than be refused", got)
	}
}

func TestUnreachableToolOthersStillPolled(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false),
		tool("Kong", "Kong/kong", "3.9.0", "{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	e.gh.AddRelease("Kong", "kong", "3.10.0", false, false)
	e.gh.FailRepo("hashicorp", "vault", -1, http.StatusBadGateway)
	w := e.watcher()

	for range 3 {
		if err := w.PollOnce(t.Context()); err == nil {
			t.Fatal("PollOnce() = nil, want the vault failure")
		}
	}
	if diff := gocmp.Diff([]string{"3.10.0"}, e.pub.take()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	got := w.Unreachable()
	if len(got) != 1 || !strings.HasPrefix(got[0], "hashicorp/vault: github unreachable since ") || !strings.Contains(got[0], "502") {
		t.Errorf("Unreachable() = %q, want one hashicorp/vault line with the 502", got)
	}
	if n := e.log.count("github unreachable", map[string]string{"repo": "hashicorp/vault"}); n != 1 {
		t.Errorf("%d log lines for three failed polls, want 1 (once per change)\n%s", n, e.log)
	}

	e.gh.FailRepo("hashicorp", "vault", 0, 0)
	pollOnce(t, w)
	if got := w.Unreachable(); len(got) != 0 {
		t.Errorf("Unreachable() after recovery = %q, want none", got)
	}
	if diff := gocmp.Diff([]string{"v1.22.0"}, e.pub.take()); diff != "" {
		t.Errorf("after recovery, published (-want +got):\n%s", diff)
	}
	if n := e.log.count("release poll recovered", map[string]string{"repo": "hashicorp/vault"}); n != 1 {
		t.Errorf("%d recovery log lines, want 1", n)
	}
}

func TestConnectionRefusedIsUnreachable(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
	url := e.gh.URL()
	e.gh.Close()
	w := e.watcher(func(o *watcher.Options) { o.APIURL = url })
	if err := w.PollOnce(t.Context()); err == nil {
		t.Fatal("PollOnce() = nil, want an error")
	}
	if got := w.Unreachable(); len(got) != 1 || !strings.HasPrefix(got[0], "hashicorp/vault: github unreachable since ") {
		t.Errorf("Unreachable() = %q, want one hashicorp/vault line", got)
	}
}

func TestEnterpriseAPIURL(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	w := e.watcher(func(o *watcher.Options) { o.APIURL = e.gh.EnterpriseURL() })
	pollOnce(t, w)
	pollOnce(t, w)
	if diff := gocmp.Diff([]string{"v1.22.0"}, e.pub.take()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if got := e.gh.NotModified("hashicorp/vault"); got != 1 {
		t.Errorf("NotModified() = %d, want 1", got)
	}
}

func TestToken(t *testing.T) {
	const token = "ghp_s3cretT0kenValue"
	tests := []struct {
		name    string
		token   func(context.Context) (secrets.Secret, error)
		wantErr bool
	}{
		{"bearer token", func(context.Context) (secrets.Secret, error) { return secrets.New(token), nil }, false},
		{"wrong token", func(context.Context) (secrets.Secret, error) { return secrets.New("ghp_wrong"), nil }, true},
		{"not set", func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, secrets.ErrNotFound }, true},
		{"provider down", func(context.Context) (secrets.Secret, error) {
			return secrets.Secret{}, errors.New("vault: sealed")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
			e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
			e.gh.RequireToken(token)
			w := e.watcher(func(o *watcher.Options) { o.Token = tt.token })
			err := w.PollOnce(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("PollOnce() = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if got := w.Unreachable(); len(got) != 1 || !strings.Contains(got[0], "release poll failing") {
					t.Errorf("Unreachable() = %q, want one failing (not unreachable) line", got)
				}
			}
			for where, s := range map[string]string{"error": fmt.Sprint(err), "log": e.log.String(), "notes": strings.Join(w.Unreachable(), "\n")} {
				if strings.Contains(s, token) {
					t.Errorf("the token appears in the %s: %s", where, s)
				}
			}
		})
	}
}

// TestSameEventAsWebhook: the watcher's event for a release is the one
// the webhook path makes for it, but for the id, source and origin, so
// the stream keeps one of the two.
func TestSameEventAsWebhook(t *testing.T) {
	e := newEnv(t, tool("Kong", "kong/KONG", "3.9.0", "{version}", false))
	body := strings.Repeat("Ünïcode release notes. ", 4000) // over 64 KiB
	rel := e.gh.Add("Kong", "kong", githubtest.Release{TagName: "3.10.0", Name: "3.10.0 — the big one", Body: body})
	pollOnce(t, e.watcher())
	evs := e.pub.events()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	got := evs[0]

	payload, err := json.Marshal(map[string]any{
		"action": "published",
		"release": map[string]any{
			"tag_name": rel.TagName, "name": rel.Name, "body": rel.Body, "html_url": rel.HTMLURL,
			"draft": false, "prerelease": false,
			"created_at": rel.CreatedAt.Format(time.RFC3339), "published_at": rel.PublishedAt.Format(time.RFC3339),
		},
		"repository": map[string]any{"name": "kong", "full_name": "Kong/kong", "owner": map[string]any{"login": "Kong"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(github.HeaderEvent, "release")
	h.Set(github.HeaderDelivery, "d1")
	h.Set("Content-Type", "application/json")
	want, err := github.Parse(h, payload)
	if err != nil {
		t.Fatalf("github.Parse() = %v", err)
	}
	if got.GetSource() != watcher.Source || got.GetReleasePublished().GetOrigin() != watcher.Origin {
		t.Errorf("source, origin = %q, %q; want %q, %q", got.GetSource(), got.GetReleasePublished().GetOrigin(), watcher.Source, watcher.Origin)
	}
	if len(got.GetReleasePublished().GetBody()) > watcher.MaxReleaseBody || watcher.MaxReleaseBody != github.MaxReleaseBody {
		t.Errorf("body %d bytes, MaxReleaseBody %d; want at most github.MaxReleaseBody %d",
			len(got.GetReleasePublished().GetBody()), watcher.MaxReleaseBody, github.MaxReleaseBody)
	}
	want.Id, want.Source, want.GetReleasePublished().Origin = got.GetId(), got.GetSource(), got.GetReleasePublished().GetOrigin()
	if diff := gocmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("watcher event vs webhook event (-webhook +watcher):\n%s", diff)
	}

	// And the stream takes the webhook's as a duplicate.
	ack, err := e.b.Publish(t.Context(), want)
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Errorf("the webhook's event after the watcher's: Duplicate = false, want true (same key %q)", want.GetIdempotencyKey())
	}
}

// TestRun: the loop polls every tool, picks up a new release on a later
// round, and returns nil when its context ends.
func TestRun(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false),
		tool("Kong", "Kong/kong", "3.9.0", "{version}", false),
		tool("Loki", "grafana/loki", "2.9.0", "v{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	e.gh.AddRelease("Kong", "kong", "3.10.0", false, false)
	e.gh.AddRepo("grafana", "loki")
	w := e.watcher(func(o *watcher.Options) { o.Interval = 150 * time.Millisecond })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	var seen []string
	wait := func(want ...string) {
		t.Helper()
		bustest.Eventually(t, 10*time.Second, func() error {
			seen = append(seen, e.pub.take()...)
			slices.Sort(seen)
			if !slices.Equal(seen, want) {
				return fmt.Errorf("published %v, want %v", seen, want)
			}
			return nil
		})
	}
	wait("3.10.0", "v1.22.0")
	e.gh.AddRelease("grafana", "loki", "v3.0.0", false, false)
	wait("3.10.0", "v1.22.0", "v3.0.0")
	// Every tool is polled again with nothing new: conditional requests.
	bustest.Eventually(t, 10*time.Second, func() error {
		for _, r := range []string{"hashicorp/vault", "kong/kong", "grafana/loki"} {
			if e.gh.NotModified(r) < 2 {
				return fmt.Errorf("%s: %d 304s", r, e.gh.NotModified(r))
			}
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v after cancel, want nil", err)
	}
	if got := e.pub.take(); len(got) != 0 {
		t.Errorf("published %v again", got)
	}
}

// TestRunBacksOffAndRecovers: a failing tool does not stop the loop, and
// is polled again well before the interval (the back-off starts at 1s).
func TestRunBacksOffAndRecovers(t *testing.T) {
	e := newEnv(t, tool("Vault", "hashicorp/vault", "1.21.0", "v{version}", false))
	e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
	e.gh.FailRepo("hashicorp", "vault", 2, http.StatusServiceUnavailable)
	w := e.watcher(func(o *watcher.Options) { o.Interval = time.Hour })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// The problem is cleared when the poll that published returns: wait
	// for both rather than read Unreachable the instant the event lands.
	bustest.Eventually(t, 20*time.Second, func() error {
		if got := e.pub.events(); len(got) != 1 {
			return fmt.Errorf("published %d events", len(got))
		}
		if got := w.Unreachable(); len(got) != 0 {
			return fmt.Errorf("Unreachable() = %q after recovery, want none", got)
		}
		return nil
	})
}

// TestDefaultInventoryTagPatterns: every tool of the built-in inventory is
// watched with its own tag style; a tag of another style in the same
// repository (a chart, a sub-project) is not taken for a release.
func TestDefaultInventoryTagPatterns(t *testing.T) {
	inv := inventory.Default()
	e := newEnv(t, inv.Tools...)
	want := map[string]string{} // repo → tag
	for _, tl := range inv.Tools {
		owner, repo, _ := strings.Cut(tl.Repo, "/")
		major, err := strconv.Atoi(strings.SplitN(tl.Deployed, ".", 2)[0])
		if err != nil {
			t.Fatalf("%s: deployed %q: %v", tl.Repo, tl.Deployed, err)
		}
		pattern := cmp.Or(tl.TagPattern, inventory.DefaultTagPattern)
		tag := func(v string) string { return strings.Replace(pattern, inventory.Placeholder, v, 1) }
		e.gh.AddRelease(owner, repo, tag(strings.TrimSuffix(tl.Deployed, ".x")+".0"), false, false)
		want[tl.Repo] = tag(fmt.Sprintf("%d.0.0", major+1))
		e.gh.AddRelease(owner, repo, want[tl.Repo], false, false)
		e.gh.AddRelease(owner, repo, "chart-"+tag(fmt.Sprintf("%d.0.0", major+2)), false, false)
	}
	pollOnce(t, e.watcher())
	got := map[string]string{}
	for _, ev := range e.pub.events() {
		got[ev.GetSubject()] = ev.GetReleasePublished().GetTag()
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("published per repository (-want +got):\n%s", diff)
	}
}

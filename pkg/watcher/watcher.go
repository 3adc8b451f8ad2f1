// Package watcher is the release-watcher: it polls the GitHub releases of
// every tool in the inventory and publishes a release.published event for
// each release newer than both the deployed version and the newest release
// it has already seen.
//
// It is built to cost GitHub next to nothing and to stay quiet across
// restarts:
//   - polls are spread evenly over the interval (tool i of n at
//     i*Interval/n, then every Interval);
//   - each poll sends the last ETag as If-None-Match, and a 304 (which costs
//     no rate limit) changes nothing;
//   - when X-RateLimit-Remaining reaches 0 no request is sent before
//     X-RateLimit-Reset, and a secondary limit's Retry-After is honoured;
//   - per tool, the ETag and the last-seen release are kept in a KeyValue
//     bucket, so a restart re-announces nothing, and the very first poll of
//     a tool announces only its newest qualifying release, not its history.
//
// The events carry the same idempotency key as the webhook path's
// (event.ReleaseKey), so the stream keeps one of the two.
//
// A tool whose poll fails (GitHub unreachable, a 5xx, a bad token…) is
// logged once per change of error, listed by Unreachable, and polled again
// with an exponential back-off capped at the interval; the other tools are
// polled as usual. A 401 first has the secrets read again (Options.Refresh)
// and, when GITHUB_TOKEN changed, the poll made once more at once.
package watcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	gh "github.com/google/go-github/v66/github"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/metrics"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source"
)

// Source is the CloudEvents source of the watcher's events.
const Source = "urn:bridge:release-watcher"

// Origin is the ReleasePublished origin of the watcher's events (the
// webhook path's say "webhook").
const Origin = "watcher"

// MetricsSource is the source label of bridge_events_published_total for
// the watcher's events.
const MetricsSource = "release-watcher"

// MaxReleaseBody is how much of the release notes an event carries, the
// same as the webhook path (source/github.MaxReleaseBody).
const MaxReleaseBody = 64 << 10

// Defaults and limits.
const (
	// DefaultInterval is the poll interval when Options.Interval is zero.
	DefaultInterval = 15 * time.Minute
	// DefaultAPIURL is github.com's API, used when Options.APIURL is empty.
	DefaultAPIURL = "https://api.github.com/"
	// perPage releases per poll: more than a project ships between two
	// polls, few enough for one cheap page.
	perPage = 30
	// requestTimeout bounds one call to GitHub.
	requestTimeout = 30 * time.Second
	// minBackoff is the first wait after a failed poll; it doubles per
	// failure up to the interval.
	minBackoff = time.Second
	// resetSlack pads X-RateLimit-Reset against clock skew with GitHub.
	resetSlack = time.Second
	// secondaryWait is the wait after a secondary limit with no
	// Retry-After: GitHub says to wait at least a minute.
	secondaryWait = time.Minute
	// rateAttempts is how many times a poll asks again after waiting out a
	// rate limit before it gives up until its next turn.
	rateAttempts = 3
)

// Publisher persists an event; duplicate reports that the store already
// held one with the same idempotency key. Same shape as gateway.Publisher.
type Publisher interface {
	Publish(ctx context.Context, ev *event.Event) (duplicate bool, err error)
}

// Options configures a Watcher. Inventory, State and Publisher are
// required.
type Options struct {
	// APIURL is the REST API base with its trailing slash (config
	// github.api_url): https://api.github.com/, or for GitHub Enterprise
	// Server https://ghe.example/api/v3/. Empty means DefaultAPIURL.
	APIURL string
	// Token returns GITHUB_TOKEN, sent as "Authorization: Bearer", read at
	// every request so a rotation needs no restart. Nil, or an error
	// matching secrets.ErrNotFound, means unauthenticated requests.
	Token func(ctx context.Context) (secrets.Secret, error)
	// Refresh, when set, reads the secrets again after GitHub refused the
	// token (401), and reports whether they changed after since, when the
	// poll began; if they did the poll is made once more, with the new
	// token. Nil: a 401 waits for the next poll.
	Refresh   func(ctx context.Context, since time.Time) bool
	Inventory *inventory.Inventory
	// Interval is how often each tool is polled (github.poll_interval);
	// DefaultInterval when zero.
	Interval time.Duration
	// State holds the ETag and last-seen release per tool (see OpenState).
	State     jetstream.KeyValue
	Publisher Publisher
	// Logger defaults to discarding; Metrics to none.
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// HTTPClient defaults to http.DefaultClient's transport; the watcher
	// wraps its transport to add the token and If-None-Match.
	HTTPClient *http.Client
}

// Watcher polls the inventory's releases. Create it with New.
type Watcher struct {
	o        Options
	log      *slog.Logger
	client   *gh.Client
	setupErr error // a bad APIURL: every poll fails with it
	tools    []tracked

	mu       sync.Mutex
	problems map[string]problem // by tracked.repo
	gate     time.Time          // no request before it: a rate limit
}

type tracked struct {
	tool        *inventory.Tool
	repo        string // as the inventory spells it
	owner, name string
}

type problem struct {
	since       time.Time
	msg         string
	unreachable bool
}

// New returns a Watcher of every tool in o.Inventory. A tool whose repo is
// not "owner/repo" is left out with a warning (inventory.Load refuses
// them anyway).
func New(o Options) *Watcher {
	w := &Watcher{o: o, log: o.Logger, problems: make(map[string]problem)}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.o.Interval <= 0 {
		w.o.Interval = DefaultInterval
	}
	hc := http.Client{}
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	}
	hc.Transport = &transport{base: cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport), token: o.Token}
	w.client = gh.NewClient(&hc)
	w.client.UserAgent = "stoa-bridge-release-watcher"
	base, err := url.Parse(cmp.Or(o.APIURL, DefaultAPIURL))
	switch {
	case err != nil:
		w.setupErr = fmt.Errorf("watcher: github.api_url: %w", err)
	case !base.IsAbs():
		w.setupErr = errors.New("watcher: github.api_url: not an absolute URL")
	default:
		if !strings.HasSuffix(base.Path, "/") {
			base.Path += "/"
		}
		w.client.BaseURL = base
	}
	if o.Inventory != nil {
		for i := range o.Inventory.Tools {
			t := &o.Inventory.Tools[i]
			owner, name, ok := strings.Cut(t.Repo, "/")
			if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
				w.log.Warn("inventory tool without an owner/repo, not watched", "tool", t.Name, "repo", t.Repo)
				continue
			}
			w.tools = append(w.tools, tracked{tool: t, repo: t.Repo, owner: owner, name: name})
		}
	}
	return w
}

// Run polls every tool, spread evenly over the interval, until ctx is
// done; it then returns nil. A failed poll is retried after a back-off
// (1s, 2s, 4s… capped at the interval), then the tool returns to its slot.
func (w *Watcher) Run(ctx context.Context) error {
	n := len(w.tools)
	if n == 0 {
		w.log.Info("release-watcher has no tools to watch")
		<-ctx.Done()
		return nil
	}
	w.log.Info("release-watcher started", "tools", n, "interval", w.o.Interval.String())
	start := time.Now()
	offset := func(i int) time.Duration { return time.Duration(i) * w.o.Interval / time.Duration(n) }
	next := make([]time.Time, n)
	failures := make([]int, n)
	for i := range next {
		next[i] = start.Add(offset(i))
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		i := 0
		for j := range next {
			if next[j].Before(next[i]) {
				i = j
			}
		}
		if d := time.Until(next[i]); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		err := w.pollTool(ctx, &w.tools[i])
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if err != nil {
			failures[i]++
			next[i] = now.Add(backoff(failures[i], w.o.Interval))
			continue
		}
		failures[i] = 0
		next[i] = slot(start.Add(offset(i)), w.o.Interval, now)
	}
}

// slot returns the first time after now of first + k*interval, so a tool
// that was late (a back-off, a rate-limit wait) goes back to its place in
// the spread instead of bunching up with the others.
func slot(first time.Time, interval time.Duration, now time.Time) time.Time {
	if now.Before(first) {
		return first
	}
	k := now.Sub(first)/interval + 1
	return first.Add(k * interval)
}

// backoff is the wait after the failures-th failed poll in a row.
func backoff(failures int, interval time.Duration) time.Duration {
	d := minBackoff
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

// PollOnce polls every tool once, one after the other, and returns the
// failures joined (the other tools are polled regardless). A rate limit is
// waited out within the call.
func (w *Watcher) PollOnce(ctx context.Context) error {
	var errs []error
	for i := range w.tools {
		if err := ctx.Err(); err != nil {
			return err
		}
		errs = append(errs, w.pollTool(ctx, &w.tools[i]))
	}
	return errors.Join(errs...)
}

// Unreachable lists the tools whose last poll failed, sorted, one line
// each for /readyz notes, e.g. "keycloak/keycloak: github unreachable since
// 2026-01-05T10:00:00Z: GET https://…: 502 Bad Gateway []".
func (w *Watcher) Unreachable() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.problems))
	for repo, p := range w.problems {
		what := "release poll failing"
		if p.unreachable {
			what = "github unreachable"
		}
		out = append(out, fmt.Sprintf("%s: %s since %s: %s", repo, what, p.since.UTC().Format(time.RFC3339), p.msg))
	}
	sort.Strings(out)
	return out
}

// pollTool polls one tool and keeps its problem record: logged once per
// change of error, cleared (and logged) on the first success.
func (w *Watcher) pollTool(ctx context.Context, t *tracked) error {
	began := time.Now()
	err := w.poll(ctx, t)
	if refused(err) && w.refreshed(ctx, began) {
		w.log.Info("github refused the token; secrets re-read, polling again", "tool", t.tool.Name, "repo", t.repo)
		err = w.poll(ctx, t)
	}
	if ctx.Err() != nil {
		return err // shutting down: not the tool's problem
	}
	w.mu.Lock()
	p, had := w.problems[t.repo]
	if err == nil {
		delete(w.problems, t.repo)
		w.mu.Unlock()
		if had {
			w.log.Info("release poll recovered", "tool", t.tool.Name, "repo", t.repo)
		}
		return nil
	}
	msg := err.Error()
	changed := !had || p.msg != msg
	if !had {
		p.since = time.Now()
	}
	p.msg, p.unreachable = msg, unreachable(err)
	w.problems[t.repo] = p
	w.mu.Unlock()
	if changed {
		if p.unreachable {
			w.log.Warn("github unreachable", "tool", t.tool.Name, "repo", t.repo, "err", msg)
		} else {
			w.log.Warn("release poll failed", "tool", t.tool.Name, "repo", t.repo, "err", msg)
		}
	}
	return err
}

// refused reports whether GitHub refused the token: 401 Bad credentials.
func refused(err error) bool {
	er, ok := errors.AsType[*gh.ErrorResponse](err)
	return ok && er.Response != nil && er.Response.StatusCode == http.StatusUnauthorized
}

// refreshed asks Options.Refresh whether the secrets changed since began:
// then the refused token was an old one.
func (w *Watcher) refreshed(ctx context.Context, began time.Time) bool {
	if w.o.Refresh == nil || ctx.Err() != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return w.o.Refresh(ctx, began)
}

// unreachable tells GitHub's absence (transport error, timeout, 5xx) from
// an answer that is its own problem (4xx, rate limits) and from our side
// (state, publish, the token secret).
func unreachable(err error) bool {
	if errors.Is(err, errToken) {
		return false
	}
	if er, ok := errors.AsType[*gh.ErrorResponse](err); ok {
		return er.Response != nil && er.Response.StatusCode >= 500
	}
	_, ok := errors.AsType[*url.Error](err)
	return ok || errors.Is(err, context.DeadlineExceeded)
}

// errNotModified is list's answer to a 304.
var errNotModified = errors.New("not modified")

func (w *Watcher) poll(ctx context.Context, t *tracked) error {
	if w.setupErr != nil {
		return w.setupErr
	}
	st, found, err := w.load(ctx, t.repo)
	if err != nil {
		return err
	}
	fp := fingerprint(t.tool)
	if st.Tool != fp {
		st.ETag = "" // judged with another inventory entry: judge again
	}
	rels, resp, err := w.list(ctx, t, st.ETag)
	if errors.Is(err, errNotModified) {
		w.log.Debug("releases not modified", "repo", t.repo)
		st.LastPoll = time.Now().UTC()
		return w.save(ctx, st)
	}
	if err != nil {
		return fmt.Errorf("watcher: list the releases of %s: %w", t.repo, err)
	}

	var last *semver.Version
	if st.LastSeenVersion != "" {
		last, _ = semver.StrictNewVersion(st.LastSeenVersion) // unreadable: judged by the deployed version alone
	}
	type candidate struct {
		rel *gh.RepositoryRelease
		v   *semver.Version
	}
	var cands []candidate
	for _, r := range rels {
		tag := r.GetTagName()
		if r == nil || r.GetDraft() || tag == "" || !isName(tag) {
			continue
		}
		if _, ok := t.tool.Upgrade(tag, r.GetPrerelease()); !ok {
			continue
		}
		v, ok := t.tool.Version(tag)
		if !ok || (last != nil && !v.GreaterThan(last)) {
			continue
		}
		cands = append(cands, candidate{r, v})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return a.v.Compare(b.v) })
	if !found && len(cands) > 1 {
		// First sight of this tool: its newest upgrade is news, its
		// history is not.
		cands = cands[len(cands)-1:]
	}

	for _, c := range cands {
		tag := c.rel.GetTagName()
		ev, err := w.event(t, c.rel)
		if err != nil {
			// GitHub gave no date: nothing to announce, ever; move on.
			w.log.Warn("release not announced", "repo", t.repo, "tag", tag, "err", err)
		} else {
			dup, err := w.o.Publisher.Publish(ctx, ev)
			if err != nil {
				if found {
					// Keep what was announced; drop the ETag so the next
					// poll fetches the list again.
					st.ETag = ""
					if serr := w.save(ctx, st); serr != nil {
						w.log.Warn("saving release-watcher state", "repo", t.repo, "err", serr)
					}
				}
				return fmt.Errorf("watcher: publish %s %s: %w", t.repo, tag, err)
			}
			if !dup && w.o.Metrics != nil {
				w.o.Metrics.Published.WithLabelValues(MetricsSource, event.KindReleasePublished).Inc()
			}
			w.log.Info("release announced", "event_id", ev.GetId(), "tool", t.tool.Name, "repo", t.repo,
				"tag", tag, "duplicate", dup)
		}
		st.LastSeenTag, st.LastSeenVersion = tag, c.v.String()
	}
	st.ETag = resp.Header.Get("ETag")
	st.LastPoll = time.Now().UTC()
	st.Tool = fp
	return w.save(ctx, st)
}

// list fetches the first page of releases, newest first, conditionally
// on etag. It waits out rate limits (up to rateAttempts times) and answers
// a 304 with errNotModified.
func (w *Watcher) list(ctx context.Context, t *tracked, etag string) ([]*gh.RepositoryRelease, *gh.Response, error) {
	for attempt := 1; ; attempt++ {
		if err := w.waitGate(ctx); err != nil {
			return nil, nil, err
		}
		rctx, cancel := context.WithTimeout(context.WithValue(ctx, etagKey{}, etag), requestTimeout)
		rels, resp, err := w.client.Repositories.ListReleases(rctx, t.owner, t.name, &gh.ListOptions{PerPage: perPage})
		cancel()
		if resp != nil && resp.Response != nil && resp.Request != nil {
			// Remaining 0 on a good answer: the next request would be
			// refused, so none is sent before the reset.
			if r := resp.Rate; r.Remaining == 0 && r.Limit > 0 && !r.Reset.IsZero() {
				w.hold(r.Reset.Add(resetSlack), "primary")
			}
		}
		if err == nil {
			return rels, resp, nil
		}
		if rl, ok := errors.AsType[*gh.RateLimitError](err); ok {
			until := time.Now().Add(secondaryWait)
			if !rl.Rate.Reset.IsZero() {
				until = rl.Rate.Reset.Add(resetSlack)
			}
			w.hold(until, "primary")
		} else if al, ok := errors.AsType[*gh.AbuseRateLimitError](err); ok {
			d := secondaryWait
			if al.RetryAfter != nil {
				d = *al.RetryAfter
			}
			w.hold(time.Now().Add(d), "secondary")
		} else if er, ok := errors.AsType[*gh.ErrorResponse](err); ok && er.Response != nil &&
			er.Response.StatusCode == http.StatusNotModified {
			return nil, resp, errNotModified
		} else {
			return nil, resp, err
		}
		if attempt == rateAttempts {
			return nil, resp, err
		}
	}
}

// hold stops every request until until: the rate limit is the token's,
// not the tool's.
func (w *Watcher) hold(until time.Time, limit string) {
	w.mu.Lock()
	later := until.After(w.gate)
	if later {
		w.gate = until
	}
	w.mu.Unlock()
	if later {
		w.log.Warn("github rate limit reached, pausing polls", "limit", limit, "until", until.UTC().Format(time.RFC3339))
	}
}

func (w *Watcher) waitGate(ctx context.Context) error {
	for {
		w.mu.Lock()
		d := time.Until(w.gate)
		w.mu.Unlock()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// event makes the release.published event the webhook path would make for
// the same release, but for its source and origin.
func (w *Watcher) event(t *tracked, r *gh.RepositoryRelease) (*event.Event, error) {
	owner, name := spelling(r.GetHTMLURL(), t)
	tag := r.GetTagName()
	at := r.GetPublishedAt().Time
	if at.IsZero() {
		at = r.GetCreatedAt().Time
	}
	if at.IsZero() {
		return nil, errors.New("watcher: the release has no published_at")
	}
	published := timestamppb.New(at)
	if err := published.CheckValid(); err != nil {
		return nil, fmt.Errorf("watcher: published_at: %w", err)
	}
	ev := event.New(event.KindReleasePublished, Source, owner+"/"+name, event.ReleaseKey(owner, name, tag, r.GetPrerelease()), at)
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: &bridgev1.ReleasePublished{
		Owner:       owner,
		Repo:        name,
		Tag:         tag,
		Name:        r.GetName(),
		Url:         r.GetHTMLURL(),
		Body:        source.Truncate(r.GetBody(), MaxReleaseBody),
		Prerelease:  r.GetPrerelease(),
		PublishedAt: published,
		Origin:      Origin,
	}}
	return ev, nil
}

// spelling returns owner and repo as GitHub spells them, which the webhook
// path puts in its event: read from the release page's URL
// (https://host/Owner/Repo/releases/tag/…), else the inventory's.
func spelling(htmlURL string, t *tracked) (owner, name string) {
	if u, err := url.Parse(htmlURL); err == nil {
		segs := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		if len(segs) >= 3 && segs[2] == "releases" && strings.EqualFold(segs[0]+"/"+segs[1], t.repo) {
			return segs[0], segs[1]
		}
	}
	return t.owner, t.name
}

// isName reports whether s has no space and no control character: the
// key becomes a Nats-Msg-Id header.
func isName(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

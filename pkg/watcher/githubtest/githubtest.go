// Package githubtest is a fake of the part of GitHub's REST API the
// release-watcher uses: GET /repos/{owner}/{repo}/releases, on github.com's
// paths and under /api/v3/ as GitHub Enterprise Server serves them.
//
// It is a real HTTP server on 127.0.0.1, so it serves unit tests and the
// bridge binary run as a subprocess alike. It keeps GitHub's contract
// rather than accepting anything: releases newest first, a weak ETag per
// release list that changes only when the list does, If-None-Match
// answered 304 (which costs no rate limit), the X-RateLimit-* headers
// decremented on every 200, 403 with X-RateLimit-Remaining: 0 once the
// limit is spent and until its reset, the secondary limit's 403 with
// Retry-After, and GitHub's JSON error bodies. Requests that ignore a limit
// GitHub has already announced are counted (EarlyRequests), so a test can
// prove a client waits.
package githubtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultLimit is the primary rate limit of a new server: GitHub's for an
// authenticated user.
const DefaultLimit = 5000

// Documentation URLs of GitHub's error bodies; go-github tells a secondary
// limit from other 403s by the last one's suffix.
const (
	docsListReleases = "https://docs.github.com/rest/releases/releases#list-releases"
	docsPrimary      = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-rate-limit"
	docsSecondary    = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docsRest         = "https://docs.github.com/rest"
)

// Release is a release as the fake serves it.
type Release struct {
	ID         int64
	TagName    string
	Name       string
	Body       string
	HTMLURL    string
	Draft      bool
	Prerelease bool
	CreatedAt  time.Time
	// PublishedAt is zero for a draft, which GitHub serves as null.
	PublishedAt time.Time
}

type repo struct {
	owner, name string     // as first added: GitHub's spelling
	releases    []*Release // newest first
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu     sync.Mutex
	repos  map[string]*repo // by lower-cased "owner/repo"
	nextID int64
	clock  time.Time // the next release's created_at

	token string // when set, every request must carry it

	limit, remaining int
	reset            time.Time // of the primary window
	// spentTold is set once a response said Remaining: 0 in this window.
	spentTold         bool
	secondaryN        int
	secondaryAfter    time.Duration
	secondaryUntil    time.Time
	failN, failStatus int
	repoFail          map[string]fault

	requests, conditional, notModified map[string]int
	early                              int
}

type fault struct{ n, status int }

// New starts a fake with no repositories and a full primary rate limit. It
// is closed when the test ends; t may be nil, then call Close.
func New(t testing.TB) *Server {
	s := &Server{
		repos:       make(map[string]*repo),
		nextID:      1000,
		clock:       time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC),
		limit:       DefaultLimit,
		remaining:   DefaultLimit,
		reset:       nextSecond(time.Now().Add(time.Hour)),
		repoFail:    make(map[string]fault),
		requests:    make(map[string]int),
		conditional: make(map[string]int),
		notModified: make(map[string]int),
	}
	s.srv = httptest.NewServer(s)
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the API base of github.com's layout, with its trailing slash, as
// the github.api_url setting wants it.
func (s *Server) URL() string { return s.srv.URL + "/" }

// EnterpriseURL is the API base of GitHub Enterprise Server's layout:
// URL() + "api/v3/".
func (s *Server) EnterpriseURL() string { return s.srv.URL + "/api/v3/" }

// Close shuts the server down. It may be called more than once.
func (s *Server) Close() { s.srv.Close() }

// RequireToken makes every request without "Authorization: Bearer token"
// (or GitHub's older "token token") answer 401 Bad credentials.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// AddRelease adds a release as the newest of owner/repo, with the tag as
// its name, a line of notes as its body, its github.com page as html_url,
// and created_at/published_at a minute after the previous release the
// fake made (published_at null for a draft). The first release added
// fixes the repository's spelling; lookups ignore case, as GitHub's do.
func (s *Server) AddRelease(owner, repo, tag string, prerelease, draft bool) Release {
	return s.Add(owner, repo, Release{TagName: tag, Prerelease: prerelease, Draft: draft})
}

// Add adds r as the newest release of owner/repo, filling in what it
// leaves empty as AddRelease does, and returns it as served.
func (s *Server) Add(owner, repo string, r Release) Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(owner, repo)
	s.nextID++
	r.ID = s.nextID
	if r.Name == "" {
		r.Name = r.TagName
	}
	if r.Body == "" {
		r.Body = "Release notes of " + r.TagName + "."
	}
	if r.HTMLURL == "" {
		r.HTMLURL = "https://github.com/" + rp.owner + "/" + rp.name + "/releases/tag/" + r.TagName
	}
	if r.CreatedAt.IsZero() {
		s.clock = s.clock.Add(time.Minute)
		r.CreatedAt = s.clock
	}
	if r.PublishedAt.IsZero() && !r.Draft {
		r.PublishedAt = r.CreatedAt
	}
	rp.releases = append([]*Release{&r}, rp.releases...)
	return r
}

// AddRepo makes owner/repo exist with no release (GitHub answers [] for
// it, not 404).
func (s *Server) AddRepo(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(owner, repo)
}

func (s *Server) repo(owner, name string) *repo {
	k := key(owner, name)
	rp := s.repos[k]
	if rp == nil {
		rp = &repo{owner: owner, name: name}
		s.repos[k] = rp
	}
	return rp
}

// ExhaustRateLimit spends the primary rate limit until reset (rounded up
// to a whole second, as X-RateLimit-Reset is in Unix seconds): until then
// every request is answered 403 with X-RateLimit-Remaining: 0; after it
// the limit is full again.
func (s *Server) ExhaustRateLimit(reset time.Time) { s.SetRateLimit(0, reset) }

// SetRateLimit sets the primary limit's remaining requests until reset
// (rounded up to a whole second); after it the limit is full again. The
// response that spends the last one says X-RateLimit-Remaining: 0.
func (s *Server) SetRateLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining = min(max(remaining, 0), s.limit)
	s.reset = nextSecond(reset)
	s.spentTold = false
}

// SecondaryLimit makes the next n requests trip GitHub's secondary rate
// limit: 403, Retry-After in whole seconds (retryAfter rounded up), and the
// secondary-limit message and documentation URL. A request sent before a
// Retry-After has elapsed is refused the same way and counted as early.
func (s *Server) SecondaryLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondaryN = n
	s.secondaryAfter = retryAfter
}

// Fail makes the next n requests, whatever the repository, answer status
// with a GitHub-style JSON error body. Fail(0, 0) clears it.
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// FailRepo makes the next n requests for owner/repo answer status; n < 0
// means every request until FailRepo(owner, repo, 0, 0).
func (s *Server) FailRepo(owner, repo string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		delete(s.repoFail, key(owner, repo))
		return
	}
	s.repoFail[key(owner, repo)] = fault{n, status}
}

// Requests is how many release-list requests for repo ("owner/repo", any
// case) the server received, whatever it answered.
func (s *Server) Requests(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[strings.ToLower(repo)]
}

// Conditional is how many requests for repo carried If-None-Match.
func (s *Server) Conditional(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conditional[strings.ToLower(repo)]
}

// NotModified is how many requests for repo were answered 304.
func (s *Server) NotModified(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notModified[strings.ToLower(repo)]
}

// EarlyRequests is how many requests arrived while the server had already
// answered that the primary limit was spent (and the reset had not come)
// or that a secondary limit's Retry-After had not elapsed.
func (s *Server) EarlyRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.early
}

// RateLimit returns the primary limit's state as the next response's
// headers would give it.
func (s *Server) RateLimit() (limit, remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refill(time.Now())
	return s.limit, s.remaining, s.reset
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.refill(now)

	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) != 4 || parts[0] != "repos" || parts[3] != "releases" {
		s.rateHeaders(w)
		writeError(w, http.StatusNotFound, "Not Found", docsRest)
		return
	}
	k := key(parts[1], parts[2])
	s.requests[k]++
	inm := r.Header.Get("If-None-Match")
	if inm != "" {
		s.conditional[k]++
	}

	if s.token != "" && !s.authorized(r.Header.Get("Authorization")) {
		w.Header().Set("X-RateLimit-Limit", "60")
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsRest)
		return
	}
	if s.remaining == 0 {
		if s.spentTold { // the client knew, and had to wait for the reset
			s.early++
		}
		s.rateHeaders(w)
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.", docsPrimary)
		return
	}
	if now.Before(s.secondaryUntil) {
		s.early++
		s.secondary(w, now)
		return
	}
	if s.secondaryN > 0 {
		s.secondaryN--
		s.secondary(w, now)
		return
	}
	if f, ok := s.repoFail[k]; ok {
		if f.n > 0 {
			if f.n--; f.n == 0 {
				delete(s.repoFail, k)
			} else {
				s.repoFail[k] = f
			}
		}
		s.rateHeaders(w)
		writeError(w, f.status, http.StatusText(f.status), "")
		return
	}
	if s.failN > 0 {
		s.failN--
		s.rateHeaders(w)
		writeError(w, s.failStatus, http.StatusText(s.failStatus), "")
		return
	}

	rp := s.repos[k]
	if rp == nil {
		s.rateHeaders(w)
		writeError(w, http.StatusNotFound, "Not Found", docsListReleases)
		return
	}
	perPage, page := intParam(r, "per_page", 30), intParam(r, "page", 1)
	perPage = min(max(perPage, 1), 100)
	page = max(page, 1)
	list := make([]release, 0, perPage)
	for i := (page - 1) * perPage; i < len(rp.releases) && len(list) < perPage; i++ {
		list = append(list, s.wire(rp, rp.releases[i]))
	}
	body, err := json.Marshal(list)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	sum := sha256.Sum256(body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, max-age=60, s-maxage=60")
	w.Header().Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	if inm != "" && etagMatch(inm, etag) {
		s.notModified[k]++
		s.rateHeaders(w) // unchanged: a 304 costs nothing
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.remaining--
	s.rateHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (s *Server) secondary(w http.ResponseWriter, now time.Time) {
	secs := int((s.secondaryAfter + time.Second - 1) / time.Second)
	s.secondaryUntil = now.Add(time.Duration(secs) * time.Second)
	s.rateHeaders(w)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.", docsSecondary)
}

// refill starts a new primary window once the reset has passed.
func (s *Server) refill(now time.Time) {
	if !now.Before(s.reset) {
		s.remaining, s.spentTold = s.limit, false
		s.reset = nextSecond(now.Add(time.Hour))
	}
}

func (s *Server) rateHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.limit-s.remaining))
	h.Set("X-RateLimit-Resource", "core")
	if s.remaining == 0 {
		s.spentTold = true
	}
}

func (s *Server) authorized(h string) bool {
	scheme, tok, _ := strings.Cut(h, " ")
	return (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) && tok == s.token
}

// release is GitHub's JSON of a release, the fields the bridge may read.
type release struct {
	URL         string  `json:"url"`
	HTMLURL     string  `json:"html_url"`
	ID          int64   `json:"id"`
	TagName     string  `json:"tag_name"`
	Name        string  `json:"name"`
	Draft       bool    `json:"draft"`
	Prerelease  bool    `json:"prerelease"`
	CreatedAt   string  `json:"created_at"`
	PublishedAt *string `json:"published_at"`
	Body        string  `json:"body"`
}

func (s *Server) wire(rp *repo, r *Release) release {
	out := release{
		URL:        fmt.Sprintf("%s/repos/%s/%s/releases/%d", s.srv.URL, rp.owner, rp.name, r.ID),
		HTMLURL:    r.HTMLURL,
		ID:         r.ID,
		TagName:    r.TagName,
		Name:       r.Name,
		Draft:      r.Draft,
		Prerelease: r.Prerelease,
		CreatedAt:  r.CreatedAt.UTC().Format(time.RFC3339),
		Body:       r.Body,
	}
	if !r.PublishedAt.IsZero() {
		p := r.PublishedAt.UTC().Format(time.RFC3339)
		out.PublishedAt = &p
	}
	return out
}

func writeError(w http.ResponseWriter, status int, msg, docs string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Docs    string `json:"documentation_url,omitempty"`
		Status  string `json:"status"`
	}{msg, docs, strconv.Itoa(status)})
	_, _ = w.Write(b)
}

// etagMatch reports whether an If-None-Match list names etag, comparing
// weakly as RFC 9110 says a GET does.
func etagMatch(list, etag string) bool {
	weak := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, c := range strings.Split(list, ",") {
		if c = strings.TrimSpace(c); c == "*" || weak(c) == weak(etag) {
			return true
		}
	}
	return false
}

func intParam(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
		return v
	}
	return def
}

func key(owner, repo string) string { return strings.ToLower(owner + "/" + repo) }

// nextSecond rounds t up to a whole second.
func nextSecond(t time.Time) time.Time {
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}

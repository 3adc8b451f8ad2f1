package githubtest_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/watcher/githubtest"
)

type answer struct {
	status int
	header http.Header
	body   []map[string]any
}

func get(t *testing.T, url string, h map[string]string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestReleasesETagAndRateLimit(t *testing.T) {
	s := githubtest.New(t)
	s.AddRelease("Kong", "kong", "3.9.0", false, false)
	s.AddRelease("Kong", "kong", "3.10.0-rc.1", true, false)
	s.AddRelease("Kong", "kong", "3.10.0", false, true)

	for _, base := range []string{s.URL(), s.EnterpriseURL()} {
		a := get(t, base+"repos/kong/KONG/releases?per_page=30", nil)
		if a.status != http.StatusOK || len(a.body) != 3 {
			t.Fatalf("GET %s: %d with %d releases, want 200 with 3", base, a.status, len(a.body))
		}
		if a.body[0]["tag_name"] != "3.10.0" || a.body[0]["published_at"] != nil || a.body[1]["prerelease"] != true {
			t.Errorf("releases = %v, want newest first, the draft unpublished", a.body)
		}
		if a.body[2]["html_url"] != "https://github.com/Kong/kong/releases/tag/3.9.0" {
			t.Errorf("html_url = %v", a.body[2]["html_url"])
		}
	}
	first := get(t, s.URL()+"repos/Kong/kong/releases", nil)
	etag := first.header.Get("ETag")
	remaining := first.header.Get("X-RateLimit-Remaining")
	if etag == "" || remaining != "4997" {
		t.Fatalf("ETag %q, remaining %q; want an ETag, 4997", etag, remaining)
	}
	nm := get(t, s.URL()+"repos/Kong/kong/releases", map[string]string{"If-None-Match": etag})
	if nm.status != http.StatusNotModified || nm.header.Get("X-RateLimit-Remaining") != remaining {
		t.Errorf("conditional GET: %d, remaining %q; want 304, %s", nm.status, nm.header.Get("X-RateLimit-Remaining"), remaining)
	}
	s.AddRelease("Kong", "kong", "3.10.1", false, false)
	if a := get(t, s.URL()+"repos/Kong/kong/releases", map[string]string{"If-None-Match": etag}); a.status != http.StatusOK || a.header.Get("ETag") == etag {
		t.Errorf("after a new release: %d, ETag %q; want 200 and a new ETag", a.status, a.header.Get("ETag"))
	}
	if got, want := s.Requests("kong/kong"), 5; got != want {
		t.Errorf("Requests() = %d, want %d", got, want)
	}
	if s.Conditional("kong/kong") != 2 || s.NotModified("kong/kong") != 1 {
		t.Errorf("Conditional, NotModified = %d, %d; want 2, 1", s.Conditional("kong/kong"), s.NotModified("kong/kong"))
	}
	if a := get(t, s.URL()+"repos/nobody/nothing/releases", nil); a.status != http.StatusNotFound {
		t.Errorf("unknown repository: %d, want 404", a.status)
	}
}

func TestFaults(t *testing.T) {
	s := githubtest.New(t)
	s.AddRepo("o", "r")
	url := s.URL() + "repos/o/r/releases"

	s.RequireToken("tok")
	if a := get(t, url, nil); a.status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", a.status)
	}
	if a := get(t, url, map[string]string{"Authorization": "Bearer tok"}); a.status != http.StatusOK {
		t.Errorf("bearer token: %d, want 200", a.status)
	}
	s.RequireToken("")

	s.Fail(1, http.StatusBadGateway)
	if a := get(t, url, nil); a.status != http.StatusBadGateway {
		t.Errorf("Fail: %d, want 502", a.status)
	}
	if a := get(t, url, nil); a.status != http.StatusOK {
		t.Errorf("after Fail(1): %d, want 200", a.status)
	}

	s.SecondaryLimit(1, 1500*time.Millisecond)
	a := get(t, url, nil)
	if a.status != http.StatusForbidden || a.header.Get("Retry-After") != "2" {
		t.Errorf("secondary limit: %d, Retry-After %q; want 403, 2", a.status, a.header.Get("Retry-After"))
	}
	if a := get(t, url, nil); a.status != http.StatusForbidden || s.EarlyRequests() != 1 {
		t.Errorf("during Retry-After: %d, early %d; want 403, 1", a.status, s.EarlyRequests())
	}

	reset := time.Now().Add(time.Hour)
	s.ExhaustRateLimit(reset)
	a = get(t, url, nil)
	if a.status != http.StatusForbidden || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("exhausted: %d, remaining %q; want 403, 0", a.status, a.header.Get("X-RateLimit-Remaining"))
	}
	if _, _, got := s.RateLimit(); got.Before(reset) {
		t.Errorf("reset = %v, want at least %v", got, reset)
	}
}

// Package sinktest is the suite every sink passes: whatever the service
// behind it, the same raw HTTP answers must get the same verdict, a
// cancelled context must not dead-letter an event, and the credential must
// never reach an error (errors become dead-letter reasons and log lines).
package sinktest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// Secret is the credential the suite gives every sink: it must appear in
// no error.
const Secret = "sinktest-credential-do-not-leak-9f2c"

// Suite describes the sink under test.
type Suite struct {
	// New returns the sink with its API at url (no trailing slash) and
	// Secret as its credential.
	New func(t *testing.T, url string) sink.Sink
	// Event is one the sink acts on (it makes an HTTP call for it).
	Event *event.Event
}

// Empty is a sink.Lookup with nothing recorded.
type Empty struct{}

// Result implements sink.Lookup.
func (Empty) Result(context.Context, string) (sink.Result, bool, error) {
	return sink.Result{}, false, nil
}

// Run runs the suite.
func Run(t *testing.T, s Suite) {
	answers := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		wantAfter time.Duration // for a transient error; 0 = the runner's backoff
		wantClass string
	}{
		{"500", 500, nil, "<html>Internal Server Error</html>", 0, "transient"},
		{"502 from a proxy", 502, nil, "<html><body>Bad Gateway</body></html>", 0, "transient"},
		{"503", 503, nil, "Service Unavailable", 0, "transient"},
		{"429 with Retry-After", 429, http.Header{"Retry-After": {"7"}}, `{"error":"rate limited"}`, 7 * time.Second, "transient"},
		// A refused credential: the runner may re-read the secrets and
		// retry with a rotated one.
		{"401", 401, nil, `{"message":"Unauthorized"}`, 0, "unauthorized"},
	}
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range a.header {
					w.Header()[k] = v
				}
				w.WriteHeader(a.status)
				_, _ = w.Write([]byte(a.body))
			}))
			defer srv.Close()
			_, err := s.New(t, srv.URL).Deliver(t.Context(), sink.Delivery{Event: s.Event, Attempt: 1})
			check(t, err, a.wantClass)
			if a.wantAfter > 0 && sink.RetryAfter(err) != a.wantAfter {
				t.Errorf("RetryAfter(%v) = %v, want %v", err, sink.RetryAfter(err), a.wantAfter)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := s.New(t, url).Deliver(t.Context(), sink.Delivery{Event: s.Event, Attempt: 1})
		check(t, err, "transient")
	})
	t.Run("cancelled context", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.New(t, srv.URL).Deliver(ctx, sink.Delivery{Event: s.Event, Attempt: 1})
		check(t, err, "transient")
	})
}

// check fails unless err has the class and keeps the secret out.
func check(t *testing.T, err error, class string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Deliver = nil error, want a %s one", class)
	}
	if got := classOf(err); got != class {
		t.Errorf("Deliver = %v (%s), want %s", err, got, class)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), Secret) {
			t.Errorf("the credential leaked into an error: %q", e.Error())
		}
	}
	if strings.Contains(sink.Describe(err), Secret) {
		t.Error("the credential leaked into the error's description")
	}
}

func classOf(err error) string {
	if sink.IsUnauthorized(err) && sink.IsPermanent(err) {
		return "unauthorized"
	}
	if sink.IsPermanent(err) {
		return "permanent"
	}
	return "transient"
}

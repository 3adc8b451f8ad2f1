package n8n_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/n8n"
	"github.com/stoa-platform/bridge/pkg/sink/n8n/n8ntest"
)

const (
	headerName = "X-N8N-Key"
	credential = "s3cr3t-n8n-header-value"
)

func down(tags ...string) *event.Event {
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	ev := event.New(event.KindCheckDown, "/webhooks/healthchecks", "check/c1", event.CheckKey("c1", "down", at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId: "c1", Name: "backup", Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
		ChangedAt: timestamppb.New(at), Tags: tags,
	}}
	return ev
}

func authFunc(v string) func(context.Context) (secrets.Secret, error) {
	return func(context.Context) (secrets.Secret, error) { return secrets.New(v), nil }
}

// deliverUntilDone drives Deliver as the runner would: retry transient
// failures, stop at success or a permanent failure.
func deliverUntilDone(t *testing.T, s *n8n.Sink, ev *event.Event, max int) (sink.Result, int, error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		r, err := s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: attempt})
		if err == nil || sink.IsPermanent(err) || attempt == max {
			return r, attempt, err
		}
	}
}

func TestDeliverHeaderAuth(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddWorkflow("incident", headerName, credential)
	s := n8n.New(n8n.Options{
		Routes: []n8n.Route{{Subject: "check.*", URL: fake.WebhookURL("incident"), Auth: n8n.AuthHeader, Header: headerName}},
		Auth:   authFunc(credential),
	})
	ev := down("prod")
	ev.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r, err := s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 1})
	if err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	if r.Outcome != n8n.OutcomePosted {
		t.Errorf("Outcome = %q, want %q", r.Outcome, n8n.OutcomePosted)
	}
	calls := fake.Started("incident")
	if len(calls) != 1 {
		t.Fatalf("workflow started %d times, want 1", len(calls))
	}
	c := calls[0]
	if got := c.Header.Get("Content-Type"); got != n8n.ContentType {
		t.Errorf("Content-Type = %q, want %q", got, n8n.ContentType)
	}
	if got := c.Header.Get("traceparent"); got != ev.GetTraceparent() {
		t.Errorf("traceparent header = %q", got)
	}
	want, _ := n8n.Render(ev)
	if !bytes.Equal(c.Body, want) {
		t.Errorf("body = %s, want %s", c.Body, want)
	}
	var ce struct{ ID, Type string }
	if err := json.Unmarshal(c.Body, &ce); err != nil || ce.ID != ev.GetId() || ce.Type != "io.stoa.bridge.check.down" {
		t.Errorf("body id/type = %+v, %v", ce, err)
	}
}

// TestDeliverContentType: a route's content type sets only the header; the
// body is the same structured CloudEvent, byte for byte.
func TestDeliverContentType(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		want        string
	}{
		{"default", "", n8n.ContentType},
		{"cloudevents", n8n.ContentType, n8n.ContentType},
		{"json for n8n 1.x", n8n.ContentTypeJSON, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := n8ntest.New(t)
			fake.AddWorkflow("incident", headerName, credential)
			s := n8n.New(n8n.Options{
				Routes: []n8n.Route{{Subject: "check.*", URL: fake.WebhookURL("incident"), Auth: n8n.AuthHeader, Header: headerName, ContentType: tt.contentType}},
				Auth:   authFunc(credential),
			})
			ev := down("prod")
			if _, err := s.Deliver(context.Background(), sink.Delivery{Event: ev, Attempt: 1}); err != nil {
				t.Fatalf("Deliver = %v", err)
			}
			calls := fake.Started("incident")
			if len(calls) != 1 {
				t.Fatalf("workflow started %d times, want 1", len(calls))
			}
			if got := calls[0].Header.Get("Content-Type"); got != tt.want {
				t.Errorf("Content-Type = %q, want %q", got, tt.want)
			}
			want, err := n8n.Render(ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(calls[0].Body, want) {
				t.Errorf("body = %s, want %s", calls[0].Body, want)
			}
		})
	}
}

func TestDeliverBasicAuth(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddBasicWorkflow("basic", "bridge", "pa:ss")
	route := n8n.Route{Subject: ">", URL: fake.WebhookURL("basic"), Auth: n8n.AuthBasic}

	s := n8n.New(n8n.Options{Routes: []n8n.Route{route}, Auth: authFunc("bridge:pa:ss")})
	if _, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1}); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	c := fake.Started("basic")
	if len(c) != 1 || c[0].Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("bridge:pa:ss")) {
		t.Fatalf("calls = %+v", c)
	}

	s = n8n.New(n8n.Options{Routes: []n8n.Route{route}, Auth: authFunc("bridge:n0t-the-pa55")})
	_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
	if !sink.IsPermanent(err) || !sink.IsUnauthorized(err) || !strings.Contains(err.Error(), "Authorization data is wrong!") {
		t.Errorf("Deliver with a wrong password = %v, want permanent and unauthorized with n8n's message", err)
	}
	if strings.Contains(err.Error(), "n0t-the-pa55") {
		t.Errorf("error leaks the credential: %v", err)
	}

	s = n8n.New(n8n.Options{Routes: []n8n.Route{route}, Auth: authFunc("no-colon")})
	_, err = s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
	if !sink.IsPermanent(err) || strings.Contains(err.Error(), "no-colon") {
		t.Errorf("Deliver with N8N_AUTH not user:password = %v, want permanent without the value", err)
	}
}

func TestDeliverClassifiesFakeAnswers(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddWorkflow("active", headerName, credential)
	fake.AddWorkflow("inactive", headerName, credential)
	fake.Deactivate("inactive")
	tests := []struct {
		name      string
		path      string
		cred      string
		permanent bool
		reason    string
	}{
		{"not registered", "nowhere", credential, true, `The requested webhook "POST nowhere" is not registered.`},
		{"inactive", "inactive", credential, true, "The workflow must be active for a production URL"},
		{"wrong header", "active", "guess", true, "403 Forbidden: Authorization data is wrong!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := n8n.New(n8n.Options{
				Routes: []n8n.Route{{Subject: ">", URL: fake.WebhookURL(tt.path), Auth: n8n.AuthHeader, Header: headerName}},
				Auth:   authFunc(tt.cred),
			})
			_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
			if err == nil || sink.IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Deliver = %v (permanent %v), want permanent=%v containing %q", err, sink.IsPermanent(err), tt.permanent, tt.reason)
			}
			if strings.Contains(err.Error(), tt.cred) {
				t.Errorf("error leaks the credential: %v", err)
			}
		})
	}
}

func TestStatusClass(t *testing.T) {
	tests := []struct {
		status       int
		retryAfter   string
		wantOK       bool
		permanent    bool
		after        time.Duration
		unauthorized bool
	}{
		{200, "", true, false, 0, false},
		{202, "", true, false, 0, false},
		{204, "", true, false, 0, false},
		{400, "", false, true, 0, false},
		{401, "", false, true, 0, true},
		{403, "", false, true, 0, true},
		{404, "", false, true, 0, false},
		{409, "", false, true, 0, false},
		{413, "", false, true, 0, false},
		{429, "", false, false, 0, false},
		{429, "7", false, false, 7 * time.Second, false},
		{500, "", false, false, 0, false},
		{502, "", false, false, 0, false},
		{503, "30", false, false, 30 * time.Second, false},
		{504, "", false, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+tt.retryAfter, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"code":0,"message":"answer ` + http.StatusText(tt.status) + `"}`))
			}))
			defer srv.Close()
			s := n8n.New(n8n.Options{Routes: []n8n.Route{{Subject: ">", URL: srv.URL + "/webhook/x"}}})
			_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
			if sink.IsUnauthorized(err) != tt.unauthorized {
				t.Errorf("status %d: IsUnauthorized(%v) = %v, want %v", tt.status, err, !tt.unauthorized, tt.unauthorized)
			}
			if (err == nil) != tt.wantOK || sink.IsPermanent(err) != tt.permanent || sink.RetryAfter(err) != tt.after {
				t.Errorf("status %d: Deliver = %v (permanent %v, after %s), want ok=%v permanent=%v after=%s",
					tt.status, err, sink.IsPermanent(err), sink.RetryAfter(err), tt.wantOK, tt.permanent, tt.after)
			}
			if err != nil {
				var se *n8n.StatusError
				if !errors.As(err, &se) || se.Code != tt.status {
					t.Errorf("error %v is not a StatusError with code %d", err, tt.status)
				}
				if !strings.Contains(err.Error(), "answer "+http.StatusText(tt.status)) {
					t.Errorf("error %q lacks n8n's message", err)
				}
			}
		})
	}
}

func TestTransportErrorsAreTransient(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/webhook/x"
		srv.Close()
		s := n8n.New(n8n.Options{Routes: []n8n.Route{{Subject: ">", URL: url}}})
		_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
		if err == nil || sink.IsPermanent(err) {
			t.Errorf("Deliver = %v, want transient", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		s := n8n.New(n8n.Options{Routes: []n8n.Route{{Subject: ">", URL: srv.URL + "/webhook/x"}}, Timeout: 50 * time.Millisecond})
		_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
		if err == nil || sink.IsPermanent(err) {
			t.Errorf("Deliver = %v, want transient", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		fake := n8ntest.New(t)
		fake.AddWorkflow("x", "", "")
		s := n8n.New(n8n.Options{Routes: []n8n.Route{{Subject: ">", URL: fake.WebhookURL("x")}}})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Deliver(ctx, sink.Delivery{Event: down(), Attempt: 1})
		if err == nil || sink.IsPermanent(err) {
			t.Errorf("Deliver = %v, want transient", err)
		}
	})
}

func TestRetryThenExactlyOneCall(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddWorkflow("flaky", headerName, credential)
	fake.Fail("flaky", 3, http.StatusInternalServerError)
	s := n8n.New(n8n.Options{
		Routes: []n8n.Route{{Subject: "check.down", URL: fake.WebhookURL("flaky"), Auth: n8n.AuthHeader, Header: headerName}},
		Auth:   authFunc(credential),
	})
	r, attempts, err := deliverUntilDone(t, s, down(), 10)
	if err != nil {
		t.Fatalf("Deliver after %d attempts = %v", attempts, err)
	}
	if attempts != 4 || r.Outcome != n8n.OutcomePosted {
		t.Errorf("attempts = %d, outcome %q; want 4, posted", attempts, r.Outcome)
	}
	if n := len(fake.Calls("flaky")); n != 4 {
		t.Errorf("n8n received %d calls, want 4 (3 failed + 1)", n)
	}
	if n := len(fake.Started("flaky")); n != 1 {
		t.Errorf("workflow started %d times, want exactly 1", n)
	}
}

func TestRetryAfterPartialFailureSkipsDoneRoutes(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddWorkflow("a", "", "")
	fake.AddWorkflow("b", "", "")
	fake.Fail("b", 2, http.StatusBadGateway)
	routes := []n8n.Route{
		{Subject: "check.*", URL: fake.WebhookURL("a")},
		{Subject: ">", URL: fake.WebhookURL("b")},
		{Subject: "release.*", URL: fake.WebhookURL("never")},
	}
	s := n8n.New(n8n.Options{Routes: routes})
	r, attempts, err := deliverUntilDone(t, s, down(), 10)
	if err != nil || attempts != 3 {
		t.Fatalf("Deliver = %v after %d attempts, want success after 3", err, attempts)
	}
	if a, b := len(fake.Calls("a")), len(fake.Started("b")); a != 1 || b != 1 {
		t.Errorf("route a called %d times, b started %d times; want 1 and 1", a, b)
	}
	if len(fake.Calls("never")) != 0 {
		t.Error("a route that does not match was called")
	}
	if len(r.Fields) != 2 || r.Fields["route."+routes[1].ID()] != "200" {
		t.Errorf("Fields = %v", r.Fields)
	}
	// The memory is released after success: the same event delivered
	// again (the runner would not, the ledger has it) posts again.
	if _, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if a := len(fake.Calls("a")); a != 2 {
		t.Errorf("route a called %d times after a fresh delivery, want 2", a)
	}
}

func TestNoMatchSkips(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddWorkflow("x", "", "")
	s := n8n.New(n8n.Options{Routes: []n8n.Route{{Subject: "check.down", Filter: map[string]string{"tag": "prod"}, URL: fake.WebhookURL("x")}}})
	r, err := s.Deliver(context.Background(), sink.Delivery{Event: down("dev"), Attempt: 1})
	if err != nil || r.Outcome != sink.OutcomeSkipped {
		t.Errorf("Deliver = %+v, %v; want skipped", r, err)
	}
	if len(fake.Calls("x")) != 0 {
		t.Error("n8n was called")
	}
}

func TestDryRunWithoutCredential(t *testing.T) {
	fake := n8ntest.New(t)
	fake.AddWorkflow("secured", headerName, credential)
	fake.AddWorkflow("open", "", "")
	var logs bytes.Buffer
	for name, auth := range map[string]func(context.Context) (secrets.Secret, error){
		"nil":       nil,
		"not found": func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, secrets.ErrNotFound },
		"empty":     authFunc(""),
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			s := n8n.New(n8n.Options{
				Routes: []n8n.Route{{Subject: ">", URL: fake.WebhookURL("secured"), Auth: n8n.AuthHeader, Header: headerName}},
				Auth:   auth,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			r, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
			if err != nil || r.Outcome != sink.OutcomeDryRun {
				t.Errorf("Deliver = %+v, %v; want dry_run", r, err)
			}
			if !strings.Contains(logs.String(), "would POST to n8n") || !strings.Contains(logs.String(), "webhook/secured") {
				t.Errorf("dry-run log = %s", logs.String())
			}
		})
	}
	if len(fake.Calls("secured")) != 0 {
		t.Error("n8n was called in dry-run")
	}

	// A route without auth is posted for real next to a dry one.
	s := n8n.New(n8n.Options{Routes: []n8n.Route{
		{Subject: ">", URL: fake.WebhookURL("secured"), Auth: n8n.AuthHeader, Header: headerName},
		{Subject: ">", URL: fake.WebhookURL("open")},
	}})
	r, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
	if err != nil || r.Outcome != n8n.OutcomePosted || len(fake.Started("open")) != 1 {
		t.Errorf("Deliver = %+v, %v; want posted to the open route", r, err)
	}

	t.Run("provider error is transient", func(t *testing.T) {
		s := n8n.New(n8n.Options{
			Routes: []n8n.Route{{Subject: ">", URL: fake.WebhookURL("secured"), Auth: n8n.AuthBasic}},
			Auth:   func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, errors.New("vault sealed") },
		})
		_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
		if err == nil || sink.IsPermanent(err) {
			t.Errorf("Deliver = %v, want transient", err)
		}
	})
}

// TestNoCredentialLeak makes the credential show up where a careless sink
// would copy it: n8n echoing the header in its error body, a URL with a
// query token, a transport failure. Neither errors nor logs may hold it.
func TestNoCredentialLeak(t *testing.T) {
	const basicCred = "bridge-user:b4sic-pa55word"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("bad request, header was " + r.Header.Get(headerName) + " auth " + r.Header.Get("Authorization")))
	}))
	defer echo.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	secretsIn := []string{credential, "b4sic-pa55word", base64.StdEncoding.EncodeToString([]byte(basicCred)), "qt0ken"}
	cases := []struct {
		name  string
		route n8n.Route
		cred  string
	}{
		{"echoed header", n8n.Route{Subject: ">", URL: echo.URL + "/webhook/x", Auth: n8n.AuthHeader, Header: headerName}, credential},
		{"echoed basic", n8n.Route{Subject: ">", URL: echo.URL + "/webhook/x", Auth: n8n.AuthBasic}, basicCred},
		{"query token, dead host", n8n.Route{Subject: ">", URL: deadURL + "/webhook/x?token=qt0ken", Auth: n8n.AuthHeader, Header: headerName}, credential},
		{"dry run", n8n.Route{Subject: ">", URL: echo.URL + "/webhook/x?token=qt0ken", Auth: n8n.AuthHeader, Header: headerName}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			s := n8n.New(n8n.Options{Routes: []n8n.Route{c.route}, Auth: authFunc(c.cred), Logger: logger})
			_, err := s.Deliver(context.Background(), sink.Delivery{Event: down(), Attempt: 1})
			text := logs.String()
			if err != nil {
				text += "\n" + err.Error() + "\n" + sink.Describe(err)
			}
			for _, sec := range secretsIn {
				if strings.Contains(text, sec) {
					t.Errorf("secret %q leaked in:\n%s", sec, text)
				}
			}
		})
	}
}

// Package n8ntest is a fake of n8n 1.78's production webhook endpoint
// (POST /webhook/<path>) for tests, answering as n8n does:
//
//   - unknown or inactive path: 404 {"code":404,"message":"The requested
//     webhook \"POST <path>\" is not registered.","hint":"The workflow
//     must be active for a production URL to run successfully. …"};
//   - a registered path called with another method: 404 "This webhook is
//     not registered for GET requests. Did you mean to make a POST
//     request?";
//   - header auth with a missing or wrong value, or basic auth with wrong
//     credentials: 403, plain text "Authorization data is wrong!" and
//     WWW-Authenticate: Basic realm="Webhook"; basic auth with no
//     credentials at all: 401 "Authorization is required!" (n8n's Webhook
//     node answers auth failures in plain text, not JSON: see
//     packages/nodes-base/nodes/Webhook/Webhook.node.ts and utils.ts);
//   - success, with the Webhook node's responseMode onReceived: 200
//     {"message":"Workflow was started"}.
package n8ntest

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// notRegisteredHint is n8n's hint for a production URL that is not
// registered.
const notRegisteredHint = "The workflow must be active for a production URL to run successfully. You can activate the workflow using the toggle in the top-right of the editor. Note that unlike test URL calls, production URL calls aren't shown on the canvas (only in the executions list)"

// Call is one request the fake received.
type Call struct {
	Method string
	Header http.Header
	Body   []byte
	// Status is what the fake answered.
	Status int
}

type workflow struct {
	active     bool
	headerName string
	headerVal  string
	basicUser  string
	basicPass  string
	basic      bool
}

type failure struct {
	n          int
	status     int
	retryAfter time.Duration
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu        sync.Mutex
	workflows map[string]*workflow
	fails     map[string]*failure
	calls     map[string][]Call
}

// New starts a fake closed at the end of the test.
func New(t testing.TB) *Server {
	s := &Server{
		workflows: make(map[string]*workflow),
		fails:     make(map[string]*failure),
		calls:     make(map[string][]Call),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// WebhookURL returns the production webhook URL of path.
func (s *Server) WebhookURL(path string) string { return s.URL + "/webhook/" + path }

// AddWorkflow registers an active workflow at path whose Webhook node uses
// header auth (headerName: value). An empty headerName means no auth.
func (s *Server) AddWorkflow(path, headerName, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workflows[path] = &workflow{active: true, headerName: headerName, headerVal: value}
}

// AddBasicWorkflow registers an active workflow at path whose Webhook node
// uses basic auth.
func (s *Server) AddBasicWorkflow(path, user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workflows[path] = &workflow{active: true, basic: true, basicUser: user, basicPass: password}
}

// Deactivate makes the workflow at path inactive: n8n then answers 404.
func (s *Server) Deactivate(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.workflows[path]; w != nil {
		w.active = false
	}
}

// Fail makes the next n authorised calls to path answer status (500:
// {"message":"Error in workflow"}, as n8n does when the workflow fails
// before answering).
func (s *Server) Fail(path string, n, status int) {
	s.FailRetryAfter(path, n, status, 0)
}

// FailRetryAfter is Fail with a Retry-After header (whole seconds).
func (s *Server) FailRetryAfter(path string, n, status int, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[path] = &failure{n: n, status: status, retryAfter: after}
}

// Calls returns every request received for path, in order.
func (s *Server) Calls(path string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls[path]...)
}

// Started returns the calls for path that started the workflow (200).
func (s *Server) Started(path string) []Call {
	var ok []Call
	for _, c := range s.Calls(path) {
		if c.Status == http.StatusOK {
			ok = append(ok, c)
		}
	}
	return ok
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path, isWebhook := strings.CutPrefix(r.URL.Path, "/webhook/")
	status := s.answer(w, r, path, isWebhook)
	s.mu.Lock()
	s.calls[path] = append(s.calls[path], Call{Method: r.Method, Header: r.Header.Clone(), Body: body, Status: status})
	s.mu.Unlock()
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, path string, isWebhook bool) int {
	s.mu.Lock()
	wf := s.workflows[path]
	var active bool
	var cp workflow
	if wf != nil {
		active, cp = wf.active, *wf
	}
	s.mu.Unlock()

	if !isWebhook || wf == nil || !active {
		return writeJSON(w, http.StatusNotFound, map[string]any{
			"code":    404,
			"message": "The requested webhook \"" + r.Method + " " + path + "\" is not registered.",
			"hint":    notRegisteredHint,
		})
	}
	if r.Method != http.MethodPost {
		return writeJSON(w, http.StatusNotFound, map[string]any{
			"code":    404,
			"message": "This webhook is not registered for " + r.Method + " requests. Did you mean to make a POST request?",
		})
	}
	switch {
	case cp.basic:
		user, pass, ok := r.BasicAuth()
		if !ok {
			return authError(w, http.StatusUnauthorized, "Authorization is required!")
		}
		if user != cp.basicUser || pass != cp.basicPass {
			return authError(w, http.StatusForbidden, "Authorization data is wrong!")
		}
	case cp.headerName != "":
		got := r.Header.Get(cp.headerName)
		if subtle.ConstantTimeCompare([]byte(got), []byte(cp.headerVal)) != 1 {
			return authError(w, http.StatusForbidden, "Authorization data is wrong!")
		}
	}

	s.mu.Lock()
	f := s.fails[path]
	var fail failure
	if f != nil && f.n > 0 {
		f.n--
		fail = *f
	}
	s.mu.Unlock()
	if fail.status != 0 {
		if fail.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(fail.retryAfter/time.Second)))
		}
		msg := "Error in workflow"
		if fail.status < 500 {
			msg = http.StatusText(fail.status)
		}
		return writeJSON(w, fail.status, map[string]any{"message": msg})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"message": "Workflow was started"})
}

func authError(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("WWW-Authenticate", `Basic realm="Webhook"`)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

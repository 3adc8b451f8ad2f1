// Package lineartest is a stateful fake of the part of Linear's GraphQL API
// the linear-ticketer uses: teams, labels, workflow states, issues,
// comments and attachments.
//
// It is a real HTTP server on 127.0.0.1, so it serves unit tests and the
// bridge binary run as a subprocess alike. It enforces Linear's contract
// rather than accepting anything:
//
//   - Every document is parsed and validated against Linear's real, public
//     schema (linearapi.Schema) with gqlparser, and its variables are
//     coerced against the operation's definitions: a misspelled field or a
//     variable of the wrong type gets HTTP 400 with Linear's
//     GRAPHQL_VALIDATION_FAILED error.
//   - The API key is sent as Linear expects, "Authorization: <key>" with no
//     "Bearer"; anything else gets HTTP 401 AUTHENTICATION_ERROR.
//   - Operations are executed by walking the selection set, so an answer
//     holds exactly the fields asked for (aliases and fragments included).
//     A field the fake does not implement is an error (and fails the test),
//     never a silent null.
//   - Inputs are checked as Linear does: priority 0–4, a client-chosen id
//     must be a UUID and must not exist yet, referenced teams, states and
//     labels must exist, and an empty string is not an id.
//
// Faults (RATELIMITED, 5xx, a lost response) are injected for the next
// requests, whatever their operation. See the README.md of this directory
// for the error shapes and where they come from.
package lineartest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

// Path is the path of the GraphQL endpoint, as in https://api.linear.app/graphql.
const Path = "/graphql"

// State types, as WorkflowState.type spells them.
const (
	StateTriage    = "triage"
	StateBacklog   = "backlog"
	StateUnstarted = "unstarted"
	StateStarted   = "started"
	StateCompleted = "completed"
	StateCanceled  = "canceled"
	StateDuplicate = "duplicate"
)

const (
	orgID, orgName, orgURLKey = "4a1c1f9e-0c2b-4f4e-9a57-0b1d6c1e7a01", "Bridge Test", "bridge-test"
	viewerID, viewerName      = "9d2b7c55-3c1e-4e0a-8f5b-2f4a6d8e1b02", "bridge"
	viewerEmail               = "bridge@example.com"
	maxBody                   = 10 << 20
	requestsLimit             = 5000 // per hour for an API key
	defaultRateLimitReset     = time.Second
)

// Issue is an issue as the fake holds it.
type Issue struct {
	ID         string
	Identifier string // "PLAT-1"
	Number     int
	Title      string
	// Description is the Markdown description.
	Description string
	Priority    int // 0 none, 1 urgent, 2 high, 3 medium, 4 low
	LabelIDs    []string
	// Labels are the names of LabelIDs, in the same order.
	Labels    []string
	StateID   string
	StateType string // one of the State… constants
	TeamID    string
	URL       string
	// Attachments and Comments are in creation order.
	Attachments []Attachment
	Comments    []Comment
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Attachment is an issue attachment. Linear keeps one per issue and URL.
type Attachment struct {
	ID       string
	URL      string
	Title    string
	Subtitle string
}

// Comment is an issue comment.
type Comment struct {
	ID   string
	Body string
}

// State is a team's workflow state.
type State struct {
	ID     string
	Name   string
	Type   string // one of the State… constants
	TeamID string
}

// Server is the fake. All its methods are safe for concurrent use.
type Server struct {
	t      testing.TB
	srv    *httptest.Server
	key    string
	schema *ast.Schema
	reset  time.Duration

	mu       sync.Mutex
	requests int
	calls    map[string]int
	faults   []fault
	syncID   int
	db       db
}

type faultKind int

const (
	faultRateLimit faultKind = iota
	faultStatus
	faultLose
)

type fault struct {
	kind   faultKind
	status int
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the API key the server accepts instead of a random
// "lin_api_…" one.
func WithAPIKey(key string) Option { return func(s *Server) { s.key = key } }

// WithRateLimitReset sets how far in the future a RATELIMITED answer's
// X-RateLimit-Requests-Reset lies (default 1 s: Linear's window is an hour,
// a test's should not be).
func WithRateLimitReset(d time.Duration) Option { return func(s *Server) { s.reset = d } }

// New starts a server on 127.0.0.1. When t is not nil the server is shut
// down at the end of the test, and a request the fake cannot answer (a field
// or filter it does not implement) fails the test; otherwise (TestMain, a
// helper process) the caller calls Shutdown.
func New(t testing.TB, opts ...Option) *Server {
	schema, err := loadSchema()
	if err != nil {
		if t != nil {
			t.Fatal(err)
		}
		panic(err)
	}
	s := &Server{
		t:      t,
		key:    "lin_api_" + randomAlnum(40),
		schema: schema,
		reset:  defaultRateLimitReset,
		calls:  make(map[string]int),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s)
	if t != nil {
		t.Cleanup(s.Shutdown)
	}
	return s
}

// URL is the GraphQL endpoint, e.g. http://127.0.0.1:port/graphql.
func (s *Server) URL() string { return s.srv.URL + Path }

// APIKey is the only API key the server accepts.
func (s *Server) APIKey() string { return s.key }

// Shutdown stops the server. It may be called more than once. (Close moves
// an issue to a completed state.)
func (s *Server) Shutdown() { s.srv.Close() }

// AddTeam registers a team with Linear's default workflow: Backlog
// (backlog), Todo (unstarted), In Progress (started), Done (completed) and
// Canceled (canceled). New issues start in Backlog. Use AddState for more.
func (s *Server) AddTeam(id, key, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db.team(id) != nil {
		s.fatalf("lineartest: AddTeam(%q): a team with this id exists", id)
		return
	}
	now := s.now()
	s.db.teams = append(s.db.teams, &team{id: id, key: key, name: name, createdAt: now})
	for i, st := range [][2]string{
		{"Backlog", StateBacklog}, {"Todo", StateUnstarted}, {"In Progress", StateStarted},
		{"Done", StateCompleted}, {"Canceled", StateCanceled},
	} {
		s.db.states = append(s.db.states, &state{
			id: newUUID(), name: st[0], typ: st[1], teamID: id, position: float64(i), createdAt: now,
		})
	}
}

// AddLabel registers an issue label. An empty teamID makes it a workspace
// label, usable by every team.
func (s *Server) AddLabel(teamID, id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if teamID != "" && s.db.team(teamID) == nil {
		s.fatalf("lineartest: AddLabel(%q, %q): no such team", teamID, id)
		return
	}
	if s.db.label(id) != nil {
		s.fatalf("lineartest: AddLabel(%q, %q): a label with this id exists", teamID, id)
		return
	}
	s.db.labels = append(s.db.labels, &label{id: id, name: name, teamID: teamID, createdAt: s.now()})
}

// AddState registers a workflow state; typ is one of the State… constants.
func (s *Server) AddState(teamID, id, name, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db.team(teamID) == nil {
		s.fatalf("lineartest: AddState(%q, %q): no such team", teamID, id)
		return
	}
	if !slices.Contains([]string{StateTriage, StateBacklog, StateUnstarted, StateStarted, StateCompleted, StateCanceled, StateDuplicate}, typ) {
		s.fatalf("lineartest: AddState(%q, %q): unknown state type %q", teamID, id, typ)
		return
	}
	if s.db.state(id) != nil {
		s.fatalf("lineartest: AddState(%q, %q): a state with this id exists", teamID, id)
		return
	}
	n := 0
	for _, st := range s.db.states {
		if st.teamID == teamID {
			n++
		}
	}
	s.db.states = append(s.db.states, &state{id: id, name: name, typ: typ, teamID: teamID, position: float64(n), createdAt: s.now()})
}

// States returns a team's workflow states in position order.
func (s *Server) States(teamID string) []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []State
	for _, st := range s.db.states {
		if st.teamID == teamID {
			out = append(out, State{ID: st.id, Name: st.name, Type: st.typ, TeamID: st.teamID})
		}
	}
	return out
}

// Issues returns every issue, oldest first.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.db.issues))
	for _, is := range s.db.issues {
		out = append(out, s.db.export(is))
	}
	return out
}

// Issue returns the issue with this id or identifier ("PLAT-1").
func (s *Server) Issue(id string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.db.issue(id)
	if is == nil {
		return Issue{}, false
	}
	return s.db.export(is), true
}

// Close moves an issue (by id or identifier) to its team's first completed
// state, as a person closing the ticket in Linear would.
func (s *Server) Close(issueID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.db.issue(issueID)
	if is == nil {
		s.fatalf("lineartest: Close(%q): no such issue", issueID)
		return
	}
	for _, st := range s.db.states {
		if st.teamID == is.teamID && st.typ == StateCompleted {
			s.db.setState(is, st, s.now())
			return
		}
	}
	s.fatalf("lineartest: Close(%q): team %s has no completed state", issueID, is.teamID)
}

// RateLimit makes the next n requests answer as Linear does when an API key
// is over its limit: HTTP 400, a GraphQL error with extensions.code
// RATELIMITED, X-RateLimit-Requests-Remaining 0 and
// X-RateLimit-Requests-Reset (epoch milliseconds; see WithRateLimitReset).
// Nothing is executed.
func (s *Server) RateLimit(n int) { s.addFault(n, fault{kind: faultRateLimit}) }

// Fail makes the next n requests answer status (a 5xx) without executing
// anything: 500 with a JSON GraphQL error, other statuses with the HTML
// page a proxy in front of Linear sends.
func (s *Server) Fail(n, status int) { s.addFault(n, fault{kind: faultStatus, status: status}) }

// LoseResponse makes the next n requests take effect and then close the
// connection without an answer: the client cannot know that its mutation
// was applied.
func (s *Server) LoseResponse(n int) { s.addFault(n, fault{kind: faultLose}) }

func (s *Server) addFault(n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// Requests counts the HTTP requests received, faulted and rejected ones
// included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Calls counts the executions of a root field ("issueCreate",
// "attachmentsForURL", …) by valid, authenticated requests, whether or not
// they succeeded.
func (s *Server) Calls(field string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[field]
}

// fatalf reports a misuse of the fake by the test itself.
func (s *Server) fatalf(format string, args ...any) {
	if s.t != nil {
		s.t.Helper()
		s.t.Fatalf(format, args...)
		return
	}
	panic(fmt.Sprintf(format, args...))
}

// now is the fake's clock, at Linear's millisecond precision.
func (s *Server) now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// request is the JSON body of a GraphQL POST.
type request struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, faulted := s.takeFault()
	if faulted {
		switch f.kind {
		case faultRateLimit:
			h := w.Header()
			h.Set("X-RateLimit-Requests-Limit", strconv.Itoa(requestsLimit))
			h.Set("X-RateLimit-Requests-Remaining", "0")
			h.Set("X-RateLimit-Requests-Reset", strconv.FormatInt(time.Now().Add(s.reset).UnixMilli(), 10))
			writeErrors(w, rateLimited())
			return
		case faultStatus:
			if f.status == http.StatusInternalServerError {
				writeErrors(w, internalError())
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.WriteHeader(f.status)
			_, _ = fmt.Fprintf(w, "<html>\n<head><title>%d %s</title></head>\n<body>\n<center><h1>%d %s</h1></center>\n</body>\n</html>\n",
				f.status, http.StatusText(f.status), f.status, http.StatusText(f.status))
			return
		}
	}
	lose := faulted && f.kind == faultLose

	resp := s.serve(r)
	if lose {
		// The request has taken effect; the caller must not learn it.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	resp.write(w, s.reset)
}

func (s *Server) takeFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

// response is a GraphQL answer: errors alone (a request error), or data
// (possibly null) with errors.
type response struct {
	status  int
	plain   string // a non-GraphQL answer (404, 405)
	hasData bool
	data    any
	errs    []*apiError
}

func (resp response) write(w http.ResponseWriter, reset time.Duration) {
	if resp.plain != "" {
		if resp.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		http.Error(w, resp.plain, resp.status)
		return
	}
	h := w.Header()
	h.Set("X-RateLimit-Requests-Limit", strconv.Itoa(requestsLimit))
	h.Set("X-RateLimit-Requests-Remaining", strconv.Itoa(requestsLimit-1))
	h.Set("X-RateLimit-Requests-Reset", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10))
	body := map[string]any{}
	if resp.hasData {
		body["data"] = resp.data
	}
	if len(resp.errs) > 0 {
		errs := make([]map[string]any, len(resp.errs))
		for i, e := range resp.errs {
			errs[i] = e.json()
		}
		body["errors"] = errs
	}
	writeJSON(w, resp.status, body)
}

func writeErrors(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]any{"errors": []map[string]any{e.json()}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// serve validates, authenticates and executes one request. Validation comes
// before authentication, as at Linear (whose schema can be introspected
// without a key).
func (s *Server) serve(r *http.Request) response {
	if r.URL.Path != Path {
		return response{status: http.StatusNotFound, plain: "404 page not found"}
	}
	if r.Method != http.MethodPost {
		return response{status: http.StatusMethodNotAllowed, plain: "method not allowed: POST a GraphQL request"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errorResponse(badRequest("lineartest: the request body must be JSON (Content-Type: application/json)"))
	}
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		return errorResponse(badRequest("POST body sent invalid JSON."))
	}
	if req.Query == "" {
		return errorResponse(badRequest("GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension."))
	}

	doc, gerrs := gqlparser.LoadQueryWithRules(s.schema, req.Query, nil)
	if len(gerrs) > 0 {
		errs := make([]*apiError, len(gerrs))
		for i, ge := range gerrs {
			errs[i] = validationFailed(ge.Message, ge.Locations)
		}
		return response{status: http.StatusBadRequest, errs: errs}
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil {
		msg := "Must provide operation name if query contains multiple operations."
		if req.OperationName != "" {
			msg = fmt.Sprintf("Unknown operation named %q.", req.OperationName)
		}
		return errorResponse(badRequest(msg))
	}
	if op.Operation == ast.Subscription {
		return errorResponse(badRequest("lineartest: subscriptions are not implemented"))
	}
	vars, err := validator.VariableValues(s.schema, op, req.Variables)
	if err != nil {
		return errorResponse(variableInvalid(err))
	}

	if auth := r.Header.Get("Authorization"); auth == "" || auth != s.key {
		return errorResponse(unauthenticated())
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	x := &exec{s: s, db: &s.db, schema: s.schema, vars: vars}
	var root object = queryRoot{}
	if op.Operation == ast.Mutation {
		root = mutationRoot{}
	}
	data := map[string]any{}
	if err := x.selectInto(data, op.SelectionSet, root, nil); err != nil {
		e := asAPIError(err)
		if e.unsupported && s.t != nil {
			s.t.Errorf("lineartest: %s (operation %q)", e.message, op.Name)
		}
		// Every root field the fake serves is non-null: an error nulls
		// the whole data.
		return response{status: e.status, hasData: true, errs: []*apiError{e}}
	}
	return response{status: http.StatusOK, hasData: true, data: data}
}

func errorResponse(e *apiError) response { return response{status: e.status, errs: []*apiError{e}} }

// newUUID returns a random UUID v4, as Linear's ids are.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomAlnum(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

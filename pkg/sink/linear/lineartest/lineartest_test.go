package lineartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	teamID   = "team-plat"
	otherID  = "team-ops"
	labelUpg = "label-upgrade"
	labelSec = "label-security"
	labelOps = "label-ops-only"
	issueA   = "5d0c6f1e-8a43-4b8e-9d2f-3c6a1b7e9f01"
	issueB   = "5d0c6f1e-8a43-4b8e-9d2f-3c6a1b7e9f02"
	relURL   = "https://github.com/keycloak/keycloak/releases/tag/26.6.1"
)

// The operations below are written by hand in the shapes the
// linear-ticketer sends (flat variables, inline input objects, a shared
// fragment), independently of its generated client.
const (
	createIssue = `mutation CreateIssue($id: String!, $teamId: String!, $title: String!, $description: String!, $priority: Int!, $labelIds: [String!]!) {
  issueCreate(input: {id: $id, teamId: $teamId, title: $title, description: $description, priority: $priority, labelIds: $labelIds}) {
    success
    issue { ...IssueFields }
  }
}
fragment IssueFields on Issue { id identifier url title state { id name type } }`

	createIssueInput = `mutation CreateIssueInput($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier priority labelIds state { type } } }
}`

	readIssue = `query Issue($id: String!) {
  issue(id: $id) {
    ...IssueFields
    attachments(first: 50) { nodes { id url } }
    comments(first: 100) { nodes { id body } }
  }
}
fragment IssueFields on Issue { id identifier url title state { id name type } }`

	createAttachment = `mutation CreateAttachment($issueId: String!, $url: String!, $title: String!, $subtitle: String!) {
  attachmentCreate(input: {issueId: $issueId, url: $url, title: $title, subtitle: $subtitle}) {
    success
    attachment { id url title subtitle }
  }
}`

	attachmentsForURL = `query AttachmentsForURL($url: String!) {
  attachmentsForURL(url: $url, first: 20) {
    nodes { id url issue { id identifier state { type } } }
  }
}`

	createComment = `mutation CreateComment($id: String!, $issueId: String!, $body: String!) {
  commentCreate(input: {id: $id, issueId: $issueId, body: $body}) { success comment { id body } }
}`

	updateTitle = `mutation UpdateIssueTitle($id: String!, $title: String!) {
  issueUpdate(id: $id, input: {title: $title}) { success issue { id title } }
}`
)

// gqlResponse is an answer as a client sees it.
type gqlResponse struct {
	Status  int
	Header  http.Header
	HasData bool
	Data    map[string]any
	Errors  []gqlError
	Raw     string
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func newServer(t *testing.T) *Server {
	t.Helper()
	s := New(t)
	s.AddTeam(teamID, "PLAT", "Platform")
	s.AddTeam(otherID, "OPS", "Operations")
	s.AddLabel("", labelUpg, "upgrade")
	s.AddLabel(teamID, labelSec, "security")
	s.AddLabel(otherID, labelOps, "ops")
	return s
}

// post sends a GraphQL request with the given Authorization header.
func post(t *testing.T, s *Server, auth, query string, vars map[string]any) (gqlResponse, error) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return gqlResponse{}, err
	}
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return out, nil
	}
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	out.Errors = env.Errors
	if env.Data != nil {
		out.HasData = true
		if err := json.Unmarshal(env.Data, &out.Data); err != nil {
			t.Fatalf("data: %v: %s", err, raw)
		}
	}
	return out, nil
}

// do sends an authenticated request and expects a transport success.
func do(t *testing.T, s *Server, query string, vars map[string]any) gqlResponse {
	t.Helper()
	r, err := post(t, s, s.APIKey(), query, vars)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return r
}

// mustDo expects a successful answer and returns its data.
func mustDo(t *testing.T, s *Server, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := do(t, s, query, vars)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("answer %d: %s", r.Status, r.Raw)
	}
	return r.Data
}

func createVars(id, title string, prio int, labels ...string) map[string]any {
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{
		"id": id, "teamId": teamID, "title": title, "description": "Release notes", "priority": prio, "labelIds": labels,
	}
}

// get walks a decoded answer: get(data, "issue", "state", "type").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestValidationRejects(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		vars    map[string]any
		message string // a substring of the first error's message
	}{
		{
			name:    "misspelled field",
			query:   `query Issue($id: String!) { issue(id: $id) { id titel } }`,
			vars:    map[string]any{"id": issueA},
			message: `Cannot query field "titel" on type "Issue"`,
		},
		{
			name:    "misspelled field in a mutation payload",
			query:   `mutation C($input: IssueCreateInput!) { issueCreate(input: $input) { sucess } }`, //nolint:misspell // the misspelling is the point
			vars:    map[string]any{"input": map[string]any{"teamId": teamID, "title": "x"}},
			message: `Cannot query field "sucess" on type "IssuePayload"`, //nolint:misspell // the misspelling is the point
		},
		{
			name:    "unknown argument",
			query:   `query { teams(filtre: {key: {eq: "PLAT"}}) { nodes { id } } }`,
			message: `Unknown argument "filtre"`,
		},
		{
			name:    "unknown root field",
			query:   `mutation { issueCreat(input: {teamId: "x"}) { success } }`,
			message: `Cannot query field "issueCreat" on type "Mutation"`,
		},
		{
			name:    "scalar without selection",
			query:   `query { teams { nodes } }`,
			message: `must have a selection of subfields`,
		},
		{
			name:    "syntax error",
			query:   `query { teams { nodes { id } }`,
			message: `Expected Name, found <EOF>`,
		},
		{
			name:    "variable of the wrong type",
			query:   createIssue,
			vars:    map[string]any{"id": issueA, "teamId": teamID, "title": "t", "description": "d", "priority": "high", "labelIds": []string{}},
			message: `Variable "$priority" got invalid value`,
		},
		{
			name:    "fractional Int",
			query:   createIssue,
			vars:    map[string]any{"id": issueA, "teamId": teamID, "title": "t", "description": "d", "priority": 1.5, "labelIds": []string{}},
			message: `Variable "$priority" got invalid value`,
		},
		{
			name:    "missing required variable",
			query:   createIssue,
			vars:    map[string]any{"id": issueA, "teamId": teamID, "title": "t", "description": "d", "priority": 2},
			message: `Variable "$labelIds" got invalid value: must be defined`,
		},
		{
			name:    "unknown input field in a variable",
			query:   createIssueInput,
			vars:    map[string]any{"input": map[string]any{"teamId": teamID, "title": "t", "labels": []string{labelUpg}}},
			message: `Variable "$input" got invalid value: unknown field`,
		},
		{
			name:    "required input field missing",
			query:   createIssueInput,
			vars:    map[string]any{"input": map[string]any{"title": "t"}},
			message: `Variable "$input" got invalid value: must be defined`,
		},
		{
			name:    "argument of the wrong type",
			query:   `query { issue(id: 42) { id } }`,
			message: `String cannot represent a non string value: 42`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			r := do(t, s, tt.query, tt.vars)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400: %s", r.Status, r.Raw)
			}
			if len(r.Errors) == 0 {
				t.Fatalf("no errors: %s", r.Raw)
			}
			e := r.Errors[0]
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.message)
			}
			want := map[string]any{
				"code": "GRAPHQL_VALIDATION_FAILED", "type": "graphql error", "userError": true,
				"userPresentableMessage": e.Message,
			}
			for k, v := range want {
				if e.Extensions[k] != v {
					t.Errorf("extensions[%q] = %v, want %v", k, e.Extensions[k], v)
				}
			}
			if r.HasData {
				t.Errorf("a request error has data: %s", r.Raw)
			}
			if n := len(s.Issues()); n != 0 {
				t.Errorf("%d issues created by a rejected request", n)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	s := newServer(t)
	const q = `query { viewer { id name } }`
	tests := []struct {
		name   string
		auth   string
		status int
		code   string
	}{
		{"no header", "", http.StatusUnauthorized, "AUTHENTICATION_ERROR"},
		{"bearer", "Bearer " + s.APIKey(), http.StatusUnauthorized, "AUTHENTICATION_ERROR"},
		{"wrong key", "lin_api_wrong", http.StatusUnauthorized, "AUTHENTICATION_ERROR"},
		{"key", s.APIKey(), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := post(t, s, tt.auth, q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || r.code() != tt.code {
				t.Fatalf("answer %d %q, want %d %q: %s", r.Status, r.code(), tt.status, tt.code, r.Raw)
			}
			if tt.code != "" {
				if got := r.Errors[0].Extensions["type"]; got != "authentication error" {
					t.Errorf("extensions.type = %v, want authentication error", got)
				}
				if r.HasData {
					t.Errorf("an authentication error has data: %s", r.Raw)
				}
			}
		})
	}

	t.Run("a mutation without the key changes nothing", func(t *testing.T) {
		r, err := post(t, s, "", createIssue, createVars(issueA, "t", 0))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusUnauthorized || len(s.Issues()) != 0 {
			t.Fatalf("answer %d with %d issues, want 401 and none", r.Status, len(s.Issues()))
		}
	})

	t.Run("validation comes before authentication", func(t *testing.T) {
		r, err := post(t, s, "", `query { viewer { idd } }`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusBadRequest || r.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("answer %d %q, want 400 GRAPHQL_VALIDATION_FAILED", r.Status, r.code())
		}
	})

	t.Run("WithAPIKey", func(t *testing.T) {
		s := New(t, WithAPIKey("lin_api_fixed"))
		if r, err := post(t, s, "lin_api_fixed", q, nil); err != nil || r.Status != http.StatusOK {
			t.Fatalf("answer %v %v", r.Status, err)
		}
	})
}

func TestBadRequests(t *testing.T) {
	s := newServer(t)
	send := func(method, path, ctype, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, strings.TrimSuffix(s.URL(), Path)+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Authorization", s.APIKey())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name                      string
		method, path, ctype, body string
		status                    int
	}{
		{"wrong path", http.MethodPost, "/v1/graphql", "application/json", `{"query":"{ viewer { id } }"}`, http.StatusNotFound},
		{"GET", http.MethodGet, Path, "", "", http.StatusMethodNotAllowed},
		{"form body", http.MethodPost, Path, "application/x-www-form-urlencoded", `query=x`, http.StatusBadRequest},
		{"invalid JSON", http.MethodPost, Path, "application/json", `{"query":`, http.StatusBadRequest},
		{"empty query", http.MethodPost, Path, "application/json", `{"query":""}`, http.StatusBadRequest},
		{"two operations, no name", http.MethodPost, Path, "application/json", `{"query":"query A { viewer { id } } query B { viewer { id } }"}`, http.StatusBadRequest},
		{"unknown operation name", http.MethodPost, Path, "application/json", `{"query":"query A { viewer { id } }","operationName":"B"}`, http.StatusBadRequest},
		{"operation by name", http.MethodPost, Path, "application/json; charset=utf-8", `{"query":"query A { viewer { id } } query B { viewer { name } }","operationName":"B"}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(tt.method, tt.path, tt.ctype, tt.body); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
		})
	}
}

// TestRoundTrip walks the linear-ticketer's whole conversation: resolve the
// team, its states and labels, look before creating, create, attach,
// retitle, comment, and see the ticket closed.
func TestRoundTrip(t *testing.T) {
	s := newServer(t)

	data := mustDo(t, s, `query TeamByKey($key: String!) { teams(filter: {key: {eq: $key}}, first: 5) { nodes { id key name } } }`,
		map[string]any{"key": "PLAT"})
	want := map[string]any{"teams": map[string]any{"nodes": []any{map[string]any{"id": teamID, "key": "PLAT", "name": "Platform"}}}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Fatalf("TeamByKey (-want +got):\n%s", diff)
	}

	data = mustDo(t, s, `query TeamStates($teamId: ID!) { workflowStates(filter: {team: {id: {eq: $teamId}}}, first: 100) { nodes { id name type } } }`,
		map[string]any{"teamId": teamID})
	var types []string
	for _, n := range get(data, "workflowStates", "nodes").([]any) {
		types = append(types, get(n, "type").(string))
	}
	if diff := cmp.Diff([]string{"backlog", "unstarted", "started", "completed", "canceled"}, types); diff != "" {
		t.Fatalf("TeamStates types (-want +got):\n%s", diff)
	}

	data = mustDo(t, s, `query LabelsByName($names: [String!]!) { issueLabels(filter: {name: {in: $names}}, first: 250) { nodes { id name team { id } } } }`,
		map[string]any{"names": []string{"upgrade", "security", "ops"}})
	want = map[string]any{"issueLabels": map[string]any{"nodes": []any{
		map[string]any{"id": labelUpg, "name": "upgrade", "team": nil},
		map[string]any{"id": labelSec, "name": "security", "team": map[string]any{"id": teamID}},
		map[string]any{"id": labelOps, "name": "ops", "team": map[string]any{"id": otherID}},
	}}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Fatalf("LabelsByName (-want +got):\n%s", diff)
	}

	data = mustDo(t, s, attachmentsForURL, map[string]any{"url": relURL})
	if n := len(get(data, "attachmentsForURL", "nodes").([]any)); n != 0 {
		t.Fatalf("attachmentsForURL before create: %d nodes", n)
	}

	const title = "Upgrade Keycloak 26.5.0 → 26.6.1"
	data = mustDo(t, s, createIssue, createVars(issueA, title, 3, labelUpg, labelSec))
	backlog := s.States(teamID)[0]
	want = map[string]any{"issueCreate": map[string]any{
		"success": true,
		"issue": map[string]any{
			"id": issueA, "identifier": "PLAT-1", "title": title,
			"url":   "https://linear.app/bridge-test/issue/PLAT-1/upgrade-keycloak-26-5-0-26-6-1",
			"state": map[string]any{"id": backlog.ID, "name": "Backlog", "type": "backlog"},
		},
	}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Fatalf("CreateIssue (-want +got):\n%s", diff)
	}

	data = mustDo(t, s, createAttachment, map[string]any{"issueId": issueA, "url": relURL, "title": "Keycloak 26.6.1", "subtitle": "keycloak/keycloak"})
	attID, _ := get(data, "attachmentCreate", "attachment", "id").(string)
	if !isUUID(attID) || get(data, "attachmentCreate", "success") != true {
		t.Fatalf("CreateAttachment: %v", data)
	}

	data = mustDo(t, s, attachmentsForURL, map[string]any{"url": relURL})
	want = map[string]any{"attachmentsForURL": map[string]any{"nodes": []any{map[string]any{
		"id": attID, "url": relURL,
		"issue": map[string]any{"id": issueA, "identifier": "PLAT-1", "state": map[string]any{"type": "backlog"}},
	}}}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Fatalf("AttachmentsForURL (-want +got):\n%s", diff)
	}

	data = mustDo(t, s, `query Open($url: String!, $team: ID!) {
  issues(filter: {team: {id: {eq: $team}}, attachments: {some: {url: {eq: $url}}}, state: {type: {nin: ["completed", "canceled", "duplicate"]}}}) {
    nodes { identifier labels { nodes { name } } }
  }
}`, map[string]any{"url": relURL, "team": teamID})
	want = map[string]any{"issues": map[string]any{"nodes": []any{map[string]any{
		"identifier": "PLAT-1",
		"labels":     map[string]any{"nodes": []any{map[string]any{"name": "upgrade"}, map[string]any{"name": "security"}}},
	}}}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Fatalf("open issues by attachment (-want +got):\n%s", diff)
	}

	const newTitle = "Upgrade Keycloak 26.5.0 → 26.6.2"
	data = mustDo(t, s, updateTitle, map[string]any{"id": "PLAT-1", "title": newTitle})
	if diff := cmp.Diff(map[string]any{"issueUpdate": map[string]any{"success": true, "issue": map[string]any{"id": issueA, "title": newTitle}}}, data); diff != "" {
		t.Fatalf("UpdateIssueTitle (-want +got):\n%s", diff)
	}

	const commentID = "0b7a2c9e-1f3d-4e5a-8b6c-7d8e9f0a1b2c"
	data = mustDo(t, s, createComment, map[string]any{"id": commentID, "issueId": issueA, "body": "26.6.2 is out"})
	if diff := cmp.Diff(map[string]any{"commentCreate": map[string]any{"success": true, "comment": map[string]any{"id": commentID, "body": "26.6.2 is out"}}}, data); diff != "" {
		t.Fatalf("CreateComment (-want +got):\n%s", diff)
	}

	s.Close("PLAT-1")
	data = mustDo(t, s, readIssue, map[string]any{"id": issueA})
	done := s.States(teamID)[3]
	want = map[string]any{"issue": map[string]any{
		"id": issueA, "identifier": "PLAT-1", "title": newTitle,
		"url":         "https://linear.app/bridge-test/issue/PLAT-1/upgrade-keycloak-26-5-0-26-6-2",
		"state":       map[string]any{"id": done.ID, "name": "Done", "type": "completed"},
		"attachments": map[string]any{"nodes": []any{map[string]any{"id": attID, "url": relURL}}},
		"comments":    map[string]any{"nodes": []any{map[string]any{"id": commentID, "body": "26.6.2 is out"}}},
	}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Fatalf("Issue (-want +got):\n%s", diff)
	}

	got := s.Issues()
	if len(got) != 1 {
		t.Fatalf("Issues() = %d issues, want 1", len(got))
	}
	is := got[0]
	is.CreatedAt, is.UpdatedAt = time.Time{}, time.Time{}
	wantIssue := Issue{
		ID: issueA, Identifier: "PLAT-1", Number: 1, Title: newTitle, Description: "Release notes", Priority: 3,
		LabelIDs: []string{labelUpg, labelSec}, Labels: []string{"upgrade", "security"},
		StateID: done.ID, StateType: StateCompleted, TeamID: teamID,
		URL:         "https://linear.app/bridge-test/issue/PLAT-1/upgrade-keycloak-26-5-0-26-6-2",
		Attachments: []Attachment{{ID: attID, URL: relURL, Title: "Keycloak 26.6.1", Subtitle: "keycloak/keycloak"}},
		Comments:    []Comment{{ID: commentID, Body: "26.6.2 is out"}},
	}
	if diff := cmp.Diff(wantIssue, is); diff != "" {
		t.Errorf("Issues()[0] (-want +got):\n%s", diff)
	}

	// Once closed, the ticket is no longer open: the next release may open another.
	data = mustDo(t, s, `query Open($url: String!) { issues(filter: {attachments: {url: {eq: $url}}, state: {type: {nin: ["completed", "canceled"]}}}) { nodes { id } } }`,
		map[string]any{"url": relURL})
	if n := len(get(data, "issues", "nodes").([]any)); n != 0 {
		t.Errorf("open issues after Close: %d, want 0", n)
	}
	for _, f := range []string{"teams", "workflowStates", "issueLabels", "attachmentsForURL", "issueCreate", "attachmentCreate", "issueUpdate", "commentCreate", "issue", "issues"} {
		if s.Calls(f) == 0 {
			t.Errorf("Calls(%q) = 0", f)
		}
	}
	if s.Calls("issueCreate") != 1 {
		t.Errorf("Calls(issueCreate) = %d, want 1", s.Calls("issueCreate"))
	}
}

func TestSelection(t *testing.T) {
	s := newServer(t)
	mustDo(t, s, createIssue, createVars(issueA, "One", 2, labelUpg))

	data := mustDo(t, s, `query Q($id: String!) {
  __typename
  first: issue(id: $id) { __typename id }
  second: issue(id: $id) { identifier ... on Issue { priority priorityLabel } ...F }
  node: issue(id: $id) { ... on Node { id } team @include(if: false) { id } state @skip(if: false) { type } }
}
fragment F on Issue { team { key } labels { nodes { name } } team { name } }`, map[string]any{"id": issueA})
	want := map[string]any{
		"__typename": "Query",
		"first":      map[string]any{"__typename": "Issue", "id": issueA},
		"second": map[string]any{
			"identifier": "PLAT-1", "priority": 2.0, "priorityLabel": "High",
			"team":   map[string]any{"key": "PLAT", "name": "Platform"},
			"labels": map[string]any{"nodes": []any{map[string]any{"name": "upgrade"}}},
		},
		"node": map[string]any{"id": issueA, "state": map[string]any{"type": "backlog"}},
	}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

func TestQueries(t *testing.T) {
	s := newServer(t)
	mustDo(t, s, createIssue, createVars(issueA, "One", 1, labelUpg))
	mustDo(t, s, createIssue, createVars(issueB, "Two", 4, labelSec))
	mustDo(t, s, createIssueInput, map[string]any{"input": map[string]any{"teamId": otherID, "title": "Three"}})
	s.Close(issueB)

	ids := func(data map[string]any, path ...any) []string {
		var out []string
		l, _ := get(data, path...).([]any)
		for _, n := range l {
			v, _ := get(n, "identifier").(string)
			if v == "" {
				v, _ = get(n, "key").(string)
			}
			if v == "" {
				v, _ = get(n, "name").(string)
			}
			out = append(out, v)
		}
		return out
	}
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		path  []any
		want  []string
	}{
		{"all issues", `{ issues { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-1", "PLAT-2", "OPS-1"}},
		{"issues of a team by key", `{ issues(filter: {team: {key: {eq: "PLAT"}}}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-1", "PLAT-2"}},
		{"open issues", `{ issues(filter: {state: {type: {nin: ["completed", "canceled"]}}}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-1", "OPS-1"}},
		{"issues with a label", `{ issues(filter: {labels: {some: {name: {eq: "security"}}}}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-2"}},
		{"issues with no labels", `{ issues(filter: {labels: {length: {eq: 0}}}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"OPS-1"}},
		{"or", `{ issues(filter: {or: [{priority: {eq: 1}}, {priority: {gte: 4}}]}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-1", "PLAT-2"}},
		{"and", `{ issues(filter: {and: [{title: {startsWithIgnoreCase: "t"}}, {title: {containsIgnoreCase: "WO"}}]}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-2"}},
		{"title eq", `query T($t: String!) { issues(filter: {title: {eq: $t}}) { nodes { identifier } } }`, map[string]any{"t": "Three"}, []any{"issues", "nodes"}, []string{"OPS-1"}},
		{"completed at set", `{ issues(filter: {completedAt: {null: false}}) { nodes { identifier } } }`, nil, []any{"issues", "nodes"}, []string{"PLAT-2"}},
		{"team by key", `{ team(id: "OPS") { key } }`, nil, nil, nil},
		{"teams by name", `{ teams(filter: {name: {eqIgnoreCase: "platform"}}) { nodes { key } } }`, nil, []any{"teams", "nodes"}, []string{"PLAT"}},
		{"team labels", `query L($id: String!) { team(id: $id) { labels { nodes { name } } } }`, map[string]any{"id": teamID}, []any{"team", "labels", "nodes"}, []string{"security"}},
		{"team states", `query L($id: String!) { team(id: $id) { states(filter: {type: {eq: "completed"}}) { nodes { name } } } }`, map[string]any{"id": teamID}, []any{"team", "states", "nodes"}, []string{"Done"}},
		{"workspace labels", `{ issueLabels(filter: {team: {null: true}}) { nodes { name } } }`, nil, []any{"issueLabels", "nodes"}, []string{"upgrade"}},
		{"labels of a team or the workspace", `{ issueLabels(filter: {or: [{team: {null: true}}, {team: {key: {eq: "OPS"}}}]}) { nodes { name } } }`, nil, []any{"issueLabels", "nodes"}, []string{"upgrade", "ops"}},
		{"states by type", `{ workflowStates(filter: {type: {eq: "started"}, team: {key: {eq: "OPS"}}}) { nodes { name } } }`, nil, []any{"workflowStates", "nodes"}, []string{"In Progress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := mustDo(t, s, tt.query, tt.vars)
			if tt.path == nil {
				return
			}
			if diff := cmp.Diff(tt.want, ids(data, tt.path...)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	s := newServer(t)
	for i := range 3 {
		mustDo(t, s, createIssueInput, map[string]any{"input": map[string]any{"teamId": teamID, "title": fmt.Sprint("Issue ", i)}})
	}
	const q = `query P($after: String) { issues(first: 2, after: $after) { nodes { identifier } pageInfo { hasNextPage endCursor } edges { cursor } } }`
	data := mustDo(t, s, q, nil)
	if got := get(data, "issues", "pageInfo", "hasNextPage"); got != true {
		t.Fatalf("first page hasNextPage = %v, want true", got)
	}
	cursor := get(data, "issues", "pageInfo", "endCursor")
	if cursor != get(data, "issues", "edges", 1, "cursor") {
		t.Errorf("endCursor %v is not the last edge's cursor", cursor)
	}
	data = mustDo(t, s, q, map[string]any{"after": cursor})
	if got, want := get(data, "issues", "nodes"), []any{map[string]any{"identifier": "PLAT-3"}}; !cmp.Equal(got, want) {
		t.Errorf("second page = %v, want %v", got, want)
	}
	if got := get(data, "issues", "pageInfo", "hasNextPage"); got != false {
		t.Errorf("second page hasNextPage = %v, want false", got)
	}
	r := do(t, s, q, map[string]any{"after": "no-such-cursor"})
	if r.code() != "INVALID_INPUT" {
		t.Errorf("bad cursor: %d %q, want INVALID_INPUT", r.Status, r.code())
	}
}

func TestClientChosenID(t *testing.T) {
	s := newServer(t)
	mustDo(t, s, createIssue, createVars(issueA, "First", 2))

	r := do(t, s, createIssue, createVars(issueA, "Replay", 2))
	if r.Status != http.StatusOK || r.code() != "INPUT_ERROR" {
		t.Fatalf("replayed create: %d %q, want 200 INPUT_ERROR: %s", r.Status, r.code(), r.Raw)
	}
	if !r.HasData || r.Data != nil {
		t.Errorf("replayed create: data = %v, want null", r.Data)
	}
	e := r.Errors[0]
	if e.Message != "conflict on insert of Issue" || !strings.Contains(e.Extensions["userPresentableMessage"].(string), issueA) {
		t.Errorf("replayed create error = %+v", e)
	}
	if diff := cmp.Diff([]any{"issueCreate"}, e.Path); diff != "" {
		t.Errorf("error path (-want +got):\n%s", diff)
	}
	if is := s.Issues(); len(is) != 1 || is[0].Title != "First" {
		t.Fatalf("after a replay: %+v, want the first issue alone", is)
	}

	// A new issue without an id gets a generated UUID and the next number.
	data := mustDo(t, s, createIssueInput, map[string]any{"input": map[string]any{"teamId": teamID, "title": "Second"}})
	if id, _ := get(data, "issueCreate", "issue", "id").(string); !isUUID(id) || id == issueA {
		t.Errorf("generated id = %q", id)
	}
	if got := get(data, "issueCreate", "issue", "identifier"); got != "PLAT-2" {
		t.Errorf("identifier = %v, want PLAT-2", got)
	}

	const commentID = "6c2f7d3a-9e1b-4a5c-8d7e-1f2a3b4c5d6e"
	mustDo(t, s, createComment, map[string]any{"id": commentID, "issueId": issueA, "body": "one"})
	r = do(t, s, createComment, map[string]any{"id": commentID, "issueId": issueA, "body": "one"})
	if r.code() != "INPUT_ERROR" || r.Errors[0].Message != "conflict on insert of Comment" {
		t.Errorf("replayed comment: %s", r.Raw)
	}
	if is, _ := s.Issue(issueA); len(is.Comments) != 1 {
		t.Errorf("comments after a replay = %d, want 1", len(is.Comments))
	}
}

func TestAttachmentUpsert(t *testing.T) {
	s := newServer(t)
	mustDo(t, s, createIssue, createVars(issueA, "A", 0))
	mustDo(t, s, createIssue, createVars(issueB, "B", 0))
	att := func(issue, title string) string {
		t.Helper()
		data := mustDo(t, s, createAttachment, map[string]any{"issueId": issue, "url": relURL, "title": title, "subtitle": "sub"})
		return get(data, "attachmentCreate", "attachment", "id").(string)
	}
	first := att(issueA, "Keycloak 26.6.1")
	again := att("PLAT-1", "Keycloak 26.6.1 (again)")
	if again != first {
		t.Errorf("same URL on the same issue: id %s, want the first one %s", again, first)
	}
	is, _ := s.Issue(issueA)
	if diff := cmp.Diff([]Attachment{{ID: first, URL: relURL, Title: "Keycloak 26.6.1 (again)", Subtitle: "sub"}}, is.Attachments); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
	other := att(issueB, "elsewhere")
	if other == first {
		t.Errorf("same URL on another issue reused attachment %s", first)
	}
	data := mustDo(t, s, attachmentsForURL, map[string]any{"url": relURL})
	if n := len(get(data, "attachmentsForURL", "nodes").([]any)); n != 2 {
		t.Errorf("attachmentsForURL = %d nodes, want 2", n)
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		vars    map[string]any
		status  int
		code    string
		message string // the error's message, or its userPresentableMessage
	}{
		{"priority above 4", createIssue, createVars(issueA, "t", 5), 400, "INVALID_INPUT", "priority must not be greater than 4"},
		{"priority below 0", createIssue, createVars(issueA, "t", -1), 400, "INVALID_INPUT", "priority must not be less than 0"},
		{"id not a UUID", createIssue, createVars("upgrade-keycloak", "t", 0), 400, "INVALID_INPUT", "id must be a UUID"},
		{"empty id", createIssue, createVars("", "t", 0), 400, "INVALID_INPUT", "id must be a UUID"},
		{"empty title", createIssue, createVars(issueA, " ", 0), 400, "INVALID_INPUT", "title should not be empty"},
		{"unknown label", createIssue, createVars(issueA, "t", 0, "label-nope"), 200, "INPUT_ERROR", "Entity not found: IssueLabel"},
		{"label of another team", createIssue, createVars(issueA, "t", 0, labelOps), 400, "INVALID_INPUT", "labelIds: label label-ops-only does not belong to team PLAT"},
		{"empty label id", createIssue, createVars(issueA, "t", 0, ""), 400, "INVALID_INPUT", "each value in labelIds must be a UUID"},
		{"unknown team", createIssueInput, map[string]any{"input": map[string]any{"teamId": "team-nope", "title": "t"}}, 200, "INPUT_ERROR", "Entity not found: Team"},
		{"unknown state", createIssueInput, map[string]any{"input": map[string]any{"teamId": teamID, "title": "t", "stateId": "state-nope"}}, 200, "INPUT_ERROR", "Entity not found: WorkflowState"},
		{"empty state id", createIssueInput, map[string]any{"input": map[string]any{"teamId": teamID, "title": "t", "stateId": ""}}, 400, "INVALID_INPUT", "stateId must be a UUID"},
		{"issue not found", readIssue, map[string]any{"id": issueB}, 200, "INPUT_ERROR", "Entity not found: Issue"},
		{"update of a missing issue", updateTitle, map[string]any{"id": "PLAT-99", "title": "t"}, 200, "INPUT_ERROR", "Entity not found: Issue"},
		{"comment on a missing issue", createComment, map[string]any{"id": issueB, "issueId": issueB, "body": "b"}, 200, "INPUT_ERROR", "Entity not found: Issue"},
		{"attachment with a bad URL", createAttachment, map[string]any{"issueId": "PLAT-1", "url": "not a url", "title": "t", "subtitle": ""}, 400, "INVALID_INPUT", "url must be a URL address"},
		{"team not found", `{ team(id: "NOPE") { id } }`, nil, 200, "INPUT_ERROR", "Could not find referenced Team."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			mustDo(t, s, createIssueInput, map[string]any{"input": map[string]any{"teamId": teamID, "title": "existing"}}) // PLAT-1
			before := len(s.Issues())
			r := do(t, s, tt.query, tt.vars)
			if r.Status != tt.status || r.code() != tt.code {
				t.Fatalf("answer %d %q, want %d %q: %s", r.Status, r.code(), tt.status, tt.code, r.Raw)
			}
			e := r.Errors[0]
			if e.Message != tt.message && e.Extensions["userPresentableMessage"] != tt.message {
				t.Errorf("error %q / %q, want %q", e.Message, e.Extensions["userPresentableMessage"], tt.message)
			}
			if e.Extensions["type"] != "invalid input" || e.Extensions["userError"] != true {
				t.Errorf("extensions = %v, want type invalid input, userError", e.Extensions)
			}
			if !r.HasData || r.Data != nil {
				t.Errorf("data = %v (present %v), want null", r.Data, r.HasData)
			}
			if len(e.Path) == 0 {
				t.Errorf("no error path")
			}
			if n := len(s.Issues()); n != before {
				t.Errorf("issues %d → %d after a rejected request", before, n)
			}
		})
	}
}

func TestIssueUpdate(t *testing.T) {
	s := newServer(t)
	mustDo(t, s, createIssue, createVars(issueA, "t", 2, labelUpg))
	states := s.States(teamID)
	data := mustDo(t, s, `mutation U($id: String!, $input: IssueUpdateInput!) { issueUpdate(id: $id, input: $input) { issue { priority state { type } labelIds completedAt } } }`,
		map[string]any{"id": issueA, "input": map[string]any{"priority": 1, "stateId": states[3].ID, "addedLabelIds": []string{labelSec}, "removedLabelIds": []string{labelUpg}}})
	if got := get(data, "issueUpdate", "issue", "state", "type"); got != "completed" {
		t.Errorf("state = %v, want completed", got)
	}
	if got := get(data, "issueUpdate", "issue", "completedAt"); got == nil {
		t.Errorf("completedAt is null after a move to a completed state")
	}
	if diff := cmp.Diff([]any{labelSec}, get(data, "issueUpdate", "issue", "labelIds")); diff != "" {
		t.Errorf("labelIds (-want +got):\n%s", diff)
	}
	if got := get(data, "issueUpdate", "issue", "priority"); got != 1.0 {
		t.Errorf("priority = %v, want 1", got)
	}
	r := do(t, s, `mutation U($id: String!, $input: IssueUpdateInput!) { issueUpdate(id: $id, input: $input) { success } }`,
		map[string]any{"id": issueA, "input": map[string]any{"stateId": s.States(otherID)[0].ID}})
	if r.code() != "INVALID_INPUT" {
		t.Errorf("state of another team: %d %q, want INVALID_INPUT", r.Status, r.code())
	}
}

func TestFaults(t *testing.T) {
	t.Run("rate limit", func(t *testing.T) {
		s := newServer(t)
		s.RateLimit(2)
		for i := range 2 {
			r := do(t, s, createIssue, createVars(issueA, "t", 0))
			if r.Status != http.StatusBadRequest || r.code() != "RATELIMITED" {
				t.Fatalf("request %d: %d %q, want 400 RATELIMITED", i, r.Status, r.code())
			}
			if got := r.Header.Get("X-RateLimit-Requests-Remaining"); got != "0" {
				t.Errorf("X-RateLimit-Requests-Remaining = %q, want 0", got)
			}
			reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Requests-Reset"), 10, 64)
			if err != nil || reset <= time.Now().Add(-time.Minute).UnixMilli() || reset > time.Now().Add(time.Hour).UnixMilli() {
				t.Errorf("X-RateLimit-Requests-Reset = %q, want epoch milliseconds soon", r.Header.Get("X-RateLimit-Requests-Reset"))
			}
			if r.Errors[0].Extensions["type"] != "ratelimited" {
				t.Errorf("extensions.type = %v, want ratelimited", r.Errors[0].Extensions["type"])
			}
		}
		if s.Calls("issueCreate") != 0 || len(s.Issues()) != 0 {
			t.Fatalf("a rate-limited request was executed")
		}
		mustDo(t, s, createIssue, createVars(issueA, "t", 0))
		if s.Requests() != 3 {
			t.Errorf("Requests() = %d, want 3", s.Requests())
		}
	})

	t.Run("server errors", func(t *testing.T) {
		s := newServer(t)
		s.Fail(1, http.StatusInternalServerError)
		s.Fail(1, http.StatusServiceUnavailable)
		r := do(t, s, createIssue, createVars(issueA, "t", 0))
		if r.Status != http.StatusInternalServerError || r.code() != "INTERNAL_SERVER_ERROR" {
			t.Errorf("first: %d %q, want 500 INTERNAL_SERVER_ERROR", r.Status, r.code())
		}
		r = do(t, s, createIssue, createVars(issueA, "t", 0))
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Raw, "<html>") {
			t.Errorf("second: %d %q, want 503 with an HTML page", r.Status, r.Raw)
		}
		if len(s.Issues()) != 0 {
			t.Fatalf("a failed request was executed")
		}
		mustDo(t, s, createIssue, createVars(issueA, "t", 0))
	})

	t.Run("lost response", func(t *testing.T) {
		s := newServer(t)
		s.LoseResponse(1)
		if _, err := post(t, s, s.APIKey(), createIssue, createVars(issueA, "t", 0)); err == nil {
			t.Fatal("a lost response reached the client")
		}
		if is := s.Issues(); len(is) != 1 || is[0].ID != issueA {
			t.Fatalf("after a lost response: %+v, want the issue created", is)
		}
		// The client's retry collides with what it cannot know it did.
		if r := do(t, s, createIssue, createVars(issueA, "t", 0)); r.code() != "INPUT_ERROR" {
			t.Errorf("retry: %d %q, want INPUT_ERROR", r.Status, r.code())
		}
	})
}

// recorder catches the test failures the fake reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestUnsupportedFailsTheTest(t *testing.T) {
	rec := &recorder{TB: t}
	s := New(rec)
	s.AddTeam(teamID, "PLAT", "Platform")
	mustDo(t, s, createIssue, createVars(issueA, "t", 0))

	// sortOrder is in Linear's schema (so the document validates) but not
	// in the fake.
	r := do(t, s, `query Q($id: String!) { issue(id: $id) { id sortOrder } }`, map[string]any{"id": issueA})
	if r.code() != "LINEARTEST_UNSUPPORTED" {
		t.Fatalf("answer %d %q, want LINEARTEST_UNSUPPORTED: %s", r.Status, r.code(), r.Raw)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "Issue.sortOrder") {
		t.Errorf("test failures = %q, want one naming Issue.sortOrder", rec.errs)
	}
}

func TestConcurrentCreates(t *testing.T) {
	s := newServer(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := post(t, s, s.APIKey(), createIssueInput, map[string]any{"input": map[string]any{"teamId": teamID, "title": fmt.Sprint("Issue ", i)}})
			if err != nil || r.Status != http.StatusOK {
				t.Errorf("create %d: %v %d", i, err, r.Status)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, is := range s.Issues() {
		seen[is.Identifier] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprint("PLAT-", i)] {
			t.Errorf("PLAT-%d missing from %v", i, seen)
		}
	}
	if s.Requests() != n {
		t.Errorf("Requests() = %d, want %d", s.Requests(), n)
	}
}

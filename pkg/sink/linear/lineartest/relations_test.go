package lineartest

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const createRelation = `mutation($id: String, $issueId: String!, $relatedIssueId: String!, $type: IssueRelationType!) {
  issueRelationCreate(input: {id: $id, issueId: $issueId, relatedIssueId: $relatedIssueId, type: $type}) {
    success
    issueRelation { id type issue { identifier } relatedIssue { identifier } }
  }
}`

const readRelations = `query($id: String!) {
  issue(id: $id) {
    relations { nodes { id type relatedIssue { id identifier } } }
    inverseRelations(first: 10) { nodes { id type issue { id identifier } } }
  }
}`

func TestRelations(t *testing.T) {
	s := newServer(t)
	mustDo(t, s, createIssue, createVars(issueA, "Upgrade", 2))
	mustDo(t, s, createIssue, createVars(issueB, "Remediate", 1))
	const relID = "7d3e8f4b-0a2c-4b6d-9e8f-2a3b4c5d6e7f"

	// By identifier, as Linear takes it.
	data := mustDo(t, s, createRelation, map[string]any{"id": relID, "issueId": "PLAT-1", "relatedIssueId": issueB, "type": "related"})
	want := map[string]any{"issueRelationCreate": map[string]any{"success": true, "issueRelation": map[string]any{
		"id": relID, "type": "related", "issue": map[string]any{"identifier": "PLAT-1"}, "relatedIssue": map[string]any{"identifier": "PLAT-2"},
	}}}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Errorf("issueRelationCreate (-want +got):\n%s", diff)
	}

	a := mustDo(t, s, readRelations, map[string]any{"id": issueA})
	if got := get(a, "issue", "relations", "nodes", 0, "relatedIssue", "identifier"); got != "PLAT-2" {
		t.Errorf("A.relations[0].relatedIssue = %v, want PLAT-2", got)
	}
	if n := len(get(a, "issue", "inverseRelations", "nodes").([]any)); n != 0 {
		t.Errorf("A.inverseRelations = %d nodes, want 0", n)
	}
	b := mustDo(t, s, readRelations, map[string]any{"id": issueB})
	if got := get(b, "issue", "inverseRelations", "nodes", 0, "issue", "id"); got != issueA {
		t.Errorf("B.inverseRelations[0].issue = %v, want %s", got, issueA)
	}
	if n := len(get(b, "issue", "relations", "nodes").([]any)); n != 0 {
		t.Errorf("B.relations = %d nodes, want 0", n)
	}

	tests := []struct {
		name          string
		vars          map[string]any
		status        int
		code, message string
	}{
		{"replayed id", map[string]any{"id": relID, "issueId": issueA, "relatedIssueId": issueB, "type": "related"},
			http.StatusOK, "INPUT_ERROR", "conflict on insert of IssueRelation"},
		{"unknown issue", map[string]any{"issueId": issueA, "relatedIssueId": "PLAT-99", "type": "related"},
			http.StatusOK, "INPUT_ERROR", "Entity not found: Issue"},
		{"itself", map[string]any{"issueId": issueA, "relatedIssueId": "PLAT-1", "type": "related"},
			http.StatusBadRequest, "INVALID_INPUT", "Argument Validation Error"},
		{"not a type", map[string]any{"issueId": issueA, "relatedIssueId": issueB, "type": "relates"},
			http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", ""},
		{"empty id", map[string]any{"issueId": "", "relatedIssueId": issueB, "type": "related"},
			http.StatusBadRequest, "INVALID_INPUT", "Argument Validation Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, createRelation, tt.vars)
			if r.Status != tt.status || r.code() != tt.code || (tt.message != "" && r.Errors[0].Message != tt.message) {
				t.Errorf("answer %d %q: %s; want %d %s %q", r.Status, r.code(), r.Raw, tt.status, tt.code, tt.message)
			}
		})
	}
	if diff := cmp.Diff([]Relation{{ID: relID, IssueID: issueA, RelatedIssueID: issueB, Type: "related"}}, s.Relations()); diff != "" {
		t.Errorf("Relations (-want +got):\n%s", diff)
	}
}

package lineartest

import (
	"slices"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// Issue relations: issueRelationCreate, and Issue.relations (the
// relations the issue is the source of) and Issue.inverseRelations (those
// it is the target of), as in Linear's schema.

// Relation is an issue relation as the fake holds it.
type Relation struct {
	ID string
	// IssueID is the source issue, RelatedIssueID the target.
	IssueID, RelatedIssueID string
	// Type is the IssueRelationType: blocks, duplicate, related, similar.
	Type string
}

type issueRelation struct {
	id, issueID, relatedIssueID, typ string
	createdAt                        time.Time
}

// Relations returns every issue relation, oldest first.
func (s *Server) Relations() []Relation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Relation, 0, len(s.db.relations))
	for _, r := range s.db.relations {
		out = append(out, Relation{ID: r.id, IssueID: r.issueID, RelatedIssueID: r.relatedIssueID, Type: r.typ})
	}
	return out
}

// issueRelationCreate relates two issues, given by id or identifier as
// Linear takes them. An issue that does not exist is Linear's "Entity not
// found: Issue"; relating an issue to itself is an argument validation
// error (the fake's wording). Linear does not document what a second
// relation of the same pair does: the fake makes it, so that a test that
// counts relations sees the duplicate.
func (x *exec) issueRelationCreate(in map[string]any) (any, error) {
	if err := checkInput("IssueRelationCreateInput", in, "id", "issueId", "relatedIssueId", "type"); err != nil {
		return nil, err
	}
	d := x.db
	issueID, _ := in["issueId"].(string)
	relatedID, _ := in["relatedIssueId"].(string)
	from, to := d.issue(issueID), d.issue(relatedID)
	if from == nil || to == nil {
		return nil, notFound("Issue")
	}
	if from == to {
		return nil, invalidInput("an issue cannot be related to itself")
	}
	id, err := clientID(in, "IssueRelation", func(id string) bool {
		return slices.ContainsFunc(d.relations, func(r *issueRelation) bool { return r.id == id })
	})
	if err != nil {
		return nil, err
	}
	typ, _ := in["type"].(string) // The schema's enum: validated already.
	r := &issueRelation{id: id, issueID: from.id, relatedIssueID: to.id, typ: typ, createdAt: x.s.now()}
	d.relations = append(d.relations, r)
	return x.payload("IssueRelationPayload", "issueRelation", relationNode{r}), nil
}

// issueRelations answers Issue.relations (inverse false) or
// Issue.inverseRelations.
func (x *exec) issueRelations(is *issue, inverse bool, args map[string]any) (any, error) {
	var out []node
	for _, r := range x.db.relations {
		if (!inverse && r.issueID == is.id) || (inverse && r.relatedIssueID == is.id) {
			out = append(out, relationNode{r})
		}
	}
	return x.connection("IssueRelationConnection", out, args)
}

type relationNode struct{ *issueRelation }

func (relationNode) typeName() string { return "IssueRelation" }
func (r relationNode) nodeID() string { return r.id }

func (r relationNode) filterValue(d *db, name string) (any, bool) {
	switch name {
	case "id":
		return r.id, true
	case "type":
		return r.typ, true
	case "createdAt", "updatedAt":
		return dateTime(r.createdAt), true
	case "issue":
		return relation{issueNode{d.issue(r.issueID)}}, true
	case "relatedIssue":
		return relation{issueNode{d.issue(r.relatedIssueID)}}, true
	}
	return nil, false
}

func (r relationNode) field(x *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return r.id, nil
	case "type":
		return r.typ, nil
	case "createdAt", "updatedAt":
		return dateTime(r.createdAt), nil
	case "archivedAt":
		return nil, nil
	case "issue":
		return issueNode{x.db.issue(r.issueID)}, nil
	case "relatedIssue":
		return issueNode{x.db.issue(r.relatedIssueID)}, nil
	}
	return nil, unsupported("IssueRelation.%s", f.Name)
}

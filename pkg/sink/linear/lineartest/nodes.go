package lineartest

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// node is an entity with an id: it can be listed in a connection and
// filtered.
type node interface {
	object
	filterable
	nodeID() string
}

const (
	defaultPage = 50  // Linear's default `first`
	maxPage     = 250 // and its maximum
)

// connection answers a Linear connection field (nodes, edges, pageInfo)
// over all, after the filter argument and pagination are applied.
func (x *exec) connection(typ string, all []node, args map[string]any) (object, error) {
	nodes := all
	if f, ok := args["filter"].(map[string]any); ok {
		nodes = nil
		for _, n := range all {
			ok, err := matches(x.db, n, f)
			if err != nil {
				return nil, err
			}
			if ok {
				nodes = append(nodes, n)
			}
		}
	}
	c := &connection{typ: typ}
	start, end := 0, len(nodes)
	cursorAt := func(name string) (int, error) {
		cur, _ := args[name].(string)
		for i, n := range nodes {
			if n.nodeID() == cur {
				return i, nil
			}
		}
		return 0, invalidInput("%s: invalid cursor", name)
	}
	if _, ok := args["after"].(string); ok {
		i, err := cursorAt("after")
		if err != nil {
			return nil, err
		}
		start = i + 1
	}
	if _, ok := args["before"].(string); ok {
		i, err := cursorAt("before")
		if err != nil {
			return nil, err
		}
		end = i
	}
	first, hasFirst := intArg(args["first"])
	last, hasLast := intArg(args["last"])
	if !hasFirst && !hasLast {
		first, hasFirst = defaultPage, true
	}
	for _, n := range []int{first, last} {
		if n < 0 || n > maxPage {
			return nil, invalidInput("first/last must be between 0 and %d", maxPage)
		}
	}
	if start > end {
		start = end
	}
	if hasFirst && end-start > first {
		end = start + first
		c.hasNext = true
	}
	if hasLast && end-start > last {
		start = end - last
		c.hasPrev = true
	}
	c.hasPrev = c.hasPrev || start > 0
	c.hasNext = c.hasNext || end < len(nodes)
	c.nodes = nodes[start:end]
	return c, nil
}

func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

type connection struct {
	typ              string // "IssueConnection"
	nodes            []node
	hasNext, hasPrev bool
}

func (c *connection) typeName() string { return c.typ }

func (c *connection) field(_ *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "nodes":
		out := make([]object, len(c.nodes))
		for i, n := range c.nodes {
			out[i] = n
		}
		return out, nil
	case "edges":
		out := make([]object, len(c.nodes))
		for i, n := range c.nodes {
			out[i] = edge{typ: strings.TrimSuffix(c.typ, "Connection") + "Edge", n: n}
		}
		return out, nil
	case "pageInfo":
		p := pageInfo{hasNext: c.hasNext, hasPrev: c.hasPrev}
		if len(c.nodes) > 0 {
			p.start, p.end = c.nodes[0].nodeID(), c.nodes[len(c.nodes)-1].nodeID()
		}
		return p, nil
	}
	return nil, unsupported("%s.%s", c.typ, f.Name)
}

type edge struct {
	typ string
	n   node
}

func (e edge) typeName() string { return e.typ }

func (e edge) field(_ *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "node":
		return e.n, nil
	case "cursor":
		return e.n.nodeID(), nil
	}
	return nil, unsupported("%s.%s", e.typ, f.Name)
}

type pageInfo struct {
	hasNext, hasPrev bool
	start, end       string
}

func (pageInfo) typeName() string { return "PageInfo" }

func (p pageInfo) field(_ *exec, f *ast.Field, _ map[string]any) (any, error) {
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch f.Name {
	case "hasNextPage":
		return p.hasNext, nil
	case "hasPreviousPage":
		return p.hasPrev, nil
	case "startCursor":
		return opt(p.start), nil
	case "endCursor":
		return opt(p.end), nil
	}
	return nil, unsupported("PageInfo.%s", f.Name)
}

// payload is a mutation's answer: IssuePayload, CommentPayload,
// AttachmentPayload.
type payload struct {
	typ    string
	key    string // "issue", "comment", "attachment"
	entity object
	syncID int
}

func (p payload) typeName() string { return p.typ }

func (p payload) field(_ *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "success":
		return true, nil
	case "lastSyncId":
		return float64(p.syncID), nil
	case p.key:
		return p.entity, nil
	}
	return nil, unsupported("%s.%s", p.typ, f.Name)
}

type orgNode struct{}

func (orgNode) typeName() string { return "Organization" }
func (orgNode) nodeID() string   { return orgID }

func (orgNode) field(_ *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return orgID, nil
	case "name":
		return orgName, nil
	case "urlKey":
		return orgURLKey, nil
	}
	return nil, unsupported("Organization.%s", f.Name)
}

func (orgNode) filterValue(_ *db, name string) (any, bool) {
	switch name {
	case "id":
		return orgID, true
	case "name":
		return orgName, true
	}
	return nil, false
}

// userNode is the API key's user, the viewer: the creator of everything
// made through the API.
type userNode struct{}

func (userNode) typeName() string { return "User" }
func (userNode) nodeID() string   { return viewerID }

func (userNode) field(_ *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return viewerID, nil
	case "name", "displayName":
		return viewerName, nil
	case "email":
		return viewerEmail, nil
	case "active":
		return true, nil
	case "admin", "guest", "isMe":
		return f.Name == "isMe", nil
	case "organization":
		return orgNode{}, nil
	}
	return nil, unsupported("User.%s", f.Name)
}

func (userNode) filterValue(_ *db, name string) (any, bool) {
	switch name {
	case "id":
		return viewerID, true
	case "name", "displayName":
		return viewerName, true
	case "email":
		return viewerEmail, true
	case "isMe":
		return true, true
	}
	return nil, false
}

type teamNode struct{ *team }

func (teamNode) typeName() string { return "Team" }
func (t teamNode) nodeID() string { return t.id }
func (t teamNode) filterValue(_ *db, name string) (any, bool) {
	switch name {
	case "id":
		return t.id, true
	case "key":
		return t.key, true
	case "name":
		return t.name, true
	case "createdAt", "updatedAt":
		return dateTime(t.createdAt), true
	}
	return nil, false
}

func (t teamNode) field(x *exec, f *ast.Field, args map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return t.id, nil
	case "key":
		return t.key, nil
	case "name", "displayName":
		return t.name, nil
	case "description", "archivedAt", "icon", "color":
		return nil, nil
	case "private":
		return false, nil
	case "createdAt", "updatedAt":
		return dateTime(t.createdAt), nil
	case "organization":
		return orgNode{}, nil
	case "issueCount":
		return t.issueCount, nil
	case "states":
		return x.connection("WorkflowStateConnection", x.teamStates(t.id), args)
	case "labels":
		var ls []node
		for _, l := range x.db.labels {
			if l.teamID == t.id {
				ls = append(ls, labelNode{l})
			}
		}
		return x.connection("IssueLabelConnection", ls, args)
	case "issues":
		var is []node
		for _, i := range x.db.issues {
			if i.teamID == t.id {
				is = append(is, issueNode{i})
			}
		}
		return x.connection("IssueConnection", is, args)
	}
	return nil, unsupported("Team.%s", f.Name)
}

func (x *exec) teamStates(teamID string) []node {
	var out []node
	for _, s := range x.db.states {
		if s.teamID == teamID {
			out = append(out, stateNode{s})
		}
	}
	return out
}

type stateNode struct{ *state }

func (stateNode) typeName() string { return "WorkflowState" }
func (s stateNode) nodeID() string { return s.id }

func (s stateNode) filterValue(d *db, name string) (any, bool) {
	switch name {
	case "id":
		return s.id, true
	case "name":
		return s.name, true
	case "type":
		return s.typ, true
	case "position":
		return s.position, true
	case "createdAt", "updatedAt":
		return dateTime(s.createdAt), true
	case "team":
		return relation{teamNode{d.team(s.teamID)}}, true
	}
	return nil, false
}

func (s stateNode) field(x *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return s.id, nil
	case "name":
		return s.name, nil
	case "type":
		return s.typ, nil
	case "position":
		return s.position, nil
	case "color":
		return stateColors[s.typ], nil
	case "description", "archivedAt":
		return nil, nil
	case "createdAt", "updatedAt":
		return dateTime(s.createdAt), nil
	case "team":
		return teamNode{x.db.team(s.teamID)}, nil
	}
	return nil, unsupported("WorkflowState.%s", f.Name)
}

var stateColors = map[string]string{
	StateTriage: "#fc7840", StateBacklog: "#bec2c8", StateUnstarted: "#e2e2e2", StateStarted: "#f2c94c",
	StateCompleted: "#5e6ad2", StateCanceled: "#95a2b3", StateDuplicate: "#95a2b3",
}

type labelNode struct{ *label }

func (labelNode) typeName() string { return "IssueLabel" }
func (l labelNode) nodeID() string { return l.id }

func (l labelNode) filterValue(d *db, name string) (any, bool) {
	switch name {
	case "id":
		return l.id, true
	case "name":
		return l.name, true
	case "createdAt", "updatedAt":
		return dateTime(l.createdAt), true
	case "team":
		if l.teamID == "" {
			return relation{}, true
		}
		return relation{teamNode{d.team(l.teamID)}}, true
	}
	return nil, false
}

func (l labelNode) field(x *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return l.id, nil
	case "name":
		return l.name, nil
	case "color":
		return "#5e6ad2", nil
	case "description", "archivedAt", "parent":
		return nil, nil
	case "isGroup":
		return false, nil
	case "createdAt", "updatedAt":
		return dateTime(l.createdAt), nil
	case "team":
		if l.teamID == "" {
			return nil, nil
		}
		return teamNode{x.db.team(l.teamID)}, nil
	}
	return nil, unsupported("IssueLabel.%s", f.Name)
}

type issueNode struct{ *issue }

func (issueNode) typeName() string { return "Issue" }
func (i issueNode) nodeID() string { return i.id }

func (i issueNode) filterValue(d *db, name string) (any, bool) {
	switch name {
	case "id":
		return i.id, true
	case "title":
		return i.title, true
	case "description":
		if i.description == "" {
			return nil, true
		}
		return i.description, true
	case "number":
		return float64(i.number), true
	case "priority":
		return float64(i.priority), true
	case "createdAt":
		return dateTime(i.createdAt), true
	case "updatedAt":
		return dateTime(i.updatedAt), true
	case "completedAt":
		return optDateTime(i.completedAt), true
	case "canceledAt":
		return optDateTime(i.canceledAt), true
	case "team":
		return relation{teamNode{d.team(i.teamID)}}, true
	case "state":
		return relation{stateNode{d.state(i.stateID)}}, true
	case "labels":
		var out []filterable
		for _, id := range i.labelIDs {
			if l := d.label(id); l != nil {
				out = append(out, labelNode{l})
			}
		}
		return out, true
	case "attachments":
		var out []filterable
		for _, a := range d.issueAttachments(i.issue) {
			out = append(out, attachmentNode{a})
		}
		return out, true
	case "comments":
		var out []filterable
		for _, c := range d.issueComments(i.issue) {
			out = append(out, commentNode{c})
		}
		return out, true
	}
	return nil, false
}

var priorityLabels = []string{"No priority", "Urgent", "High", "Medium", "Low"}

func (i issueNode) field(x *exec, f *ast.Field, args map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return i.id, nil
	case "identifier":
		return x.db.identifier(i.issue), nil
	case "number":
		return float64(i.number), nil
	case "title":
		return i.title, nil
	case "description":
		if i.description == "" {
			return nil, nil
		}
		return i.description, nil
	case "priority":
		return float64(i.priority), nil
	case "priorityLabel":
		return priorityLabels[i.priority], nil
	case "url":
		return x.db.url(i.issue), nil
	case "branchName":
		return strings.ToLower(x.db.identifier(i.issue)) + "-" + slug(i.title), nil
	case "labelIds":
		return append([]string{}, i.labelIDs...), nil
	case "createdAt":
		return dateTime(i.createdAt), nil
	case "updatedAt":
		return dateTime(i.updatedAt), nil
	case "completedAt":
		return optDateTime(i.completedAt), nil
	case "canceledAt":
		return optDateTime(i.canceledAt), nil
	case "archivedAt", "startedAt", "dueDate", "estimate", "assignee", "delegate", "parent",
		"project", "cycle", "snoozedUntilAt", "autoClosedAt", "autoArchivedAt", "trashed":
		return nil, nil
	case "creator":
		return userNode{}, nil
	case "team":
		return teamNode{x.db.team(i.teamID)}, nil
	case "state":
		return stateNode{x.db.state(i.stateID)}, nil
	case "labels":
		var ls []node
		for _, id := range i.labelIDs {
			if l := x.db.label(id); l != nil {
				ls = append(ls, labelNode{l})
			}
		}
		return x.connection("IssueLabelConnection", ls, args)
	case "attachments":
		var as []node
		for _, a := range x.db.issueAttachments(i.issue) {
			as = append(as, attachmentNode{a})
		}
		return x.connection("AttachmentConnection", as, args)
	case "comments":
		var cs []node
		for _, c := range x.db.issueComments(i.issue) {
			cs = append(cs, commentNode{c})
		}
		return x.connection("CommentConnection", cs, args)
	case "relations", "inverseRelations":
		return x.issueRelations(i.issue, f.Name == "inverseRelations", args)
	}
	return nil, unsupported("Issue.%s", f.Name)
}

type attachmentNode struct{ *attachment }

func (attachmentNode) typeName() string { return "Attachment" }
func (a attachmentNode) nodeID() string { return a.id }

func (a attachmentNode) filterValue(_ *db, name string) (any, bool) {
	switch name {
	case "id":
		return a.id, true
	case "url":
		return a.url, true
	case "title":
		return a.title, true
	case "subtitle":
		if a.subtitle == "" {
			return nil, true
		}
		return a.subtitle, true
	case "createdAt":
		return dateTime(a.createdAt), true
	case "updatedAt":
		return dateTime(a.updatedAt), true
	}
	return nil, false
}

func (a attachmentNode) field(x *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return a.id, nil
	case "url":
		return a.url, nil
	case "title":
		return a.title, nil
	case "subtitle":
		if a.subtitle == "" {
			return nil, nil
		}
		return a.subtitle, nil
	case "metadata":
		if a.metadata == nil {
			return map[string]any{}, nil
		}
		return a.metadata, nil
	case "groupBySource":
		return false, nil
	case "source", "sourceType", "archivedAt", "externalUserCreator", "originalIssue":
		return nil, nil
	case "createdAt":
		return dateTime(a.createdAt), nil
	case "updatedAt":
		return dateTime(a.updatedAt), nil
	case "creator":
		return userNode{}, nil
	case "issue":
		return issueNode{x.db.issue(a.issueID)}, nil
	}
	return nil, unsupported("Attachment.%s", f.Name)
}

type commentNode struct{ *comment }

func (commentNode) typeName() string { return "Comment" }
func (c commentNode) nodeID() string { return c.id }

func (c commentNode) filterValue(_ *db, name string) (any, bool) {
	switch name {
	case "id":
		return c.id, true
	case "body":
		return c.body, true
	case "createdAt":
		return dateTime(c.createdAt), true
	case "updatedAt":
		return dateTime(c.updatedAt), true
	}
	return nil, false
}

func (c commentNode) field(x *exec, f *ast.Field, _ map[string]any) (any, error) {
	switch f.Name {
	case "id":
		return c.id, nil
	case "body":
		return c.body, nil
	case "url":
		is := x.db.issue(c.issueID)
		return x.db.url(is) + "#comment-" + c.id[:8], nil
	case "createdAt":
		return dateTime(c.createdAt), nil
	case "updatedAt":
		return dateTime(c.updatedAt), nil
	case "editedAt", "archivedAt", "parent", "resolvedAt", "quotedText":
		return nil, nil
	case "user":
		return userNode{}, nil
	case "issue":
		return issueNode{x.db.issue(c.issueID)}, nil
	}
	return nil, unsupported("Comment.%s", f.Name)
}

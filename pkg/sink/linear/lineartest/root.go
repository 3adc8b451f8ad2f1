package lineartest

import (
	"net/url"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// queryRoot answers the Query fields the linear-ticketer uses.
type queryRoot struct{}

func (queryRoot) typeName() string { return "Query" }

func (queryRoot) field(x *exec, f *ast.Field, args map[string]any) (any, error) {
	x.s.calls[f.Name]++
	d := x.db
	id, _ := args["id"].(string)
	switch f.Name {
	case "viewer":
		return userNode{}, nil
	case "organization":
		return orgNode{}, nil
	case "teams":
		all := make([]node, len(d.teams))
		for i, t := range d.teams {
			all[i] = teamNode{t}
		}
		return x.connection("TeamConnection", all, args)
	case "team":
		if t := d.teamByIDOrKey(id); t != nil {
			return teamNode{t}, nil
		}
		return nil, notFound("Team")
	case "issueLabels":
		all := make([]node, len(d.labels))
		for i, l := range d.labels {
			all[i] = labelNode{l}
		}
		return x.connection("IssueLabelConnection", all, args)
	case "issueLabel":
		if l := d.label(id); l != nil {
			return labelNode{l}, nil
		}
		return nil, notFound("IssueLabel")
	case "workflowStates":
		all := make([]node, len(d.states))
		for i, s := range d.states {
			all[i] = stateNode{s}
		}
		return x.connection("WorkflowStateConnection", all, args)
	case "workflowState":
		if s := d.state(id); s != nil {
			return stateNode{s}, nil
		}
		return nil, notFound("WorkflowState")
	case "issue":
		if is := d.issue(id); is != nil {
			return issueNode{is}, nil
		}
		return nil, notFound("Issue")
	case "issues":
		all := make([]node, len(d.issues))
		for i, is := range d.issues {
			all[i] = issueNode{is}
		}
		return x.connection("IssueConnection", all, args)
	case "attachmentsForURL":
		u, _ := args["url"].(string)
		var all []node
		for _, a := range d.attachments {
			if a.url == u {
				all = append(all, attachmentNode{a})
			}
		}
		return x.connection("AttachmentConnection", all, args)
	case "attachments":
		all := make([]node, len(d.attachments))
		for i, a := range d.attachments {
			all[i] = attachmentNode{a}
		}
		return x.connection("AttachmentConnection", all, args)
	case "attachment":
		if a := d.attachment(id); a != nil {
			return attachmentNode{a}, nil
		}
		return nil, notFound("Attachment")
	}
	return nil, unsupported("Query.%s", f.Name)
}

// mutationRoot answers the Mutation fields the linear-ticketer uses.
type mutationRoot struct{}

func (mutationRoot) typeName() string { return "Mutation" }

func (mutationRoot) field(x *exec, f *ast.Field, args map[string]any) (any, error) {
	x.s.calls[f.Name]++
	in, _ := args["input"].(map[string]any)
	switch f.Name {
	case "issueCreate":
		return x.issueCreate(in)
	case "issueUpdate":
		id, _ := args["id"].(string)
		return x.issueUpdate(id, in)
	case "commentCreate":
		return x.commentCreate(in)
	case "attachmentCreate":
		return x.attachmentCreate(in)
	case "issueRelationCreate":
		return x.issueRelationCreate(in)
	}
	return nil, unsupported("Mutation.%s", f.Name)
}

func (x *exec) payload(typ, key string, entity object) payload {
	x.s.syncID++
	return payload{typ: typ, key: key, entity: entity, syncID: x.s.syncID}
}

func (x *exec) issueCreate(in map[string]any) (any, error) {
	if err := checkInput("IssueCreateInput", in, "id", "teamId", "title", "description", "priority", "labelIds", "stateId"); err != nil {
		return nil, err
	}
	d := x.db
	teamID, _ := in["teamId"].(string)
	t := d.team(teamID)
	if t == nil {
		return nil, notFound("Team")
	}
	id, err := clientID(in, "Issue", func(id string) bool {
		return slices.ContainsFunc(d.issues, func(is *issue) bool { return is.id == id })
	})
	if err != nil {
		return nil, err
	}
	title, _ := in["title"].(string)
	if strings.TrimSpace(title) == "" {
		return nil, invalidInput("title should not be empty")
	}
	prio, err := priority(in)
	if err != nil {
		return nil, err
	}
	st, err := x.stateFor(t, in)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = x.defaultState(t)
	}
	labels, err := x.labelIDs(t, "labelIds", in["labelIds"])
	if err != nil {
		return nil, err
	}
	now := x.s.now()
	t.issueCount++
	desc, _ := in["description"].(string)
	is := &issue{
		id: id, teamID: t.id, number: t.issueCount, priority: prio,
		title: title, description: desc, labelIDs: labels, createdAt: now,
	}
	d.setState(is, st, now)
	d.issues = append(d.issues, is)
	return x.payload("IssuePayload", "issue", issueNode{is}), nil
}

func (x *exec) issueUpdate(id string, in map[string]any) (any, error) {
	if err := checkInput("IssueUpdateInput", in, "title", "description", "priority", "stateId", "labelIds", "addedLabelIds", "removedLabelIds"); err != nil {
		return nil, err
	}
	d := x.db
	is := d.issue(id)
	if is == nil {
		return nil, notFound("Issue")
	}
	t := d.team(is.teamID)
	if v, ok := in["title"]; ok && v != nil {
		title, _ := v.(string)
		if strings.TrimSpace(title) == "" {
			return nil, invalidInput("title should not be empty")
		}
	}
	var prio *int
	if v, ok := in["priority"]; ok && v != nil {
		p, err := priority(in)
		if err != nil {
			return nil, err
		}
		prio = &p
	}
	st, err := x.stateFor(t, in)
	if err != nil {
		return nil, err
	}
	labels := is.labelIDs
	if v, ok := in["labelIds"]; ok && v != nil {
		if labels, err = x.labelIDs(t, "labelIds", v); err != nil {
			return nil, err
		}
	}
	added, err := x.labelIDs(t, "addedLabelIds", in["addedLabelIds"])
	if err != nil {
		return nil, err
	}
	removed, err := x.labelIDs(t, "removedLabelIds", in["removedLabelIds"])
	if err != nil {
		return nil, err
	}
	labels = slices.DeleteFunc(append(slices.Clone(labels), added...), func(id string) bool { return slices.Contains(removed, id) })

	// Every input is valid: apply them all.
	now := x.s.now()
	if title, ok := in["title"].(string); ok {
		is.title = title
	}
	if v, ok := in["description"]; ok {
		is.description, _ = v.(string)
	}
	if prio != nil {
		is.priority = *prio
	}
	is.labelIDs = dedupe(labels)
	is.updatedAt = now
	if st != nil && st.id != is.stateID {
		d.setState(is, st, now)
	}
	return x.payload("IssuePayload", "issue", issueNode{is}), nil
}

func (x *exec) commentCreate(in map[string]any) (any, error) {
	if err := checkInput("CommentCreateInput", in, "id", "issueId", "body", "doNotSubscribeToIssue"); err != nil {
		return nil, err
	}
	d := x.db
	issueID, _ := in["issueId"].(string)
	if issueID == "" {
		return nil, invalidInput("issueId must be provided")
	}
	is := d.issue(issueID)
	if is == nil {
		return nil, notFound("Issue")
	}
	body, _ := in["body"].(string)
	if strings.TrimSpace(body) == "" {
		return nil, invalidInput("body should not be empty")
	}
	id, err := clientID(in, "Comment", func(id string) bool { return d.comment(id) != nil })
	if err != nil {
		return nil, err
	}
	c := x.addComment(id, is, body)
	return x.payload("CommentPayload", "comment", commentNode{c}), nil
}

func (x *exec) addComment(id string, is *issue, body string) *comment {
	now := x.s.now()
	c := &comment{id: id, issueID: is.id, body: body, createdAt: now, updatedAt: now}
	x.db.comments = append(x.db.comments, c)
	return c
}

// attachmentCreate is an upsert, as at Linear: the same URL on the same
// issue updates the attachment there instead of adding a second one.
func (x *exec) attachmentCreate(in map[string]any) (any, error) {
	if err := checkInput("AttachmentCreateInput", in, "id", "issueId", "url", "title", "subtitle", "metadata", "iconUrl", "groupBySource", "commentBody"); err != nil {
		return nil, err
	}
	d := x.db
	issueID, _ := in["issueId"].(string)
	is := d.issue(issueID)
	if is == nil {
		return nil, notFound("Issue")
	}
	raw, _ := in["url"].(string)
	if u, err := url.Parse(raw); err != nil || !u.IsAbs() || u.Host == "" {
		return nil, invalidInput("url must be a URL address")
	}
	title, _ := in["title"].(string)
	meta, _ := in["metadata"].(map[string]any)
	now := x.s.now()
	var a *attachment
	for _, old := range d.issueAttachments(is) {
		if old.url == raw {
			a = old
			break
		}
	}
	if a == nil {
		id, err := clientID(in, "Attachment", func(id string) bool { return d.attachment(id) != nil })
		if err != nil {
			return nil, err
		}
		a = &attachment{id: id, issueID: is.id, url: raw, createdAt: now}
		d.attachments = append(d.attachments, a)
	}
	a.title, a.updatedAt = title, now
	if v, ok := in["subtitle"]; ok {
		a.subtitle, _ = v.(string)
	}
	if meta != nil {
		a.metadata = meta
	}
	if body, _ := in["commentBody"].(string); body != "" {
		x.addComment(newUUID(), is, body)
	}
	return x.payload("AttachmentPayload", "attachment", attachmentNode{a}), nil
}

// stateFor resolves input.stateId, which must name a state of team t; nil
// when absent.
func (x *exec) stateFor(t *team, in map[string]any) (*state, error) {
	id, _ := in["stateId"].(string)
	if id == "" {
		return nil, nil
	}
	st := x.db.state(id)
	if st == nil {
		return nil, notFound("WorkflowState")
	}
	if st.teamID != t.id {
		return nil, invalidInput("stateId: workflow state %s does not belong to team %s", id, t.key)
	}
	return st, nil
}

// defaultState is where a new issue starts: the team's first backlog
// state, else its first unstarted one, else its first state.
func (x *exec) defaultState(t *team) *state {
	var first *state
	for _, typ := range []string{StateBacklog, StateUnstarted, ""} {
		for _, st := range x.db.states {
			if st.teamID != t.id {
				continue
			}
			if first == nil {
				first = st
			}
			if st.typ == typ {
				return st
			}
		}
	}
	return first
}

// labelIDs resolves a list of label ids: each must exist and be a
// workspace label or one of team t.
func (x *exec) labelIDs(t *team, field string, v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []string
	for _, e := range list {
		id, _ := e.(string)
		l := x.db.label(id)
		if l == nil {
			return nil, notFound("IssueLabel")
		}
		if l.teamID != "" && l.teamID != t.id {
			return nil, invalidInput("%s: label %s does not belong to team %s", field, id, t.key)
		}
		out = append(out, id)
	}
	return dedupe(out), nil
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// checkInput rejects what Linear's validators reject in any input (an empty
// string where an id goes), and input fields the fake would otherwise
// silently ignore.
func checkInput(typ string, in map[string]any, known ...string) error {
	for k, v := range in {
		isID := k == "id" || strings.HasSuffix(k, "Id")
		switch v := v.(type) {
		case string:
			if isID && v == "" {
				return invalidInput("%s must be a UUID", k)
			}
		case []any:
			if strings.HasSuffix(k, "Ids") && slices.Contains(v, any("")) {
				return invalidInput("each value in %s must be a UUID", k)
			}
		}
		if v != nil && !slices.Contains(known, k) {
			return unsupported("%s.%s", typ, k)
		}
	}
	return nil
}

// clientID returns input.id, the client-chosen UUID, or a new one. A
// client-chosen id that exists is a conflict, as at Linear: a replayed
// create fails instead of duplicating.
func clientID(in map[string]any, entity string, exists func(string) bool) (string, error) {
	id, _ := in["id"].(string)
	if id == "" {
		return newUUID(), nil
	}
	if !isUUID(id) {
		return "", invalidInput("id must be a UUID")
	}
	if exists(id) {
		return "", conflict(entity, id)
	}
	return id, nil
}

// isUUID reports whether s is a UUID in its canonical text form. The
// version is not checked: Linear documents v4, and a v4-formatted id
// derived from a hash passes either way.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

func priority(in map[string]any) (int, error) {
	v, ok := in["priority"]
	if !ok || v == nil {
		return 0, nil
	}
	p, _ := toFloat(v)
	switch {
	case p > 4:
		return 0, invalidInput("priority must not be greater than 4")
	case p < 0:
		return 0, invalidInput("priority must not be less than 0")
	}
	return int(p), nil
}

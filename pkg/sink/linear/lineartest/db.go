package lineartest

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// db is the fake's workspace. Slices keep creation order, which is the
// order connections answer in; the workspace is small enough for linear
// scans. The Server's mutex guards it.
type db struct {
	teams       []*team
	labels      []*label
	states      []*state
	issues      []*issue
	attachments []*attachment
	comments    []*comment
	relations   []*issueRelation // relations.go
}

type team struct {
	id, key, name string
	issueCount    int
	createdAt     time.Time
}

type label struct {
	id, name, teamID string // teamID "" for a workspace label
	createdAt        time.Time
}

type state struct {
	id, name, typ, teamID string
	position              float64
	createdAt             time.Time
}

type issue struct {
	id, teamID, stateID     string
	number, priority        int
	title, description      string
	labelIDs                []string
	createdAt, updatedAt    time.Time
	completedAt, canceledAt *time.Time
}

type attachment struct {
	id, issueID, url, title, subtitle string
	metadata                          map[string]any
	createdAt, updatedAt              time.Time
}

type comment struct {
	id, issueID, body    string
	createdAt, updatedAt time.Time
}

func (d *db) team(id string) *team {
	for _, t := range d.teams {
		if t.id == id {
			return t
		}
	}
	return nil
}

// teamByIDOrKey resolves team(id:), which takes an id or a key, as Linear's does.
func (d *db) teamByIDOrKey(id string) *team {
	if t := d.team(id); t != nil {
		return t
	}
	for _, t := range d.teams {
		if strings.EqualFold(t.key, id) {
			return t
		}
	}
	return nil
}

func (d *db) label(id string) *label {
	for _, l := range d.labels {
		if l.id == id {
			return l
		}
	}
	return nil
}

func (d *db) state(id string) *state {
	for _, s := range d.states {
		if s.id == id {
			return s
		}
	}
	return nil
}

// issue finds an issue by id or identifier ("PLAT-1"), as issue(id:) and
// issueUpdate(id:) do.
func (d *db) issue(id string) *issue {
	for _, is := range d.issues {
		if is.id == id || strings.EqualFold(d.identifier(is), id) {
			return is
		}
	}
	return nil
}

func (d *db) attachment(id string) *attachment {
	for _, a := range d.attachments {
		if a.id == id {
			return a
		}
	}
	return nil
}

func (d *db) comment(id string) *comment {
	for _, c := range d.comments {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (d *db) identifier(is *issue) string {
	key := "?"
	if t := d.team(is.teamID); t != nil {
		key = t.key
	}
	return fmt.Sprintf("%s-%d", key, is.number)
}

// url is the issue's web address, with the title slug Linear appends.
func (d *db) url(is *issue) string {
	u := "https://linear.app/" + orgURLKey + "/issue/" + d.identifier(is)
	if s := slug(is.title); s != "" {
		u += "/" + s
	}
	return u
}

// slug lower-cases a title and joins its words with dashes, cut at 60 characters.
func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	s := b.String()
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "-")
	}
	return s
}

// setState moves an issue to st and keeps completedAt/canceledAt in step.
func (d *db) setState(is *issue, st *state, now time.Time) {
	is.stateID = st.id
	is.updatedAt = now
	is.completedAt, is.canceledAt = nil, nil
	switch st.typ {
	case StateCompleted:
		is.completedAt = &now
	case StateCanceled, StateDuplicate:
		is.canceledAt = &now
	}
}

func (d *db) issueAttachments(is *issue) []*attachment {
	var out []*attachment
	for _, a := range d.attachments {
		if a.issueID == is.id {
			out = append(out, a)
		}
	}
	return out
}

func (d *db) issueComments(is *issue) []*comment {
	var out []*comment
	for _, c := range d.comments {
		if c.issueID == is.id {
			out = append(out, c)
		}
	}
	return out
}

func (d *db) export(is *issue) Issue {
	out := Issue{
		ID:          is.id,
		Identifier:  d.identifier(is),
		Number:      is.number,
		Title:       is.title,
		Description: is.description,
		Priority:    is.priority,
		LabelIDs:    append([]string(nil), is.labelIDs...),
		StateID:     is.stateID,
		TeamID:      is.teamID,
		URL:         d.url(is),
		CreatedAt:   is.createdAt,
		UpdatedAt:   is.updatedAt,
	}
	for _, id := range is.labelIDs {
		if l := d.label(id); l != nil {
			out.Labels = append(out.Labels, l.name)
		}
	}
	if st := d.state(is.stateID); st != nil {
		out.StateType = st.typ
	}
	for _, a := range d.issueAttachments(is) {
		out.Attachments = append(out.Attachments, Attachment{ID: a.id, URL: a.url, Title: a.title, Subtitle: a.subtitle})
	}
	for _, c := range d.issueComments(is) {
		out.Comments = append(out.Comments, Comment{ID: c.id, Body: c.body})
	}
	return out
}

// dateTime formats a time as Linear's DateTime scalar does.
func dateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func optDateTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return dateTime(*t)
}

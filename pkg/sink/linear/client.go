package linear

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/linearapi"
)

// client is a Linear GraphQL client for one delivery.
type client struct {
	gql graphql.Client
	// scrub removes the API key from a message. The key is kept in a
	// closure, not a field, so that printing a client cannot show it.
	scrub   func(string) string
	timeout time.Duration
	now     func() time.Time
}

func newClient(apiURL string, key secrets.Secret, hc *http.Client, timeout time.Duration, now func() time.Time) *client {
	return &client{
		gql:     graphql.NewClient(apiURL, &authDoer{hc: hc, key: key}),
		scrub:   func(msg string) string { return strings.ReplaceAll(msg, key.Reveal(), "[redacted]") },
		timeout: timeout,
		now:     now,
	}
}

// authDoer sends each request with Linear's API key header and keeps the
// answer's headers for the call that made it, so a rate-limited answer's
// reset time reaches the error (genqlient's HTTPError drops headers).
type authDoer struct {
	hc  *http.Client
	key secrets.Secret
}

type headersKey struct{}

func (d *authDoer) Do(req *http.Request) (*http.Response, error) {
	// Linear takes a personal API key as is: "Bearer" is for OAuth tokens.
	req.Header.Set("Authorization", d.key.Reveal())
	resp, err := d.hc.Do(req)
	if resp != nil {
		if h, ok := req.Context().Value(headersKey{}).(*http.Header); ok {
			*h = resp.Header
		}
	}
	return resp, err
}

// call runs one GraphQL operation under the client's timeout and
// classifies its failure.
func (c *client) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var h http.Header
	if err := fn(context.WithValue(ctx, headersKey{}, &h)); err != nil {
		return c.fail(op, h, err)
	}
	return nil
}

// Linear GraphQL error codes (extensions.code) the sink acts on.
const (
	codeRateLimited    = "RATELIMITED"
	codeAuthentication = "AUTHENTICATION_ERROR"
)

// transientCodes are the error codes worth a retry besides RATELIMITED:
// Linear's side failed, the request was fine.
var transientCodes = map[string]bool{
	"INTERNAL_SERVER_ERROR": true,
	"INTERNAL_ERROR":        true,
	"SERVICE_UNAVAILABLE":   true,
	"TIMEOUT":               true,
}

// maxRateLimitWait caps the wait a reset header asks for: a clock far off
// must not park an event for a day.
const maxRateLimitWait = time.Hour

// apiError is a failed Linear call: its message is safe to log and to use
// as a dead-letter reason (one line, never the key); it wraps the
// genqlient error for errors.As.
type apiError struct {
	msg    string
	status int
	code   string
	// gqlMsgs are the GraphQL error messages and user-presentable texts.
	gqlMsgs []string
	err     error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// fail describes and classifies the error of one call: RATELIMITED, 429,
// 5xx, a transport error or an unreadable answer are transient; a refused
// key (401, AUTHENTICATION_ERROR) is sink.Unauthorized; any other GraphQL
// error (validation, INVALID_INPUT) is permanent.
func (c *client) fail(op string, h http.Header, err error) error {
	var (
		he   *graphql.HTTPError
		list gqlerror.List
		one  *gqlerror.Error
	)
	e := &apiError{err: err}
	switch {
	case errors.As(err, &he):
		e.status = he.StatusCode
		list = he.Response.Errors
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = gqlerror.List{one}
	}
	var msgs []string
	for _, ge := range list {
		if ge == nil {
			continue
		}
		code, _ := ge.Extensions["code"].(string)
		if e.code == "" || code == codeRateLimited {
			e.code = code
		}
		m := ge.Message
		if up, _ := ge.Extensions["userPresentableMessage"].(string); up != "" && up != m {
			e.gqlMsgs = append(e.gqlMsgs, up)
			m += " (" + up + ")"
		}
		e.gqlMsgs = append(e.gqlMsgs, ge.Message)
		msgs = append(msgs, m)
	}

	var detail string
	switch {
	case len(msgs) > 0:
		detail = strings.Join(msgs, "; ")
		if e.code != "" {
			detail += " [" + e.code + "]"
		}
	case errors.Is(err, context.DeadlineExceeded):
		detail = "timed out"
	default:
		detail = err.Error()
	}
	if e.status != 0 && e.status != http.StatusOK {
		detail = fmt.Sprintf("HTTP %d: %s", e.status, detail)
	}
	msg := fmt.Sprintf("linear: %s: %s", op, detail)
	e.msg = c.scrub(truncateRunes(oneLine(msg), 500))

	switch {
	case e.code == codeRateLimited || e.status == http.StatusTooManyRequests:
		return sink.Transient(e, c.rateLimitWait(h))
	case e.status >= 500, transientCodes[e.code]:
		return sink.Transient(e, 0)
	case e.status == http.StatusUnauthorized || e.code == codeAuthentication:
		// The key was refused: the secrets may hold a rotated one.
		return sink.Unauthorized(e)
	case e.status != 0 || len(list) > 0:
		return sink.Permanent(e)
	}
	// Transport errors, timeouts, a cancelled context, an answer that is
	// not JSON: the call may work next time.
	return sink.Transient(e, 0)
}

// rateLimitWait reads how long Linear asks to wait: its reset headers are
// epoch milliseconds; Retry-After, if a proxy sets one, seconds.
func (c *client) rateLimitWait(h http.Header) time.Duration {
	for _, name := range []string{"X-RateLimit-Requests-Reset", "X-RateLimit-Complexity-Reset"} {
		ms, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
		if err != nil || ms <= 0 {
			continue
		}
		d := time.UnixMilli(ms).Sub(c.now())
		return min(max(d, time.Second), maxRateLimitWait)
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, maxRateLimitWait)
	}
	return 0
}

// isNotFound reports whether err says the entity asked for does not
// exist. Linear answers a missing issue with a GraphQL error "Entity not
// found: Issue" (code INVALID_INPUT, "Could not find referenced Issue.").
func isNotFound(err error) bool {
	var e *apiError
	if !errors.As(err, &e) || e.status >= 500 || e.code == codeRateLimited {
		return false
	}
	if e.code == "ENTITY_NOT_FOUND" || e.code == "NOT_FOUND" {
		return true
	}
	for _, m := range e.gqlMsgs {
		l := strings.ToLower(m)
		if strings.Contains(l, "not found") || strings.Contains(l, "could not find") {
			return true
		}
	}
	return false
}

// isConflict reports whether err says a client-chosen id is taken. Linear
// does not document the answer; it is "conflict on insert of Issue" or an
// "already exists" text (code INPUT_ERROR or INVALID_INPUT).
func isConflict(err error) bool {
	var e *apiError
	if !errors.As(err, &e) || e.status >= 500 || e.code == codeRateLimited {
		return false
	}
	for _, m := range e.gqlMsgs {
		l := strings.ToLower(m)
		if strings.Contains(l, "conflict") || strings.Contains(l, "already exists") {
			return true
		}
	}
	return false
}

// team is a resolved team: its id, workflow states and labels.
type team struct {
	key, id string
	// stateTypes maps a workflow state id to its type.
	stateTypes map[string]string
}

func (c *client) team(ctx context.Context, key string) (team, bool, error) {
	var resp *linearapi.TeamByKeyResponse
	err := c.call(ctx, "teams", func(ctx context.Context) (err error) {
		resp, err = linearapi.TeamByKey(ctx, c.gql, key)
		return err
	})
	if err != nil {
		return team{}, false, err
	}
	// Keys are unique per workspace, but filter here too: it is cheap and
	// keeps a wrong answer from choosing another team.
	for _, n := range resp.Teams.Nodes {
		if strings.EqualFold(n.GetKey(), key) {
			return team{key: n.GetKey(), id: n.GetId()}, true, nil
		}
	}
	return team{}, false, nil
}

func (c *client) states(ctx context.Context, teamID string) (map[string]string, error) {
	var resp *linearapi.TeamStatesResponse
	err := c.call(ctx, "workflowStates", func(ctx context.Context) (err error) {
		resp, err = linearapi.TeamStates(ctx, c.gql, teamID)
		return err
	})
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	for _, n := range resp.WorkflowStates.Nodes {
		types[n.GetId()] = n.GetType()
	}
	return types, nil
}

// labels resolves label names to the ids of the labels team may use
// (its own and the workspace's); a team label wins over a workspace label
// of the same name. Names match exactly, as Linear's filter does.
func (c *client) labels(ctx context.Context, teamID string, names []string) (map[string]string, error) {
	var resp *linearapi.LabelsByNameResponse
	err := c.call(ctx, "issueLabels", func(ctx context.Context) (err error) {
		resp, err = linearapi.LabelsByName(ctx, c.gql, names)
		return err
	})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, n := range resp.IssueLabels.Nodes {
		name := n.GetName()
		if !slices.Contains(names, name) {
			continue
		}
		switch n.Team.Id {
		case teamID:
			ids[name] = n.GetId()
		case "":
			if _, ok := ids[name]; !ok {
				ids[name] = n.GetId()
			}
		}
	}
	return ids, nil
}

// issue reads an issue; false if Linear has none with this id.
func (c *client) issue(ctx context.Context, id string) (*linearapi.IssueIssue, bool, error) {
	var resp *linearapi.IssueResponse
	err := c.call(ctx, "issue", func(ctx context.Context) (err error) {
		resp, err = linearapi.Issue(ctx, c.gql, id)
		return err
	})
	switch {
	case isNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	iss := resp.GetIssue()
	if iss.GetId() == "" {
		return nil, false, nil
	}
	return &iss, true, nil
}

// attachedIssues returns the issues the url is attached to.
func (c *client) attachedIssues(ctx context.Context, url string) ([]linearapi.IssueFields, error) {
	var resp *linearapi.AttachmentsForURLResponse
	err := c.call(ctx, "attachmentsForURL", func(ctx context.Context) (err error) {
		resp, err = linearapi.AttachmentsForURL(ctx, c.gql, url)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []linearapi.IssueFields
	for _, n := range resp.AttachmentsForURL.Nodes {
		if n.GetUrl() == url && n.Issue.GetId() != "" {
			out = append(out, n.Issue.IssueFields)
		}
	}
	return out, nil
}

func (c *client) createIssue(ctx context.Context, id, teamID string, t ticket, labelIDs []string) (linearapi.IssueFields, error) {
	if labelIDs == nil {
		// The operation declares [String!]!: JSON null fails validation.
		labelIDs = []string{}
	}
	var resp *linearapi.CreateIssueResponse
	err := c.call(ctx, "issueCreate", func(ctx context.Context) (err error) {
		resp, err = linearapi.CreateIssue(ctx, c.gql, id, teamID, t.Title, t.Description, t.Priority, labelIDs)
		return err
	})
	if err != nil {
		return linearapi.IssueFields{}, err
	}
	p := resp.GetIssueCreate()
	if !p.GetSuccess() || p.Issue.GetId() == "" {
		return linearapi.IssueFields{}, sink.Transient(errors.New("linear: issueCreate: not successful"), 0)
	}
	return p.Issue.IssueFields, nil
}

func (c *client) updateTitle(ctx context.Context, id, title string) error {
	var resp *linearapi.UpdateIssueTitleResponse
	err := c.call(ctx, "issueUpdate", func(ctx context.Context) (err error) {
		resp, err = linearapi.UpdateIssueTitle(ctx, c.gql, id, title)
		return err
	})
	if err != nil {
		return err
	}
	if !resp.IssueUpdate.Success {
		return sink.Transient(errors.New("linear: issueUpdate: not successful"), 0)
	}
	return nil
}

func (c *client) comment(ctx context.Context, id, issueID, body string) error {
	var resp *linearapi.CreateCommentResponse
	err := c.call(ctx, "commentCreate", func(ctx context.Context) (err error) {
		resp, err = linearapi.CreateComment(ctx, c.gql, id, issueID, body)
		return err
	})
	if err != nil {
		return err
	}
	if !resp.CommentCreate.Success {
		return sink.Transient(errors.New("linear: commentCreate: not successful"), 0)
	}
	return nil
}

func (c *client) attach(ctx context.Context, issueID, url, title, subtitle string) error {
	var resp *linearapi.CreateAttachmentResponse
	err := c.call(ctx, "attachmentCreate", func(ctx context.Context) (err error) {
		resp, err = linearapi.CreateAttachment(ctx, c.gql, issueID, url, title, subtitle)
		return err
	})
	if err != nil {
		return err
	}
	if !resp.AttachmentCreate.Success {
		return sink.Transient(errors.New("linear: attachmentCreate: not successful"), 0)
	}
	return nil
}

package linear

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/linearapi"
)

// Workflow state types of a closed ticket; every other type (triage,
// backlog, unstarted, started) is open.
var closedStates = map[string]bool{"completed": true, "canceled": true, "duplicate": true}

// opened is the upgrade ticket of a tool as the ledger holds it under
// OpenKey: the Fields of the result that created or last updated it.
type opened struct {
	// result is the recorded result itself.
	result                   sink.Result
	issueID, identifier, url string
	// to and tag are the release the ticket is for now.
	to, tag string
}

func openedFrom(r sink.Result) opened {
	f := r.Fields
	return opened{result: r, issueID: f["issue_id"], identifier: f["identifier"], url: f["url"], to: f["to"], tag: f["tag"]}
}

// upgrade is one release to ticket, with what every path needs.
type upgrade struct {
	d       sink.Delivery
	rel     *bridgev1.ReleasePublished
	up      inventory.Upgrade
	teamKey string
	ticket  ticket
}

// fields are the ledger fields of a ticket for this upgrade; the Slack
// release note reads them.
func (u upgrade) fields(issueID, identifier, url string) map[string]string {
	return map[string]string{
		"issue_id":   issueID,
		"identifier": identifier,
		"url":        url,
		"title":      u.ticket.Title,
		"tool":       u.up.Tool.Name,
		"from":       u.up.From,
		"to":         u.up.To,
		"tag":        u.rel.GetTag(),
		"jump":       string(u.up.Jump),
		"team":       u.teamKey,
	}
}

func (u upgrade) result(outcome string, f map[string]string) sink.Result {
	return sink.Result{Outcome: outcome, Fields: f, Links: []string{OpenKey(u.rel.GetOwner(), u.rel.GetRepo())}}
}

func skipped(reason string, extra map[string]string) sink.Result {
	f := map[string]string{"reason": reason}
	for k, v := range extra {
		f[k] = v
	}
	return sink.Result{Outcome: sink.OutcomeSkipped, Fields: f}
}

// release opens or updates the upgrade ticket of a release.
func (s *Sink) release(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	rel, err := releaseOf(d.Event)
	if err != nil {
		return sink.Result{}, err
	}
	tool, ok := s.inv.Lookup(rel.GetOwner(), rel.GetRepo())
	if !ok {
		return skipped(ReasonNotInInventory, nil), nil
	}
	up, ok := tool.Upgrade(rel.GetTag(), rel.GetPrerelease())
	if !ok {
		return skipped(whyNot(tool, rel), map[string]string{"tool": tool.Name, "from": tool.Deployed}), nil
	}
	u := upgrade{d: d, rel: rel, up: up, teamKey: tool.Linear.Team, ticket: renderTicket(rel, up)}
	if u.teamKey == "" {
		u.teamKey = s.teamFor(d.Event)
	}
	prev, found, err := s.recorded(ctx, rel)
	if err != nil {
		return sink.Result{}, err
	}
	if found && prev.tag == rel.GetTag() {
		// This release's result is recorded under OpenKey but not under
		// its own key: the runner writes links first, and stopped in
		// between. The effect is complete; say it again.
		return prev.result, nil
	}

	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		return s.dryRun(ctx, u, prev, found), nil
	}
	if u.teamKey == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: no team for %s: set linear.team or the tool's linear.team", tool.Name))
	}
	tc, labelIDs, err := s.resolve(ctx, cl, u.teamKey, u.ticket.Labels)
	if err != nil {
		return sink.Result{}, err
	}

	if found && prev.issueID != "" {
		iss, exists, err := cl.issue(ctx, prev.issueID)
		if err != nil {
			return sink.Result{}, err
		}
		if exists && !closed(iss.GetState(), tc) {
			if !newer(tool, u, prev) {
				return skipped(ReasonOlderThanOpen, map[string]string{
					"tool": tool.Name, "to": up.To, "open_to": prev.to, "identifier": prev.identifier,
				}), nil
			}
			res, err := s.update(ctx, cl, u, iss, prev)
			return s.linkedUpgrade(ctx, cl, u, tc, res, err) // links.go: best-effort
		}
	}
	res, err := s.create(ctx, cl, u, tc, labelIDs)
	return s.linkedUpgrade(ctx, cl, u, tc, res, err) // links.go: best-effort
}

// whyNot says why a release of tool is no upgrade.
func whyNot(tool *inventory.Tool, rel *bridgev1.ReleasePublished) string {
	v, ok := tool.Version(rel.GetTag())
	switch {
	case !ok:
		return ReasonTagMismatch
	case !tool.Newer(v):
		return ReasonNotNewer
	default:
		return ReasonPrerelease
	}
}

// newer reports whether u's release is newer than the open ticket's. A
// ticket whose version cannot be read is taken as older: updating it is
// the smaller harm than leaving it stale.
func newer(tool *inventory.Tool, u upgrade, prev opened) bool {
	v, ok := tool.Version(u.rel.GetTag())
	if !ok {
		return false
	}
	pv, ok := tool.Version(prev.tag)
	if !ok {
		var err error
		if pv, err = semver.NewVersion(prev.to); err != nil {
			return true
		}
	}
	return v.GreaterThan(pv)
}

func closed(st linearapi.IssueFieldsStateWorkflowState, tc team) bool {
	typ := st.GetType()
	if typ == "" {
		typ = tc.stateTypes[st.GetId()]
	}
	return closedStates[typ]
}

// recorded reads the tool's ticket from the ledger.
func (s *Sink) recorded(ctx context.Context, rel *bridgev1.ReleasePublished) (opened, bool, error) {
	if s.lookup == nil {
		return opened{}, false, nil
	}
	r, ok, err := s.lookup.Result(ctx, OpenKey(rel.GetOwner(), rel.GetRepo()))
	if err != nil {
		return opened{}, false, sink.Transient(fmt.Errorf("linear: read the open ticket of %s/%s: %w", rel.GetOwner(), rel.GetRepo(), err), 0)
	}
	if !ok {
		return opened{}, false, nil
	}
	return openedFrom(r), true, nil
}

// mayHaveActed reports whether an earlier attempt may have made (part of)
// the effect. Besides Uncertain, any retry may have: a transient failure
// can come after Linear acted (a lost answer, a failed attachmentCreate
// after the issueCreate), and looking costs a read or two.
func mayHaveActed(d sink.Delivery) bool { return d.Uncertain || d.Attempt > 1 }

// create opens the ticket, unless an earlier attempt did, and attaches
// the release to it.
func (s *Sink) create(ctx context.Context, cl *client, u upgrade, tc team, labelIDs []string) (sink.Result, error) {
	id := IssueID(u.d.Event.GetIdempotencyKey())
	url := releaseURL(u.rel)
	if mayHaveActed(u.d) {
		iss, attached, ok, err := s.findCreated(ctx, cl, u, id, url)
		if err != nil {
			return sink.Result{}, err
		}
		if ok {
			s.log.LogAttrs(ctx, slog.LevelInfo, "found the ticket an earlier attempt created",
				slog.String("event_id", u.d.Event.GetId()), slog.String("issue", iss.GetIdentifier()))
			if !attached {
				if err := s.attach(ctx, cl, u, iss.GetId(), url); err != nil {
					return sink.Result{}, err
				}
			}
			return u.result(OutcomeCreated, u.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())), nil
		}
	}
	iss, err := cl.createIssue(ctx, id, tc.id, u.ticket, labelIDs)
	if isConflict(err) {
		// The id is taken: an attempt this one did not know about (a
		// lost answer on the first attempt) created the issue.
		var found bool
		iss, _, found, err = s.findCreated(ctx, cl, u, id, url)
		if err == nil && !found {
			err = sink.Transient(fmt.Errorf("linear: issueCreate: id %s is taken but the issue cannot be read", id), 0)
		}
	}
	if err != nil {
		return sink.Result{}, err
	}
	if err := s.attach(ctx, cl, u, iss.GetId(), url); err != nil {
		return sink.Result{}, err
	}
	return u.result(OutcomeCreated, u.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())), nil
}

func (s *Sink) attach(ctx context.Context, cl *client, u upgrade, issueID, url string) error {
	return cl.attach(ctx, issueID, url, "Release "+u.rel.GetTag(), repoOf(u.rel))
}

// findCreated looks for the ticket an earlier attempt created for u: the
// issue with the derived id and whether the release is attached to it;
// else, should Linear have given it another id, an issue of the same
// title the release URL is attached to.
func (s *Sink) findCreated(ctx context.Context, cl *client, u upgrade, id, url string) (linearapi.IssueFields, bool, bool, error) {
	iss, ok, err := cl.issue(ctx, id)
	if err != nil {
		return linearapi.IssueFields{}, false, false, err
	}
	if ok {
		attached := false
		for _, a := range iss.Attachments.Nodes {
			attached = attached || a.GetUrl() == url
		}
		return iss.IssueFields, attached, true, nil
	}
	issues, err := cl.attachedIssues(ctx, url)
	if err != nil {
		return linearapi.IssueFields{}, false, false, err
	}
	for _, f := range issues {
		if f.GetTitle() == u.ticket.Title {
			return f, true, true, nil
		}
	}
	return linearapi.IssueFields{}, false, false, nil
}

// update retitles the open ticket for a newer release and comments on it,
// skipping what an earlier attempt already did.
func (s *Sink) update(ctx context.Context, cl *client, u upgrade, iss *linearapi.IssueIssue, prev opened) (sink.Result, error) {
	if iss.GetTitle() != u.ticket.Title {
		if err := cl.updateTitle(ctx, iss.GetId(), u.ticket.Title); err != nil {
			return sink.Result{}, err
		}
	}
	body := renderComment(u.rel, u.up, prev.to)
	cid := commentID(u.d.Event.GetIdempotencyKey())
	commented := false
	for _, c := range iss.Comments.Nodes {
		commented = commented || c.GetId() == cid || c.GetBody() == body
	}
	if !commented {
		if err := cl.comment(ctx, cid, iss.GetId(), body); err != nil {
			return sink.Result{}, err
		}
	}
	return u.result(OutcomeUpdated, u.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())), nil
}

// dryRun logs the calls a real delivery would make. With no way to read
// the ticket's state, a recorded ticket counts as open.
func (s *Sink) dryRun(ctx context.Context, u upgrade, prev opened, found bool) sink.Result {
	attrs := []slog.Attr{
		slog.String("event_id", u.d.Event.GetId()),
		slog.String("team", u.teamKey),
		slog.String("title", u.ticket.Title),
	}
	if found && prev.to != "" {
		if !newer(u.up.Tool, u, prev) {
			return skipped(ReasonOlderThanOpen, map[string]string{"tool": u.up.Tool.Name, "to": u.up.To, "open_to": prev.to})
		}
		attrs = append(attrs,
			slog.String("mutation", "issueUpdate, commentCreate"),
			slog.String("issue", prev.identifier),
			slog.String("comment", renderComment(u.rel, u.up, prev.to)))
		s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Linear", attrs...)
		f := u.fields(prev.issueID, prev.identifier, prev.url)
		f["action"] = ActionUpdate
		return u.result(sink.OutcomeDryRun, f)
	}
	attrs = append(attrs,
		slog.String("mutation", "issueCreate, attachmentCreate"),
		slog.Int("priority", u.ticket.Priority),
		slog.String("labels", strings.Join(u.ticket.Labels, ",")),
		slog.String("attachment", releaseURL(u.rel)),
		slog.String("description", u.ticket.Description))
	s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Linear", attrs...)
	f := u.fields("", "", "")
	f["action"] = ActionCreate
	return u.result(sink.OutcomeDryRun, f)
}

// resolve returns the team of key and the ids of the labels named, from
// the cache or from Linear. Labels Linear does not have (names match
// exactly) are left out with a warning, once.
func (s *Sink) resolve(ctx context.Context, cl *client, key string, names []string) (team, []string, error) {
	ck := strings.ToUpper(key)
	s.mu.Lock()
	tc := s.teams[ck]
	s.mu.Unlock()
	if tc == nil {
		t, ok, err := cl.team(ctx, key)
		if err != nil {
			return team{}, nil, err
		}
		if !ok {
			return team{}, nil, sink.Permanent(fmt.Errorf("linear: team %q not found: check linear.team or the tool's linear.team", key))
		}
		if t.stateTypes, err = cl.states(ctx, t.id); err != nil {
			return team{}, nil, err
		}
		s.mu.Lock()
		if tc = s.teams[ck]; tc == nil {
			tc = &teamCache{team: t, labels: map[string]string{}}
			s.teams[ck] = tc
		}
		s.mu.Unlock()
	}

	var missing []string
	s.mu.Lock()
	for _, n := range names {
		if _, ok := tc.labels[n]; !ok && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	s.mu.Unlock()
	if len(missing) > 0 {
		found, err := cl.labels(ctx, tc.id, missing)
		if err != nil {
			return team{}, nil, err
		}
		s.mu.Lock()
		for _, n := range missing {
			id := found[n]
			if _, ok := tc.labels[n]; !ok && id == "" {
				s.log.LogAttrs(ctx, slog.LevelWarn, "linear label not found: tickets go without it",
					slog.String("team", tc.key), slog.String("label", n))
			}
			tc.labels[n] = id
		}
		s.mu.Unlock()
	}

	var ids []string
	s.mu.Lock()
	for _, n := range names {
		if id := tc.labels[n]; id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	t := tc.team
	s.mu.Unlock()
	return t, ids, nil
}

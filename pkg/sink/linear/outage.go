package linear

// The incident ticket of a long outage (config checks.ticket_after).
//
// A check.down is held back until the check has been down for TicketAfter:
// its first delivery answers sink.Wait with the whole remaining time, so
// the runner redelivers it once, when the ticket is due, not on a poll.
// If a check.up has been recorded for the check by then, the outage was
// short and nothing happens in Linear. Otherwise the down opens "Outage:
// <check>" in the team of teamFor, Urgent for a check tagged prod, else
// High, with the "incident" label if the team has it, the check's marker
// attachment (IncidentURL) and, when the slack-notifier recorded its
// alert, the alert's Slack thread.
//
// The check's outage state is recorded in the effect ledger under
// OutageKey: the down time and ticket a down wrote, the up time an up
// wrote. A check.up records itself there, and when a ticket of the outage
// exists comments "Recovered after …" on it and moves it to the team's
// first completed state. The comment's id is derived from the issue, so
// closing twice comments once.
//
// Replicas race when the up is handled elsewhere while a down creates the
// ticket: the down reads the record again after creating and closes the
// ticket itself if the up has been recorded, and an up with no ticket on
// record looks in Linear for open tickets with the check's marker.

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/linearapi"
)

// OutageKey is the ledger key under which the outage state of a check is
// found: "linear-ticketer|check:<check id>".
func OutageKey(checkID string) string { return Name + "|check:" + checkID }

// IncidentURL is the attachment URL that marks the incident tickets of a
// check: "https://bridge.invalid/check/<path-escaped check id>" (the
// .invalid domain never resolves).
func IncidentURL(checkID string) string {
	return "https://bridge.invalid/check/" + url.PathEscape(checkID)
}

// IncidentIssueID is the id of the incident ticket of the outage of a
// check that began at downAt: every attempt of that down collides with
// the first one's issue instead of making a second.
func IncidentIssueID(checkID string, downAt time.Time) string {
	return derivedUUID("incident|" + checkID + "|" + downAt.UTC().Format(time.RFC3339))
}

// recoveryCommentID names the recovery comment of an incident ticket: one
// per ticket, however often the up is delivered or the ticket is closed.
func recoveryCommentID(issueID string) string { return derivedUUID("incident-recovered|" + issueID) }

// OutcomeClosed: an up commented on and closed the outage's ticket.
const OutcomeClosed = "closed"

// Reasons of a skipped check event, in Result.Fields["reason"].
const (
	// ReasonTicketsOff: checks.ticket_after is zero.
	ReasonTicketsOff = "tickets_off"
	// ReasonRecovered: the check came back up before the ticket was due.
	ReasonRecovered = "recovered"
	// ReasonStale: a later flip of the check is recorded.
	ReasonStale = "stale"
	// ReasonNoTicket: an up whose outage has no ticket; it is recorded so
	// that its down, when due, knows the check recovered.
	ReasonNoTicket = "no_ticket"
)

// incidentLabel is the label incident tickets get when the team has it.
const incidentLabel = "incident"

// slackNotifier is the slack-notifier's consumer name: its alert of a
// check is recorded under "slack-notifier|alert:<check id>" (the Slack
// sink's AlertKey; a test keeps the two in step).
const slackNotifier = "slack-notifier"

func slackAlertKey(checkID string) string { return slackNotifier + "|alert:" + checkID }

// outageState is a check's outage as the ledger holds it under OutageKey.
type outageState struct {
	result       sink.Result
	downAt, upAt time.Time
	// The incident ticket, if one was made (issueID empty in dry-run).
	issueID, identifier, url string
	// closed: the recovery comment is made and the ticket closed.
	closed bool
	// dryRun: the ticket was only logged.
	dryRun bool
}

func outageFrom(r sink.Result) outageState {
	f := r.Fields
	o := outageState{result: r, issueID: f["issue_id"], identifier: f["identifier"], url: f["url"],
		closed: f["closed"] == "true", dryRun: f["action"] == ActionCreate}
	o.downAt, _ = time.Parse(time.RFC3339, f["down_at"])
	o.upAt, _ = time.Parse(time.RFC3339, f["up_at"])
	return o
}

// hasTicket reports whether o holds a ticket (or a dry-run one) of the
// outage that an up at upAt ends.
func (o outageState) hasTicket(upAt time.Time) bool {
	return (o.issueID != "" || o.dryRun) && !o.closed && !o.downAt.IsZero() && !o.downAt.After(upAt)
}

// recoveredBy reports whether o records an up that ends an outage that
// began at downAt.
func (o outageState) recoveredBy(downAt time.Time) bool {
	return !o.upAt.IsZero() && !o.upAt.Before(downAt)
}

func (o outageState) toResult(outcome, checkID string, extra map[string]string) sink.Result {
	f := map[string]string{"check_id": checkID}
	if !o.downAt.IsZero() {
		f["down_at"] = o.downAt.UTC().Format(time.RFC3339)
	}
	if !o.upAt.IsZero() {
		f["up_at"] = o.upAt.UTC().Format(time.RFC3339)
	}
	for k, v := range map[string]string{"issue_id": o.issueID, "identifier": o.identifier, "url": o.url} {
		if v != "" {
			f[k] = v
		}
	}
	if o.closed {
		f["closed"] = "true"
	}
	if o.dryRun {
		f["action"] = ActionCreate
	}
	for k, v := range extra {
		f[k] = v
	}
	return sink.Result{Outcome: outcome, Fields: f, Links: []string{OutageKey(checkID)}}
}

// checkOf returns the event's check and the time of its flip.
func checkOf(d sink.Delivery) (*bridgev1.CheckStatusChanged, time.Time, error) {
	c := d.Event.GetCheckStatusChanged()
	if c.GetCheckId() == "" {
		return nil, time.Time{}, sink.Permanent(fmt.Errorf("linear: event %s: check has no id", d.Event.GetId()))
	}
	at := c.GetChangedAt()
	if at == nil {
		at = d.Event.GetTime()
	}
	return c, at.AsTime().UTC().Truncate(time.Second), nil
}

// recordedOutage reads the check's outage state from the ledger.
func (s *Sink) recordedOutage(ctx context.Context, checkID string) (outageState, bool, error) {
	if s.lookup == nil {
		return outageState{}, false, nil
	}
	r, ok, err := s.lookup.Result(ctx, OutageKey(checkID))
	if err != nil {
		return outageState{}, false, sink.Transient(fmt.Errorf("linear: read the outage of check %s: %w", checkID, err), 0)
	}
	if !ok {
		return outageState{}, false, nil
	}
	return outageFrom(r), true, nil
}

// slackThread returns the link to the Slack alert of the outage that
// began at downAt. It is "" when the slack-notifier recorded no alert for
// it: pending says it recorded none at all yet (it may be slower than
// ticket_after, or not run), as opposed to one without a link (dry-run).
func (s *Sink) slackThread(ctx context.Context, checkID string, downAt time.Time) (link string, pending bool, err error) {
	if s.lookup == nil {
		return "", false, nil
	}
	r, ok, err := s.lookup.Result(ctx, slackAlertKey(checkID))
	if err != nil {
		return "", false, sink.Transient(fmt.Errorf("linear: read the Slack alert of check %s: %w", checkID, err), 0)
	}
	if !ok {
		return "", true, nil
	}
	f := r.Fields
	if at, err := time.Parse(time.RFC3339, f["down_at"]); err == nil && !at.Equal(downAt) {
		// The alert of another outage: this one's is not recorded yet.
		return "", true, nil
	}
	channel, ts := f["channel"], f["ts"]
	if channel == "" || ts == "" || ts == "dry-run" || strings.ContainsAny(channel+ts, "/?# ") {
		return "", false, nil
	}
	return SlackThreadURL(channel, ts), false, nil
}

// slackGrace bounds how long past ticket_after an incident ticket waits
// for the Slack alert it links, in steps of slackWaitStep: a few
// redeliveries, well within consumer.max_deliver.
const (
	slackGrace    = 20 * time.Second
	slackWaitStep = 5 * time.Second
)

// SlackThreadURL is the permalink of the Slack message ts in channel:
// "https://slack.com/archives/<channel>/p<ts without the dot>".
func SlackThreadURL(channel, ts string) string {
	return "https://slack.com/archives/" + channel + "/p" + strings.Replace(ts, ".", "", 1)
}

// checkDown opens the incident ticket of an outage once it has lasted
// TicketAfter.
func (s *Sink) checkDown(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	c, at, err := checkOf(d)
	if err != nil {
		return sink.Result{}, err
	}
	id := c.GetCheckId()
	if s.ticketAfter <= 0 {
		return skipped(ReasonTicketsOff, map[string]string{"check_id": id}), nil
	}
	rec, found, err := s.recordedOutage(ctx, id)
	if err != nil {
		return sink.Result{}, err
	}
	switch {
	case found && rec.downAt.Equal(at) && (rec.issueID != "" || rec.dryRun):
		// The runner wrote the link and stopped before the event's own
		// key: the effect is complete; say it again.
		return rec.result, nil
	case found && rec.downAt.After(at):
		return skipped(ReasonStale, map[string]string{"check_id": id}), nil
	case found && rec.recoveredBy(at):
		return s.recovered(ctx, d, c, at, rec)
	}

	due := at.Add(s.ticketAfter)
	if wait := due.Sub(s.now()); wait > 0 {
		// The whole remaining time at once: one redelivery, when due.
		return sink.Result{}, sink.Wait(fmt.Sprintf("linear: the outage ticket of check %s is due at %s", id, due.Format(time.RFC3339)), wait)
	}

	slackLink, pending, err := s.slackThread(ctx, id, at)
	if err != nil {
		return sink.Result{}, err
	}
	if pending && s.now().Before(due.Add(slackGrace)) {
		// The ticket links the Slack thread people are already in; give
		// a busy slack-notifier a little time to record its alert. Where
		// none runs, the ticket is only slackGrace late.
		return sink.Result{}, sink.Wait(fmt.Sprintf("linear: the outage ticket of check %s waits for its Slack alert", id), slackWaitStep)
	}
	t := renderIncident(c, at, s.ticketAfter, slackLink)
	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Linear",
			slog.String("event_id", d.Event.GetId()),
			slog.String("team", s.teamFor(d.Event)),
			slog.String("mutation", "issueCreate, attachmentCreate"),
			slog.String("title", t.Title),
			slog.Int("priority", t.Priority),
			slog.String("attachment", IncidentURL(id)),
			slog.String("slack_thread", slackLink),
			slog.String("description", t.Description))
		o := outageState{downAt: at, dryRun: true}
		return o.toResult(sink.OutcomeDryRun, id, nil), nil
	}
	teamKey := s.teamFor(d.Event)
	if teamKey == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: no team for the incident ticket of check %s: set linear.team", id))
	}
	tc, labelIDs, err := s.resolve(ctx, cl, teamKey, t.Labels)
	if err != nil {
		return sink.Result{}, err
	}
	iss, err := s.incidentCreate(ctx, cl, d, id, at, t, tc, labelIDs, slackLink)
	if err != nil {
		return sink.Result{}, err
	}
	o := outageState{downAt: at, issueID: iss.GetId(), identifier: iss.GetIdentifier(), url: iss.GetUrl()}

	// Another replica may have handled the up while this one created the
	// ticket: it found no ticket to close, so close it here.
	rec, found, err = s.recordedOutage(ctx, id)
	if err != nil {
		return sink.Result{}, err
	}
	if found && rec.recoveredBy(at) {
		o.upAt = rec.upAt
		if err := s.closeIncident(ctx, cl, tc, o.issueID, at, o.upAt); err != nil {
			return sink.Result{}, err
		}
		o.closed = true
	}
	return o.toResult(OutcomeCreated, id, map[string]string{"team": tc.key}), nil
}

// recovered skips a down whose check came back before its ticket was due.
// A retried down may have created the ticket before the up was recorded:
// then it closes it.
func (s *Sink) recovered(ctx context.Context, d sink.Delivery, c *bridgev1.CheckStatusChanged, at time.Time, rec outageState) (sink.Result, error) {
	f := map[string]string{"check_id": c.GetCheckId(), "up_at": rec.upAt.UTC().Format(time.RFC3339)}
	if !mayHaveActed(d) {
		return skipped(ReasonRecovered, f), nil
	}
	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		return skipped(ReasonRecovered, f), nil
	}
	iss, ok, err := cl.issue(ctx, IncidentIssueID(c.GetCheckId(), at))
	if err != nil {
		return sink.Result{}, err
	}
	if !ok {
		return skipped(ReasonRecovered, f), nil
	}
	tc, _, err := s.resolve(ctx, cl, s.teamFor(d.Event), nil)
	if err != nil {
		return sink.Result{}, err
	}
	if err := s.closeIncident(ctx, cl, tc, iss.GetId(), at, rec.upAt); err != nil {
		return sink.Result{}, err
	}
	o := outageState{downAt: at, upAt: rec.upAt, issueID: iss.GetId(), identifier: iss.GetIdentifier(), url: iss.GetUrl(), closed: true}
	return o.toResult(OutcomeClosed, c.GetCheckId(), nil), nil
}

// incidentCreate opens the ticket, unless an earlier attempt did, and
// attaches the check's marker and the Slack thread to it.
func (s *Sink) incidentCreate(ctx context.Context, cl *client, d sink.Delivery, checkID string, at time.Time, t ticket, tc team, labelIDs []string, slackLink string) (linearapi.IssueFields, error) {
	id := IncidentIssueID(checkID, at)
	marker := IncidentURL(checkID)
	// Always look first: the normal path of a down is its second delivery.
	iss, attached, ok, err := s.findIncident(ctx, cl, id, marker, tc)
	if err != nil {
		return linearapi.IssueFields{}, err
	}
	if ok {
		s.log.LogAttrs(ctx, slog.LevelInfo, "found the incident ticket an earlier attempt created",
			slog.String("event_id", d.Event.GetId()), slog.String("issue", iss.GetIdentifier()))
	} else {
		iss, err = cl.createIssue(ctx, id, tc.id, t, labelIDs)
		if isConflict(err) {
			// The id is taken: a lost answer of an earlier attempt.
			var found bool
			iss, attached, found, err = s.findIncident(ctx, cl, id, marker, tc)
			if err == nil && !found {
				err = sink.Transient(fmt.Errorf("linear: issueCreate: id %s is taken but the issue cannot be read", id), 0)
			}
		}
		if err != nil {
			return linearapi.IssueFields{}, err
		}
	}
	want := []string{marker}
	if slackLink != "" {
		want = append(want, slackLink)
	}
	for _, u := range want {
		if slices.Contains(attached, u) {
			continue
		}
		title, subtitle := "Check "+truncateRunes(oneLine(t.Title), maxNameRunes), checkID
		if u == slackLink {
			title, subtitle = "Slack alert", "The outage's thread in Slack"
		}
		if err := cl.attach(ctx, iss.GetId(), u, title, subtitle); err != nil {
			return linearapi.IssueFields{}, err
		}
	}
	return iss, nil
}

// findIncident looks for the ticket an earlier attempt created: the issue
// with the derived id, else (should Linear have given it another id) an
// open issue the check's marker is attached to. It returns the URLs
// attached to it.
func (s *Sink) findIncident(ctx context.Context, cl *client, id, marker string, tc team) (linearapi.IssueFields, []string, bool, error) {
	iss, ok, err := cl.issue(ctx, id)
	if err != nil {
		return linearapi.IssueFields{}, nil, false, err
	}
	if ok {
		var urls []string
		for _, a := range iss.Attachments.Nodes {
			urls = append(urls, a.GetUrl())
		}
		return iss.IssueFields, urls, true, nil
	}
	issues, err := cl.attachedIssues(ctx, marker)
	if err != nil {
		return linearapi.IssueFields{}, nil, false, err
	}
	for _, f := range issues {
		if !closed(f.GetState(), tc) {
			return f, []string{marker}, true, nil
		}
	}
	return linearapi.IssueFields{}, nil, false, nil
}

// closeIncident comments the recovery on the ticket and moves it to the
// team's first completed state, skipping what is done already. A ticket
// that is gone is left alone.
func (s *Sink) closeIncident(ctx context.Context, cl *client, tc team, issueID string, downAt, upAt time.Time) error {
	iss, ok, err := cl.issue(ctx, issueID)
	if err != nil {
		return err
	}
	if !ok {
		s.log.LogAttrs(ctx, slog.LevelWarn, "the incident ticket is gone: nothing to close", slog.String("issue_id", issueID))
		return nil
	}
	cid := recoveryCommentID(iss.GetId())
	commented := false
	for _, c := range iss.Comments.Nodes {
		commented = commented || c.GetId() == cid
	}
	if !commented {
		err := cl.comment(ctx, cid, iss.GetId(), renderRecovery(downAt, upAt))
		if err != nil && !isConflict(err) {
			return err
		}
	}
	if closed(iss.GetState(), tc) {
		// Closed already, by an earlier attempt or by a person.
		return nil
	}
	stateID, err := cl.completedState(ctx, tc.id)
	if err != nil {
		return err
	}
	if stateID == "" {
		return sink.Permanent(fmt.Errorf("linear: team %s has no completed workflow state to close %s in", tc.key, iss.GetIdentifier()))
	}
	return cl.updateState(ctx, iss.GetId(), stateID)
}

// checkUp records the recovery of a check, and closes the ticket of its
// outage if there is one.
func (s *Sink) checkUp(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	c, at, err := checkOf(d)
	if err != nil {
		return sink.Result{}, err
	}
	id := c.GetCheckId()
	rec, found, err := s.recordedOutage(ctx, id)
	if err != nil {
		return sink.Result{}, err
	}
	switch {
	case found && rec.upAt.Equal(at):
		// This up is recorded under the link: the effect is complete.
		return rec.result, nil
	case found && (rec.downAt.After(at) || rec.upAt.After(at)):
		return skipped(ReasonStale, map[string]string{"check_id": id}), nil
	}
	o := outageState{upAt: at}
	if found && rec.hasTicket(at) {
		o = rec
		o.upAt = at
	}
	if o.issueID == "" && s.ticketAfter <= 0 {
		return o.toResult(sink.OutcomeSkipped, id, map[string]string{"reason": ReasonNoTicket}), nil
	}

	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		if !o.dryRun {
			return o.toResult(sink.OutcomeSkipped, id, map[string]string{"reason": ReasonNoTicket}), nil
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Linear",
			slog.String("event_id", d.Event.GetId()),
			slog.String("mutation", "commentCreate, issueUpdate"),
			slog.String("comment", renderRecovery(o.downAt, at)))
		o.closed = true
		return o.toResult(sink.OutcomeDryRun, id, map[string]string{"action": ActionUpdate}), nil
	}
	teamKey := s.teamFor(d.Event)
	if teamKey == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: no team for the incident ticket of check %s: set linear.team", id))
	}
	tc, _, err := s.resolve(ctx, cl, teamKey, nil)
	if err != nil {
		return sink.Result{}, err
	}
	if o.issueID == "" {
		// No ticket on record: one may be in the making on another
		// replica, or its record lost. Close what is open under the marker.
		return s.closeUnrecorded(ctx, cl, tc, id, o)
	}
	if err := s.closeIncident(ctx, cl, tc, o.issueID, o.downAt, at); err != nil {
		return sink.Result{}, err
	}
	o.closed = true
	return o.toResult(OutcomeClosed, id, nil), nil
}

// closeUnrecorded closes the open incident tickets of a check the ledger
// does not know of. Their down time is the Slack alert's, if recorded.
func (s *Sink) closeUnrecorded(ctx context.Context, cl *client, tc team, checkID string, o outageState) (sink.Result, error) {
	issues, err := cl.attachedIssues(ctx, IncidentURL(checkID))
	if err != nil {
		return sink.Result{}, err
	}
	var open []linearapi.IssueFields
	for _, f := range issues {
		if !closed(f.GetState(), tc) {
			open = append(open, f)
		}
	}
	if len(open) == 0 {
		return o.toResult(sink.OutcomeSkipped, checkID, map[string]string{"reason": ReasonNoTicket}), nil
	}
	var downAt time.Time
	if s.lookup != nil {
		if r, ok, err := s.lookup.Result(ctx, slackAlertKey(checkID)); err == nil && ok {
			downAt, _ = time.Parse(time.RFC3339, r.Fields["down_at"])
		}
	}
	for _, f := range open {
		if err := s.closeIncident(ctx, cl, tc, f.GetId(), downAt, o.upAt); err != nil {
			return sink.Result{}, err
		}
	}
	last := open[len(open)-1]
	o.downAt, o.issueID, o.identifier, o.url, o.closed = downAt, last.GetId(), last.GetIdentifier(), last.GetUrl(), true
	return o.toResult(OutcomeClosed, checkID, nil), nil
}

// Rendering: pure, golden-tested.

// incidentPriority is Urgent for a check tagged as production, else High.
func incidentPriority(c *bridgev1.CheckStatusChanged) int {
	for _, t := range c.GetTags() {
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "prod", "production":
			return priorityUrgent
		}
	}
	return priorityHigh
}

// incidentName is the check's name, else its slug, else its id.
func incidentName(c *bridgev1.CheckStatusChanged) string {
	for _, n := range []string{c.GetName(), c.GetSlug(), c.GetCheckId()} {
		if n = oneLine(n); n != "" {
			return truncateRunes(n, maxNameRunes)
		}
	}
	return "unnamed check"
}

// maxPingBodyRunes bounds the last ping body quoted in a description.
const maxPingBodyRunes = 1000

const incidentTimeLayout = "2006-01-02 15:04 UTC"

// renderIncident is the ticket of an outage that began at downAt and
// passed the threshold after; slackLink is "" when the alert is unknown.
func renderIncident(c *bridgev1.CheckStatusChanged, downAt time.Time, after time.Duration, slackLink string) ticket {
	name := incidentName(c)
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** has been down since %s, longer than the %s after which bridge opens an incident ticket.\n\n",
		escapeText(name), downAt.UTC().Format(incidentTimeLayout), sink.Outage(downAt, downAt.Add(after)))
	fmt.Fprintf(&b, "- Down since: %s\n", downAt.UTC().Format(incidentTimeLayout))
	if lp := c.GetLastPing(); lp != nil {
		fmt.Fprintf(&b, "- Last ping: %s\n", lp.AsTime().UTC().Format(incidentTimeLayout))
	} else {
		b.WriteString("- Last ping: never\n")
	}
	if c.GetExitStatus() >= 0 && c.GetLastPing() != nil {
		fmt.Fprintf(&b, "- Exit status: `%d`\n", c.GetExitStatus())
	}
	var tags []string
	for _, t := range c.GetTags() {
		if t = oneLine(t); t != "" {
			tags = append(tags, "`"+codeSafe(truncateRunes(t, maxNameRunes))+"`")
		}
	}
	if len(tags) > 0 {
		fmt.Fprintf(&b, "- Tags: %s\n", strings.Join(tags, " "))
	}
	if u := c.GetDetailsUrl(); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		fmt.Fprintf(&b, "- Healthchecks: [%s](%s)\n", escapeText(name), linkSafe(u))
	}
	if slackLink != "" {
		fmt.Fprintf(&b, "- Slack thread: [alert](%s)\n", linkSafe(slackLink))
	}
	if desc := strings.TrimSpace(c.GetDescription()); desc != "" {
		fmt.Fprintf(&b, "\n> %s\n", escapeText(truncateRunes(oneLine(desc), maxNotesRunes)))
	}
	if body := strings.TrimSpace(c.GetLastPingBody()); body != "" {
		fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
		fmt.Fprintf(&b, "\nLast ping body:\n\n%s\n%s\n%s\n", fence, truncateRunes(body, maxPingBodyRunes), fence)
	}
	fmt.Fprintf(&b, "\n---\n_Opened by bridge's linear-ticketer for check `%s`. When the check is back up, it comments the outage's duration and closes this ticket._\n",
		codeSafe(c.GetCheckId()))
	return ticket{
		Title:       "Outage: " + name,
		Description: b.String(),
		Priority:    incidentPriority(c),
		Labels:      []string{incidentLabel},
	}
}

// renderRecovery is the comment an up adds to the outage's ticket. downAt
// is zero when the down time is unknown.
func renderRecovery(downAt, upAt time.Time) string {
	if downAt.IsZero() {
		return fmt.Sprintf("Recovered (up %s).\n", upAt.UTC().Format(incidentTimeLayout))
	}
	layout := "15:04 UTC"
	if downAt.UTC().YearDay() != upAt.UTC().YearDay() || downAt.UTC().Year() != upAt.UTC().Year() {
		layout = incidentTimeLayout
	}
	return fmt.Sprintf("Recovered after %s (down %s, up %s).\n",
		sink.Outage(downAt, upAt), downAt.UTC().Format(layout), upAt.UTC().Format(layout))
}

// linkSafe keeps a URL inside a Markdown link target.
func linkSafe(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(u)
}

func longestRun(s string, r rune) int {
	longest, n := 0, 0
	for _, c := range s {
		if c == r {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}

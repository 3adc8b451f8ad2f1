package linear

// The remediation ticket of a vulnerability.found report.
//
// One open ticket per artifact group (vuln.GroupKey: an image is its
// repository and digest). The ticket is recorded in the effect ledger
// under VulnOpenKey with the fixable findings it last wrote (those the
// policy keeps that have a fixed version). A report with no open ticket
// and fixable findings opens one: "Remediate <n> vulnerabilities in
// <artifact>", a table of the fixable findings, a priority from the most
// severe one, the "security" label if the team has it. A later report is
// diffed against the recorded findings and comments only what is new and
// what was fixed; when everything is fixed it says so, and with
// CloseWhenFixed moves the ticket to the team's first completed state.
// Once the ticket is closed, the next report with fixable findings opens
// a new one.
//
// Trivy Operator sends one report per workload container, so one image
// (one group) arrives once per workload that runs it. The ticket lists
// them under "Affected workloads", and its record keeps when a report
// last named each (vuln.State's AddWorkload and ExpireWorkloads, by the
// reports' scan times, with vuln.WorkloadTTL). A report that changes
// that list but not the findings rewrites the description and comments
// nothing: workloads come and go with deployments, which is not news
// worth a notification. One that only moves a workload's last-seen time
// rewrites the record alone, or a workload still reported would expire.
//
// The ticket carries an attachment whose URL is ArtifactURL(group): the
// look-before-create marker. Every create first looks for the issue with
// the derived id, then for an open issue the marker is attached to, so one
// group never has two open tickets even when the ledger lost the first.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/linearapi"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// VulnOpenKey is the ledger key under which the remediation ticket of an
// artifact group is found: "linear-ticketer|vuln-open:<group key>".
func VulnOpenKey(group string) string { return Name + "|vuln-open:" + group }

// ArtifactURL is the attachment URL that marks the remediation ticket of
// an artifact group: "https://bridge.invalid/artifact/<path-escaped group
// key>". It is stable for the group (the .invalid domain never resolves),
// so attachmentsForURL finds the group's tickets.
func ArtifactURL(group string) string {
	return "https://bridge.invalid/artifact/" + url.PathEscape(group)
}

// RemediationIssueID is the id of the remediation ticket of a group that
// follows the ticket with id after ("" for the group's first): derived
// from the group, not from the report, so that any report of the group
// that creates it after a lost answer collides with it instead of making
// a second ticket, and chained, so that the ticket after a closed one
// gets a fresh id.
func RemediationIssueID(group, after string) string {
	return derivedUUID("vuln-issue|" + group + "|after:" + after)
}

// maxClosedChain bounds the walk over closed tickets of a group whose
// ledger record was lost.
const maxClosedChain = 50

// Reasons of a skipped report, in Result.Fields["reason"].
const (
	// ReasonNothingFixable: no open ticket, and no finding the policy
	// keeps has a fixed version.
	ReasonNothingFixable = "nothing_fixable"
	// ReasonUnchanged: the open ticket already lists these findings.
	ReasonUnchanged = "unchanged"
)

// securityLabel is the label remediation tickets get when the team has it.
const securityLabel = "security"

// remediation is one report to ticket, with what every path needs.
type remediation struct {
	d      sink.Delivery
	rep    *bridgev1.VulnerabilityReport
	group  string
	marker string
	// fixable are the findings the policy keeps that have a fixed version,
	// most severe first; unfixable counts those that have none.
	fixable   []*bridgev1.Finding
	unfixable int
	// workloads are the workloads running the image after this report,
	// with when a report last named each (see vuln.State.Workloads).
	workloads map[string]time.Time
}

// vulnOpened is the remediation ticket as the ledger holds it.
type vulnOpened struct {
	result                   sink.Result
	issueID, identifier, url string
	// key is the idempotency key of the report that last wrote it.
	key string
	// findings are the fixable findings the ticket lists now (only id,
	// package and target are kept).
	findings []*bridgev1.Finding
	// workloads are the workloads the ticket lists, with when a report
	// last named each.
	workloads map[string]time.Time
}

// fields are the ledger fields of the ticket after this report.
func (r remediation) fields(issueID, identifier, url string) map[string]string {
	return map[string]string{
		"issue_id":   issueID,
		"identifier": identifier,
		"url":        url,
		"group":      r.group,
		"artifact":   r.rep.GetArtifact().GetName(),
		"key":        r.d.Event.GetIdempotencyKey(),
		"fixable":    encodeFindings(r.fixable),
		"workloads":  encodeWorkloads(r.workloads),
	}
}

// workloadNames are the workloads the ticket lists, sorted.
func (r remediation) workloadNames() []string {
	return vuln.State{Workloads: r.workloads}.WorkloadNames()
}

// unchanged is the result of a report that changes nothing the ticket
// shows. When it only moved a workload's last-seen time, the result
// still rewrites the record (Links), or that workload would expire.
func (r remediation) unchanged(prev vulnOpened, issueID, identifier, url string) sink.Result {
	if maps.EqualFunc(prev.workloads, r.workloads, time.Time.Equal) {
		return skipped(ReasonUnchanged, map[string]string{"group": r.group, "identifier": identifier})
	}
	f := r.fields(issueID, identifier, url)
	f["reason"] = ReasonUnchanged
	return r.result(sink.OutcomeSkipped, f)
}

// workloadsChanged says whether the workloads the ticket lists change.
func (r remediation) workloadsChanged(prev vulnOpened) bool {
	return !slices.Equal(vuln.State{Workloads: prev.workloads}.WorkloadNames(), r.workloadNames())
}

func (r remediation) result(outcome string, f map[string]string) sink.Result {
	return sink.Result{Outcome: outcome, Fields: f, Links: []string{VulnOpenKey(r.group)}}
}

// encodeFindings is the compact, sorted form of the findings a ticket
// lists: a JSON array of [id, package, target], the diff's identity.
func encodeFindings(fs []*bridgev1.Finding) string {
	keys := make([][3]string, 0, len(fs))
	for _, f := range fs {
		keys = append(keys, [3]string{f.GetId(), f.GetPackage(), f.GetTarget()})
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return strings.Compare(a[0]+"\x00"+a[1]+"\x00"+a[2], b[0]+"\x00"+b[1]+"\x00"+b[2])
	})
	keys = slices.Compact(keys)
	b, _ := json.Marshal(keys) // Strings only: cannot fail.
	return string(b)
}

// encodeWorkloads is the compact form of the workloads a ticket lists: a
// JSON object of workload → last seen (RFC 3339), keys sorted.
func encodeWorkloads(ws map[string]time.Time) string {
	if len(ws) == 0 {
		return ""
	}
	m := make(map[string]string, len(ws))
	for w, at := range ws {
		m[w] = at.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(m) // Strings only: cannot fail.
	return string(b)
}

func decodeWorkloads(s string) (map[string]time.Time, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(m))
	for w, v := range m {
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("workload %q: %w", w, err)
		}
		out[w] = at.UTC()
	}
	return out, nil
}

// scanTime is when the report's scan ran, else when the event happened,
// to the second (the precision the record keeps).
func scanTime(ev *event.Event) time.Time {
	at := ev.GetVulnerabilityReport().GetScannedAt()
	if at == nil {
		at = ev.GetTime()
	}
	return at.AsTime().UTC().Truncate(time.Second)
}

func decodeFindings(s string) ([]*bridgev1.Finding, error) {
	if s == "" {
		return nil, nil
	}
	var keys [][3]string
	if err := json.Unmarshal([]byte(s), &keys); err != nil {
		return nil, err
	}
	out := make([]*bridgev1.Finding, 0, len(keys))
	for _, k := range keys {
		out = append(out, &bridgev1.Finding{Id: k[0], Package: k[1], Target: k[2]})
	}
	return out, nil
}

// vulnerability opens, comments on or closes the remediation ticket of a
// report's artifact group.
func (s *Sink) vulnerability(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	rep := d.Event.GetVulnerabilityReport()
	group := vuln.GroupKey(rep.GetArtifact())
	if group == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: event %s: vulnerability report has no artifact", d.Event.GetId()))
	}
	r := remediation{d: d, rep: rep, group: group, marker: ArtifactURL(group)}
	for _, f := range s.policy.Apply(rep.GetFindings()) {
		if f.GetFixedVersion() == "" {
			r.unfixable++
			continue
		}
		r.fixable = append(r.fixable, f)
	}
	// Diff against nothing sorts them as every vulnerability message does.
	r.fixable = vuln.Diff(nil, r.fixable).New

	prev, found, err := s.recordedVuln(ctx, group)
	if err != nil {
		return sink.Result{}, err
	}
	if found && prev.key == d.Event.GetIdempotencyKey() {
		// The runner wrote the link and stopped before the event's own
		// key: the effect is complete; say it again.
		return prev.result, nil
	}
	// The workloads carry over from ticket to ticket of the group: the
	// image still runs where it ran.
	at := scanTime(d.Event)
	ws := vuln.State{Workloads: maps.Clone(prev.workloads)}
	ws.AddWorkload(rep.GetArtifact(), at)
	ws.ExpireWorkloads(at)
	r.workloads = ws.Workloads

	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		return s.vulnDryRun(ctx, r, prev, found), nil
	}
	team := s.teamFor(r.d.Event)
	if team == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: no team for the remediation ticket of %s: set linear.team or a routing rule", group))
	}
	tc, labelIDs, err := s.resolve(ctx, cl, team, []string{securityLabel})
	if err != nil {
		return sink.Result{}, err
	}

	if found && prev.issueID != "" {
		iss, exists, err := cl.issue(ctx, prev.issueID)
		if err != nil {
			return sink.Result{}, err
		}
		if exists && !closed(iss.GetState(), tc) {
			return s.remediationUpdate(ctx, cl, r, iss, prev, tc)
		}
	}
	if len(r.fixable) == 0 {
		return skipped(ReasonNothingFixable, map[string]string{"group": group}), nil
	}
	res, err := s.remediationCreate(ctx, cl, r, tc, labelIDs, RemediationIssueID(group, prev.issueID))
	return s.linkedRemediation(ctx, cl, r, tc, res, err) // links.go: best-effort
}

// recordedVuln reads the group's ticket from the ledger.
func (s *Sink) recordedVuln(ctx context.Context, group string) (vulnOpened, bool, error) {
	if s.lookup == nil {
		return vulnOpened{}, false, nil
	}
	r, ok, err := s.lookup.Result(ctx, VulnOpenKey(group))
	if err != nil {
		return vulnOpened{}, false, sink.Transient(fmt.Errorf("linear: read the remediation ticket of %s: %w", group, err), 0)
	}
	if !ok {
		return vulnOpened{}, false, nil
	}
	f := r.Fields
	fs, err := decodeFindings(f["fixable"])
	if err != nil {
		// A record this code did not write: treat it as listing nothing,
		// so every finding reads as new rather than the ticket being lost.
		s.log.LogAttrs(ctx, slog.LevelWarn, "unreadable findings in the remediation ticket record",
			slog.String("group", group), slog.String("error", err.Error()))
	}
	ws, err := decodeWorkloads(f["workloads"])
	if err != nil {
		// Listing none: the next reports list their workloads again.
		s.log.LogAttrs(ctx, slog.LevelWarn, "unreadable workloads in the remediation ticket record",
			slog.String("group", group), slog.String("error", err.Error()))
	}
	return vulnOpened{result: r, issueID: f["issue_id"], identifier: f["identifier"], url: f["url"], key: f["key"], findings: fs, workloads: ws}, true, nil
}

// remediationCreate opens the ticket, with the given id or the next in
// its chain, unless an earlier attempt did, and attaches the artifact
// marker to it.
func (s *Sink) remediationCreate(ctx context.Context, cl *client, r remediation, tc team, labelIDs []string, id string) (sink.Result, error) {
	t := renderRemediation(r.rep, r.group, r.fixable, r.unfixable, r.workloadNames())
	// Always look first, not only on a retry: a ticket whose ledger record
	// was lost (a lost answer, then another report of the group instead
	// of the retry) must not get a second open one beside it.
	iss, attached, ok, id, err := s.findRemediation(ctx, cl, r.group, id, r.marker, tc)
	if err != nil {
		return sink.Result{}, err
	}
	if ok {
		s.log.LogAttrs(ctx, slog.LevelInfo, "found the open remediation ticket the ledger did not record",
			slog.String("event_id", r.d.Event.GetId()), slog.String("issue", iss.GetIdentifier()))
		if !attached {
			if err := s.attachMarker(ctx, cl, r, iss.GetId()); err != nil {
				return sink.Result{}, err
			}
		}
		return r.result(OutcomeCreated, r.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())), nil
	}
	iss, err = cl.createIssue(ctx, id, tc.id, t, labelIDs)
	if isConflict(err) {
		// The id is taken: a lost answer of an earlier attempt.
		var found bool
		iss, _, found, _, err = s.findRemediation(ctx, cl, r.group, id, r.marker, tc)
		if err == nil && !found {
			err = sink.Transient(fmt.Errorf("linear: issueCreate: id %s is taken but the issue cannot be read", id), 0)
		}
	}
	if err != nil {
		return sink.Result{}, err
	}
	if err := s.attachMarker(ctx, cl, r, iss.GetId()); err != nil {
		return sink.Result{}, err
	}
	return r.result(OutcomeCreated, r.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())), nil
}

func (s *Sink) attachMarker(ctx context.Context, cl *client, r remediation, issueID string) error {
	return cl.attach(ctx, issueID, r.marker, "Artifact "+truncateRunes(oneLine(r.rep.GetArtifact().GetName()), maxNameRunes), r.group)
}

// findRemediation looks for an open ticket of the group an earlier
// attempt created: from id on, the chain of derived ids (a closed issue
// at one means the next id, see RemediationIssueID), then an open issue
// the marker is attached to. It returns the issue and whether the marker
// is attached to it if found, else the id to create the ticket with.
func (s *Sink) findRemediation(ctx context.Context, cl *client, group, id, marker string, tc team) (linearapi.IssueFields, bool, bool, string, error) {
	for range maxClosedChain {
		iss, ok, err := cl.issue(ctx, id)
		if err != nil {
			return linearapi.IssueFields{}, false, false, "", err
		}
		if !ok {
			break
		}
		if closed(iss.GetState(), tc) {
			id = RemediationIssueID(group, id)
			continue
		}
		attached := false
		for _, a := range iss.Attachments.Nodes {
			attached = attached || a.GetUrl() == marker
		}
		return iss.IssueFields, attached, true, id, nil
	}
	issues, err := cl.attachedIssues(ctx, marker)
	if err != nil {
		return linearapi.IssueFields{}, false, false, "", err
	}
	for _, f := range issues {
		if !closed(f.GetState(), tc) {
			return f, true, true, id, nil
		}
	}
	return linearapi.IssueFields{}, false, false, id, nil
}

// remediationUpdate comments the change of findings on the open ticket,
// rewrites its list of workloads when that changes, and closes it when
// everything is fixed and CloseWhenFixed is set, skipping what an earlier
// attempt already did.
func (s *Sink) remediationUpdate(ctx context.Context, cl *client, r remediation, iss *linearapi.IssueIssue, prev vulnOpened, tc team) (sink.Result, error) {
	ch := vuln.Diff(prev.findings, r.fixable)
	listChanged := r.workloadsChanged(prev)
	if !ch.Moved() && !listChanged {
		return r.unchanged(prev, iss.GetId(), iss.GetIdentifier(), iss.GetUrl()), nil
	}
	if listChanged {
		if err := s.rewriteWorkloads(ctx, cl, iss.GetId(), r.workloadNames()); err != nil {
			return sink.Result{}, err
		}
	}
	if !ch.Moved() {
		return r.result(OutcomeUpdated, r.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())), nil
	}
	body := renderRemediationComment(ch, len(r.fixable) == 0)
	// The id names this change of this ticket: the same on every attempt,
	// another for the same report on a later ticket.
	cid := derivedUUID("vuln-comment|" + r.d.Event.GetIdempotencyKey() + "|" + iss.GetId() + "|" + encodeFindings(prev.findings))
	commented := false
	for _, c := range iss.Comments.Nodes {
		commented = commented || c.GetId() == cid
	}
	if !commented {
		if err := cl.comment(ctx, cid, iss.GetId(), body); err != nil {
			return sink.Result{}, err
		}
	}
	if n := len(r.fixable); n > 0 {
		if t := remediationTitle(n, r.rep.GetArtifact().GetName()); t != iss.GetTitle() {
			if err := cl.updateTitle(ctx, iss.GetId(), t); err != nil {
				return sink.Result{}, err
			}
		}
	}
	f := r.fields(iss.GetId(), iss.GetIdentifier(), iss.GetUrl())
	if len(r.fixable) == 0 && s.closeWhenFixed {
		stateID, err := cl.completedState(ctx, tc.id)
		if err != nil {
			return sink.Result{}, err
		}
		if stateID == "" {
			return sink.Result{}, sink.Permanent(fmt.Errorf("linear: team %s has no completed workflow state to close %s in", tc.key, iss.GetIdentifier()))
		}
		if err := cl.updateState(ctx, iss.GetId(), stateID); err != nil {
			return sink.Result{}, err
		}
		f["closed"] = "true"
	}
	return r.result(OutcomeUpdated, f), nil
}

// rewriteWorkloads sets the "Affected workloads" section of the ticket's
// description to ws, keeping the rest of it (the links' lines among it),
// unless it already reads so (a retry).
func (s *Sink) rewriteWorkloads(ctx context.Context, cl *client, issueID string, ws []string) error {
	// The issue query does not read the description; the links' does.
	li, ok, err := cl.issueLinks(ctx, issueID)
	if err != nil {
		return err
	}
	if !ok {
		return sink.Transient(fmt.Errorf("linear: the remediation ticket %s cannot be read", issueID), 0)
	}
	if next := withWorkloads(li.GetDescription(), ws); next != li.GetDescription() {
		return cl.updateDescription(ctx, issueID, next)
	}
	return nil
}

// vulnDryRun logs the calls a real delivery would make. With no way to
// read the ticket's state, a recorded ticket counts as open.
func (s *Sink) vulnDryRun(ctx context.Context, r remediation, prev vulnOpened, found bool) sink.Result {
	attrs := []slog.Attr{slog.String("event_id", r.d.Event.GetId()), slog.String("team", s.teamFor(r.d.Event)), slog.String("group", r.group)}
	if found && prev.issueID != "" {
		ch := vuln.Diff(prev.findings, r.fixable)
		listChanged := r.workloadsChanged(prev)
		if !ch.Moved() && !listChanged {
			return r.unchanged(prev, prev.issueID, prev.identifier, prev.url)
		}
		attrs = append(attrs, slog.String("issue", prev.identifier))
		var muts []string
		if ch.Moved() {
			muts = append(muts, "commentCreate")
			attrs = append(attrs, slog.String("comment", renderRemediationComment(ch, len(r.fixable) == 0)))
		}
		if listChanged {
			muts = append(muts, "issueUpdate")
			attrs = append(attrs, slog.String("workloads", renderWorkloads(r.workloadNames())))
		}
		attrs = append(attrs, slog.String("mutation", strings.Join(muts, ", ")))
		s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Linear", attrs...)
		f := r.fields(prev.issueID, prev.identifier, prev.url)
		f["action"] = ActionUpdate
		return r.result(sink.OutcomeDryRun, f)
	}
	if len(r.fixable) == 0 {
		return skipped(ReasonNothingFixable, map[string]string{"group": r.group})
	}
	t := renderRemediation(r.rep, r.group, r.fixable, r.unfixable, r.workloadNames())
	attrs = append(attrs,
		slog.String("mutation", "issueCreate, attachmentCreate"),
		slog.String("title", t.Title),
		slog.Int("priority", t.Priority),
		slog.String("attachment", r.marker),
		slog.String("description", t.Description))
	s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Linear", attrs...)
	f := r.fields("", "", "")
	f["action"] = ActionCreate
	return r.result(sink.OutcomeDryRun, f)
}

// completedState returns the id of the team's first completed workflow
// state, in the order Linear lists them, or "" if it has none.
func (c *client) completedState(ctx context.Context, teamID string) (string, error) {
	var resp *linearapi.TeamStatesResponse
	err := c.call(ctx, "workflowStates", func(ctx context.Context) (err error) {
		resp, err = linearapi.TeamStates(ctx, c.gql, teamID)
		return err
	})
	if err != nil {
		return "", err
	}
	for _, n := range resp.WorkflowStates.Nodes {
		if n.GetType() == "completed" {
			return n.GetId(), nil
		}
	}
	return "", nil
}

func (c *client) updateState(ctx context.Context, id, stateID string) error {
	var resp *linearapi.UpdateIssueStateResponse
	err := c.call(ctx, "issueUpdate", func(ctx context.Context) (err error) {
		resp, err = linearapi.UpdateIssueState(ctx, c.gql, id, stateID)
		return err
	})
	if err != nil {
		return err
	}
	if !resp.IssueUpdate.Success {
		return sink.Transient(fmt.Errorf("linear: issueUpdate: not successful"), 0)
	}
	return nil
}

// Rendering: pure, golden-tested.

// priorityUrgent is Linear's "urgent".
const priorityUrgent = 1

// severityPriority is the ticket priority of the most severe finding.
func severityPriority(fs []*bridgev1.Finding) int {
	top := bridgev1.Severity_SEVERITY_UNSPECIFIED
	for _, f := range fs {
		top = max(top, f.GetSeverity())
	}
	switch top {
	case bridgev1.Severity_SEVERITY_CRITICAL:
		return priorityUrgent
	case bridgev1.Severity_SEVERITY_HIGH:
		return priorityHigh
	case bridgev1.Severity_SEVERITY_MEDIUM:
		return priorityMedium
	default:
		return priorityLow
	}
}

// severityName is Trivy's name of a severity.
func severityName(s bridgev1.Severity) string {
	if s <= bridgev1.Severity_SEVERITY_UNKNOWN {
		return "UNKNOWN"
	}
	return strings.TrimPrefix(s.String(), "SEVERITY_")
}

func remediationTitle(n int, artifact string) string {
	noun := "vulnerabilities"
	if n == 1 {
		noun = "vulnerability"
	}
	return fmt.Sprintf("Remediate %d %s in %s", n, noun, truncateRunes(oneLine(artifact), maxNameRunes))
}

// renderRemediation is the ticket a report opens for its fixable findings,
// with the workloads running the image, sorted.
func renderRemediation(rep *bridgev1.VulnerabilityReport, group string, fixable []*bridgev1.Finding, unfixable int, workloads []string) ticket {
	a := rep.GetArtifact()
	var b strings.Builder
	fmt.Fprintf(&b, "**%d** %s in `%s` %s a fixed version. Upgrade each package to its fixed version or later.\n\n",
		len(fixable), vulnNoun(len(fixable)), codeSafe(a.GetName()), hasHave(len(fixable)))
	fmt.Fprintf(&b, "- Artifact: `%s` (%s)\n", codeSafe(a.GetName()), codeSafe(a.GetKind()))
	if a.GetDigest() != "" {
		fmt.Fprintf(&b, "- Digest: `%s`\n", codeSafe(a.GetDigest()))
	}
	if at := rep.GetScannedAt(); at != nil {
		fmt.Fprintf(&b, "- Scanned: %s", at.AsTime().UTC().Format("2006-01-02 15:04 UTC"))
		if sc := rep.GetScanner(); sc != "" {
			fmt.Fprintf(&b, " by %s", codeSafe(sc))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	writeFindingTable(&b, fixable)
	if unfixable > 0 {
		fmt.Fprintf(&b, "\n%d more %s at or above the threshold %s no fixed version yet and %s not listed.\n",
			unfixable, vulnNoun(unfixable), hasHave(unfixable), isAre(unfixable))
	}
	if len(workloads) > 0 {
		b.WriteString("\n")
		b.WriteString(renderWorkloads(workloads))
	}
	fmt.Fprintf(&b, "\n---\n_Opened by bridge's linear-ticketer for `%s`. Later reports comment what is new and what was fixed._\n", codeSafe(group))
	return ticket{
		Title:       remediationTitle(len(fixable), a.GetName()),
		Description: b.String(),
		Priority:    severityPriority(fixable),
		Labels:      []string{securityLabel},
	}
}

// maxWorkloadsListed bounds the workloads a description lists; the rest
// are counted.
const maxWorkloadsListed = 20

// workloadsHeading starts the description's section of workloads, which
// withWorkloads finds again.
const workloadsHeading = "**Affected workloads** ("

// renderWorkloads is the description's section of workloads (sorted), or
// "" for none (a CI scan names no workload).
func renderWorkloads(ws []string) string {
	if len(ws) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%d):\n\n", workloadsHeading, len(ws))
	for _, w := range ws[:min(len(ws), maxWorkloadsListed)] {
		fmt.Fprintf(&b, "- `%s`\n", codeSafe(truncateRunes(w, maxNameRunes)))
	}
	if n := len(ws) - maxWorkloadsListed; n > 0 {
		fmt.Fprintf(&b, "- and %d more\n", n)
	}
	return b.String()
}

// withWorkloads returns desc with its section of workloads replaced by
// the one of ws, or, with none, that section inserted where
// renderRemediation puts it: before the footer (the last "---" line) and
// the links' lines above it. Every other line is kept.
func withWorkloads(desc string, ws []string) string {
	lines := strings.Split(desc, "\n")
	var section []string
	if sec := renderWorkloads(ws); sec != "" {
		section = append(strings.Split(strings.TrimSuffix(sec, "\n"), "\n"), "")
	}
	at := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], workloadsHeading) {
			at = i
			break
		}
	}
	if at >= 0 {
		// The heading, a blank line, the items, a blank line.
		end := at + 1
		if end < len(lines) && lines[end] == "" {
			end++
		}
		for end < len(lines) && strings.HasPrefix(lines[end], "- ") {
			end++
		}
		if end < len(lines) && lines[end] == "" {
			end++
		}
		return strings.Join(slices.Replace(lines, at, end, section...), "\n")
	}
	if len(section) == 0 {
		return desc
	}
	footer := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] == "---" {
			footer = i
			break
		}
	}
	if footer < 0 {
		return strings.TrimRight(desc, "\n") + "\n\n" + strings.Join(section, "\n")
	}
	for footer >= 2 && lines[footer-1] == "" &&
		(strings.HasPrefix(lines[footer-2], upgradeLinePrefix) || strings.HasPrefix(lines[footer-2], vulnLinePrefix)) {
		footer -= 2
	}
	if footer > 0 && lines[footer-1] != "" {
		section = append([]string{""}, section...)
	}
	return strings.Join(slices.Insert(lines, footer, section...), "\n")
}

// renderRemediationComment is the comment a change adds to the open
// ticket; allFixed says no fixable finding is left.
func renderRemediationComment(ch vuln.Change, allFixed bool) string {
	var b strings.Builder
	if allFixed {
		b.WriteString("**All findings are fixed**: the latest report has no fixable vulnerability left.\n")
	}
	if len(ch.New) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**New** (%d):\n\n", len(ch.New))
		writeFindingTable(&b, ch.New)
	}
	if len(ch.Fixed) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**Fixed** (%d):\n\n", len(ch.Fixed))
		for _, f := range ch.Fixed {
			fmt.Fprintf(&b, "- %s in `%s` (%s)\n", escapeText(oneLine(f.GetId())), codeSafe(f.GetPackage()), escapeCell(f.GetTarget()))
		}
	}
	return b.String()
}

func writeFindingTable(b *strings.Builder, fs []*bridgev1.Finding) {
	b.WriteString("| Vulnerability | Severity | Package | Installed → fixed | Target |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, f := range fs {
		id := escapeCell(f.GetId())
		if u := f.GetPrimaryUrl(); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
			id = fmt.Sprintf("[%s](%s)", id, strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "|", "%7C").Replace(u))
		}
		fmt.Fprintf(b, "| %s | %s | `%s` | `%s` → `%s` | %s |\n", id, severityName(f.GetSeverity()),
			cellCode(f.GetPackage()), cellCode(f.GetInstalledVersion()), cellCode(f.GetFixedVersion()), escapeCell(f.GetTarget()))
	}
}

// escapeCell keeps text on one line and inside its table cell.
func escapeCell(s string) string {
	return strings.ReplaceAll(escapeText(truncateRunes(oneLine(s), maxNameRunes)), "|", `\|`)
}

// cellCode keeps a value inside an inline code span in a table cell.
func cellCode(s string) string {
	return strings.ReplaceAll(codeSafe(truncateRunes(s, maxNameRunes)), "|", `\|`)
}

func vulnNoun(n int) string {
	if n == 1 {
		return "vulnerability"
	}
	return "vulnerabilities"
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

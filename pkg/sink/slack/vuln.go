package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// Reasons of a skipped vulnerability report (Fields["reason"]).
const (
	reasonOlderReport  = "older report"
	reasonNoChange     = "nothing new, nothing fixed"
	reasonNothingAbove = "no finding above the threshold"
)

// Bounds of the security alert: a few findings worth reading, not the
// whole report, which lives in the scanner's output.
const (
	maxFindingsShown = 10
	// maxSectionChars keeps a section under Slack's 3000 characters
	// whatever the findings' names escape to.
	maxSectionChars   = 2900
	maxWorkloadsShown = 10
	maxVersionRunes   = 60
	maxIDRunes        = 80
)

// reportOf returns the event's report, or a permanent error when it lacks
// the artifact its state is keyed on.
func reportOf(ev *event.Event) (*bridgev1.VulnerabilityReport, time.Time, error) {
	r := ev.GetVulnerabilityReport()
	if r.GetArtifact().GetName() == "" {
		return nil, time.Time{}, sink.Permanent(fmt.Errorf("slack: event %s: vulnerability report has no artifact", ev.GetId()))
	}
	at := r.GetScannedAt()
	if at == nil {
		at = ev.GetTime()
	}
	return r, at.AsTime().UTC(), nil
}

// vulnerabilityFound posts one security alert per report that changes
// what is known of its artifact: the first report with findings above the
// policy's threshold, or a later one with findings new or fixed.
//
// The sink keeps the findings last reported per artifact group in the
// vuln.Store. A sink should not keep state of its own (the ledger records
// its effects), but this state is not an effect: it is what the artifact
// looked like, which the next report is diffed against, and no other
// consumer has it to give. The post comes first and the state second: an
// uncertain retry finds the message by its idempotency key instead of
// posting it again, then writes the state. The write is a compare-and-set
// on the revision read, so that two replicas cannot both diff against the
// same state; the loser fails transient and its retry diffs again.
func (s *Sink) vulnerabilityFound(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	if s.vulns == nil {
		return sink.Result{}, sink.Permanent(errors.New("slack: no vulnerability state store configured"))
	}
	rep, at, err := reportOf(d.Event)
	if err != nil {
		return sink.Result{}, err
	}
	group := vuln.GroupKey(rep.GetArtifact())
	// A workload reported on another image leaves its old group first.
	if _, err := s.vulns.PlaceWorkload(ctx, rep.GetArtifact(), at); err != nil {
		return sink.Result{}, sink.Transient(fmt.Errorf("slack: place the workload of %s: %w", group, err), 0)
	}
	prev, found, err := s.vulns.Get(ctx, group)
	if err != nil {
		return sink.Result{}, sink.Transient(fmt.Errorf("slack: read the state of %s: %w", group, err), 0)
	}
	if found && prev.Stale(at) {
		// Another workload's older scan of the image still says this
		// one runs it: keep it listed, diff nothing.
		if prev.AddWorkload(rep.GetArtifact(), at) {
			if err := s.putState(ctx, group, prev, prev.Revision); err != nil {
				return sink.Result{}, err
			}
		}
		return skipped(reasonOlderReport), nil
	}

	cur := s.policy.Apply(rep.GetFindings())
	// The stored findings passed the policy when they were stored; the
	// policy may have changed since, so apply it again: a finding newly
	// ignored must not read as fixed.
	change := vuln.Diff(s.policy.Apply(prev.Findings), cur)
	// Workloads appearing or going change the state, not the alert: the
	// next alert lists them.
	next := vuln.State{Findings: cur, ReportedAt: at, Workloads: maps.Clone(prev.Workloads)}
	next.AddWorkload(rep.GetArtifact(), at)
	next.ExpireWorkloads(at)

	var reason string
	switch {
	case !found && len(cur) == 0:
		reason = reasonNothingAbove
	case found && !change.Moved():
		reason = reasonNoChange
	}
	if reason != "" {
		if err := s.putState(ctx, group, next, prev.Revision); err != nil {
			return sink.Result{}, err
		}
		return skipped(reason), nil
	}
	if d.Silenced != nil {
		return s.silencedReport(ctx, d, group, next, prev.Revision, change)
	}

	msg := renderVulnerabilityAlert(rep, cur, change, found, next.WorkloadNames())
	channel := s.routing.SlackChannel(d.Event, s.channels.Vulnerabilities)
	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		s.dryRun(ctx, d, "chat.postMessage", channel, "", msg)
		if err := s.putState(ctx, group, next, prev.Revision); err != nil {
			return sink.Result{}, err
		}
		return vulnResult(sink.OutcomeDryRun, channel, dryRunTS, group, change), nil
	}
	if channel == "" {
		return sink.Result{}, sink.Permanent(errors.New("slack: no channel for vulnerability alerts: set slack.channels.vulnerabilities"))
	}

	key := d.Event.GetIdempotencyKey()
	chID, ts := "", ""
	if mayHavePosted(d) {
		// The alert is posted after the scan: search from its time.
		id, t, ok, err := s.findPosted(ctx, cl, channel, key, at)
		if err != nil {
			return sink.Result{}, err
		}
		if ok {
			s.log.LogAttrs(ctx, slog.LevelInfo, "found the security alert an earlier attempt posted",
				slog.String("event_id", d.Event.GetId()), slog.String("channel", id), slog.String("ts", t))
			chID, ts = id, t
		}
	}
	if ts == "" {
		chID, ts, err = s.postTop(ctx, cl, channel, msg, metadata(d.Event))
		if err != nil {
			return sink.Result{}, err
		}
	}
	if err := s.putState(ctx, group, next, prev.Revision); err != nil {
		return sink.Result{}, err
	}
	return vulnResult(OutcomePosted, chID, ts, group, change), nil
}

// putState writes the artifact's new state at the revision read. A lost
// race is transient: the retry reads the winner's state and diffs again.
func (s *Sink) putState(ctx context.Context, group string, st vuln.State, rev uint64) error {
	err := s.vulns.Put(ctx, group, st, rev)
	switch {
	case errors.Is(err, vuln.ErrConflict):
		return sink.Transient(fmt.Errorf("slack: state of %s: %w", group, err), 0)
	case err != nil:
		return sink.Transient(fmt.Errorf("slack: write the state of %s: %w", group, err), 0)
	}
	return nil
}

func skipped(reason string) sink.Result {
	return sink.Result{Outcome: sink.OutcomeSkipped, Fields: map[string]string{"reason": reason}}
}

// vulnResult records where the alert is and what it said.
func vulnResult(outcome, channel, ts, group string, c vuln.Change) sink.Result {
	return sink.Result{Outcome: outcome, Fields: map[string]string{
		"channel": channel, "ts": ts, "artifact": group,
		"new": strconv.Itoa(len(c.New)), "fixed": strconv.Itoa(len(c.Fixed)),
	}}
}

// severityOrder lists the severities shown, most severe first.
var severityOrder = []bridgev1.Severity{
	bridgev1.Severity_SEVERITY_CRITICAL,
	bridgev1.Severity_SEVERITY_HIGH,
	bridgev1.Severity_SEVERITY_MEDIUM,
	bridgev1.Severity_SEVERITY_LOW,
	bridgev1.Severity_SEVERITY_UNKNOWN,
}

// severityName is Trivy's name of s; an unspecified severity is UNKNOWN,
// as the policy counts it.
func severityName(s bridgev1.Severity) string {
	if s == bridgev1.Severity_SEVERITY_UNSPECIFIED {
		s = bridgev1.Severity_SEVERITY_UNKNOWN
	}
	return strings.TrimPrefix(s.String(), "SEVERITY_")
}

// renderVulnerabilityAlert is the security alert of a report. cur are the
// findings the policy kept, change their diff against the previous report
// (had says there was one), workloads those running the image.
func renderVulnerabilityAlert(rep *bridgev1.VulnerabilityReport, cur []*bridgev1.Finding, c vuln.Change, had bool, workloads []string) message {
	name := truncateRunes(rep.GetArtifact().GetName(), maxNameRunes)
	counts := severityCounts(cur)

	icon := ":rotating_light:"
	title := icon + " Vulnerabilities in " + name
	if len(cur) == 0 {
		icon = ":white_check_mark:"
		title = icon + " All reported vulnerabilities fixed in " + name
	}
	blocks := []slackgo.Block{header(title)}

	var fields []*slackgo.TextBlockObject
	for _, sev := range severityOrder {
		if n := counts[sev]; n > 0 {
			fields = append(fields, mrkdwn(fmt.Sprintf("*%s*\n%d", titleCase(severityName(sev)), n)))
		}
	}
	if len(fields) > 0 {
		blocks = append(blocks, slackgo.NewSectionBlock(nil, fields, nil))
	}

	// The news first: what is new, then what was already open.
	shown := append(slices.Clone(c.New), c.Unchanged...)
	isNew := make(map[*bridgev1.Finding]bool, len(c.New))
	for _, f := range c.New {
		isNew[f] = had
	}
	if len(shown) > 0 {
		lines := make([]string, 0, len(shown))
		for _, f := range shown {
			lines = append(lines, findingLine(f, isNew[f], false))
		}
		blocks = append(blocks, section(listSection("*Top findings*", lines)))
	}
	if len(c.Fixed) > 0 {
		lines := make([]string, 0, len(c.Fixed))
		for _, f := range c.Fixed {
			lines = append(lines, findingLine(f, false, true))
		}
		blocks = append(blocks, section(listSection("*Fixed since the last report*", lines)))
	}

	diff := diffLine(c, had)
	parts := []string{diff, kindOf(rep.GetArtifact()) + " " + inlineCode(name)}
	if s := rep.GetScanner(); s != "" {
		parts = append(parts, "scanner "+escape(truncateRunes(s, maxNameRunes)))
	}
	if at := rep.GetScannedAt(); at != nil {
		parts = append(parts, "scanned "+slackDate(at.AsTime()))
	}
	blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(strings.Join(parts, " · "))))
	if w := workloadsLine(workloads); w != "" {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(w)))
	}

	text := fmt.Sprintf("%s %s: %s (%s)", icon, escape(name), countsText(counts), diff)
	return message{Text: text, Blocks: blocks}
}

func severityCounts(fs []*bridgev1.Finding) map[bridgev1.Severity]int {
	m := map[bridgev1.Severity]int{}
	for _, f := range fs {
		s := f.GetSeverity()
		if s == bridgev1.Severity_SEVERITY_UNSPECIFIED {
			s = bridgev1.Severity_SEVERITY_UNKNOWN
		}
		m[s]++
	}
	return m
}

func countsText(counts map[bridgev1.Severity]int) string {
	var parts []string
	for _, sev := range severityOrder {
		if n := counts[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(severityName(sev))))
		}
	}
	if len(parts) == 0 {
		return "no finding above the threshold"
	}
	return strings.Join(parts, ", ")
}

// diffLine says what moved since the previous report.
func diffLine(c vuln.Change, had bool) string {
	if !had {
		return "first report for this artifact"
	}
	return fmt.Sprintf("%d new, %d fixed since the last report", len(c.New), len(c.Fixed))
}

// findingLine shows one finding: its id linked to its advisory, the
// package, and the upgrade that fixes it.
func findingLine(f *bridgev1.Finding, isNew, fixed bool) string {
	id := escape(truncateRunes(firstNonBlank(f.GetId(), "unnamed"), maxIDRunes))
	if u := safeURL(f.GetPrimaryUrl()); u != "" {
		id = "<" + u + "|" + strings.ReplaceAll(id, "|", "¦") + ">"
	}
	line := "• "
	if isNew {
		line += ":new: "
	}
	line += "*" + severityName(f.GetSeverity()) + "* " + id + " " + inlineCode(truncateRunes(f.GetPackage(), maxNameRunes)) + " "
	installed := inlineCode(truncateRunes(firstNonBlank(f.GetInstalledVersion(), "?"), maxVersionRunes))
	switch {
	case fixed:
		line += installed + " fixed"
	case f.GetFixedVersion() != "":
		line += installed + " → " + inlineCode(truncateRunes(f.GetFixedVersion(), maxVersionRunes))
	default:
		line += installed + " → no fix"
	}
	return line
}

// listSection joins a title and up to maxFindingsShown lines, as many as
// fit in a section, and says how many more there are.
func listSection(title string, lines []string) string {
	var b strings.Builder
	b.WriteString(title)
	for i, l := range lines {
		more := fmt.Sprintf("\n… and %d more", len(lines)-i)
		if i == maxFindingsShown || utf8.RuneCountInString(b.String())+1+utf8.RuneCountInString(l)+len(more) > maxSectionChars {
			b.WriteString(more)
			break
		}
		b.WriteString("\n" + l)
	}
	return b.String()
}

func workloadsLine(ws []string) string {
	if len(ws) == 0 {
		return ""
	}
	shown := make([]string, 0, min(len(ws), maxWorkloadsShown))
	for _, w := range ws[:min(len(ws), maxWorkloadsShown)] {
		shown = append(shown, inlineCode(truncateRunes(w, maxNameRunes)))
	}
	line := "Workloads: " + strings.Join(shown, " ")
	if len(ws) > maxWorkloadsShown {
		line += fmt.Sprintf(" … and %d more", len(ws)-maxWorkloadsShown)
	}
	return line
}

func kindOf(a *bridgev1.Artifact) string {
	switch a.GetKind() {
	case "container_image":
		return "image"
	case "":
		return "artifact"
	}
	return escape(truncateRunes(a.GetKind(), maxNameRunes))
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

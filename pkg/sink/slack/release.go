package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// TicketerName is the consumer of the linear-ticketer. The release note is
// about the ticket it opened, so the note reads that consumer's ledger
// result for the same event: TicketerName + "|" + the idempotency key.
const TicketerName = "linear-ticketer"

// waitForTicket is how long a release waits for the linear-ticketer's
// result before it looks again.
const waitForTicket = 5 * time.Second

// Outcomes and fields of the linear-ticketer's result that the note reads.
const (
	ticketCreated = "created"
	// ticketActionCreate is Fields["action"] of a dry-run result that
	// would have opened a ticket (rather than updated one).
	ticketActionCreate = "create"
)

// reasonNoTicketer is Fields["reason"] of a release skipped because no
// linear-ticketer runs in this deployment (Options.TicketsEnabled false).
const reasonNoTicketer = "no linear-ticketer"

// ticket is what the note shows of the linear-ticketer's result.
type ticket struct {
	tool, from, to, jump string
	identifier, url      string
	// dryRun is set when the ticketer only logged the ticket: there is no
	// ticket to link to.
	dryRun bool
}

func ticketFrom(r sink.Result) ticket {
	f := r.Fields
	return ticket{
		tool: f["tool"], from: f["from"], to: f["to"], jump: f["jump"],
		identifier: f["identifier"], url: f["url"],
		dryRun: r.Outcome == sink.OutcomeDryRun,
	}
}

// releaseOf returns the event's release, or a permanent error when it
// lacks what the note and the ledger key are made of.
func releaseOf(ev *event.Event) (*bridgev1.ReleasePublished, error) {
	rel := ev.GetReleasePublished()
	if rel.GetOwner() == "" || rel.GetRepo() == "" || rel.GetTag() == "" {
		return nil, sink.Permanent(fmt.Errorf("slack: event %s: release has no owner, repo or tag", ev.GetId()))
	}
	return rel, nil
}

// releasePublished posts one note to the releases channel for each new
// upgrade ticket. It follows the linear-ticketer: until that consumer has
// recorded its result for the event, the release waits; a release that
// updated an open ticket, or made none, posts nothing.
//
// With TicketsEnabled false (no linear-ticketer in the deployment) it skips
// every release rather than waiting forever or posting a note about a
// ticket that does not exist: the note is the ticket's announcement.
func (s *Sink) releasePublished(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	rel, err := releaseOf(d.Event)
	if err != nil {
		return sink.Result{}, err
	}
	if !s.tickets || s.lookup == nil {
		// Without a ledger to read, the ticketer's result can never be
		// seen: waiting would be forever.
		return sink.Result{Outcome: sink.OutcomeSkipped, Fields: map[string]string{"reason": reasonNoTicketer}}, nil
	}
	r, found, err := s.lookup.Result(ctx, TicketerName+"|"+d.Event.GetIdempotencyKey())
	if err != nil {
		return sink.Result{}, sink.Transient(fmt.Errorf("slack: read the ticket of %s: %w", d.Event.GetIdempotencyKey(), err), 0)
	}
	if !found {
		return sink.Result{}, sink.Wait("waiting for the linear-ticketer", waitForTicket)
	}
	switch {
	case r.Outcome == ticketCreated:
	case r.Outcome == sink.OutcomeDryRun && r.Fields["action"] == ticketActionCreate:
	default:
		// An updated ticket was announced when it was opened; a skipped
		// release (not newer, not in the inventory) has no ticket.
		reason := TicketerName + " " + r.Outcome
		if why := r.Fields["reason"]; why != "" {
			reason += ": " + why
		}
		return sink.Result{Outcome: sink.OutcomeSkipped, Fields: map[string]string{"reason": reason}}, nil
	}

	t := ticketFrom(r)
	msg := renderReleaseNote(rel, t)
	channel := s.routing.SlackChannel(d.Event, s.channels.Releases)
	cl, err := s.client(ctx)
	if err != nil {
		return sink.Result{}, err
	}
	if cl == nil {
		s.dryRun(ctx, d, "chat.postMessage", channel, "", msg)
		return noteResult(sink.OutcomeDryRun, channel, dryRunTS, t), nil
	}
	if channel == "" {
		return sink.Result{}, sink.Permanent(fmt.Errorf("slack: no channel for release notes: set slack.channels.releases"))
	}

	key := d.Event.GetIdempotencyKey()
	if mayHavePosted(d) {
		// The note is posted after the event's time (the release's
		// publication, or its webhook's arrival): search from there.
		chID, ts, ok, err := s.findPosted(ctx, cl, channel, key, d.Event.GetTime().AsTime())
		if err != nil {
			return sink.Result{}, err
		}
		if ok {
			s.log.LogAttrs(ctx, slog.LevelInfo, "found the release note an earlier attempt posted",
				slog.String("event_id", d.Event.GetId()), slog.String("channel", chID), slog.String("ts", ts))
			return noteResult(OutcomePosted, chID, ts, t), nil
		}
	}
	chID, ts, err := s.postTop(ctx, cl, channel, msg, metadata(d.Event))
	if err != nil {
		return sink.Result{}, err
	}
	return noteResult(OutcomePosted, chID, ts, t), nil
}

// noteResult records where the note is and which ticket it announced.
func noteResult(outcome, channel, ts string, t ticket) sink.Result {
	f := map[string]string{"channel": channel, "ts": ts}
	if t.identifier != "" {
		f["identifier"] = t.identifier
	}
	return sink.Result{Outcome: outcome, Fields: f}
}

// Jumps as the linear-ticketer reports them (inventory.Jump).
const (
	jumpMajor      = "major"
	jumpMinor      = "minor"
	jumpPatch      = "patch"
	jumpPrerelease = "prerelease"
)

// renderReleaseNote is the note announcing a new upgrade ticket. A major
// jump stands out (a warning sign in the header, the text and the jump
// field): it is the one that may break things.
func renderReleaseNote(rel *bridgev1.ReleasePublished, t ticket) message {
	repo := rel.GetOwner() + "/" + rel.GetRepo()
	tool := firstNonBlank(t.tool, repo)
	from := firstNonBlank(t.from, "?")
	to := firstNonBlank(t.to, rel.GetTag())
	tool, from, to = truncateRunes(tool, maxNameRunes), truncateRunes(from, maxNameRunes), truncateRunes(to, maxNameRunes)
	major := t.jump == jumpMajor

	icon := ":package:"
	if major {
		icon = ":warning:"
	}
	title := icon + " " + tool + " " + from + " → " + to
	if major {
		title += " (major)"
	}

	fields := []*slackgo.TextBlockObject{
		mrkdwn("*Tool*\n" + escape(tool)),
		mrkdwn("*Upgrade*\n" + inlineCode(from) + " → " + inlineCode(to)),
		mrkdwn("*Jump*\n" + jumpField(t.jump)),
		mrkdwn("*Ticket*\n" + ticketLink(t)),
	}
	if at := rel.GetPublishedAt(); at != nil {
		fields = append(fields, mrkdwn("*Released*\n"+slackDate(at.AsTime())))
	}
	blocks := []slackgo.Block{
		header(title),
		slackgo.NewSectionBlock(nil, fields, nil),
	}
	name := truncateRunes(firstNonBlank(rel.GetName(), rel.GetTag()), maxNameRunes)
	if u := safeURL(rel.GetUrl()); u != "" {
		// The link text is mrkdwn: a "|" or ">" in a release name must not
		// end it early, so it is escaped like any text.
		blocks = append(blocks, section("<"+u+"|Release notes: "+strings.ReplaceAll(escape(name), "|", "¦")+">"))
	}
	parts := []string{inlineCode(repo), "tag " + inlineCode(truncateRunes(rel.GetTag(), maxNameRunes))}
	if rel.GetPrerelease() {
		parts = append(parts, "pre-release")
	}
	blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(strings.Join(parts, " · "))))

	text := fmt.Sprintf("%s %s %s → %s (%s", icon, escape(tool), escape(from), escape(to), jumpWord(t.jump))
	if major {
		text += ", check for breaking changes"
	}
	text += "): upgrade ticket " + ticketPlain(t)
	return message{Text: text, Blocks: blocks}
}

func jumpWord(jump string) string {
	switch jump {
	case jumpMajor:
		return "MAJOR"
	case jumpMinor, jumpPatch:
		return jump
	case jumpPrerelease:
		return "pre-release"
	}
	return "unknown jump"
}

func jumpField(jump string) string {
	if jump == jumpMajor {
		return ":warning: *MAJOR*: check for breaking changes"
	}
	return jumpWord(jump)
}

// ticketLink shows the ticket as a link when the ticketer gave its URL. A
// dry-run ticket has none: it was only logged.
func ticketLink(t ticket) string {
	id := escape(truncateRunes(t.identifier, maxNameRunes))
	u := safeURL(t.url)
	switch {
	case t.dryRun && id != "":
		return id + " (dry-run)"
	case t.dryRun:
		return "(dry-run)"
	case id != "" && u != "":
		return "<" + u + "|" + strings.ReplaceAll(id, "|", "¦") + ">"
	case u != "":
		return "<" + u + "|open in Linear>"
	case id != "":
		return id
	}
	return "opened"
}

func ticketPlain(t ticket) string {
	id := escape(truncateRunes(t.identifier, maxNameRunes))
	switch {
	case t.dryRun && id != "":
		return id + " (dry-run)"
	case t.dryRun:
		return "(dry-run)"
	case id != "":
		return id
	}
	return "opened"
}

func firstNonBlank(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

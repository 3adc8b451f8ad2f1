package slack

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// message is one rendered Slack message. Text is the notification and
// fallback text (what notifications, screen readers and old clients show);
// Blocks are the Block Kit layout. Rendering is pure: same event, same
// message, so it is golden-tested.
type message struct {
	Text   string          `json:"text"`
	Blocks []slackgo.Block `json:"blocks,omitempty"`
}

// Slack's limits that rendering must stay within (Block Kit reference).
const (
	maxHeaderRunes = 150
	maxFieldRunes  = 2000
	// bodyExcerptRunes bounds the ping body shown: enough for the error a
	// job printed last, short enough to keep the alert readable.
	bodyExcerptRunes = 500
	maxTagsShown     = 20
	// maxDescriptionRunes and maxNameRunes bound text before escaping,
	// which can make it five times longer; a section holds 3000.
	maxDescriptionRunes = 500
	maxNameRunes        = 150
	timeLayout          = "2006-01-02 15:04:05 UTC"
)

// renderCheckDown is the alert a check.down posts.
func renderCheckDown(c *bridgev1.CheckStatusChanged) message {
	name := checkName(c)
	downAt := c.GetChangedAt().AsTime()

	fields := []*slackgo.TextBlockObject{
		mrkdwn("*Status*\n:red_circle: DOWN"),
		mrkdwn("*Down since*\n" + slackDate(downAt)),
		mrkdwn("*Last ping*\n" + lastPing(c)),
		mrkdwn("*Exit status*\n" + exitStatus(c.GetExitStatus())),
	}
	if tags := renderTags(c.GetTags()); tags != "" {
		fields = append(fields, mrkdwn("*Tags*\n"+tags))
	}
	blocks := []slackgo.Block{
		header(":red_circle: " + name + " is DOWN"),
		slackgo.NewSectionBlock(nil, fields, nil),
	}
	if d := strings.TrimSpace(c.GetDescription()); d != "" {
		blocks = append(blocks, section(escape(truncateRunes(d, maxDescriptionRunes))))
	}
	if b := codeBlock(c.GetLastPingBody()); b != "" {
		blocks = append(blocks, section("*Last ping body*\n"+b))
	}
	blocks = append(blocks, checkContext(c))

	text := fmt.Sprintf(":red_circle: %s is DOWN since %s", escape(name), downAt.UTC().Format(timeLayout))
	if c.GetExitStatus() >= 0 {
		text += fmt.Sprintf(" (exit status %d)", c.GetExitStatus())
	}
	return message{Text: text, Blocks: blocks}
}

// renderCheckRecovery is the reply a check.up posts in its alert's thread.
// downAt is zero when the alert did not record it.
func renderCheckRecovery(c *bridgev1.CheckStatusChanged, downAt time.Time) message {
	name := checkName(c)
	upAt := c.GetChangedAt().AsTime()
	text := fmt.Sprintf(":white_check_mark: %s is back up", escape(name))
	line := fmt.Sprintf(":white_check_mark: *%s* is back up", escape(name))
	if !downAt.IsZero() {
		d := sink.Outage(downAt, upAt)
		text += " after " + d
		line += fmt.Sprintf(" after *%s* (down since %s, up at %s)", d, slackDate(downAt), slackDate(upAt))
	} else {
		line += fmt.Sprintf(" (up at %s)", slackDate(upAt))
	}
	blocks := []slackgo.Block{section(line + ".")}
	if b := codeBlock(c.GetLastPingBody()); b != "" {
		blocks = append(blocks, section("*Last ping body*\n"+b))
	}
	return message{Text: text + ".", Blocks: blocks}
}

// renderCheckResolved replaces the alert once its check is up again.
func renderCheckResolved(c *bridgev1.CheckStatusChanged, downAt time.Time) message {
	name := checkName(c)
	upAt := c.GetChangedAt().AsTime()
	fields := []*slackgo.TextBlockObject{mrkdwn("*Status*\n:white_check_mark: RESOLVED")}
	text := ":white_check_mark: Resolved: " + escape(name)
	if !downAt.IsZero() {
		d := sink.Outage(downAt, upAt)
		fields = append(fields,
			mrkdwn("*Down for*\n"+d),
			mrkdwn("*Down since*\n"+slackDate(downAt)))
		text += " (down for " + d + ")"
	}
	fields = append(fields, mrkdwn("*Up since*\n"+slackDate(upAt)))
	if tags := renderTags(c.GetTags()); tags != "" {
		fields = append(fields, mrkdwn("*Tags*\n"+tags))
	}
	blocks := []slackgo.Block{
		header(":white_check_mark: " + name + " – Resolved"),
		slackgo.NewSectionBlock(nil, fields, nil),
		checkContext(c),
	}
	return message{Text: text, Blocks: blocks}
}

func checkName(c *bridgev1.CheckStatusChanged) string {
	for _, n := range []string{c.GetName(), c.GetSlug(), c.GetCheckId()} {
		if n = strings.TrimSpace(n); n != "" {
			return truncateRunes(n, maxNameRunes)
		}
	}
	return "unnamed check"
}

func lastPing(c *bridgev1.CheckStatusChanged) string {
	if c.GetLastPing() == nil {
		return "never"
	}
	return slackDate(c.GetLastPing().AsTime())
}

// exitStatus shows Healthchecks' -1 ("the ping carried none") as "none".
func exitStatus(n int32) string {
	if n < 0 {
		return "none"
	}
	return fmt.Sprintf("`%d`", n)
}

// renderTags shows tags as code spans, as many as fit in a field.
func renderTags(tags []string) string {
	const room = maxFieldRunes - len("*Tags*\n … ")
	var b strings.Builder
	shown := 0
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		tag := inlineCode(t)
		if shown == maxTagsShown || utf8.RuneCountInString(b.String())+1+utf8.RuneCountInString(tag) > room {
			b.WriteString(" …")
			break
		}
		if shown > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tag)
		shown++
	}
	return b.String()
}

// checkContext links to the check in Healthchecks, when the event knows
// where that is, and names the check for a search in Slack.
func checkContext(c *bridgev1.CheckStatusChanged) slackgo.Block {
	parts := []string{}
	if u := safeURL(c.GetDetailsUrl()); u != "" {
		parts = append(parts, "<"+u+"|Open in Healthchecks>")
	}
	parts = append(parts, "check "+inlineCode(c.GetCheckId()))
	return slackgo.NewContextBlock("", mrkdwn(strings.Join(parts, " · ")))
}

// safeURL returns an http(s) URL escaped for a Slack link, or "" for
// anything else: a link is the one place text becomes clickable.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.ReplaceAll(escape(u.String()), "|", "%7C")
}

// codeBlock shows the end of a ping body in a code block: a job prints its
// error last. Empty for an empty body.
func codeBlock(body string) string {
	body = strings.TrimRight(strings.ToValidUTF8(body, "\uFFFD"), " \t\r\n")
	if strings.TrimSpace(body) == "" {
		return ""
	}
	if n := utf8.RuneCountInString(body); n > bodyExcerptRunes {
		r := []rune(body)
		body = "…" + string(r[n-bodyExcerptRunes:])
	}
	return "```" + neutraliseBackticks(escape(body)) + "```"
}

// escape escapes the three characters Slack's mrkdwn gives meaning to, so
// that text from a webhook cannot form links or mentions (<!channel>).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// neutraliseBackticks puts a zero-width space after each backtick, so that
// text from a webhook can neither close our code block nor open one.
func neutraliseBackticks(s string) string { return strings.ReplaceAll(s, "`", "`\u200b") }

// inlineCode shows s as a code span. Slack's spans cannot hold a backtick,
// so one is shown as a look-alike.
func inlineCode(s string) string { return "`" + strings.ReplaceAll(escape(s), "`", "ˋ") + "`" }

// slackDate shows t in each reader's own time zone, with UTC as the
// fallback for clients that cannot.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", t.Unix(), t.UTC().Format(timeLayout))
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}

func section(s string) slackgo.Block { return slackgo.NewSectionBlock(mrkdwn(s), nil, nil) }

// header is plain text, where Slack parses no markup: it needs no escaping.
func header(s string) slackgo.Block {
	return slackgo.NewHeaderBlock(slackgo.NewTextBlockObject(slackgo.PlainTextType, truncateRunes(s, maxHeaderRunes), true, false))
}

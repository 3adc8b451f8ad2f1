package linear

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
)

// ticket is a rendered upgrade ticket. Rendering is pure: same release,
// same ticket, so it is golden-tested.
type ticket struct {
	Title       string
	Description string
	// Priority is Linear's: 0 none, 1 urgent, 2 high, 3 medium, 4 low.
	Priority int
	Labels   []string
}

// Bounds that keep a ticket readable; Linear's own limits are far above.
const (
	// maxNotesRunes bounds the release notes quoted in a description.
	maxNotesRunes = 4000
	// maxCommentNotesRunes bounds the notes quoted in an update comment.
	maxCommentNotesRunes = 1000
	maxHints             = 15
	maxHintRunes         = 300
	maxNameRunes         = 200
)

// Linear priorities.
const (
	priorityHigh   = 2
	priorityMedium = 3
	priorityLow    = 4
)

// priority is the ticket priority of a jump: a major upgrade is the one
// most likely to need planning.
func priority(j inventory.Jump) int {
	switch j {
	case inventory.JumpMajor:
		return priorityHigh
	case inventory.JumpMinor:
		return priorityMedium
	default:
		return priorityLow
	}
}

// labelsOf returns the label names of a tool's tickets. A Tool that Load
// did not fill (nil labels) gets the default; an explicit empty list
// means no labels.
func labelsOf(t *inventory.Tool) []string {
	if t.Linear.Labels == nil {
		return []string{inventory.DefaultLabel}
	}
	return t.Linear.Labels
}

// title is the ticket title for an upgrade.
func title(up inventory.Upgrade) string {
	return fmt.Sprintf("Upgrade %s %s → %s", up.Tool.Name, up.From, up.To)
}

// renderTicket is the ticket a release opens.
func renderTicket(rel *bridgev1.ReleasePublished, up inventory.Upgrade) ticket {
	var b strings.Builder
	repo := repoOf(rel)
	fmt.Fprintf(&b, "%s **%s → %s** is available: a **%s** upgrade.\n\n", escapeText(up.Tool.Name), up.From, up.To, up.Jump)
	fmt.Fprintf(&b, "- Release: %s (tag `%s`", releaseLink(rel, up), codeSafe(rel.GetTag()))
	if at := rel.GetPublishedAt(); at != nil {
		fmt.Fprintf(&b, ", published %s", at.AsTime().UTC().Format("2006-01-02"))
	}
	if rel.GetPrerelease() {
		b.WriteString(", **pre-release**")
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "- Repository: [%s](https://github.com/%s)\n", escapeText(repo), repo)
	fmt.Fprintf(&b, "- Jump: %s (deployed %s)\n\n", up.Jump, up.From)

	b.WriteString("### Breaking-change hints\n\n")
	if hints := breakingHints(rel.GetBody()); len(hints) > 0 {
		b.WriteString("Lines of the release notes that mention breaking changes, deprecations, removals or migrations:\n\n")
		for _, h := range hints {
			b.WriteString("- " + h + "\n")
		}
	} else {
		b.WriteString("None found in the release notes; read them before upgrading all the same.\n")
	}
	b.WriteString("\n### Release notes\n\n")
	b.WriteString(notes(rel.GetBody(), maxNotesRunes))
	fmt.Fprintf(&b, "\n---\n_Opened by bridge's linear-ticketer for `%s`._\n", codeSafe(keyOf(rel)))
	return ticket{
		Title:       title(up),
		Description: b.String(),
		Priority:    priority(up.Jump),
		Labels:      labelsOf(up.Tool),
	}
}

// renderComment is the comment a newer release adds to the open ticket,
// whose upgrade went to prevTo.
func renderComment(rel *bridgev1.ReleasePublished, up inventory.Upgrade, prevTo string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Newer release: %s. The upgrade is now **%s → %s** (%s)", releaseLink(rel, up), up.From, up.To, up.Jump)
	if prevTo != "" {
		fmt.Fprintf(&b, ", was → %s", prevTo)
	}
	b.WriteString(".\n")
	if hints := breakingHints(rel.GetBody()); len(hints) > 0 {
		b.WriteString("\n**Breaking-change hints**\n\n")
		for _, h := range hints {
			b.WriteString("- " + h + "\n")
		}
	}
	b.WriteString("\n**Release notes (excerpt)**\n\n")
	b.WriteString(notes(rel.GetBody(), maxCommentNotesRunes))
	return b.String()
}

// releaseLink is "[name](url)": the release's name, else tool and version.
func releaseLink(rel *bridgev1.ReleasePublished, up inventory.Upgrade) string {
	name := strings.TrimSpace(rel.GetName())
	if name == "" {
		name = up.Tool.Name + " " + up.To
	}
	return fmt.Sprintf("[%s](%s)", escapeText(truncateRunes(oneLine(name), maxNameRunes)), releaseURL(rel))
}

// releaseURL is the release page: the event's, else the one GitHub would
// have (bridgectl and tests may send none). It is also the attachment URL,
// the look-before-create marker.
func releaseURL(rel *bridgev1.ReleasePublished) string {
	if u := rel.GetUrl(); u != "" {
		return u
	}
	return fmt.Sprintf("https://github.com/%s/releases/tag/%s", repoOf(rel), rel.GetTag())
}

func repoOf(rel *bridgev1.ReleasePublished) string { return rel.GetOwner() + "/" + rel.GetRepo() }

func keyOf(rel *bridgev1.ReleasePublished) string {
	return event.ReleaseKey(rel.GetOwner(), rel.GetRepo(), rel.GetTag(), rel.GetPrerelease())
}

// hintPattern finds the lines of release notes that announce trouble for
// whoever upgrades.
var hintPattern = regexp.MustCompile(`(?i)\bbreaking\b|\bdeprecat|\bremoved\b|\bremoval\b|\bmigrat(e|es|ion|ions|ing)\b`)

// listMark is the Markdown a hint line starts with that means nothing out
// of its list, quote, table or heading.
var listMark = regexp.MustCompile(`^(?:[#>|]+\s*|[-*+]\s+)+`)

// breakingHints returns the lines of notes that mention breaking changes,
// deprecations, removals or migrations, cleaned of Markdown list and
// heading marks, without duplicates, at most maxHints.
func breakingHints(notes string) []string {
	var hints []string
	seen := map[string]bool{}
	inFence := false
	for line := range strings.Lines(notes) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
			continue
		}
		if inFence || !hintPattern.MatchString(t) {
			continue
		}
		t = strings.TrimSpace(listMark.ReplaceAllString(t, ""))
		t = strings.TrimSpace(strings.TrimSuffix(t, "|"))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		hints = append(hints, truncateRunes(t, maxHintRunes))
		if len(hints) == maxHints {
			break
		}
	}
	return hints
}

// notes returns release notes trimmed to max runes, cut at a line end
// where one is near, with an unbalanced code fence closed so the rest of
// the description does not render as code.
func notes(body string, max int) string {
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	if body == "" {
		return "_The release has no notes._\n"
	}
	trimmed := false
	if utf8.RuneCountInString(body) > max {
		body = truncateRunes(body, max)
		body = strings.TrimSuffix(body, "…")
		if i := strings.LastIndexByte(body, '\n'); i > len(body)/2 {
			body = body[:i]
		}
		trimmed = true
	}
	fences := 0
	for line := range strings.Lines(body) {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fences++
		}
	}
	if fences%2 == 1 {
		body += "\n```"
	}
	body += "\n"
	if trimmed {
		body += "\n_Trimmed: the full notes are on the release page._\n"
	}
	return body
}

// escapeText escapes what would end a link text or start markup.
func escapeText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "*", `\*`, "_", `\_`, "`", "\\`", "<", `\<`).Replace(s)
}

// codeSafe keeps a value inside an inline code span.
func codeSafe(s string) string { return strings.ReplaceAll(oneLine(s), "`", "'") }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncateRunes cuts s to at most n runes, marking a cut with "…".
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

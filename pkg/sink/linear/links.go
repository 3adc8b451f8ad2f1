package linear

// Links across flows: a tool's upgrade ticket and the open remediation
// tickets of the tool's images (inventory images) name each other, as a
// Linear issue relation ("related") and a line in each description:
//
//	Open vulnerability tickets for this tool's images: SEC-12, SEC-14
//	Pending upgrade: PLAT-7 (Upgrade Grafana 10.4.0 → 11.0.0)
//
// Either ticket may come first. When an upgrade ticket is created or
// moved to a newer release, the open remediation tickets of the tool's
// images are found through Linear: the open issues with an attachment
// whose URL starts with ArtifactURL(<image repository>) (a group key is
// the repository, then "@digest" or ":tag"; the Trivy source writes Docker
// Hub names in full, as imageref.Parse does). When a
// remediation ticket is created for an image of an inventory tool, the
// tool's upgrade ticket is the one the ledger holds under OpenKey, if it
// is still open.
//
// One relation per pair, whichever side made it: both sides' relations
// are read before one is made, and its id is derived from the pair, so a
// replay collides instead of relating the tickets twice. A description
// line is rewritten only when it changes, so a redelivery changes nothing.
//
// The links are best-effort: the ticket is the effect, and a failure to
// link (Linear down, rate-limited, an issue deleted meanwhile) is logged
// at warn and does not fail the delivery, which would retry a ticket that
// is already right. The next release or report of the tool links again.

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/stoa-platform/bridge/pkg/imageref"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear/linearapi"
)

// Prefixes of the link lines in the descriptions.
const (
	vulnLinePrefix    = "Open vulnerability tickets for this tool's images: "
	upgradeLinePrefix = "Pending upgrade: "
)

// relationID is the id of the relation between two issues, the same
// whichever is the source.
func relationID(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return derivedUUID("relation|" + a + "|" + b)
}

// linkedUpgrade links the upgrade ticket a delivery created or updated to
// the open remediation tickets of its tool's images, and returns the
// delivery's own result and error unchanged.
func (s *Sink) linkedUpgrade(ctx context.Context, cl *client, u upgrade, tc team, res sink.Result, err error) (sink.Result, error) {
	if err != nil || len(u.up.Tool.Images) == 0 {
		return res, err
	}
	if lerr := s.linkUpgrade(ctx, cl, u.up.Tool, res.Fields["issue_id"], tc); lerr != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "linear: could not link the upgrade ticket to its vulnerability tickets",
			slog.String("event_id", u.d.Event.GetId()), slog.String("issue", res.Fields["identifier"]),
			slog.String("error", lerr.Error()))
	}
	return res, err
}

// linkedRemediation links the remediation ticket a delivery created to
// the open upgrade ticket of the tool its image belongs to, and returns
// the delivery's own result and error unchanged.
func (s *Sink) linkedRemediation(ctx context.Context, cl *client, r remediation, tc team, res sink.Result, err error) (sink.Result, error) {
	if err != nil || res.Outcome != OutcomeCreated {
		return res, err
	}
	tool, ok := s.inv.ToolOfImage(r.group)
	if !ok {
		return res, err
	}
	if lerr := s.linkRemediation(ctx, cl, tool, res.Fields["issue_id"], tc); lerr != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "linear: could not link the remediation ticket to its upgrade ticket",
			slog.String("event_id", r.d.Event.GetId()), slog.String("issue", res.Fields["identifier"]),
			slog.String("tool", tool.Name), slog.String("error", lerr.Error()))
	}
	return res, err
}

// linkUpgrade relates the upgrade ticket upgradeID of tool to every open
// remediation ticket of the tool's images, lists them in its description,
// and names the upgrade ticket in theirs.
func (s *Sink) linkUpgrade(ctx context.Context, cl *client, tool *inventory.Tool, upgradeID string, tc team) error {
	if upgradeID == "" {
		return errors.New("linear: the upgrade ticket has no id")
	}
	vulns, err := s.openRemediations(ctx, cl, tool, upgradeID, tc)
	if err != nil {
		return err
	}
	up, ok, err := cl.issueLinks(ctx, upgradeID)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("linear: the upgrade ticket " + upgradeID + " cannot be read")
	}
	var ids []string
	for _, v := range vulns {
		if err := relate(ctx, cl, up, v.GetId()); err != nil {
			return err
		}
		ids = append(ids, v.GetIdentifier())
	}
	line := ""
	if len(ids) > 0 {
		line = vulnLinePrefix + strings.Join(ids, ", ")
	}
	if err := setLine(ctx, cl, up.GetId(), up.GetDescription(), vulnLinePrefix, line); err != nil {
		return err
	}
	for _, v := range vulns {
		vi, ok, err := cl.issueLinks(ctx, v.GetId())
		if err != nil {
			return err
		}
		if ok {
			if err := setLine(ctx, cl, vi.GetId(), vi.GetDescription(), upgradeLinePrefix, pendingLine(up)); err != nil {
				return err
			}
		}
	}
	return nil
}

// openRemediations finds the open remediation tickets of tool's images:
// the open issues whose artifact marker names one of them, in Linear's
// order, each once, the upgrade ticket itself left out.
func (s *Sink) openRemediations(ctx context.Context, cl *client, tool *inventory.Tool, upgradeID string, tc team) ([]linearapi.IssueFields, error) {
	var out []linearapi.IssueFields
	markerPrefix := ArtifactURL("")
	for _, img := range tool.Images {
		repo := imageref.Repository(img)
		if repo == "" {
			continue
		}
		// The escaped repository is a prefix of the escaped group key
		// (PathEscape escapes rune by rune); the prefix also matches
		// "grafana-oss" after "grafana": the group is checked below.
		issues, err := cl.openIssuesByAttachmentPrefix(ctx, ArtifactURL(repo))
		if err != nil {
			return nil, err
		}
		for _, is := range issues {
			if is.GetId() == upgradeID || closed(is.GetState(), tc) ||
				slices.ContainsFunc(out, func(f linearapi.IssueFields) bool { return f.GetId() == is.GetId() }) {
				continue
			}
			for _, a := range is.Attachments.Nodes {
				group, err := url.PathUnescape(strings.TrimPrefix(a.GetUrl(), markerPrefix))
				if err != nil || !strings.HasPrefix(a.GetUrl(), markerPrefix) {
					continue
				}
				if imageref.Repository(group) == repo {
					out = append(out, is.IssueFields)
					break
				}
			}
		}
	}
	return out, nil
}

// linkRemediation relates the new remediation ticket vulnID to the open
// upgrade ticket of tool, if there is one, and names each in the other's
// description.
func (s *Sink) linkRemediation(ctx context.Context, cl *client, tool inventory.Tool, vulnID string, tc team) error {
	owner, repo, _ := strings.Cut(tool.Repo, "/")
	if s.lookup == nil || vulnID == "" {
		return nil
	}
	r, found, err := s.lookup.Result(ctx, OpenKey(owner, repo))
	if err != nil {
		return err
	}
	prev := openedFrom(r)
	if !found || prev.issueID == "" {
		return nil
	}
	up, ok, err := cl.issueLinks(ctx, prev.issueID)
	if err != nil || !ok || closed(up.GetState(), tc) {
		return err
	}
	if err := relate(ctx, cl, up, vulnID); err != nil {
		return err
	}
	vi, ok, err := cl.issueLinks(ctx, vulnID)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("linear: the remediation ticket " + vulnID + " cannot be read")
	}
	if err := setLine(ctx, cl, vi.GetId(), vi.GetDescription(), upgradeLinePrefix, pendingLine(up)); err != nil {
		return err
	}
	// Add this ticket to the upgrade ticket's list, keeping the others.
	ids := lineItems(up.GetDescription(), vulnLinePrefix)
	if !slices.Contains(ids, vi.GetIdentifier()) {
		ids = append(ids, vi.GetIdentifier())
	}
	return setLine(ctx, cl, up.GetId(), up.GetDescription(), vulnLinePrefix, vulnLinePrefix+strings.Join(ids, ", "))
}

// relate makes the relation between the upgrade ticket up and the issue
// otherID unless one exists, from either side.
func relate(ctx context.Context, cl *client, up *linearapi.IssueLinksIssue, otherID string) error {
	for _, n := range up.Relations.Nodes {
		if n.RelatedIssue.GetId() == otherID {
			return nil
		}
	}
	for _, n := range up.InverseRelations.Nodes {
		if n.Issue.GetId() == otherID {
			return nil
		}
	}
	return cl.relate(ctx, relationID(up.GetId(), otherID), up.GetId(), otherID)
}

// pendingLine names the upgrade ticket in a remediation ticket.
func pendingLine(up *linearapi.IssueLinksIssue) string {
	return upgradeLinePrefix + up.GetIdentifier() + " (" + escapeText(truncateRunes(oneLine(up.GetTitle()), maxNameRunes)) + ")"
}

// setLine rewrites the description of issue id when withLine changes it.
func setLine(ctx context.Context, cl *client, id, desc, prefix, line string) error {
	if next := withLine(desc, prefix, line); next != desc {
		return cl.updateDescription(ctx, id, next)
	}
	return nil
}

// withLine returns desc with its line that starts with prefix replaced by
// line, or, with none, line inserted as a paragraph before the footer
// (the last "---" line) or at the end. An empty line removes the line.
// The search runs from the end: the line sits above the footer, after any
// release notes quoted in the description.
func withLine(desc, prefix, line string) string {
	lines := strings.Split(desc, "\n")
	at := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			at = i
			break
		}
	}
	switch {
	case at >= 0 && line != "":
		lines[at] = line
	case at >= 0:
		end := at + 1
		if end < len(lines) && lines[end] == "" {
			end++
		}
		lines = slices.Delete(lines, at, end)
	case line == "":
		return desc
	default:
		footer := -1
		for i := len(lines) - 1; i >= 0; i-- {
			if lines[i] == "---" {
				footer = i
				break
			}
		}
		if footer < 0 {
			return strings.TrimRight(desc, "\n") + "\n\n" + line + "\n"
		}
		lines = slices.Insert(lines, footer, line, "")
	}
	return strings.Join(lines, "\n")
}

// lineItems returns the comma-separated items of desc's line that starts
// with prefix.
func lineItems(desc, prefix string) []string {
	lines := strings.Split(desc, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], prefix); ok {
			var out []string
			for _, it := range strings.Split(rest, ",") {
				if it = strings.TrimSpace(it); it != "" {
					out = append(out, it)
				}
			}
			return out
		}
	}
	return nil
}

// issueLinks reads an issue's description and relations; false if Linear
// has no issue with this id.
func (c *client) issueLinks(ctx context.Context, id string) (*linearapi.IssueLinksIssue, bool, error) {
	var resp *linearapi.IssueLinksResponse
	err := c.call(ctx, "issue", func(ctx context.Context) (err error) {
		resp, err = linearapi.IssueLinks(ctx, c.gql, id)
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

// openIssuesByAttachmentPrefix returns the open issues with an attachment
// whose URL starts with prefix.
func (c *client) openIssuesByAttachmentPrefix(ctx context.Context, prefix string) ([]linearapi.OpenIssuesByAttachmentPrefixIssuesIssueConnectionNodesIssue, error) {
	var resp *linearapi.OpenIssuesByAttachmentPrefixResponse
	err := c.call(ctx, "issues", func(ctx context.Context) (err error) {
		resp, err = linearapi.OpenIssuesByAttachmentPrefix(ctx, c.gql, prefix)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Issues.Nodes, nil
}

// relate makes a "related" relation from issueID to relatedID with the
// client-chosen id. A conflict on the id is an earlier attempt's relation.
func (c *client) relate(ctx context.Context, id, issueID, relatedID string) error {
	var resp *linearapi.CreateIssueRelationResponse
	err := c.call(ctx, "issueRelationCreate", func(ctx context.Context) (err error) {
		resp, err = linearapi.CreateIssueRelation(ctx, c.gql, id, issueID, relatedID)
		return err
	})
	switch {
	case isConflict(err):
		return nil
	case err != nil:
		return err
	}
	if !resp.IssueRelationCreate.Success {
		return errors.New("linear: issueRelationCreate: not successful")
	}
	return nil
}

func (c *client) updateDescription(ctx context.Context, id, description string) error {
	var resp *linearapi.UpdateIssueDescriptionResponse
	err := c.call(ctx, "issueUpdate", func(ctx context.Context) (err error) {
		resp, err = linearapi.UpdateIssueDescription(ctx, c.gql, id, description)
		return err
	})
	if err != nil {
		return err
	}
	if !resp.IssueUpdate.Success {
		return errors.New("linear: issueUpdate: not successful")
	}
	return nil
}

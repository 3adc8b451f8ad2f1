// Package match is the one language in which configuration picks events:
// n8n routes, routing rules and silences all say "events of this kind
// whose fields hold these values". A Rule is a subject pattern over event
// kinds plus field filters; Validate explains a bad rule with the key at
// fault, Match decides.
package match

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// Rule matches the events whose kind matches Subject and for which every
// Filter entry holds.
type Rule struct {
	// Subject is an event kind ("check.down") or a NATS-style pattern over
	// the kind's tokens: "*" matches one token, a final ">" one or more
	// ("vulnerability.*", "check.>", ">"). Empty means ">".
	Subject string
	// Filter narrows the match on event fields; every entry must hold.
	// Keys: see Fields.
	Filter map[string]string
}

// fields maps each filter key, and its aliases, to its canonical key.
var fields = map[string]string{
	"severity":   "severity",
	"repository": "repository",
	"repo":       "repository",
	"artifact":   "artifact",
	"tags":       "tags",
	"tag":        "tags",
	"status":     "status",
	"check":      "check",
}

// Fields lists the filter keys a rule may use, aliases included:
//
//   - severity: a vulnerability report with at least one finding at or
//     above it (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL; any case).
//   - repository, repo: a release's owner/repo, a path.Match glob
//     ("stoa-platform/*"), case-insensitive.
//   - artifact: a vulnerability report's artifact name, a path.Match glob
//     ("ghcr.io/stoa/*").
//   - tags, tag: a check carrying that tag.
//   - status: a check's "down" or "up".
//   - check: a check's name, slug or id, a path.Match glob.
func Fields() []string {
	ks := make([]string, 0, len(fields))
	for k := range fields {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Validate returns the rule's problems, each starting with the key at
// fault relative to the rule ("subject: …", "filter.colour: …"), so that
// callers can prefix their own path.
func (r Rule) Validate() []error {
	var errs []error
	if r.Subject != "" {
		if err := ValidSubject(r.Subject); err != nil {
			errs = append(errs, fmt.Errorf("subject: %w", err))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Filter)) {
		if err := validFilter(k, r.Filter[k]); err != nil {
			errs = append(errs, fmt.Errorf("filter.%s: %w", k, err))
		}
	}
	return errs
}

func validFilter(k, v string) error {
	canon, ok := fields[k]
	if !ok {
		return fmt.Errorf("unknown field (known: %s)", strings.Join(Fields(), ", "))
	}
	switch canon {
	case "severity":
		if ParseSeverity(v) == bridgev1.Severity_SEVERITY_UNSPECIFIED {
			return fmt.Errorf("%q is not UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL", v)
		}
	case "repository", "artifact", "check":
		if v == "" {
			return errors.New("empty pattern")
		}
		if _, err := path.Match(v, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", v, err)
		}
	case "status":
		if v != "down" && v != "up" {
			return fmt.Errorf("%q is not down or up", v)
		}
	case "tags":
		if v == "" {
			return errors.New("empty tag")
		}
	}
	return nil
}

// ValidSubject says why s is not a subject pattern that matches at least
// one event kind.
func ValidSubject(s string) error {
	if s == "" {
		return errors.New("required")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("%q has an empty token", s)
		case t == ">" && i != len(toks)-1:
			return fmt.Errorf("%q: > must be the last token", s)
		case t != ">" && t != "*" && strings.ContainsAny(t, "*> \t"):
			return fmt.Errorf("%q: wildcards must be whole tokens", s)
		}
	}
	if !slices.ContainsFunc(event.Kinds, func(k string) bool { return Subject(s, k) }) {
		return fmt.Errorf("%q matches no event kind (%s)", s, strings.Join(event.Kinds, ", "))
	}
	return nil
}

// Match reports whether ev matches the rule. A filter that does not apply
// to the event's kind (severity on a check) does not hold.
func (r Rule) Match(ev *event.Event) bool {
	if !Subject(cmp.Or(r.Subject, ">"), event.Kind(ev)) {
		return false
	}
	for k, v := range r.Filter {
		if !filterMatch(fields[k], v, ev) {
			return false
		}
	}
	return true
}

// String is the rule as an operator wrote it: "check.down tags=prod".
func (r Rule) String() string {
	parts := []string{cmp.Or(r.Subject, ">")}
	for _, k := range slices.Sorted(maps.Keys(r.Filter)) {
		parts = append(parts, k+"="+r.Filter[k])
	}
	return strings.Join(parts, " ")
}

// Subject reports whether the event kind matches pattern.
func Subject(pattern, kind string) bool {
	if kind == "" {
		return false
	}
	pt, kt := strings.Split(pattern, "."), strings.Split(kind, ".")
	for i, p := range pt {
		switch {
		case p == ">":
			return len(kt) > i
		case i >= len(kt):
			return false
		case p != "*" && p != kt[i]:
			return false
		}
	}
	return len(pt) == len(kt)
}

func filterMatch(key, want string, ev *event.Event) bool {
	switch d := ev.GetData().(type) {
	case *bridgev1.Event_VulnerabilityReport:
		rep := d.VulnerabilityReport
		switch key {
		case "severity":
			min := ParseSeverity(want)
			return min != bridgev1.Severity_SEVERITY_UNSPECIFIED && slices.ContainsFunc(rep.GetFindings(), func(f *bridgev1.Finding) bool {
				return f.GetSeverity() >= min
			})
		case "artifact":
			return glob(want, rep.GetArtifact().GetName(), false)
		}
	case *bridgev1.Event_ReleasePublished:
		if key == "repository" {
			rel := d.ReleasePublished
			return glob(want, rel.GetOwner()+"/"+rel.GetRepo(), true)
		}
	case *bridgev1.Event_CheckStatusChanged:
		c := d.CheckStatusChanged
		switch key {
		case "tags":
			return slices.Contains(c.GetTags(), want)
		case "status":
			return strings.TrimPrefix(strings.ToLower(c.GetStatus().String()), "check_status_") == want
		case "check":
			return glob(want, c.GetName(), false) || glob(want, c.GetSlug(), false) || glob(want, c.GetCheckId(), false)
		}
	}
	return false
}

func glob(pattern, s string, fold bool) bool {
	if s == "" {
		return false
	}
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// ParseSeverity reads "critical", "CRITICAL" or "SEVERITY_CRITICAL"; it
// returns SEVERITY_UNSPECIFIED for anything else.
func ParseSeverity(s string) bridgev1.Severity {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "SEVERITY_") {
		s = "SEVERITY_" + s
	}
	v, ok := bridgev1.Severity_value[s]
	if !ok || v == 0 {
		return bridgev1.Severity_SEVERITY_UNSPECIFIED
	}
	return bridgev1.Severity(v)
}

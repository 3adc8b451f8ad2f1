package n8n

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// Auth modes of a route: how the n8n Webhook node checks the caller.
const (
	AuthNone   = "none"
	AuthHeader = "header"
	AuthBasic  = "basic"
)

// Route sends the events it matches to one n8n webhook URL.
type Route struct {
	// Subject is an event kind ("check.down") or a NATS-style pattern over
	// the kind's tokens: "*" matches one token, a final ">" one or more
	// ("vulnerability.*", "check.>", ">").
	Subject string
	// Filter narrows the match on event fields; every entry must hold.
	// Keys (see Match): severity, repository (alias repo), artifact, tags
	// (alias tag), status.
	Filter map[string]string
	// URL is the n8n webhook's production URL (…/webhook/<path>).
	URL string
	// Auth is AuthNone (also ""), AuthHeader or AuthBasic; the credential
	// is the secret N8N_AUTH.
	Auth string
	// Header names the header for AuthHeader.
	Header string
}

// Filter keys a route may use. Aliases map to their canonical key.
var filterKeys = map[string]string{
	"severity":   "severity",
	"repository": "repository",
	"repo":       "repository",
	"artifact":   "artifact",
	"tags":       "tags",
	"tag":        "tags",
	"status":     "status",
}

// RoutesFrom checks the configured routes and converts them. It reports
// every problem at once, each with its key path
// ("n8n.routes[1].filter.colour: unknown filter"), so that bridgectl
// config validate can show them all.
func RoutesFrom(cfg []config.N8NRoute) ([]Route, error) {
	var (
		routes []Route
		errs   []error
	)
	for i, c := range cfg {
		r := Route{Subject: c.Subject, Filter: c.Filter, URL: c.URL, Auth: c.Auth, Header: c.Header}
		for _, err := range r.validate() {
			errs = append(errs, fmt.Errorf("n8n.routes[%d].%w", i, err))
		}
		routes = append(routes, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return routes, nil
}

// validate returns the route's problems, each starting with its key.
func (r Route) validate() []error {
	var errs []error
	if err := validSubject(r.Subject); err != nil {
		errs = append(errs, fmt.Errorf("subject: %w", err))
	}
	u, err := url.Parse(r.URL)
	switch {
	case r.URL == "":
		errs = append(errs, errors.New("url: required"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, errors.New("url: not an absolute http(s) URL"))
	case u.User != nil:
		// The credential belongs in N8N_AUTH, not in config or logs.
		errs = append(errs, errors.New("url: must not carry user info; use auth and N8N_AUTH"))
	}
	switch r.Auth {
	case "", AuthNone, AuthBasic:
	case AuthHeader:
		if r.Header == "" {
			errs = append(errs, errors.New("header: required with auth header"))
		}
	default:
		errs = append(errs, fmt.Errorf("auth: %q is not none, header or basic", r.Auth))
	}
	for _, k := range sortedKeys(r.Filter) {
		v := r.Filter[k]
		canon, ok := filterKeys[k]
		if !ok {
			errs = append(errs, fmt.Errorf("filter.%s: unknown filter (known: severity, repository, repo, artifact, tags, tag, status)", k))
			continue
		}
		switch canon {
		case "severity":
			if parseSeverity(v) == bridgev1.Severity_SEVERITY_UNSPECIFIED {
				errs = append(errs, fmt.Errorf("filter.%s: %q is not UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL", k, v))
			}
		case "repository", "artifact":
			if _, err := path.Match(v, ""); err != nil {
				errs = append(errs, fmt.Errorf("filter.%s: bad pattern %q: %w", k, v, err))
			}
		case "status":
			if v != "down" && v != "up" {
				errs = append(errs, fmt.Errorf("filter.%s: %q is not down or up", k, v))
			}
		case "tags":
			if v == "" {
				errs = append(errs, fmt.Errorf("filter.%s: empty tag", k))
			}
		}
	}
	return errs
}

func validSubject(s string) error {
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
		case t != ">" && t != "*" && strings.ContainsAny(t, "*> "):
			return fmt.Errorf("%q: wildcards must be whole tokens", s)
		}
	}
	return nil
}

// ID is a short stable name for the route, from its subject, filter and
// URL: a ledger field name and, if one consumer runs per route, a
// consumer-name suffix. It reveals nothing of the URL.
func (r Route) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", r.Subject, r.URL)
	for _, k := range sortedKeys(r.Filter) {
		fmt.Fprintf(h, "%s=%s\n", k, r.Filter[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Match reports whether ev goes to this route: its kind matches Subject
// and every filter holds. A filter that does not apply to the event's kind
// (severity on a check) does not hold.
//
//   - severity: a vulnerability report with at least one finding at or
//     above it (case-insensitive: "critical" = "CRITICAL").
//   - repository, repo: a release's owner/repo, a path.Match glob
//     ("stoa-platform/*"), case-insensitive.
//   - artifact: a vulnerability report's artifact name, a path.Match glob
//     ("ghcr.io/stoa/*").
//   - tags, tag: a check carrying that tag.
//   - status: a check's "down" or "up".
func (r Route) Match(ev *event.Event) bool {
	if !subjectMatch(r.Subject, event.Kind(ev)) {
		return false
	}
	for k, v := range r.Filter {
		if !filterMatch(filterKeys[k], v, ev) {
			return false
		}
	}
	return true
}

func subjectMatch(pattern, kind string) bool {
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
			min := parseSeverity(want)
			return slices.ContainsFunc(rep.GetFindings(), func(f *bridgev1.Finding) bool {
				return min != bridgev1.Severity_SEVERITY_UNSPECIFIED && f.GetSeverity() >= min
			})
		case "artifact":
			ok, _ := path.Match(want, rep.GetArtifact().GetName())
			return ok
		}
	case *bridgev1.Event_ReleasePublished:
		if key == "repository" {
			rel := d.ReleasePublished
			ok, _ := path.Match(strings.ToLower(want), strings.ToLower(rel.GetOwner()+"/"+rel.GetRepo()))
			return ok
		}
	case *bridgev1.Event_CheckStatusChanged:
		c := d.CheckStatusChanged
		switch key {
		case "tags":
			return slices.Contains(c.GetTags(), want)
		case "status":
			return strings.TrimPrefix(strings.ToLower(c.GetStatus().String()), "check_status_") == want
		}
	}
	return false
}

// parseSeverity reads "critical", "CRITICAL" or "SEVERITY_CRITICAL"; it
// returns SEVERITY_UNSPECIFIED for anything else.
func parseSeverity(s string) bridgev1.Severity {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "SEVERITY_") {
		s = "SEVERITY_" + s
	}
	v, ok := bridgev1.Severity_value[s]
	if !ok {
		return bridgev1.Severity_SEVERITY_UNSPECIFIED
	}
	return bridgev1.Severity(v)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

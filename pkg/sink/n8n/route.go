package n8n

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/match"
)

// Auth modes of a route: how the n8n Webhook node checks the caller.
const (
	AuthNone   = "none"
	AuthHeader = "header"
	AuthBasic  = "basic"
)

// Route sends the events it matches to one n8n webhook URL.
type Route struct {
	// Subject and Filter pick the events: a subject pattern over event
	// kinds and field filters, in the language of package match.
	Subject string
	Filter  map[string]string
	// URL is the n8n webhook's production URL (…/webhook/<path>).
	URL string
	// Auth is AuthNone (also ""), AuthHeader or AuthBasic; the credential
	// is the secret N8N_AUTH.
	Auth string
	// Header names the header for AuthHeader.
	Header string
	// ContentType is the POST's Content-Type: ContentType (also "") or
	// ContentTypeJSON. The body is the same structured CloudEvent either
	// way; n8n 1.x's Webhook node parses only the latter into $json.body.
	ContentType string
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
		r := Route{Subject: c.Subject, Filter: c.Filter, URL: c.URL, Auth: c.Auth, Header: c.Header, ContentType: c.ContentType}
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
	if r.Subject == "" {
		errs = append(errs, errors.New("subject: required"))
	}
	errs = append(errs, r.rule().Validate()...)
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
	switch r.ContentType {
	case "", ContentType, ContentTypeJSON:
	default:
		errs = append(errs, fmt.Errorf("content_type: %q is not %s or %s", r.ContentType, ContentType, ContentTypeJSON))
	}
	return errs
}

// contentType is the Content-Type the route POSTs with.
func (r Route) contentType() string {
	if r.ContentType == "" {
		return ContentType
	}
	return r.ContentType
}

// ID is a short stable name for the route, from its subject, filter and
// URL: a ledger field name and, if one consumer runs per route, a
// consumer-name suffix. It reveals nothing of the URL. The content type is
// left out on purpose: switching it must not rename the durable consumer.
func (r Route) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", r.Subject, r.URL)
	for _, k := range slices.Sorted(maps.Keys(r.Filter)) {
		fmt.Fprintf(h, "%s=%s\n", k, r.Filter[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func (r Route) rule() match.Rule { return match.Rule{Subject: r.Subject, Filter: r.Filter} }

// Match reports whether ev goes to this route (see match.Rule.Match).
func (r Route) Match(ev *event.Event) bool { return r.rule().Match(ev) }

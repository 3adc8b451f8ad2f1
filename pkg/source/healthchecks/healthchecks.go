// Package healthchecks turns a Healthchecks "Webhook" integration delivery
// into a check.down or check.up event.
//
// The body is the template the README asks users to configure for both the
// "down" and the "up" request:
//
//	{
//	  "source": "healthchecks",
//	  "status": "$STATUS",
//	  "now": "$NOW",
//	  "code": "$CODE",
//	  "slug": "$SLUG",
//	  "name": $NAME_JSON,
//	  "exitstatus": $EXITSTATUS,
//	  "last_ping_body": $BODY_JSON,
//	  "check": $JSON
//	}
//
// It uses only placeholders that always expand to valid JSON (Healthchecks
// v3.3 or later). Only status, now and code are required: older
// Healthchecks versions, or a trimmed template, send fewer fields, and
// unknown fields are ignored.
package healthchecks

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/source"
)

// Source is the CloudEvents source of every event this package makes.
const Source = "/webhooks/healthchecks"

// MaxPingBody is how much of the last ping's body an event carries: enough
// for the tail of an error message in an alert, small enough for the bus.
const MaxPingBody = 4 << 10

// delivery is the configured body template.
type delivery struct {
	Status       string `json:"status"`
	Now          string `json:"now"`
	Code         string `json:"code"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	ExitStatus   *int64 `json:"exitstatus"`
	LastPingBody string `json:"last_ping_body"`
	Check        *check `json:"check"`
}

// check holds the fields of $JSON (Healthchecks' "Get a Single Check"
// answer) the event uses.
type check struct {
	Name      string  `json:"name"`
	Slug      string  `json:"slug"`
	Tags      string  `json:"tags"`
	Desc      string  `json:"desc"`
	LastPing  *string `json:"last_ping"`
	PingURL   string  `json:"ping_url"`
	UpdateURL string  `json:"update_url"`
}

// Parse decodes a delivery into a check.down or check.up event whose
// subject is the check's UUID and whose idempotency key is
// event.CheckKey(code, status, now): Healthchecks sends the same body again
// when it retries a slow delivery, and the stream drops the copy.
//
// Every error matches source.ErrMalformed and reads as a one-line reason
// naming the field, e.g. `healthchecks: "now" is not an RFC 3339 time`.
//
// The name falls back to check.name, then the slug, then the UUID. The
// exit status is -1 when absent. The last ping body is cut to MaxPingBody
// bytes on a UTF-8 boundary. The details URL is derived from check.update_url
// (or else check.ping_url), since the template carries no UI link.
func Parse(body []byte) (*event.Event, error) {
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, decodeError(err)
	}
	if d.Check == nil {
		d.Check = new(check)
	}

	var (
		status bridgev1.CheckStatus
		kind   string
	)
	switch d.Status {
	case "down":
		status, kind = bridgev1.CheckStatus_CHECK_STATUS_DOWN, event.KindCheckDown
	case "up":
		status, kind = bridgev1.CheckStatus_CHECK_STATUS_UP, event.KindCheckUp
	case "":
		return nil, source.Malformedf(`healthchecks: "status" is missing`)
	default:
		return nil, source.Malformedf(`healthchecks: "status" is neither "down" nor "up"`)
	}

	if d.Code == "" {
		return nil, source.Malformedf(`healthchecks: "code" is missing`)
	}
	code, ok := canonicalUUID(d.Code)
	if !ok {
		return nil, source.Malformedf(`healthchecks: "code" is not a UUID`)
	}

	if d.Now == "" {
		return nil, source.Malformedf(`healthchecks: "now" is missing`)
	}
	now, err := time.Parse(time.RFC3339, d.Now)
	if err != nil {
		return nil, source.Malformedf(`healthchecks: "now" is not an RFC 3339 time`)
	}

	exit := int64(-1)
	if d.ExitStatus != nil {
		exit = *d.ExitStatus
	}
	if exit < math.MinInt32 || exit > math.MaxInt32 {
		return nil, source.Malformedf(`healthchecks: "exitstatus" is out of range`)
	}

	var lastPing *timestamppb.Timestamp
	if p := d.Check.LastPing; p != nil && *p != "" {
		t, err := time.Parse(time.RFC3339, *p)
		if err != nil {
			return nil, source.Malformedf(`healthchecks: "check.last_ping" is not an RFC 3339 time`)
		}
		lastPing = timestamppb.New(t)
	}

	slug := firstNonEmpty(d.Slug, d.Check.Slug)
	ev := event.New(kind, Source, code, event.CheckKey(code, d.Status, now), now)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId:      code,
		Name:         firstNonEmpty(d.Name, d.Check.Name, slug, code),
		Slug:         slug,
		Status:       status,
		ChangedAt:    timestamppb.New(now),
		Tags:         splitTags(d.Check.Tags),
		Description:  d.Check.Desc,
		LastPingBody: source.Truncate(d.LastPingBody, MaxPingBody),
		ExitStatus:   int32(exit),
		LastPing:     lastPing,
		DetailsUrl:   detailsURL(d.Check, code),
		PingUrl:      d.Check.PingURL,
	}}
	return ev, nil
}

// decodeError names what is wrong without quoting the body back.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		got, _, _ := strings.Cut(te.Value, " ") // "number 1.5" → "number"
		if te.Field == "" {
			return source.Malformedf("healthchecks: body is %s, not a JSON object", source.Article(got))
		}
		return source.Malformedf("healthchecks: %q is %s, not %s", te.Field, source.Article(got), source.TypeName(te.Type))
	}
	return source.Malformedf("healthchecks: body is not valid JSON")
}

// canonicalUUID accepts the 8-4-4-4-12 hex form Healthchecks uses and
// returns it in lower case, so that a key never depends on letter case.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	lower := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			lower = false
		default:
			return "", false
		}
	}
	if lower {
		return s, true
	}
	return strings.ToLower(s), true
}

// splitTags splits Healthchecks' space-separated tags; a tag may hold any
// character but a space.
func splitTags(s string) []string {
	if s == "" {
		return nil
	}
	var tags []string
	for t := range strings.SplitSeq(s, " ") {
		if t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// detailsURL derives the check's page in the Healthchecks UI. update_url
// (<site>/api/v3/checks/<uuid>) is on the UI's host; ping_url may be on a
// separate ping host (hc-ping.com for healthchecks.io), so it is the
// fallback. A site under a path prefix keeps it.
func detailsURL(c *check, code string) string {
	if site := siteRoot(c.UpdateURL, "/api/"); site != "" {
		return site + "/checks/" + code + "/details/"
	}
	if site := siteRoot(c.PingURL, "/ping/"); site != "" {
		return site + "/checks/" + code + "/details/"
	}
	return ""
}

// siteRoot returns scheme://host[/prefix] of an http(s) URL whose path
// contains marker, or "".
func siteRoot(raw, marker string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	prefix, _, ok := strings.Cut(u.EscapedPath(), marker)
	if !ok {
		return ""
	}
	root := u.Scheme + "://" + u.Host + prefix
	if !utf8.ValidString(root) {
		return "" // url.Parse unescapes %XX in a host; protobuf strings must be UTF-8
	}
	return root
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

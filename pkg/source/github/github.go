// Package github turns a GitHub webhook delivery (github.com, GitHub
// Enterprise Server, a repository or organisation hook, or a GitHub App)
// into a release.published event.
//
// Only the release event's "published" and "released" actions of a
// non-draft release make an event. GitHub sends both for one full release
// ("published" alone for a pre-release, "released" alone when a pre-release
// is promoted): they share the idempotency key event.ReleaseKey(owner,
// repo, tag, prerelease), as does the release-watcher's event for the same
// release, so the stream keeps one. A pre-release's key is marked as such,
// so its promotion under the same tag is a new event. Everything else —
// ping, the other release actions, drafts, other event types — is valid but
// ignored.
//
// Verify checks the X-Hub-Signature-256 header; the caller runs it on the
// raw body before Parse.
package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v66/github"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/source"
)

// Source is the CloudEvents source of every event this package makes.
const Source = "/webhooks/github"

// Origin is the ReleasePublished origin of a webhook-made event (the
// release-watcher's say "watcher").
const Origin = "webhook"

// MaxReleaseBody is how much of the release notes an event carries: enough
// for a ticket's description, small enough for the bus. GitHub allows
// 125,000 characters.
const MaxReleaseBody = 64 << 10

// The delivery headers Parse and Verify read.
const (
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
	HeaderSignature = "X-Hub-Signature-256"
)

// Reasons of the *source.Ignored errors Parse returns: a fixed set, since
// they label a metric.
const (
	// ReasonPing: the ping GitHub sends when a hook is created.
	ReasonPing = "ping"
	// ReasonReleaseAction: a release action other than published/released.
	ReasonReleaseAction = "release_action"
	// ReasonDraft: a draft release.
	ReasonDraft = "draft"
	// ReasonEventType: an event type other than release and ping.
	ReasonEventType = "event_type"
)

// IgnoredReasons lists every Reason Parse gives, in a fixed order.
var IgnoredReasons = []string{ReasonPing, ReasonReleaseAction, ReasonDraft, ReasonEventType}

// ErrSignature is returned by Verify for a missing, malformed or wrong
// signature. It never carries the signature or the secret.
var ErrSignature = errors.New("github: missing or invalid " + HeaderSignature + " signature")

const (
	signaturePrefix = "sha256="
	formMediaType   = "application/x-www-form-urlencoded"
)

// Verify checks signature, the X-Hub-Signature-256 header's value, against
// the HMAC-SHA256 of the raw body keyed with secret, in constant time. Only
// "sha256=" and 64 hex digits pass: the legacy SHA-1 signature (in
// X-Hub-Signature, or put in this header) does not, nor does any signature
// when secret is empty.
func Verify(signature string, body []byte, secret string) error {
	// go-github's check also takes "sha1=" and "sha512=": pin the
	// algorithm and the length first. A truncated digest fails here rather
	// than in a compare of unequal lengths.
	hexMAC, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok || len(hexMAC) != 64 || secret == "" {
		return ErrSignature
	}
	// Its error quotes the signature: replaced, never wrapped.
	if gh.ValidateSignature(signature, body, []byte(secret)) != nil {
		return ErrSignature
	}
	return nil
}

// Parse turns an authenticated delivery into a release.published event
// whose subject is "owner/repo" and whose idempotency key is
// event.ReleaseKey(owner, repo, tag, prerelease). h holds the delivery headers
// (X-GitHub-Event, X-GitHub-Delivery and Content-Type); body is the raw
// body, JSON or a form whose "payload" field is the JSON. Parse keeps
// nothing of body.
//
// An ignored delivery returns a *source.Ignored (matching
// source.ErrUnsupported) whose Reason is one of IgnoredReasons. Every other
// error matches source.ErrMalformed and reads as a one-line reason that
// quotes nothing from the body, e.g. `github: "release.tag_name" is
// missing`.
//
// The event's time is the release's published_at (created_at when absent);
// its body is cut to MaxReleaseBody bytes on a UTF-8 boundary; a null name
// or body is "".
func Parse(h http.Header, body []byte) (*event.Event, error) {
	name := h.Get(HeaderEvent)
	if name == "" {
		return nil, source.Malformedf("github: the %s header is missing", HeaderEvent)
	}
	if h.Get(HeaderDelivery) == "" {
		return nil, source.Malformedf("github: the %s header is missing", HeaderDelivery)
	}
	payload, err := jsonPayload(h.Get("Content-Type"), body)
	if err != nil {
		return nil, err
	}

	switch name {
	case "release":
		return parseRelease(payload)
	case "ping":
		if _, err := gh.ParseWebHook("ping", payload); err != nil {
			return nil, decodeError(err)
		}
		return nil, &source.Ignored{Reason: ReasonPing, Detail: "github: ping: nothing to do"}
	}
	// Not decoded, since nothing is taken from it, but still checked: a
	// body that is not JSON is malformed whatever the event.
	if err := checkObject(payload); err != nil {
		return nil, err
	}
	return nil, &source.Ignored{Reason: ReasonEventType,
		Detail: "github: event type " + quoteToken(name) + " is not handled"}
}

// jsonPayload returns the JSON of a delivery: the body itself, or the
// "payload" field of a form.
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), formMediaType) {
		return body, nil
	}
	// A field that does not decode is dropped by ParseQuery: a bad payload
	// field is then a missing one.
	form, _ := url.ParseQuery(string(body))
	p := form.Get("payload")
	if p == "" {
		return nil, source.Malformedf("github: the form has no payload field")
	}
	return []byte(p), nil
}

// releaseActions are the release actions GitHub documents that make no
// event; an undocumented one is not echoed back.
var releaseActions = map[string]bool{
	"created": true, "edited": true, "deleted": true, "prereleased": true, "unpublished": true,
}

// releaseDelivery is the part of a release delivery the bridge reads.
// go-github's ReleaseEvent decodes every field GitHub sends (repository,
// sender, installation: hundreds of them) and was most of the gateway's CPU
// per delivery; decoding these few makes a delivery about a third cheaper.
// The field names are go-github's, the JSON names GitHub's.
type releaseDelivery struct {
	Action  *string `json:"action"`
	Release *struct {
		TagName     string        `json:"tag_name"`
		Name        *string       `json:"name"`
		Body        *string       `json:"body"`
		HTMLURL     string        `json:"html_url"`
		Draft       bool          `json:"draft"`
		Prerelease  bool          `json:"prerelease"`
		PublishedAt *gh.Timestamp `json:"published_at"`
		CreatedAt   *gh.Timestamp `json:"created_at"`
	} `json:"release"`
	Repo struct {
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		Owner    struct {
			Login string `json:"login"`
		} `json:"owner"`
	} `json:"repository"`
}

func parseRelease(payload []byte) (*event.Event, error) {
	var re *releaseDelivery
	if err := json.Unmarshal(payload, &re); err != nil {
		return nil, decodeError(err)
	}
	if re == nil { // a JSON null leaves no event
		return nil, source.Malformedf("github: body is not a JSON object")
	}
	rel := re.Release
	switch {
	case re.Action == nil:
		return nil, source.Malformedf(`github: "action" is missing`)
	case rel == nil:
		return nil, source.Malformedf(`github: "release" is missing`)
	}

	switch action := *re.Action; {
	case action == "published" || action == "released":
	case releaseActions[action]:
		return nil, &source.Ignored{Reason: ReasonReleaseAction,
			Detail: "github: release action " + action + ": nothing to do"}
	default:
		return nil, &source.Ignored{Reason: ReasonReleaseAction,
			Detail: "github: release action not handled"}
	}
	if rel.Draft {
		return nil, &source.Ignored{Reason: ReasonDraft, Detail: "github: draft release: nothing to do"}
	}

	owner, repo := re.Repo.Owner.Login, re.Repo.Name
	if owner == "" || repo == "" {
		// Older or trimmed payloads may carry only full_name.
		o, r, ok := strings.Cut(re.Repo.FullName, "/")
		if ok && owner == "" {
			owner = o
		}
		if ok && repo == "" {
			repo = r
		}
	}
	tag := rel.TagName
	for _, f := range [...]struct{ name, value string }{
		{"repository.owner.login", owner},
		{"repository.name", repo},
		{"release.tag_name", tag},
	} {
		// The key becomes a Nats-Msg-Id header: no spaces, no control
		// characters, which GitHub's names and git refs never hold anyway.
		if f.value == "" {
			return nil, source.Malformedf("github: %q is missing", f.name)
		}
		if !isName(f.value) {
			return nil, source.Malformedf("github: %q holds a space or a control character", f.name)
		}
	}

	var at time.Time
	if rel.PublishedAt != nil {
		at = rel.PublishedAt.Time
	}
	if at.IsZero() && rel.CreatedAt != nil {
		at = rel.CreatedAt.Time
	}
	if at.IsZero() {
		return nil, source.Malformedf(`github: "release.published_at" is missing`)
	}
	published := timestamppb.New(at)
	if published.CheckValid() != nil {
		return nil, source.Malformedf(`github: "release.published_at" is out of range`)
	}

	ev := event.New(event.KindReleasePublished, Source, owner+"/"+repo, event.ReleaseKey(owner, repo, tag, rel.Prerelease), at)
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: &bridgev1.ReleasePublished{
		Owner:       owner,
		Repo:        repo,
		Tag:         tag,
		Name:        deref(rel.Name),
		Url:         rel.HTMLURL,
		Body:        source.Truncate(deref(rel.Body), MaxReleaseBody),
		Prerelease:  rel.Prerelease,
		PublishedAt: published,
		Origin:      Origin,
	}}
	return ev, nil
}

// checkObject reports a payload that is not one JSON object as malformed.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func checkObject(payload []byte) error {
	if !json.Valid(payload) {
		return source.Malformedf("github: body is not valid JSON")
	}
	if b := bytes.TrimLeft(payload, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return source.Malformedf("github: body is not a JSON object")
	}
	return nil
}

// decodeError names what is wrong without quoting the body back.
func decodeError(err error) error {
	if _, ok := errors.AsType[*json.SyntaxError](err); ok {
		return source.Malformedf("github: body is not valid JSON")
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return source.Malformedf("github: body is not a JSON object")
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 1.5" → "number"
		return source.Malformedf("github: %q is %s, not %s", te.Field, source.Article(got), source.TypeName(te.Type))
	}
	// go-github's Timestamp returns time.Parse's error as is.
	if _, ok := errors.AsType[*time.ParseError](err); ok {
		return source.Malformedf("github: a time is neither RFC 3339 nor a Unix time")
	}
	return source.Malformedf("github: body is not a valid webhook payload")
}

// isName reports whether s has no space and no control character.
func isName(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// quoteToken quotes an event name for the answer when it looks like one
// (GitHub's are short lowercase words with underscores), so that a header
// cannot put arbitrary text into the answer.
func quoteToken(s string) string {
	if len(s) > 64 {
		return "(unnamed)"
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
		default:
			return "(unnamed)"
		}
	}
	return `"` + s + `"`
}

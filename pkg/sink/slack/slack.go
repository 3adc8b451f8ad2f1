// Package slack is the Slack sink of the slack-notifier: it turns events
// into Slack messages through the Web API (chat.postMessage, chat.update),
// one attempt per delivery.
//
// A check.down posts a Block Kit alert to the checks channel; the matching
// check.up replies in the alert's thread and updates the alert to
// "Resolved". The alert's channel and ts travel through the effect ledger
// under AlertKey, which the runner writes from Result.Links.
//
// A release.published posts a note to the releases channel announcing the
// upgrade ticket the linear-ticketer opened for it (see releasePublished):
// it reads that consumer's ledger result for the same event, waits until it
// is there, and posts only for a new ticket.
//
// A vulnerability.found posts a security alert to the vulnerabilities
// channel when the report changes what is known of its artifact: see
// vulnerabilityFound, and Options.Vulns for the state it diffs against.
//
// Every message carries metadata with the event's idempotency key. When a
// delivery is uncertain (an earlier attempt may have posted without the
// ledger knowing), the sink looks for that key in the channel's history or
// the alert's thread before it posts, so a crash between Slack's answer and
// the ledger write makes no duplicate.
//
// Channels may be configured by ID (C…, G…) or by name ("#incidents").
// Slack takes a name for posting only: history, replies and chat.update
// want the ID. The sink learns a name's ID from the answer to each post
// and, when it must search a channel whose ID it has not learned yet (the
// answer to the post was lost), looks the name up with conversations.list.
//
// Slack scopes the bot token needs:
//   - chat:write, to post and update messages;
//   - channels:read and groups:read, to resolve a channel name to its ID
//     (public and private channels), not needed when every channel is
//     configured by ID;
//   - channels:history and groups:history, to search a channel and its
//     threads for an earlier post when recovering from a crash.
//
// A missing scope is a permanent error naming the scope.
//
// With no token the sink runs dry: it logs the calls it would make and
// reports OutcomeDryRun, with ledger fields that keep the check flow going.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/routing"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// Name is the consumer this sink runs in. Its ledger keys start with it.
const Name = "slack-notifier"

// AlertKey is the ledger key under which the alert of a check is found:
// "slack-notifier|alert:<check id>".
func AlertKey(checkID string) string { return Name + "|alert:" + checkID }

// Defaults for Options.
const (
	DefaultAPIURL  = "https://slack.com/api/"
	DefaultTimeout = 10 * time.Second
)

// Outcomes this sink reports besides sink.OutcomeSkipped and
// sink.OutcomeDryRun.
const (
	OutcomePosted   = "posted"
	OutcomeResolved = "resolved"
)

// metadataEventType marks the messages the bridge posted; their payload
// holds the event's idempotency key and id.
const metadataEventType = "bridge_event"

// Options configure a Sink.
type Options struct {
	// APIURL is Slack's Web API base (config slack.api_url); a trailing
	// slash is added if missing. Empty means DefaultAPIURL.
	APIURL string
	// Token is the bot token. Empty means dry-run.
	Token secrets.Secret
	// TokenFunc, when set, wins over Token: it is called at each delivery,
	// so a rotated token is used without a restart. secrets.ErrNotFound or
	// an empty secret means dry-run; another error fails the delivery as
	// transient.
	TokenFunc func(ctx context.Context) (secrets.Secret, error)
	// Channels names the channel of each flow, by ID (C…, G…) or by name
	// ("#name" or "name"). A name is resolved to its ID, which the search
	// for an earlier post needs, from the answer to a post or else with
	// conversations.list (scopes channels:read and groups:read); an ID
	// spares that call.
	Channels config.SlackChannels
	// Routing sends some events to another channel than their flow's
	// (config routing[].slack_channel); nil keeps Channels for all.
	Routing *routing.Rules
	// Lookup reads the effect ledger. Nil means nothing is ever recorded.
	Lookup sink.Lookup
	// TicketsEnabled says a linear-ticketer runs in this deployment (live
	// or dry-run) and records its results in the ledger Lookup reads: a
	// release waits for its ticket and, for a new one, posts a note. When
	// false every release is skipped with Fields["reason"] "no
	// linear-ticketer": the note announces a ticket, and waiting for one
	// that nobody opens would hold each release forever.
	TicketsEnabled bool
	// Vulns keeps the findings last reported per artifact, which each
	// vulnerability report is diffed against. Nil fails every
	// vulnerability event as permanent (misconfigured).
	Vulns *vuln.Store
	// Policy selects the findings worth an alert. Nil means the default
	// policy: HIGH and above, nothing ignored.
	Policy *vuln.Policy
	// Timeout bounds each API call. Zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives dry-run and warning lines. Nil discards them.
	Logger *slog.Logger
	// HTTPClient sends the requests. Nil means a new http.Client.
	HTTPClient *http.Client
}

// Sink implements sink.Sink for Slack. It is safe for concurrent use.
type Sink struct {
	apiURL   string
	token    func(ctx context.Context) (secrets.Secret, error)
	channels config.SlackChannels
	routing  *routing.Rules
	lookup   sink.Lookup
	tickets  bool
	vulns    *vuln.Store
	policy   *vuln.Policy
	timeout  time.Duration
	log      *slog.Logger
	hc       *http.Client
	// channelIDs maps the channel names of Channels to their IDs.
	channelIDs *channelIDs
}

var _ sink.Sink = (*Sink)(nil)

// New returns a Sink. It makes no call to Slack.
func New(o Options) *Sink {
	s := &Sink{
		apiURL:   o.APIURL,
		token:    o.TokenFunc,
		channels: o.Channels,
		routing:  o.Routing,
		lookup:   o.Lookup,
		tickets:  o.TicketsEnabled,
		vulns:    o.Vulns,
		policy:   o.Policy,
		timeout:  o.Timeout,
		log:      o.Logger,
		hc:       o.HTTPClient,

		channelIDs: newChannelIDs(),
	}
	if s.apiURL == "" {
		s.apiURL = DefaultAPIURL
	}
	if !strings.HasSuffix(s.apiURL, "/") {
		s.apiURL += "/"
	}
	if s.token == nil {
		tok := o.Token
		s.token = func(context.Context) (secrets.Secret, error) { return tok, nil }
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	if s.policy == nil {
		// An empty configuration is valid: NewPolicy cannot fail on it.
		s.policy, _ = vuln.NewPolicy(config.Vulnerabilities{}, nil, s.log)
	}
	return s
}

// Deliver makes one attempt at the Slack effect of one event.
//
// Each kind has its flow and its render functions; a kind without them is
// a permanent failure, so its events are dead-lettered, not lost.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	switch kind := event.Kind(d.Event); kind {
	case event.KindCheckDown:
		return s.checkDown(ctx, d)
	case event.KindCheckUp:
		return s.checkUp(ctx, d)
	case event.KindReleasePublished:
		return s.releasePublished(ctx, d)
	case event.KindVulnerabilityFound:
		return s.vulnerabilityFound(ctx, d)
	case "":
		return sink.Result{}, sink.Permanent(fmt.Errorf("slack: event %s has no payload", d.Event.GetId()))
	default:
		return sink.Result{}, sink.Permanent(fmt.Errorf("slack: no rendering for %s", kind))
	}
}

// client returns a Web API client for this delivery, or nil in dry-run.
func (s *Sink) client(ctx context.Context) (*client, error) {
	tok, err := s.token(ctx)
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, sink.Transient(fmt.Errorf("slack: read the bot token: %w", err), 0)
	case tok.IsZero():
		return nil, nil
	}
	return &client{
		api:     slackgo.New(tok.Reveal(), slackgo.OptionAPIURL(s.apiURL), slackgo.OptionHTTPClient(s.hc)),
		scrub:   func(msg string) string { return strings.ReplaceAll(msg, tok.Reveal(), "[redacted]") },
		timeout: s.timeout,
	}, nil
}

// dryRun logs the call the sink would make.
func (s *Sink) dryRun(ctx context.Context, d sink.Delivery, method, channel, ts string, m message) {
	blocks, err := slackgo.Blocks{BlockSet: m.Blocks}.MarshalJSON()
	if err != nil {
		blocks = []byte(fmt.Sprintf("%q", err.Error()))
	}
	attrs := []slog.Attr{
		slog.String("event_id", d.Event.GetId()),
		slog.String("method", method),
		slog.String("channel", channel),
	}
	switch method {
	case "chat.postMessage":
		if ts != "" {
			attrs = append(attrs, slog.String("thread_ts", ts))
		}
	case "chat.update":
		attrs = append(attrs, slog.String("ts", ts))
	}
	attrs = append(attrs, slog.String("text", m.Text), slog.String("blocks", string(blocks)))
	s.log.LogAttrs(ctx, slog.LevelInfo, "dry-run: would call Slack", attrs...)
}

// metadata marks a message with the event it was posted for, so an
// uncertain retry can find it.
func metadata(ev *event.Event) slackgo.SlackMetadata {
	return slackgo.SlackMetadata{
		EventType: metadataEventType,
		EventPayload: map[string]any{
			"idempotency_key": ev.GetIdempotencyKey(),
			"event_id":        ev.GetId(),
		},
	}
}

func carriesKey(m slackgo.Message, key string) bool {
	k, _ := m.Metadata.EventPayload["idempotency_key"].(string)
	return m.Metadata.EventType == metadataEventType && k == key
}

// client is a Slack Web API client for one delivery.
type client struct {
	api *slackgo.Client
	// scrub removes the token from a message. The token is kept in a
	// closure, not a field, so that printing a client cannot show it.
	scrub   func(string) string
	timeout time.Duration
}

// Bounds of a search for an earlier post: a few calls, not a crawl.
const (
	searchPageSize = 200
	searchMaxPages = 5
	// searchSlack is how long before the event's time its message may be
	// stamped by Slack: clocks disagree.
	searchSlack = 15 * time.Minute
)

// post posts m to channel (in the thread of threadTS if set) and returns
// the channel's ID and the message's ts.
func (c *client) post(ctx context.Context, channel, threadTS string, m message, md slackgo.SlackMetadata) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	opts := []slackgo.MsgOption{
		slackgo.MsgOptionText(m.Text, false),
		slackgo.MsgOptionMetadata(md),
		slackgo.MsgOptionDisableLinkUnfurl(),
	}
	if len(m.Blocks) > 0 {
		opts = append(opts, slackgo.MsgOptionBlocks(m.Blocks...))
	}
	if threadTS != "" {
		opts = append(opts, slackgo.MsgOptionTS(threadTS))
	}
	ch, ts, err := c.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", "", c.fail("chat.postMessage to", channel, err)
	}
	return ch, ts, nil
}

// update replaces the text and blocks of the message at ts.
func (c *client) update(ctx context.Context, channel, ts string, m message) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// An empty block list clears the old blocks rather than keeping them.
	_, _, _, err := c.api.UpdateMessageContext(ctx, channel, ts,
		slackgo.MsgOptionText(m.Text, false), slackgo.MsgOptionBlocks(m.Blocks...))
	if err != nil {
		return c.fail("chat.update of", channel, err)
	}
	return nil
}

// findInHistory looks for the top-level message carrying key, posted no
// earlier than searchSlack before since. It returns its ts.
func (c *client) findInHistory(ctx context.Context, channel, key string, since time.Time) (string, bool, error) {
	p := &slackgo.GetConversationHistoryParameters{
		ChannelID:          channel,
		Limit:              searchPageSize,
		IncludeAllMetadata: true,
	}
	if oldest := since.Add(-searchSlack); oldest.Unix() > 0 {
		p.Oldest = fmt.Sprintf("%d.%06d", oldest.Unix(), oldest.Nanosecond()/1000)
	}
	for range searchMaxPages {
		resp, err := c.callHistory(ctx, p)
		if err != nil {
			return "", false, c.fail("conversations.history of", channel, err)
		}
		for _, m := range resp.Messages {
			if carriesKey(m, key) {
				return m.Timestamp, true, nil
			}
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			break
		}
		p.Cursor = resp.ResponseMetaData.NextCursor
	}
	return "", false, nil
}

func (c *client) callHistory(ctx context.Context, p *slackgo.GetConversationHistoryParameters) (*slackgo.GetConversationHistoryResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.api.GetConversationHistoryContext(ctx, p)
}

// findInThread looks for the reply carrying key in the thread of threadTS.
func (c *client) findInThread(ctx context.Context, channel, threadTS, key string) (string, bool, error) {
	p := &slackgo.GetConversationRepliesParameters{
		ChannelID:          channel,
		Timestamp:          threadTS,
		Limit:              searchPageSize,
		IncludeAllMetadata: true,
	}
	for range searchMaxPages {
		msgs, more, next, err := c.callReplies(ctx, p)
		if err != nil {
			return "", false, c.fail("conversations.replies of", channel, err)
		}
		for _, m := range msgs {
			if m.Timestamp != threadTS && carriesKey(m, key) {
				return m.Timestamp, true, nil
			}
		}
		if !more || next == "" {
			break
		}
		p.Cursor = next
	}
	return "", false, nil
}

func (c *client) callReplies(ctx context.Context, p *slackgo.GetConversationRepliesParameters) ([]slackgo.Message, bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.api.GetConversationRepliesContext(ctx, p)
}

// Slack error codes worth a retry. Every other ok:false code is permanent:
// a retry would get the same answer.
var transientCodes = map[string]bool{
	"ratelimited":         true,
	"rate_limited":        true,
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
}

// Slack error codes that refuse the token itself: a rotated or revoked
// one, which the secrets may hold a newer value of.
var authCodes = map[string]bool{
	"invalid_auth":     true,
	"not_authed":       true,
	"token_revoked":    true,
	"token_expired":    true,
	"account_inactive": true,
}

// fail describes and classifies the error of one API call. Its text is a
// dead-letter reason: one line, "slack: chat.postMessage to C123:
// channel_not_found", never the token.
func (c *client) fail(call, channel string, err error) error {
	var (
		rl *slackgo.RateLimitedError
		sc slackgo.StatusCodeError
		se slackgo.SlackErrorResponse
		ue *url.Error
	)
	detail := err.Error()
	switch {
	case errors.As(err, &se):
		detail = se.Err
		if se.Needed != "" {
			detail += " (needed " + se.Needed + ")"
		}
	case errors.As(err, &rl):
		detail = fmt.Sprintf("rate limited, retry after %s", rl.RetryAfter)
	case errors.As(err, &sc):
		detail = "HTTP " + sc.Status
	case errors.As(err, &ue):
		// The URL is known; what went wrong is in the cause.
		detail = ue.Err.Error()
	}
	msg := fmt.Sprintf("slack: %s %s: %s", call, channel, detail)
	msg = c.scrub(strings.Join(strings.Fields(msg), " "))
	e := &callError{msg: msg, err: err, code: se.Err}

	switch {
	case rl != nil:
		return sink.Transient(e, rl.RetryAfter)
	case sc.Code != 0:
		switch {
		case sc.Code == http.StatusTooManyRequests || sc.Code >= 500:
			return sink.Transient(e, 0)
		case sc.Code == http.StatusUnauthorized:
			return sink.Unauthorized(e)
		}
		return sink.Permanent(e)
	case se.Err != "":
		switch {
		case transientCodes[se.Err]:
			return sink.Transient(e, 0)
		case authCodes[se.Err]:
			return sink.Unauthorized(e)
		}
		return sink.Permanent(e)
	}
	// Transport errors, timeouts, a cancelled context, an answer that is
	// not JSON: the call may work next time.
	return sink.Transient(e, 0)
}

// callError is a failed API call: its message is safe to log and to use as
// a dead-letter reason; it wraps slack-go's error for errors.As.
type callError struct {
	msg  string
	code string
	err  error
}

func (e *callError) Error() string { return e.msg }
func (e *callError) Unwrap() error { return e.err }

// slackCode returns the ok:false code of a failed call, or "".
func slackCode(err error) string {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.code
	}
	return ""
}

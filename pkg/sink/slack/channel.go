package slack

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/stoa-platform/bridge/pkg/sink"
)

// channelIDPattern matches a Slack conversation ID: C (channel), G (legacy
// private channel) or D (DM), then upper-case letters and digits. Channel
// names are lower case, so no name matches.
var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]+$`)

// isChannelID reports whether a configured channel is an ID, used as is,
// rather than a name ("#name" or "name") to resolve.
func isChannelID(channel string) bool { return channelIDPattern.MatchString(channel) }

// channelName is the bare name of a configured channel: "#incidents" and
// "incidents" are the same channel.
func channelName(channel string) string { return strings.TrimPrefix(channel, "#") }

// Bounds of a conversations.list walk. A page holds at most listPageSize
// channels (Slack's maximum), often fewer; past listMaxPages the name is
// reported as not found rather than walking on into the rate limit
// (conversations.list is Tier 2, about 20 calls a minute).
const (
	listPageSize = 1000
	listMaxPages = 50
)

// listTypes are the conversations the bot may be configured to post to.
// private_channel needs the groups:read scope, and lists only the private
// channels the bot is in.
var listTypes = []string{"public_channel", "private_channel"}

// channelIDs caches channel name → ID. A channel's ID never changes, and a
// rename is rare enough that the mapping has no expiry; each successful post
// by name refreshes it anyway. Only successful lookups are stored: a failure
// is retried with the delivery. It is behind a pointer so that the Sink,
// which holds it, can be copied without copying the lock.
type channelIDs struct {
	mu  sync.Mutex
	ids map[string]string // bare name → ID
}

func newChannelIDs() *channelIDs { return &channelIDs{ids: make(map[string]string)} }

func (c *channelIDs) get(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[name]
	return id, ok
}

func (c *channelIDs) set(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[name] = id
}

// learn records the ID Slack answered to a post to channel, so that a later
// uncertain delivery to the same channel finds its ID without listing the
// workspace's channels.
func (s *Sink) learn(channel, id string) {
	if isChannelID(channel) || id == "" {
		return
	}
	s.channelIDs.set(channelName(channel), id)
}

// findPosted looks in a configured channel's history for the top-level
// message carrying key, posted no earlier than searchSlack before since. It
// returns the channel's ID and the message's ts.
func (s *Sink) findPosted(ctx context.Context, cl *client, channel, key string, since time.Time) (string, string, bool, error) {
	id, err := s.resolveChannel(ctx, cl, channel)
	if err != nil {
		return "", "", false, err
	}
	ts, ok, err := cl.findInHistory(ctx, id, key, since)
	if err != nil {
		return "", "", false, err
	}
	return id, ts, ok, nil
}

// postTop posts m as a top-level message to a configured channel and
// returns the channel's ID and the message's ts. It posts to the channel as
// configured, not to a cached ID, so that a name always reaches the channel
// that bears it now; the answer refreshes the cache.
func (s *Sink) postTop(ctx context.Context, cl *client, channel string, m message, md slackgo.SlackMetadata) (string, string, error) {
	id, ts, err := cl.post(ctx, channel, "", m, md)
	if err != nil {
		return "", "", err
	}
	s.learn(channel, id)
	return id, ts, nil
}

// resolveChannel returns the ID of a configured channel: an ID as is, a
// name from the cache or else from conversations.list. The history and
// thread methods, and chat.update, take only IDs.
//
// Two deliveries that miss the cache at once both list; the second answer
// overwrites the first with the same ID.
func (s *Sink) resolveChannel(ctx context.Context, cl *client, channel string) (string, error) {
	if isChannelID(channel) {
		return channel, nil
	}
	name := channelName(channel)
	if id, ok := s.channelIDs.get(name); ok {
		return id, nil
	}
	id, err := cl.findChannel(ctx, name)
	if err != nil {
		return "", err
	}
	s.channelIDs.set(name, id)
	s.log.LogAttrs(ctx, slog.LevelInfo, "resolved the channel name",
		slog.String("channel", "#"+name), slog.String("channel_id", id))
	return id, nil
}

// findChannel walks conversations.list for the channel called name. Archived
// channels are left out: the bot cannot post to them, so an earlier attempt
// cannot have either.
func (c *client) findChannel(ctx context.Context, name string) (string, error) {
	p := &slackgo.GetConversationsParameters{
		Types:           listTypes,
		ExcludeArchived: true,
		Limit:           listPageSize,
	}
	for range listMaxPages {
		chans, next, err := c.callList(ctx, p)
		if err != nil {
			return "", c.fail("conversations.list for", "#"+name, err)
		}
		for _, ch := range chans {
			if ch.Name == name {
				return ch.ID, nil
			}
		}
		// A page may hold fewer channels than the limit before the end:
		// only an empty cursor ends the list.
		if next == "" {
			return "", sink.Permanent(fmt.Errorf("slack: channel #%s not found (conversations.list)", name))
		}
		p.Cursor = next
	}
	return "", sink.Permanent(fmt.Errorf("slack: channel #%s not found in %d pages of conversations.list: configure its ID", name, listMaxPages))
}

func (c *client) callList(ctx context.Context, p *slackgo.GetConversationsParameters) ([]slackgo.Channel, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.api.GetConversationsContext(ctx, p)
}

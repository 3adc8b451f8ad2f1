package slacktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

const (
	chanID   = "C0ALERTS"
	chanName = "alerts"
)

func newServer(t *testing.T) (*slacktest.Server, *slackgo.Client) {
	t.Helper()
	s := slacktest.New(t)
	s.AddChannel(chanID, chanName)
	return s, slackgo.New(s.Token(), slackgo.OptionAPIURL(s.URL()))
}

// call posts a form to method and decodes the answer.
func call(t *testing.T, s *slacktest.Server, method string, form url.Values, header http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+method, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

// callJSON posts a JSON body to method with the bearer token.
func callJSON(t *testing.T, s *slacktest.Server, method, token string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL()+method, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: decode answer: %v", req.URL.Path, err)
	}
	return resp.StatusCode, out
}

func TestErrorCodes(t *testing.T) {
	s, api := newServer(t)
	s.AddChannel("C0KICKED", "kicked")
	s.Kick("C0KICKED")
	s.AddChannel("C0ARCHIVED", "archived")
	s.Archive("C0ARCHIVED")
	_, parentTS, err := api.PostMessage(chanID, slackgo.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Token()
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	tests := []struct {
		name   string
		method string
		form   url.Values
		header http.Header
		want   string
	}{
		{"no token", "chat.postMessage", form("channel", chanID, "text", "hi"), nil, "not_authed"},
		{"wrong form token", "chat.postMessage", form("token", "xoxb-wrong", "channel", chanID, "text", "hi"), nil, "invalid_auth"},
		{"wrong bearer token", "auth.test", nil, http.Header{"Authorization": {"Bearer xoxb-wrong"}}, "invalid_auth"},
		{"unknown channel", "chat.postMessage", form("token", tok, "channel", "C0NOPE", "text", "hi"), nil, "channel_not_found"},
		{"unknown channel name", "chat.postMessage", form("token", tok, "channel", "#nope", "text", "hi"), nil, "channel_not_found"},
		{"no channel", "chat.postMessage", form("token", tok, "text", "hi"), nil, "channel_not_found"},
		{"not a member", "chat.postMessage", form("token", tok, "channel", "C0KICKED", "text", "hi"), nil, "not_in_channel"},
		{"archived", "chat.postMessage", form("token", tok, "channel", "C0ARCHIVED", "text", "hi"), nil, "is_archived"},
		{"no text", "chat.postMessage", form("token", tok, "channel", chanID), nil, "no_text"},
		{"empty blocks no text", "chat.postMessage", form("token", tok, "channel", chanID, "blocks", "[]"), nil, "no_text"},
		{"blocks not json", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "blocks", "[{"), nil, "invalid_blocks"},
		{"blocks an object", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "blocks", `{"type":"divider"}`), nil, "invalid_blocks"},
		{"blocks of strings", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "blocks", `["divider"]`), nil, "invalid_blocks"},
		{"block without type", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "blocks", `[{"text":{"type":"mrkdwn","text":"x"}}]`), nil, "invalid_blocks"},
		{"header too long", "chat.postMessage", form("token", tok, "channel", chanID, "blocks", `[{"type":"header","text":{"type":"plain_text","text":"`+strings.Repeat("x", 151)+`"}}]`), nil, "invalid_blocks"},
		{"section text too long", "chat.postMessage", form("token", tok, "channel", chanID, "blocks", `[{"type":"section","text":{"type":"mrkdwn","text":"`+strings.Repeat("x", 3001)+`"}}]`), nil, "invalid_blocks"},
		{"text too long", "chat.postMessage", form("token", tok, "channel", chanID, "text", strings.Repeat("x", 40001)), nil, "msg_too_long"},
		{"unknown thread", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "thread_ts", "1.000001"), nil, "thread_not_found"},
		{"bad metadata", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "metadata", "{"), nil, "invalid_metadata_format"},
		{"metadata without type", "chat.postMessage", form("token", tok, "channel", chanID, "text", "t", "metadata", `{"event_payload":{}}`), nil, "invalid_metadata_schema"},
		{"update unknown ts", "chat.update", form("token", tok, "channel", chanID, "ts", "1.000001", "text", "t"), nil, "message_not_found"},
		{"update by channel name", "chat.update", form("token", tok, "channel", "#"+chanName, "ts", parentTS, "text", "t"), nil, "channel_not_found"},
		{"update no text", "chat.update", form("token", tok, "channel", chanID, "ts", parentTS), nil, "no_text"},
		{"history by channel name", "conversations.history", form("token", tok, "channel", chanName), nil, "channel_not_found"},
		{"history not a member", "conversations.history", form("token", tok, "channel", "C0KICKED"), nil, "not_in_channel"},
		{"replies unknown thread", "conversations.replies", form("token", tok, "channel", chanID, "ts", "1.000001"), nil, "thread_not_found"},
		{"list no token", "conversations.list", form(), nil, "not_authed"},
		{"list wrong token", "conversations.list", form("token", "xoxb-wrong"), nil, "invalid_auth"},
		{"list wrong bearer token", "conversations.list", nil, http.Header{"Authorization": {"Bearer xoxb-wrong"}}, "invalid_auth"},
		{"list unknown type", "conversations.list", form("token", tok, "types", "public_channel,channel"), nil, "invalid_types"},
		{"list bad limit", "conversations.list", form("token", tok, "limit", "-1"), nil, "invalid_limit"},
		{"list bad cursor", "conversations.list", form("token", tok, "cursor", "dHM6MS4w"), nil, "invalid_cursor"},
		{"list cursor not base64", "conversations.list", form("token", tok, "cursor", "%%%"), nil, "invalid_cursor"},
		{"unknown method", "chat.delete", form("token", tok), nil, "unknown_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := call(t, s, tt.method, tt.form, tt.header)
			want := map[string]any{"ok": false, "error": tt.want}
			if status != http.StatusOK {
				t.Errorf("status = %d, want 200", status)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s answer (-want +got):\n%s", tt.method, diff)
			}
		})
	}
	if n := len(s.Messages(chanID)); n != 1 {
		t.Errorf("after only failed calls, %d messages, want the 1 parent", n)
	}
}

func TestJSONBody(t *testing.T) {
	s, _ := newServer(t)
	status, got := callJSON(t, s, "chat.postMessage", s.Token(), map[string]any{
		"channel":  "#" + chanName,
		"text":     "hello",
		"blocks":   []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*hello*"}}},
		"metadata": map[string]any{"event_type": "bridge_event", "event_payload": map[string]any{"idempotency_key": "k1"}},
	})
	if status != http.StatusOK || got["ok"] != true {
		t.Fatalf("JSON chat.postMessage = %d %v, want 200 ok", status, got)
	}
	if got["channel"] != chanID {
		t.Errorf("channel = %v, want the ID %s", got["channel"], chanID)
	}
	msgs := s.Messages(chanID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	if msgs[0].Metadata == nil || msgs[0].Metadata.EventPayload["idempotency_key"] != "k1" {
		t.Errorf("metadata = %+v, want idempotency_key k1", msgs[0].Metadata)
	}
	if !strings.Contains(string(msgs[0].Blocks), "*hello*") {
		t.Errorf("blocks = %s, want the section", msgs[0].Blocks)
	}

	// Slack reads a JSON body's token from the header only.
	_, got = callJSON(t, s, "chat.postMessage", "", map[string]any{"token": s.Token(), "channel": chanID, "text": "x"})
	if got["error"] != "not_authed" {
		t.Errorf("JSON body with token field and no header: %v, want not_authed", got)
	}
	_, got = callJSON(t, s, "auth.test", "xoxb-wrong", map[string]any{})
	if got["error"] != "invalid_auth" {
		t.Errorf("JSON auth.test with a wrong token: %v, want invalid_auth", got)
	}
}

func TestPostUpdateHistoryReplies(t *testing.T) {
	s, api := newServer(t)
	ctx := context.Background()
	md := func(key string) slackgo.MsgOption {
		return slackgo.MsgOptionMetadata(slackgo.SlackMetadata{EventType: "bridge_event", EventPayload: map[string]any{"idempotency_key": key}})
	}
	block := slackgo.NewSectionBlock(slackgo.NewTextBlockObject(slackgo.MarkdownType, "*alert*", false, false), nil, nil)

	ch, ts1, err := api.PostMessageContext(ctx, "#"+chanName, slackgo.MsgOptionText("alert", false), slackgo.MsgOptionBlocks(block), md("k1"))
	if err != nil {
		t.Fatalf("PostMessage by #name: %v", err)
	}
	if ch != chanID {
		t.Errorf("PostMessage channel = %q, want the ID %q", ch, chanID)
	}
	_, ts2, err := api.PostMessageContext(ctx, chanName, slackgo.MsgOptionText("second", false))
	if err != nil {
		t.Fatalf("PostMessage by name: %v", err)
	}
	_, rts, err := api.PostMessageContext(ctx, chanID, slackgo.MsgOptionText("reply", false), slackgo.MsgOptionTS(ts1), md("k2"))
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	// A reply to a reply joins the parent's thread.
	_, rts2, err := api.PostMessageContext(ctx, chanID, slackgo.MsgOptionText("reply 2", false), slackgo.MsgOptionTS(rts))
	if err != nil {
		t.Fatalf("reply to reply: %v", err)
	}
	if ts1 >= ts2 || ts2 >= rts || rts >= rts2 {
		t.Errorf("ts not strictly increasing: %s %s %s %s", ts1, ts2, rts, rts2)
	}

	// Text only: the blocks stay.
	if _, _, _, err := api.UpdateMessageContext(ctx, chanID, ts1, slackgo.MsgOptionText("resolved", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	msgs := s.Messages(chanID)
	if len(msgs) != 2 {
		t.Fatalf("%d top-level messages, want 2", len(msgs))
	}
	m := msgs[0]
	if m.Text != "resolved" || m.PostedText != "alert" || m.Updates != 1 || !strings.Contains(string(m.Blocks), "*alert*") {
		t.Errorf("updated message = text %q posted %q updates %d blocks %s; want resolved/alert/1/kept", m.Text, m.PostedText, m.Updates, m.Blocks)
	}
	if len(m.Replies) != 2 || m.Replies[0].TS != rts || m.Replies[0].ThreadTS != ts1 || m.Replies[1].TS != rts2 {
		t.Errorf("replies = %+v, want %s and %s in thread %s", m.Replies, rts, rts2, ts1)
	}
	// An empty block list removes the blocks.
	if _, _, _, err := api.UpdateMessageContext(ctx, chanID, ts1, slackgo.MsgOptionBlocks()); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if m := s.Messages(chanName)[0]; len(m.Blocks) != 0 || m.Updates != 2 {
		t.Errorf("after clearing: blocks %s updates %d, want none and 2", m.Blocks, m.Updates)
	}

	hist, err := api.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{ChannelID: chanID, IncludeAllMetadata: true})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	var got []string
	for _, m := range hist.Messages {
		got = append(got, m.Timestamp+"|"+m.Metadata.EventType)
	}
	if diff := cmp.Diff([]string{ts2 + "|", ts1 + "|bridge_event"}, got); diff != "" {
		t.Errorf("history, newest first, top-level only (-want +got):\n%s", diff)
	}
	if hist.Messages[1].ReplyCount != 2 || hist.Messages[1].ThreadTimestamp != ts1 {
		t.Errorf("parent reply_count %d thread_ts %q, want 2 and %s", hist.Messages[1].ReplyCount, hist.Messages[1].ThreadTimestamp, ts1)
	}
	hist, err = api.GetConversationHistoryContext(ctx, &slackgo.GetConversationHistoryParameters{ChannelID: chanID})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if hist.Messages[1].Metadata.EventType != "" {
		t.Errorf("metadata without include_all_metadata: %+v, want none", hist.Messages[1].Metadata)
	}

	replies, _, _, err := api.GetConversationRepliesContext(ctx, &slackgo.GetConversationRepliesParameters{ChannelID: chanID, Timestamp: ts1, IncludeAllMetadata: true})
	if err != nil {
		t.Fatalf("replies: %v", err)
	}
	got = nil
	for _, m := range replies {
		got = append(got, m.Timestamp+"|"+fmt.Sprint(m.Metadata.EventPayload["idempotency_key"]))
	}
	if diff := cmp.Diff([]string{ts1 + "|k1", rts + "|k2", rts2 + "|<nil>"}, got); diff != "" {
		t.Errorf("replies, parent first (-want +got):\n%s", diff)
	}
}

func TestHistoryPages(t *testing.T) {
	_, api := newServer(t)
	ctx := context.Background()
	var all []string
	for i := range 7 {
		_, ts, err := api.PostMessageContext(ctx, chanID, slackgo.MsgOptionText(fmt.Sprint(i), false))
		if err != nil {
			t.Fatal(err)
		}
		all = append([]string{ts}, all...) // newest first
	}
	tests := []struct {
		name         string
		oldest       string
		inclusive    bool
		limit        int
		want         []string
		wantMorePage bool
	}{
		{"all in pages of 3", "", false, 3, all, true},
		{"oldest exclusive", all[3], false, 2, all[:3], true},
		{"oldest inclusive", all[3], true, 10, all[:4], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &slackgo.GetConversationHistoryParameters{ChannelID: chanID, Oldest: tt.oldest, Inclusive: tt.inclusive, Limit: tt.limit}
			var got []string
			pages := 0
			for {
				resp, err := api.GetConversationHistoryContext(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(resp.Messages) > tt.limit {
					t.Errorf("page of %d, limit %d", len(resp.Messages), tt.limit)
				}
				for _, m := range resp.Messages {
					got = append(got, m.Timestamp)
				}
				if !resp.HasMore {
					break
				}
				p.Cursor = resp.ResponseMetaData.NextCursor
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if (pages > 1) != tt.wantMorePage {
				t.Errorf("%d pages, want more than one: %v", pages, tt.wantMorePage)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	post := func(api *slackgo.Client) error {
		_, _, err := api.PostMessageContext(ctx, chanID, slackgo.MsgOptionText("x", false))
		return err
	}

	t.Run("rate limit with Retry-After", func(t *testing.T) {
		s, api := newServer(t)
		s.RateLimit("chat.postMessage", 2, 1500*time.Millisecond)
		for i := range 2 {
			var rl *slackgo.RateLimitedError
			if err := post(api); !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
				t.Errorf("call %d: %v, want RateLimitedError after 2s", i+1, err)
			}
		}
		if err := post(api); err != nil {
			t.Errorf("third call: %v, want success", err)
		}
		if got := s.Calls("chat.postMessage"); got != 3 {
			t.Errorf("Calls = %d, want 3", got)
		}
		if n := len(s.Messages(chanID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})

	t.Run("rate limit without Retry-After", func(t *testing.T) {
		s, api := newServer(t)
		s.RateLimit("chat.postMessage", 1, 0)
		var sc slackgo.StatusCodeError
		if err := post(api); !errors.As(err, &sc) || sc.Code != http.StatusTooManyRequests {
			t.Errorf("post: %v, want StatusCodeError 429", err)
		}
	})

	t.Run("HTTP status with HTML body", func(t *testing.T) {
		s, _ := newServer(t)
		s.Fail("chat.postMessage", 1, http.StatusServiceUnavailable)
		resp, err := http.PostForm(s.URL()+"chat.postMessage", url.Values{"token": {s.Token()}, "channel": {chanID}, "text": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html>") {
			t.Errorf("answer %d %q %q, want 503 text/html", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	t.Run("ok:false code", func(t *testing.T) {
		s, api := newServer(t)
		s.FailWith("chat.postMessage", 1, "internal_error")
		var se slackgo.SlackErrorResponse
		if err := post(api); !errors.As(err, &se) || se.Err != "internal_error" {
			t.Errorf("post: %v, want SlackErrorResponse internal_error", err)
		}
		if n := len(s.Messages(chanID)); n != 0 {
			t.Errorf("%d messages after a failed call, want 0", n)
		}
	})

	t.Run("every method", func(t *testing.T) {
		s, api := newServer(t)
		s.FailWith("*", 1, "fatal_error")
		s.FailWith("auth.test", 1, "account_inactive")
		if _, err := api.AuthTestContext(ctx); err == nil || err.Error() != "account_inactive" {
			t.Errorf("auth.test: %v, want the method's own fault first", err)
		}
		if _, err := api.AuthTestContext(ctx); err == nil || err.Error() != "fatal_error" {
			t.Errorf("auth.test: %v, want the \"*\" fault", err)
		}
		if _, err := api.AuthTestContext(ctx); err != nil {
			t.Errorf("auth.test: %v, want success", err)
		}
	})

	t.Run("lost response", func(t *testing.T) {
		s, api := newServer(t)
		s.LoseResponse("chat.postMessage", 1)
		var sc slackgo.StatusCodeError
		var se slackgo.SlackErrorResponse
		if err := post(api); err == nil || errors.As(err, &sc) || errors.As(err, &se) {
			t.Errorf("post: %v, want a transport error", err)
		}
		if n := len(s.Messages(chanID)); n != 1 {
			t.Errorf("%d messages, want the 1 the lost call made", n)
		}
	})
}

func TestAuthTest(t *testing.T) {
	s, api := newServer(t)
	resp, err := api.AuthTestContext(context.Background())
	if err != nil {
		t.Fatalf("AuthTest: %v", err)
	}
	if resp.BotID == "" || resp.UserID == "" || resp.TeamID == "" {
		t.Errorf("AuthTest = %+v, want bot, user and team ids", resp)
	}
	other := slacktest.New(t, slacktest.WithToken("xoxb-fixed"))
	if other.Token() != "xoxb-fixed" || s.Token() == other.Token() {
		t.Errorf("tokens %q and %q, want a random one and the fixed one", s.Token(), other.Token())
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/") {
		t.Errorf("URL() = %q, want http://127.0.0.1:<port>/", s.URL())
	}
}

func TestRotateToken(t *testing.T) {
	s, _ := newServer(t)
	old := s.Token()
	rotated := s.RotateToken()
	if rotated == old || s.Token() != rotated || !strings.HasPrefix(rotated, "xoxb-") {
		t.Fatalf("RotateToken() = %q, Token() = %q, old %q: want a new xoxb- token in use", rotated, s.Token(), old)
	}
	tests := []struct {
		name, token, wantErr string
	}{
		{"old token", old, "invalid_auth"},
		{"new token", rotated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := callJSON(t, s, "chat.postMessage", tt.token, map[string]any{"channel": chanID, "text": "hi"})
			if got, _ := out["error"].(string); got != tt.wantErr || (out["ok"] == true) != (tt.wantErr == "") {
				t.Errorf("chat.postMessage = %v, want error %q", out, tt.wantErr)
			}
		})
	}
}

func TestConcurrentPosts(t *testing.T) {
	s, api := newServer(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, _, err := api.PostMessage(chanID, slackgo.MsgOptionText(fmt.Sprint(i), false))
			errs <- err
			_ = s.Messages(chanID)
			_ = s.Calls("chat.postMessage")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	msgs := s.Messages(chanID)
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i-1].TS >= msgs[i].TS {
			t.Errorf("ts %s then %s: not strictly increasing", msgs[i-1].TS, msgs[i].TS)
		}
	}
}

// listAll pages through conversations.list and returns "id name flags"
// for each channel, with the number of pages.
func listAll(t *testing.T, api *slackgo.Client, p slackgo.GetConversationsParameters) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for {
		chans, next, err := api.GetConversationsContext(context.Background(), &p)
		if err != nil {
			t.Fatalf("GetConversations(%+v) = %v", p, err)
		}
		pages++
		if p.Limit > 0 && len(chans) > p.Limit {
			t.Errorf("page of %d, limit %d", len(chans), p.Limit)
		}
		for _, c := range chans {
			got = append(got, fmt.Sprintf("%s %s channel=%v private=%v archived=%v member=%v",
				c.ID, c.Name, c.IsChannel, c.IsPrivate, c.IsArchived, c.IsMember))
		}
		if next == "" {
			return got, pages
		}
		p.Cursor = next
	}
}

func TestList(t *testing.T) {
	s, api := newServer(t)
	s.AddChannel("C0KICKED", "kicked")
	s.Kick("C0KICKED")
	s.AddChannel("C0ARCHIVED", "archived")
	s.Archive("C0ARCHIVED")
	s.AddPrivateChannel("C0SECRET", "secret")
	s.AddPrivateChannel("G0LEGACY", "legacy")
	s.AddPrivateChannel("C0HIDDEN", "hidden")
	s.Kick("C0HIDDEN")

	const (
		alerts   = "C0ALERTS alerts channel=true private=false archived=false member=true"
		archived = "C0ARCHIVED archived channel=true private=false archived=true member=true"
		kicked   = "C0KICKED kicked channel=true private=false archived=false member=false"
		secret   = "C0SECRET secret channel=true private=true archived=false member=true"
		legacy   = "G0LEGACY legacy channel=true private=true archived=false member=true"
	)
	tests := []struct {
		name string
		p    slackgo.GetConversationsParameters
		want []string
	}{
		{"default types: public only", slackgo.GetConversationsParameters{}, []string{alerts, archived, kicked}},
		{"public and private", slackgo.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}},
			[]string{alerts, archived, kicked, secret, legacy}},
		{"private only", slackgo.GetConversationsParameters{Types: []string{"private_channel"}}, []string{secret, legacy}},
		{"exclude archived", slackgo.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, ExcludeArchived: true},
			[]string{alerts, kicked, secret, legacy}},
		{"no DMs in the fake", slackgo.GetConversationsParameters{Types: []string{"mpim", "im"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := listAll(t, api, tt.p)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("conversations.list (-want +got):\n%s", diff)
			}
			if pages != 1 {
				t.Errorf("%d pages, want 1", pages)
			}
		})
	}

	t.Run("raw answer", func(t *testing.T) {
		_, got := call(t, s, "conversations.list", url.Values{"token": {s.Token()}, "limit": {"1"}}, nil)
		want := map[string]any{
			"ok": true,
			"channels": []any{map[string]any{
				"id": chanID, "name": chanName, "name_normalized": chanName,
				"is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
				"is_private": false, "is_archived": false, "is_member": true,
			}},
			"response_metadata": map[string]any{"next_cursor": "aWQ6QzBBUkNISVZFRA=="},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("conversations.list answer (-want +got):\n%s", diff)
		}
	})

	t.Run("JSON body", func(t *testing.T) {
		_, got := callJSON(t, s, "conversations.list", s.Token(), map[string]any{"types": "private_channel", "exclude_archived": true})
		chans, _ := got["channels"].([]any)
		if got["ok"] != true || len(chans) != 2 {
			t.Errorf("JSON conversations.list = %v, want the 2 private channels", got)
		}
	})
}

func TestListPages(t *testing.T) {
	s, api := newServer(t)
	all := []string{chanID}
	for i := range 6 {
		id := fmt.Sprintf("C0CHAN%d", i)
		s.AddChannel(id, fmt.Sprintf("chan-%d", i))
		all = append(all, id)
	}
	ids := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			id, _, _ := strings.Cut(l, " ")
			out = append(out, id)
		}
		return out
	}

	tests := []struct {
		name      string
		limit     int
		short     int
		wantPages int
	}{
		{"default limit", 0, 0, 1},
		{"pages of 3", 3, 0, 3},
		{"pages of 1", 1, 0, 7},
		{"limit of 7", 7, 0, 1},
		{"short pages under the limit", 100, 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ShortPages(tt.short)
			defer s.ShortPages(0)
			got, pages := listAll(t, api, slackgo.GetConversationsParameters{Limit: tt.limit})
			if diff := cmp.Diff(all, ids(got)); diff != "" {
				t.Errorf("channels over all pages (-want +got):\n%s", diff)
			}
			if pages != tt.wantPages {
				t.Errorf("%d pages, want %d", pages, tt.wantPages)
			}
		})
	}

	t.Run("limit capped at 1000", func(t *testing.T) {
		big := slacktest.New(t)
		for i := range 1001 {
			big.AddChannel(fmt.Sprintf("C%05d", i), fmt.Sprintf("c-%d", i))
		}
		bigAPI := slackgo.New(big.Token(), slackgo.OptionAPIURL(big.URL()))
		chans, next, err := bigAPI.GetConversationsContext(context.Background(), &slackgo.GetConversationsParameters{Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(chans) != 1000 || next == "" {
			t.Errorf("limit 5000: %d channels, cursor %q; want 1000 and a cursor", len(chans), next)
		}
		chans, next, err = bigAPI.GetConversationsContext(context.Background(), &slackgo.GetConversationsParameters{Limit: 5000, Cursor: next})
		if err != nil {
			t.Fatal(err)
		}
		if len(chans) != 1 || chans[0].ID != "C01000" || next != "" {
			t.Errorf("second page: %d channels, cursor %q; want C01000 alone and no cursor", len(chans), next)
		}
	})

	t.Run("short pages in history", func(t *testing.T) {
		for i := range 3 {
			if _, _, err := api.PostMessage(chanID, slackgo.MsgOptionText(fmt.Sprint(i), false)); err != nil {
				t.Fatal(err)
			}
		}
		s.ShortPages(2)
		defer s.ShortPages(0)
		resp, err := api.GetConversationHistoryContext(context.Background(), &slackgo.GetConversationHistoryParameters{ChannelID: chanID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Messages) != 2 || !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			t.Errorf("history with short pages: %d messages, has_more %v; want 2 and more", len(resp.Messages), resp.HasMore)
		}
	})
}

func TestListFaults(t *testing.T) {
	ctx := context.Background()
	list := func(api *slackgo.Client) error {
		_, _, err := api.GetConversationsContext(ctx, &slackgo.GetConversationsParameters{})
		return err
	}
	t.Run("rate limit with Retry-After", func(t *testing.T) {
		s, api := newServer(t)
		s.RateLimit("conversations.list", 1, 20*time.Second)
		var rl *slackgo.RateLimitedError
		if err := list(api); !errors.As(err, &rl) || rl.RetryAfter != 20*time.Second {
			t.Errorf("list: %v, want RateLimitedError after 20s", err)
		}
		if err := list(api); err != nil {
			t.Errorf("second list: %v, want success", err)
		}
		if got := s.Calls("conversations.list"); got != 2 {
			t.Errorf("Calls = %d, want 2", got)
		}
	})
	t.Run("HTTP status", func(t *testing.T) {
		s, api := newServer(t)
		s.Fail("conversations.list", 1, http.StatusBadGateway)
		var sc slackgo.StatusCodeError
		if err := list(api); !errors.As(err, &sc) || sc.Code != http.StatusBadGateway {
			t.Errorf("list: %v, want StatusCodeError 502", err)
		}
	})
	t.Run("ok:false code", func(t *testing.T) {
		s, api := newServer(t)
		s.FailWith("conversations.list", 1, "missing_scope")
		var se slackgo.SlackErrorResponse
		if err := list(api); !errors.As(err, &se) || se.Err != "missing_scope" {
			t.Errorf("list: %v, want SlackErrorResponse missing_scope", err)
		}
	})
	t.Run("any method", func(t *testing.T) {
		s, api := newServer(t)
		s.FailWith("*", 1, "fatal_error")
		if err := list(api); err == nil || err.Error() != "fatal_error" {
			t.Errorf("list: %v, want the \"*\" fault", err)
		}
	})
	t.Run("lost response", func(t *testing.T) {
		s, api := newServer(t)
		s.LoseResponse("conversations.list", 1)
		var sc slackgo.StatusCodeError
		var se slackgo.SlackErrorResponse
		if err := list(api); err == nil || errors.As(err, &sc) || errors.As(err, &se) {
			t.Errorf("list: %v, want a transport error", err)
		}
	})
}

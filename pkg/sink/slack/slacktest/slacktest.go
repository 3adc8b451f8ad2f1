// Package slacktest is a stateful fake of the part of Slack's Web API the
// bridge uses: auth.test, chat.postMessage, chat.update,
// conversations.history, conversations.replies and conversations.list.
//
// It is a real HTTP server on 127.0.0.1, so it serves unit tests and the
// bridge binary run as a subprocess alike. It enforces Slack's contract
// rather than accepting anything: a missing or wrong token, an unknown
// channel, a channel the bot is not in, a message with no text, malformed
// blocks, an unknown thread or message all get the error code Slack gives,
// with HTTP 200 and {"ok":false,"error":"…"}. Faults (429 with Retry-After,
// 5xx with an HTML body, ok:false codes, a lost response, short pages) are
// injected per method. slack-go's own slacktest has no chat.update and keeps no history,
// hence this one.
package slacktest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Method names, as in the URL path after the API base.
const (
	MethodAuthTest             = "auth.test"
	MethodPostMessage          = "chat.postMessage"
	MethodUpdate               = "chat.update"
	MethodHistory              = "conversations.history"
	MethodReplies              = "conversations.replies"
	MethodList                 = "conversations.list"
	methodAny                  = "*"
	maxTextChars               = 40000
	maxBlocks                  = 50
	maxSectionTextChars        = 3000
	maxSectionFieldChars       = 2000
	maxSectionFields           = 10
	maxHeaderChars             = 150
	maxContextElements         = 10
	defaultHistoryLimit        = 100
	maxHistoryLimit            = 999
	defaultListLimit           = 100
	maxListLimit               = 1000
	botID, userID, teamID      = "B0BRIDGE", "U0BRIDGE", "T0BRIDGE"
	teamName, teamURL, botName = "bridge-test", "https://bridge-test.slack.com/", "bridge"
)

// Message is a message as the fake holds it: its current state and how it
// got there.
type Message struct {
	// Channel is the channel's ID.
	Channel string
	TS      string
	// ThreadTS is the parent's ts for a thread reply, empty otherwise.
	ThreadTS string
	// Text and Blocks are the current content, after any chat.update.
	Text   string
	Blocks json.RawMessage
	// PostedText is the text the message was posted with.
	PostedText string
	// Metadata is what chat.postMessage was given, or nil.
	Metadata *Metadata
	// Updates counts the chat.update calls applied to the message.
	Updates int
	// Replies are the thread's replies, oldest first (top-level messages only).
	Replies []Message
}

// Metadata is Slack message metadata.
type Metadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// Server is the fake. All its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	token    string
	channels map[string]*channel // by ID
	names    map[string]string   // name → ID
	lastTS   int64               // microseconds since the epoch
	calls    map[string]int
	faults   map[string][]fault
	// shortPages caps every page of a paginated answer; 0 means no cap.
	shortPages int
}

type channel struct {
	id, name string
	member   bool
	archived bool
	private  bool
	msgs     []*message // top-level, oldest first
}

type message struct {
	Message
	replies []*message
}

type faultKind int

const (
	faultRateLimit faultKind = iota
	faultStatus
	faultCode
	faultLose
)

type fault struct {
	kind       faultKind
	retryAfter time.Duration
	status     int
	code       string
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the bot token the server accepts instead of a random one.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// New starts a server on 127.0.0.1. When t is not nil the server is closed
// at the end of the test; otherwise (TestMain, a helper process) the caller
// calls Close.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{
		token:    newToken(),
		channels: make(map[string]*channel),
		names:    make(map[string]string),
		calls:    make(map[string]int),
		faults:   make(map[string][]fault),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s)
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the API base with its trailing slash, as slack.OptionAPIURL and
// the slack.api_url setting want it.
func (s *Server) URL() string { return s.srv.URL + "/" }

// Token is the only bot token the server accepts.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// RotateToken makes a new bot token the only one accepted, as reinstalling
// the app does, and returns it: the old one now answers invalid_auth.
func (s *Server) RotateToken() string {
	tok := newToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok
	return tok
}

func newToken() string {
	return "xoxb-" + randomDigits(12) + "-" + randomDigits(13) + "-" + randomAlnum(24)
}

// Close shuts the server down. It may be called more than once.
func (s *Server) Close() { s.srv.Close() }

// AddChannel registers a public channel with the bot as a member. The
// channel can then be named by id, name or #name in chat.postMessage; every
// other method wants the id, as in Slack. conversations.list maps the name
// to the id.
func (s *Server) AddChannel(id, name string) { s.addChannel(id, name, false) }

// AddPrivateChannel registers a private channel with the bot as a member.
// conversations.list shows it only for types=private_channel, and only
// while the bot is a member (see Kick).
func (s *Server) AddPrivateChannel(id, name string) { s.addChannel(id, name, true) }

func (s *Server) addChannel(id, name string, private bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimPrefix(name, "#")
	s.channels[id] = &channel{id: id, name: name, member: true, private: private}
	if name != "" {
		s.names[name] = id
	}
}

// Kick removes the bot from a channel: later calls about it answer
// not_in_channel, and conversations.list shows it with is_member false, or
// not at all if it is private.
func (s *Server) Kick(ch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupLocked(ch, true); c != nil {
		c.member = false
	}
}

// Archive archives a channel: later posts to it answer is_archived, and
// conversations.list with exclude_archived leaves it out.
func (s *Server) Archive(ch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupLocked(ch, true); c != nil {
		c.archived = true
	}
}

// RateLimit makes the next n calls of method answer HTTP 429 with
// {"ok":false,"error":"ratelimited"} and Retry-After in whole seconds
// (rounded up). A zero retryAfter sends no Retry-After header. Method "*"
// matches every method; faults for the method itself are used first.
func (s *Server) RateLimit(method string, n int, retryAfter time.Duration) {
	s.addFault(method, n, fault{kind: faultRateLimit, retryAfter: retryAfter})
}

// Fail makes the next n calls of method answer the HTTP status with an
// HTML body, as Slack's front end does for 5xx.
func (s *Server) Fail(method string, n int, status int) {
	s.addFault(method, n, fault{kind: faultStatus, status: status})
}

// FailWith makes the next n calls of method answer HTTP 200 with
// {"ok":false,"error":code}.
func (s *Server) FailWith(method string, n int, code string) {
	s.addFault(method, n, fault{kind: faultCode, code: code})
}

// LoseResponse makes the next n calls of method take effect and then close
// the connection without answering: the crash window between Slack doing
// something and the caller knowing it.
func (s *Server) LoseResponse(method string, n int) {
	s.addFault(method, n, fault{kind: faultLose})
}

// ShortPages makes every page of conversations.history,
// conversations.replies and conversations.list hold at most n items
// whatever the limit asked, with a cursor to the rest: Slack may return
// fewer items than the limit before the end of a list, so a caller must
// follow next_cursor, not compare a page's size with its limit. Zero or
// less removes the cap.
func (s *Server) ShortPages(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shortPages = max(n, 0)
}

func (s *Server) addFault(method string, n int, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], f)
	}
}

// Calls counts the requests made to method, faulted ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Messages returns the top-level messages of a channel (id, name or
// #name), oldest first, each with its replies. They are copies.
func (s *Server) Messages(ch string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupLocked(ch, true)
	if c == nil {
		return nil
	}
	out := make([]Message, 0, len(c.msgs))
	for _, m := range c.msgs {
		cp := m.copy()
		for _, r := range m.replies {
			cp.Replies = append(cp.Replies, r.copy())
		}
		out = append(out, cp)
	}
	return out
}

func (m *message) copy() Message {
	cp := m.Message
	cp.Blocks = slices.Clone(m.Blocks)
	cp.Replies = nil
	if m.Metadata != nil {
		md := *m.Metadata
		md.EventPayload = make(map[string]any, len(m.Metadata.EventPayload))
		for k, v := range m.Metadata.EventPayload {
			md.EventPayload[k] = v
		}
		cp.Metadata = &md
	}
	return cp
}

// lookupLocked finds a channel by id or, if byName, by name or #name.
func (s *Server) lookupLocked(ch string, byName bool) *channel {
	if c, ok := s.channels[ch]; ok {
		return c
	}
	if !byName {
		return nil
	}
	if id, ok := s.names[strings.TrimPrefix(ch, "#")]; ok {
		return s.channels[id]
	}
	return nil
}

// apiError is an ok:false answer.
type apiError string

func (e apiError) Error() string { return string(e) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	lose := false
	if f, ok := s.takeFault(method); ok {
		switch f.kind {
		case faultRateLimit:
			if f.retryAfter > 0 {
				secs := int64((f.retryAfter + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			}
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
			return
		case faultStatus:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(f.status)
			_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", f.status, http.StatusText(f.status))
			return
		case faultCode:
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": f.code})
			return
		case faultLose:
			lose = true
		}
	}

	resp, err := s.handle(method, r)
	if lose {
		// The call has taken effect; the caller must not learn it.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, herr := hj.Hijack(); herr == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	resp["ok"] = true
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) takeFault(method string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	for _, key := range []string{method, methodAny} {
		if q := s.faults[key]; len(q) > 0 {
			s.faults[key] = q[1:]
			return q[0], true
		}
	}
	return fault{}, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) handle(method string, r *http.Request) (map[string]any, error) {
	p, jsonBody, err := readParams(r)
	if err != nil {
		return nil, err
	}
	if err := s.authenticate(r, p, jsonBody); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case MethodAuthTest:
		return map[string]any{"url": teamURL, "team": teamName, "user": botName, "team_id": teamID,
			"user_id": userID, "bot_id": botID, "is_enterprise_install": false}, nil
	case MethodPostMessage:
		return s.postMessage(p)
	case MethodUpdate:
		return s.update(p)
	case MethodHistory:
		return s.history(p)
	case MethodReplies:
		return s.replies(p)
	case MethodList:
		return s.list(p)
	}
	return nil, apiError("unknown_method")
}

// params are a request's arguments, from a form, the query or a JSON body.
// A JSON value that is not a string is kept as its JSON text (blocks,
// metadata).
type params map[string]string

func readParams(r *http.Request) (params, bool, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	p := params{}
	if ct == "application/json" {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			return nil, true, apiError("invalid_json")
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, true, apiError("invalid_json")
		}
		for k, v := range raw {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p[k] = str
			} else if string(v) != "null" {
				p[k] = string(v)
			}
		}
		for k, v := range r.URL.Query() {
			if _, ok := p[k]; !ok && len(v) > 0 {
				p[k] = v[0]
			}
		}
		return p, true, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, false, apiError("invalid_form_data")
	}
	for k, v := range r.Form {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p, false, nil
}

// authenticate reads the token from the Authorization header or, for a
// form, the token field: Slack ignores a token in a JSON body.
func (s *Server) authenticate(r *http.Request, p params, jsonBody bool) error {
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer && !jsonBody {
		tok = p["token"]
	}
	s.mu.Lock()
	valid := s.token
	s.mu.Unlock()
	switch {
	case tok == "":
		return apiError("not_authed")
	case tok != valid:
		return apiError("invalid_auth")
	}
	return nil
}

func truthy(v string) bool { return v == "1" || v == "true" }

// nextTSLocked returns a Slack ts: the time in microseconds, strictly
// increasing across the server.
func (s *Server) nextTSLocked() string {
	now := time.Now().UnixMicro()
	if now <= s.lastTS {
		now = s.lastTS + 1
	}
	s.lastTS = now
	return fmt.Sprintf("%d.%06d", now/1e6, now%1e6)
}

// channelLocked resolves the channel argument and checks the bot may use it.
func (s *Server) channelLocked(p params, byName, write bool) (*channel, error) {
	c := s.lookupLocked(p["channel"], byName)
	switch {
	case c == nil:
		return nil, apiError("channel_not_found")
	case write && c.archived:
		return nil, apiError("is_archived")
	case !c.member:
		return nil, apiError("not_in_channel")
	}
	return c, nil
}

func (s *Server) postMessage(p params) (map[string]any, error) {
	c, err := s.channelLocked(p, true, true)
	if err != nil {
		return nil, err
	}
	text := p["text"]
	blocks, err := parseBlocks(p["blocks"])
	if err != nil {
		return nil, err
	}
	if text == "" && blocks == nil && !nonEmptyArray(p["attachments"]) {
		return nil, apiError("no_text")
	}
	if utf8.RuneCountInString(text) > maxTextChars {
		return nil, apiError("msg_too_long")
	}
	var parent *message
	if ts := p["thread_ts"]; ts != "" {
		if parent = findLocked(c, ts); parent == nil {
			return nil, apiError("thread_not_found")
		}
		if parent.ThreadTS != "" {
			// A reply to a reply joins the parent's thread.
			parent = findLocked(c, parent.ThreadTS)
		}
	}
	md, err := parseMetadata(p["metadata"])
	if err != nil {
		return nil, err
	}
	m := &message{Message: Message{
		Channel: c.id, TS: s.nextTSLocked(), Text: text, PostedText: text, Blocks: blocks, Metadata: md,
	}}
	if parent != nil {
		m.ThreadTS = parent.TS
		parent.replies = append(parent.replies, m)
	} else {
		c.msgs = append(c.msgs, m)
	}
	return map[string]any{"channel": c.id, "ts": m.TS, "message": renderLocked(m, false)}, nil
}

func (s *Server) update(p params) (map[string]any, error) {
	c, err := s.channelLocked(p, false, true)
	if err != nil {
		return nil, err
	}
	m := findLocked(c, p["ts"])
	if m == nil {
		return nil, apiError("message_not_found")
	}
	rawText, hasText := p["text"]
	rawBlocks, hasBlocks := p["blocks"]
	if !hasText && !hasBlocks && !nonEmptyArray(p["attachments"]) {
		return nil, apiError("no_text")
	}
	var blocks json.RawMessage
	if hasBlocks {
		if blocks, err = parseBlocks(rawBlocks); err != nil {
			return nil, err
		}
	}
	if utf8.RuneCountInString(rawText) > maxTextChars {
		return nil, apiError("msg_too_long")
	}
	if hasText {
		m.Text = rawText
	}
	if hasBlocks {
		// Omitted blocks are kept; an empty array removes them.
		m.Blocks = blocks
	}
	m.Updates++
	return map[string]any{"channel": c.id, "ts": m.TS, "text": m.Text, "message": renderLocked(m, false)}, nil
}

func (s *Server) history(p params) (map[string]any, error) {
	c, err := s.channelLocked(p, false, false)
	if err != nil {
		return nil, err
	}
	// Newest first, as Slack answers.
	msgs := slices.Clone(c.msgs)
	slices.Reverse(msgs)
	page, next, err := paginate(msgs, p, true, s.shortPages)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(page))
	for _, m := range page {
		out = append(out, renderLocked(m, truthy(p["include_all_metadata"])))
	}
	return map[string]any{"messages": out, "has_more": next != "", "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next}}, nil
}

func (s *Server) replies(p params) (map[string]any, error) {
	c, err := s.channelLocked(p, false, false)
	if err != nil {
		return nil, err
	}
	m := findLocked(c, p["ts"])
	if m == nil {
		return nil, apiError("thread_not_found")
	}
	if m.ThreadTS != "" {
		m = findLocked(c, m.ThreadTS)
	}
	// The parent first, then its replies, oldest first.
	msgs := append([]*message{m}, m.replies...)
	page, next, err := paginate(msgs, p, false, s.shortPages)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(page))
	for _, m := range page {
		out = append(out, renderLocked(m, truthy(p["include_all_metadata"])))
	}
	return map[string]any{"messages": out, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}}, nil
}

// paginate applies oldest, latest, inclusive, limit and cursor to msgs,
// which are in answer order. The cursor is the ts of the next message.
func paginate(msgs []*message, p params, newestFirst bool, short int) ([]*message, string, error) {
	oldest, latest, inclusive := p["oldest"], p["latest"], truthy(p["inclusive"])
	limit, err := pageLimit(p, defaultHistoryLimit, maxHistoryLimit, short)
	if err != nil {
		return nil, "", err
	}
	start := ""
	if cur := p["cursor"]; cur != "" {
		b, err := base64.StdEncoding.DecodeString(cur)
		if err != nil || !strings.HasPrefix(string(b), "ts:") {
			return nil, "", apiError("invalid_cursor")
		}
		start = strings.TrimPrefix(string(b), "ts:")
	}
	var in []*message
	for _, m := range msgs {
		if oldest != "" && (tsLess(m.TS, oldest) || (!inclusive && m.TS == oldest)) {
			continue
		}
		if latest != "" && (tsLess(latest, m.TS) || (!inclusive && m.TS == latest)) {
			continue
		}
		if start != "" && m.TS != start && (tsLess(m.TS, start) != newestFirst) {
			continue
		}
		in = append(in, m)
	}
	if len(in) <= limit {
		return in, "", nil
	}
	return in[:limit], base64.StdEncoding.EncodeToString([]byte("ts:" + in[limit].TS)), nil
}

// pageLimit reads the limit argument: absent or 0 means def, more than
// most means most, and a short-pages cap lowers it further.
func pageLimit(p params, def, most, short int) (int, error) {
	limit := def
	if v := p["limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, apiError("invalid_limit")
		}
		if n > 0 {
			limit = min(n, most)
		}
	}
	if short > 0 {
		limit = min(limit, short)
	}
	return limit, nil
}

// Conversation types of conversations.list.
const (
	typePublic  = "public_channel"
	typePrivate = "private_channel"
	typeMPIM    = "mpim"
	typeIM      = "im"
)

// list answers conversations.list: the channels of the requested types
// (public_channel by default), ordered by id, the cursor holding the id
// the next page starts at. Public channels are listed whether the bot is
// in them or not; private ones only while it is, as Slack does for a bot.
// The fake has no DMs, so mpim and im add nothing.
func (s *Server) list(p params) (map[string]any, error) {
	types := map[string]bool{typePublic: true}
	if v := p["types"]; v != "" {
		types = map[string]bool{}
		for t := range strings.SplitSeq(v, ",") {
			switch t = strings.TrimSpace(t); t {
			case typePublic, typePrivate, typeMPIM, typeIM:
				types[t] = true
			default:
				return nil, apiError("invalid_types")
			}
		}
	}
	limit, err := pageLimit(p, defaultListLimit, maxListLimit, s.shortPages)
	if err != nil {
		return nil, err
	}
	start := ""
	if cur := p["cursor"]; cur != "" {
		b, err := base64.StdEncoding.DecodeString(cur)
		if err != nil || !strings.HasPrefix(string(b), "id:") {
			return nil, apiError("invalid_cursor")
		}
		start = strings.TrimPrefix(string(b), "id:")
	}
	excludeArchived := truthy(p["exclude_archived"])

	var in []*channel
	for _, c := range s.channels {
		switch {
		case c.id < start:
		case c.private && (!types[typePrivate] || !c.member):
		case !c.private && !types[typePublic]:
		case excludeArchived && c.archived:
		default:
			in = append(in, c)
		}
	}
	slices.SortFunc(in, func(a, b *channel) int { return strings.Compare(a.id, b.id) })
	next := ""
	if len(in) > limit {
		next = base64.StdEncoding.EncodeToString([]byte("id:" + in[limit].id))
		in = in[:limit]
	}
	out := make([]map[string]any, 0, len(in))
	for _, c := range in {
		out = append(out, map[string]any{
			"id": c.id, "name": c.name, "name_normalized": c.name,
			"is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
			"is_private": c.private, "is_archived": c.archived, "is_member": c.member,
		})
	}
	return map[string]any{"channels": out, "response_metadata": map[string]any{"next_cursor": next}}, nil
}

// tsLess orders Slack timestamps without parsing them as floats.
func tsLess(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	if as != bs {
		return as < bs
	}
	af, bf = af+strings.Repeat("0", max(0, 6-len(af))), bf+strings.Repeat("0", max(0, 6-len(bf)))
	return af < bf
}

// findLocked finds a top-level message or a reply by ts.
func findLocked(c *channel, ts string) *message {
	if ts == "" {
		return nil
	}
	for _, m := range c.msgs {
		if m.TS == ts {
			return m
		}
		for _, r := range m.replies {
			if r.TS == ts {
				return r
			}
		}
	}
	return nil
}

// renderLocked is a message as Slack's API shows it.
func renderLocked(m *message, withMetadata bool) map[string]any {
	out := map[string]any{
		"type": "message", "subtype": "bot_message", "text": m.Text, "ts": m.TS,
		"bot_id": botID, "user": userID, "app_id": "A0BRIDGE", "team": teamID,
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
		out["parent_user_id"] = userID
	}
	if n := len(m.replies); n > 0 {
		out["thread_ts"] = m.TS
		out["reply_count"] = n
		out["reply_users"] = []string{userID}
		out["latest_reply"] = m.replies[n-1].TS
	}
	if m.Updates > 0 {
		out["edited"] = map[string]any{"user": userID, "ts": m.TS}
	}
	if withMetadata && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

func nonEmptyArray(raw string) bool {
	var a []json.RawMessage
	return raw != "" && json.Unmarshal([]byte(raw), &a) == nil && len(a) > 0
}

// parseBlocks checks blocks the way Slack does where it matters to the
// bridge: a JSON array of objects that each have a type, within Slack's
// limits on count and text length. An absent or empty array returns nil.
func parseBlocks(raw string) (json.RawMessage, error) {
	if raw == "" {
		return nil, nil
	}
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, apiError("invalid_blocks")
	}
	if len(blocks) == 0 {
		return nil, nil
	}
	if len(blocks) > maxBlocks {
		return nil, apiError("invalid_blocks")
	}
	for _, b := range blocks {
		if b == nil {
			return nil, apiError("invalid_blocks")
		}
		var typ string
		if json.Unmarshal(b["type"], &typ) != nil || typ == "" {
			return nil, apiError("invalid_blocks")
		}
		if err := checkBlock(typ, b); err != nil {
			return nil, err
		}
	}
	return json.RawMessage(raw), nil
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (t *textObject) valid(maxChars int, plainOnly bool) bool {
	if t.Type != "plain_text" && (plainOnly || t.Type != "mrkdwn") {
		return false
	}
	n := utf8.RuneCountInString(t.Text)
	return n > 0 && n <= maxChars
}

func checkBlock(typ string, b map[string]json.RawMessage) error {
	bad := apiError("invalid_blocks")
	switch typ {
	case "header":
		var t textObject
		if json.Unmarshal(b["text"], &t) != nil || !t.valid(maxHeaderChars, true) {
			return bad
		}
	case "section":
		var text *textObject
		var fields []textObject
		if raw, ok := b["text"]; ok && json.Unmarshal(raw, &text) != nil {
			return bad
		}
		if raw, ok := b["fields"]; ok && json.Unmarshal(raw, &fields) != nil {
			return bad
		}
		if text == nil && len(fields) == 0 {
			return bad
		}
		if text != nil && !text.valid(maxSectionTextChars, false) {
			return bad
		}
		if len(fields) > maxSectionFields {
			return bad
		}
		for _, f := range fields {
			if !f.valid(maxSectionFieldChars, false) {
				return bad
			}
		}
	case "context":
		var elems []map[string]json.RawMessage
		if json.Unmarshal(b["elements"], &elems) != nil || len(elems) == 0 || len(elems) > maxContextElements {
			return bad
		}
	}
	return nil
}

// parseMetadata reads the metadata argument: a JSON object (or its JSON
// text in a form) with an event_type and an event_payload object.
func parseMetadata(raw string) (*Metadata, error) {
	if raw == "" {
		return nil, nil
	}
	var md struct {
		EventType    *string         `json:"event_type"`
		EventPayload json.RawMessage `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(raw), &md); err != nil {
		return nil, apiError("invalid_metadata_format")
	}
	var payload map[string]any
	if md.EventType == nil || *md.EventType == "" || json.Unmarshal(md.EventPayload, &payload) != nil || payload == nil {
		return nil, apiError("invalid_metadata_schema")
	}
	return &Metadata{EventType: *md.EventType, EventPayload: payload}, nil
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomDigits(n int) string { return randomFrom("0123456789", n) }
func randomAlnum(n int) string  { return randomFrom(alnum, n) }

func randomFrom(set string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24.
	for i := range b {
		b[i] = set[int(b[i])%len(set)]
	}
	return string(b)
}

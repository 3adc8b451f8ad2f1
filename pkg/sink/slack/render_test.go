package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// hostileCheck carries what a webhook could send to break out of our
// markup: mentions, links, code fences, entities.
func hostileCheck() *bridgev1.CheckStatusChanged {
	at := time.Date(2025, 6, 3, 5, 16, 41, 0, time.UTC)
	return &bridgev1.CheckStatusChanged{
		CheckId:      "0b7c1e2a-0000-4000-8000-000000000001",
		Name:         "<!channel> backup & *restore* <https://evil.example|click>",
		Status:       bridgev1.CheckStatus_CHECK_STATUS_DOWN,
		ChangedAt:    timestamppb.New(at),
		Tags:         []string{"prod", "`tick`", "<!here>"},
		Description:  "Pings <@U024BE7LH> & <!subteam^SAZ94GDB8>",
		LastPingBody: strings.Repeat("x", 600) + "\n```\n<!channel> escaped?\n```` & done`",
		ExitStatus:   2,
		LastPing:     timestamppb.New(at),
		DetailsUrl:   "javascript:alert(1)",
	}
}

func TestRender(t *testing.T) {
	down := fixtureCheck(t, "down.json")
	up := fixtureCheck(t, "up.json")
	downAt := down.GetChangedAt().AsTime()
	tests := []struct {
		golden string
		msg    message
	}{
		{"down", renderCheckDown(down)},
		{"down-with-tags", renderCheckDown(fixtureCheck(t, "down-with-tags.json"))},
		{"down-hostile", renderCheckDown(hostileCheck())},
		{"up-reply", renderCheckRecovery(up, downAt)},
		{"up-reply-no-down-time", renderCheckRecovery(up, time.Time{})},
		{"resolved", renderCheckResolved(up, downAt)},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) { checkGolden(t, tt.golden, tt.msg) })
	}
}

// checkGolden compares m with testdata/<name>.golden.json, or rewrites
// that file under -update.
func checkGolden(t *testing.T, name string, m message) {
	t.Helper()
	got := marshalGolden(t, m)
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("rendered %s (-want +got):\n%s", name, diff)
	}
}

func marshalGolden(t *testing.T, m message) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Readable goldens: Slack's own escapes are what matter.
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRenderNeutralises checks the properties the hostile golden shows,
// so that an -update cannot bless a regression unnoticed.
func TestRenderNeutralises(t *testing.T) {
	m := renderCheckDown(hostileCheck())
	b := marshalGolden(t, m)
	var decoded struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []struct {
				Text string `json:"text"`
			} `json:"fields"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	var mrkdwn []string
	mrkdwn = append(mrkdwn, decoded.Text)
	for _, bl := range decoded.Blocks {
		if bl.Text != nil && bl.Text.Type == "mrkdwn" {
			mrkdwn = append(mrkdwn, bl.Text.Text)
		}
		for _, f := range bl.Fields {
			mrkdwn = append(mrkdwn, f.Text)
		}
		for _, e := range bl.Elements {
			mrkdwn = append(mrkdwn, e.Text)
		}
	}
	for _, s := range mrkdwn {
		for _, bad := range []string{"<!channel>", "<!here>", "<@U", "<!subteam", "<https://evil", "javascript:"} {
			if strings.Contains(s, bad) {
				t.Errorf("mrkdwn %q contains %q", s, bad)
			}
		}
		// Only our own <…> may remain: dates and the details link.
		rest := s
		for {
			i := strings.Index(rest, "<")
			if i < 0 {
				break
			}
			if !strings.HasPrefix(rest[i:], "<!date^") {
				t.Errorf("mrkdwn %q has an unescaped < at %q", s, rest[i:min(len(rest), i+20)])
			}
			rest = rest[i+1:]
		}
		if strings.Contains(s, "```") {
			inner := strings.TrimSuffix(s[strings.Index(s, "```")+3:], "```")
			if strings.Contains(inner, "```") {
				t.Errorf("code block %q can be closed early", s)
			}
			if !strings.HasSuffix(s, "```") {
				t.Errorf("code block %q is not closed last", s)
			}
		}
	}
	body := mrkdwn[len(mrkdwn)-2] // the ping body section
	if n := len([]rune(body)); n > 3000 {
		t.Errorf("ping body section is %d runes, Slack allows 3000", n)
	}
	if !strings.Contains(body, "done") || !strings.Contains(body, "```…x") || strings.Contains(body, strings.Repeat("x", 500)) {
		t.Errorf("ping body section %q: want the end of the body, trimmed", body)
	}
}

func TestEscapes(t *testing.T) {
	tests := []struct {
		name, in, want string
		f              func(string) string
	}{
		{"escape", "a & <!channel> > b", "a &amp; &lt;!channel&gt; &gt; b", escape},
		{"escape twice", "&amp;", "&amp;amp;", escape},
		{"backticks", "```x`", "`\u200b`\u200b`\u200bx`\u200b", neutraliseBackticks},
		{"inline code", "a`b<c>", "`aˋb&lt;c&gt;`", inlineCode},
		{"empty body", " \n\t", "", codeBlock},
		{"body", "ok\n", "```ok```", codeBlock},
		{"invalid utf-8", "a\xffb", "```a\uFFFDb```", codeBlock},
		{"safe url", "https://hc.example.org/checks/1/details/?a=1&b=2", "https://hc.example.org/checks/1/details/?a=1&amp;b=2", safeURL},
		{"url with pipe", "https://x.example/a|b", "https://x.example/a%7Cb", safeURL},
		{"not http", "javascript:alert(1)", "", safeURL},
		{"relative", "/checks/1", "", safeURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f(tt.in); got != tt.want {
				t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
			}
		})
	}
}

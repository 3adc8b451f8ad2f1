package github_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/event/eventtest"
	"github.com/stoa-platform/bridge/pkg/source"
	"github.com/stoa-platform/bridge/pkg/source/github"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures lists every webhook body in testdata, so that a fixture added
// there cannot go untested.
func fixtures(t testing.TB) []string {
	t.Helper()
	return eventtest.Fixtures(t, "*.json")
}

// eventName is the X-GitHub-Event a fixture was delivered with: its file
// name up to the first dot.
func eventName(file string) string {
	name, _, _ := strings.Cut(file, ".")
	return name
}

// headers returns delivery headers for a JSON body.
func headers(eventName string) http.Header {
	h := http.Header{}
	h.Set(github.HeaderEvent, eventName)
	h.Set(github.HeaderDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("Content-Type", "application/json")
	return h
}

// checkEvent checks what every event Parse makes must hold.
func checkEvent(t *testing.T, ev *event.Event) {
	t.Helper()
	if err := event.Validate(ev); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if _, err := event.Marshal(ev); err != nil {
		t.Errorf("Marshal: %v", err)
	}
	rp := ev.GetReleasePublished()
	want := struct{ Source, Type, Subject, Key, Origin string }{
		github.Source, event.TypePrefix + event.KindReleasePublished,
		rp.GetOwner() + "/" + rp.GetRepo(), event.ReleaseKey(rp.GetOwner(), rp.GetRepo(), rp.GetTag(), rp.GetPrerelease()), github.Origin,
	}
	got := struct{ Source, Type, Subject, Key, Origin string }{
		ev.GetSource(), ev.GetType(), ev.GetSubject(), ev.GetIdempotencyKey(), rp.GetOrigin(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envelope mismatch (-want +got):\n%s", diff)
	}
	if !ev.GetTime().AsTime().Equal(rp.GetPublishedAt().AsTime()) {
		t.Errorf("time %v is not published_at %v", ev.GetTime().AsTime(), rp.GetPublishedAt().AsTime())
	}
	if len(rp.GetBody()) > github.MaxReleaseBody || !utf8.ValidString(rp.GetBody()) {
		t.Errorf("body is %d bytes (valid UTF-8: %t), want at most %d", len(rp.GetBody()), utf8.ValidString(rp.GetBody()), github.MaxReleaseBody)
	}
}

func TestParseFixtures(t *testing.T) {
	// Every fixture: the golden file of its event, or why it is ignored.
	tests := map[string]struct {
		golden string
		reason string
		detail string
	}{
		"release.published.json":   {golden: "release.published.golden.json"},
		"release.published.2.json": {golden: "release.published.2.golden.json"},
		"release.released.json":    {golden: "release.released.golden.json"},
		"release.created.json":     {reason: "release_action", detail: "github: release action created: nothing to do"},
		"release.created.2.json":   {reason: "release_action", detail: "github: release action created: nothing to do"},
		"release.deleted.json":     {reason: "release_action", detail: "github: release action deleted: nothing to do"},
		"release.edited.json":      {reason: "release_action", detail: "github: release action edited: nothing to do"},
		"release.prereleased.json": {reason: "release_action", detail: "github: release action prereleased: nothing to do"},
		"ping.json":                {reason: "ping", detail: "github: ping: nothing to do"},
		"ping.2.json":              {reason: "ping", detail: "github: ping: nothing to do"},
		"ping.app.json":            {reason: "ping", detail: "github: ping: nothing to do"},
	}
	for _, file := range fixtures(t) {
		t.Run(file, func(t *testing.T) {
			tt, ok := tests[file]
			if !ok {
				t.Fatalf("no expectation for fixture %s: add it to the table", file)
			}
			ev, err := github.Parse(headers(eventName(file)), readFixture(t, file))
			if tt.golden == "" {
				checkIgnored(t, ev, err, tt.reason, tt.detail)
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", file, err)
			}
			checkEvent(t, ev)
			eventtest.Check(t, filepath.Join("testdata", tt.golden), eventtest.Golden(t, ev), *update, "update")
		})
	}
}

func checkIgnored(t *testing.T, ev *event.Event, err error, reason, detail string) {
	t.Helper()
	if ev != nil {
		t.Errorf("Parse made an event for an ignored delivery: %v", ev)
	}
	ig, ok := errors.AsType[*source.Ignored](err)
	if !ok {
		t.Fatalf("Parse error = %v, want a *source.Ignored", err)
	}
	if !errors.Is(err, source.ErrUnsupported) || errors.Is(err, source.ErrMalformed) {
		t.Errorf("error %v does not match ErrUnsupported alone", err)
	}
	if ig.Reason != reason || err.Error() != detail {
		t.Errorf("ignored = {%q, %q}, want {%q, %q}", ig.Reason, err.Error(), reason, detail)
	}
	if !slices.Contains(github.IgnoredReasons, ig.Reason) {
		t.Errorf("reason %q is not in IgnoredReasons %q", ig.Reason, github.IgnoredReasons)
	}
}

// derive returns a fixture with edit applied to its decoded JSON: the
// cases the fixtures lack (a draft, a published pre-release, …).
func derive(t testing.TB, file string, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFixture(t, file), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func release(m map[string]any) map[string]any    { return m["release"].(map[string]any) }
func repository(m map[string]any) map[string]any { return m["repository"].(map[string]any) }

func formBody(payload []byte) []byte {
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}

func TestParseDeliveries(t *testing.T) {
	published := readFixture(t, "release.published.json")
	const wantTime = "2019-05-15T15:20:53Z"
	base := func() *bridgev1.ReleasePublished {
		at, _ := time.Parse(time.RFC3339, wantTime)
		return &bridgev1.ReleasePublished{
			Owner: "Codertocat", Repo: "Hello-World", Tag: "0.0.1",
			Url:         "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1",
			PublishedAt: timestamppb.New(at), Origin: "webhook",
		}
	}
	with := func(f func(*bridgev1.ReleasePublished)) *bridgev1.ReleasePublished {
		rp := base()
		f(rp)
		return rp
	}
	// Notes of 70,000 bytes whose cut at 64 KiB falls inside a 3-byte rune.
	long := strings.Repeat("a", github.MaxReleaseBody-1) + strings.Repeat("€", 2000)

	tests := []struct {
		name    string
		header  func(h http.Header)
		body    []byte
		want    *bridgev1.ReleasePublished
		wantKey string
	}{
		{name: "published", body: published, want: base()},
		{
			name: "form-encoded", body: formBody(published), want: base(),
			header: func(h http.Header) { h.Set("Content-Type", "application/x-www-form-urlencoded") },
		},
		{
			name: "form-encoded with a charset", body: formBody(published), want: base(),
			header: func(h http.Header) { h.Set("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=utf-8") },
		},
		{
			name: "GitHub Enterprise Server", body: published, want: base(),
			header: func(h http.Header) {
				h.Set("X-GitHub-Enterprise-Version", "3.14.2")
				h.Set("X-GitHub-Enterprise-Host", "github.example.com")
				h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
			},
		},
		{
			name: "GitHub App delivery",
			body: derive(t, "release.published.json", func(m map[string]any) {
				m["installation"] = map[string]any{"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
			}),
			want: base(),
		},
		{
			name: "released", body: readFixture(t, "release.released.json"), want: base(),
		},
		{
			name: "published pre-release",
			body: derive(t, "release.published.json", func(m map[string]any) { release(m)["prerelease"] = true }),
			want: with(func(rp *bridgev1.ReleasePublished) { rp.Prerelease = true }),
		},
		{
			name: "name and notes",
			body: derive(t, "release.published.json", func(m map[string]any) {
				release(m)["name"] = "Hello 0.0.1"
				release(m)["body"] = "## Changes\n- first ✨\n"
			}),
			want: with(func(rp *bridgev1.ReleasePublished) { rp.Name, rp.Body = "Hello 0.0.1", "## Changes\n- first ✨\n" }),
		},
		{
			name: "notes over 64 KiB cut on a rune boundary",
			body: derive(t, "release.published.json", func(m map[string]any) { release(m)["body"] = long }),
			want: with(func(rp *bridgev1.ReleasePublished) { rp.Body = long[:github.MaxReleaseBody-1] }),
		},
		{
			name: "no published_at: created_at",
			body: derive(t, "release.published.json", func(m map[string]any) { release(m)["published_at"] = nil }),
			want: with(func(rp *bridgev1.ReleasePublished) {
				rp.PublishedAt = timestamppb.New(time.Date(2019, 5, 15, 15, 19, 25, 0, time.UTC))
			}),
		},
		{
			name: "owner and name only in full_name",
			body: derive(t, "release.published.json", func(m map[string]any) {
				delete(repository(m), "owner")
				delete(repository(m), "name")
			}),
			want: base(),
		},
		{
			name: "mixed-case owner keeps its case, the key is lower case",
			body: derive(t, "release.published.json", func(m map[string]any) {
				repository(m)["owner"].(map[string]any)["login"] = "KeyCloak"
				repository(m)["name"] = "KeyCloak"
				release(m)["tag_name"] = "26.6.1"
			}),
			want:    with(func(rp *bridgev1.ReleasePublished) { rp.Owner, rp.Repo, rp.Tag = "KeyCloak", "KeyCloak", "26.6.1" }),
			wantKey: "release:keycloak/keycloak@26.6.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers("release")
			if tt.header != nil {
				tt.header(h)
			}
			ev, err := github.Parse(h, tt.body)
			if err != nil {
				t.Fatalf("Parse error: %v", err)
			}
			checkEvent(t, ev)
			if diff := cmp.Diff(tt.want, ev.GetReleasePublished(), protocmp.Transform()); diff != "" {
				t.Errorf("payload mismatch (-want +got):\n%s", diff)
			}
			if tt.wantKey != "" && ev.GetIdempotencyKey() != tt.wantKey {
				t.Errorf("key = %q, want %q", ev.GetIdempotencyKey(), tt.wantKey)
			}
		})
	}
}

// TestPublishedAndReleasedShareAKey checks the promise the stream's dedupe
// rests on: GitHub's two deliveries for one release make one key, the
// release-watcher's key.
func TestPublishedAndReleasedShareAKey(t *testing.T) {
	var keys []string
	for _, file := range []string{"release.published.json", "release.published.2.json", "release.released.json"} {
		ev, err := github.Parse(headers("release"), readFixture(t, file))
		if err != nil {
			t.Fatalf("Parse(%s): %v", file, err)
		}
		keys = append(keys, ev.GetIdempotencyKey())
	}
	want := event.ReleaseKey("Codertocat", "Hello-World", "0.0.1", false)
	if diff := cmp.Diff([]string{want, want, want}, keys); diff != "" {
		t.Errorf("keys mismatch (-want +got):\n%s", diff)
	}
}

func TestParseIgnored(t *testing.T) {
	action := func(a string) []byte {
		return derive(t, "release.published.json", func(m map[string]any) { m["action"] = a })
	}
	tests := []struct {
		name   string
		event  string
		body   []byte
		reason string
		detail string
	}{
		{"unpublished", "release", action("unpublished"), "release_action", "github: release action unpublished: nothing to do"},
		{"undocumented action", "release", action("launched\n{}"), "release_action", "github: release action not handled"},
		{
			"draft", "release",
			derive(t, "release.published.json", func(m map[string]any) { release(m)["draft"] = true; release(m)["published_at"] = nil }),
			"draft", "github: draft release: nothing to do",
		},
		{
			"draft created", "release",
			derive(t, "release.created.json", func(m map[string]any) { release(m)["draft"] = true }),
			"release_action", "github: release action created: nothing to do",
		},
		{"push", "push", []byte(`{"ref":"refs/heads/main"}`), "event_type", `github: event type "push" is not handled`},
		{"release body under another event", "create", readFixture(t, "release.published.json"), "event_type", `github: event type "create" is not handled`},
		{"odd event name", "Release", readFixture(t, "release.published.json"), "event_type", "github: event type (unnamed) is not handled"},
		{"long event name", strings.Repeat("a", 65), []byte(`{}`), "event_type", "github: event type (unnamed) is not handled"},
		{"ping form-encoded", "ping", nil, "ping", "github: ping: nothing to do"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers(tt.event)
			body := tt.body
			if body == nil {
				h.Set("Content-Type", "application/x-www-form-urlencoded")
				body = formBody(readFixture(t, "ping.json"))
			}
			ev, err := github.Parse(h, body)
			checkIgnored(t, ev, err, tt.reason, tt.detail)
		})
	}
}

func TestParseErrors(t *testing.T) {
	published := readFixture(t, "release.published.json")
	edit := func(f func(m map[string]any)) []byte { return derive(t, "release.published.json", f) }
	tests := []struct {
		name   string
		header func(h http.Header)
		body   []byte
		want   string
	}{
		{"no X-GitHub-Event", func(h http.Header) { h.Del(github.HeaderEvent) }, published, "github: the X-GitHub-Event header is missing"},
		{"no X-GitHub-Delivery", func(h http.Header) { h.Del(github.HeaderDelivery) }, published, "github: the X-GitHub-Delivery header is missing"},
		{"truncated JSON", nil, published[:len(published)/2], "github: body is not valid JSON"},
		{"empty body", nil, nil, "github: body is not valid JSON"},
		{"null", nil, []byte("null"), "github: body is not a JSON object"},
		{"array", nil, []byte(`[{"action":"published"}]`), "github: body is not a JSON object"},
		{"string", nil, []byte(`"published"`), "github: body is not a JSON object"},
		{"form without payload", formHeader, []byte("release=1"), "github: the form has no payload field"},
		{"form with an empty payload", formHeader, []byte("payload="), "github: the form has no payload field"},
		{"form with a bad escape", formHeader, []byte("payload=%7B%zz"), "github: the form has no payload field"},
		{"JSON sent as a form", formHeader, published, "github: the form has no payload field"},
		{"form payload not JSON", formHeader, []byte("payload=%7B"), "github: body is not valid JSON"},
		{"no action", nil, edit(func(m map[string]any) { delete(m, "action") }), `github: "action" is missing`},
		{"no release", nil, edit(func(m map[string]any) { delete(m, "release") }), `github: "release" is missing`},
		{"no tag", nil, edit(func(m map[string]any) { delete(release(m), "tag_name") }), `github: "release.tag_name" is missing`},
		{"no repository", nil, edit(func(m map[string]any) { delete(m, "repository") }), `github: "repository.owner.login" is missing`},
		{"no repository name", nil, edit(func(m map[string]any) {
			delete(repository(m), "name")
			delete(repository(m), "full_name")
		}), `github: "repository.name" is missing`},
		{"tag with a newline", nil, edit(func(m map[string]any) { release(m)["tag_name"] = "v1\r\nNats-Msg-Id: x" }),
			`github: "release.tag_name" holds a space or a control character`},
		{"owner with a space", nil, edit(func(m map[string]any) { repository(m)["owner"].(map[string]any)["login"] = "a b" }),
			`github: "repository.owner.login" holds a space or a control character`},
		{"no times", nil, edit(func(m map[string]any) { release(m)["published_at"] = nil; delete(release(m), "created_at") }),
			`github: "release.published_at" is missing`},
		{"published_at not a time", nil, edit(func(m map[string]any) { release(m)["published_at"] = "yesterday" }),
			"github: a time is neither RFC 3339 nor a Unix time"},
		{"published_at before year 1", nil, edit(func(m map[string]any) { release(m)["published_at"] = -99999999999 }),
			`github: "release.published_at" is out of range`},
		{"draft a string", nil, edit(func(m map[string]any) { release(m)["draft"] = "no" }),
			`github: "release.draft" is a string, not a boolean`},
		{"tag a number", nil, edit(func(m map[string]any) { release(m)["tag_name"] = 1.5 }),
			`github: "release.tag_name" is a number, not a string`},
		{"ping not JSON", func(h http.Header) { h.Set(github.HeaderEvent, "ping") }, []byte("{zen"), "github: body is not valid JSON"},
		{"ping an array", func(h http.Header) { h.Set(github.HeaderEvent, "ping") }, []byte("[]"), "github: body is not a JSON object"},
		{"push not JSON", func(h http.Header) { h.Set(github.HeaderEvent, "push") }, []byte("ref=main"), "github: body is not valid JSON"},
		{"push an array", func(h http.Header) { h.Set(github.HeaderEvent, "push") }, []byte(" [1]"), "github: body is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers("release")
			if tt.header != nil {
				tt.header(h)
			}
			ev, err := github.Parse(h, tt.body)
			if ev != nil || err == nil {
				t.Fatalf("Parse = %v, %v; want an error", ev, err)
			}
			if !errors.Is(err, source.ErrMalformed) || errors.Is(err, source.ErrUnsupported) {
				t.Errorf("error %v does not match ErrMalformed alone", err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error = %q, want %q", err, tt.want)
			}
		})
	}
}

func formHeader(h http.Header) { h.Set("Content-Type", "application/x-www-form-urlencoded") }

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerify(t *testing.T) {
	const secret = "It's a Secret to Everybody"
	body := readFixture(t, "release.published.json")
	good := sign(secret, body)
	sha1Sig := "sha1=" + strings.Repeat("d", 40)

	tests := []struct {
		name   string
		sig    string
		body   []byte
		secret string
		ok     bool
	}{
		{"valid", good, body, secret, true},
		{"valid, upper-case hex", "sha256=" + strings.ToUpper(good[len("sha256="):]), body, secret, true},
		// GitHub's documented example: secret, payload and signature.
		{"GitHub's example", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!"), secret, true},
		{"wrong secret", sign("not the secret", body), body, secret, false},
		{"body altered after signing", good, append(bytes.Clone(body), ' '), secret, false},
		{"truncated", good[:len(good)-2], body, secret, false},
		{"too long", good + "00", body, secret, false},
		{"sha1 only", sha1Sig, body, secret, false},
		{"sha1 digest of the right length", "sha1=" + good[len("sha256="):], body, secret, false},
		{"sha512", "sha512=" + good[len("sha256="):], body, secret, false},
		{"upper-case prefix", "SHA256=" + good[len("sha256="):], body, secret, false},
		{"bare hex", good[len("sha256="):], body, secret, false},
		{"not hex", "sha256=" + strings.Repeat("zz", 32), body, secret, false},
		{"missing", "", body, secret, false},
		{"empty secret, signed with it", sign("", body), body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := github.Verify(tt.sig, tt.body, tt.secret)
			if tt.ok {
				if err != nil {
					t.Errorf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, github.ErrSignature) {
				t.Fatalf("Verify = %v, want ErrSignature", err)
			}
			for _, s := range []string{tt.secret, tt.sig} {
				if len(s) > 8 && strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes %q", err, s)
				}
			}
		})
	}
}

// seeds returns each fixture with the headers it is delivered with, in
// both encodings.
func seeds(t testing.TB) [][3]string {
	var out [][3]string
	for _, file := range fixtures(t) {
		b := readFixture(t, file)
		out = append(out,
			[3]string{eventName(file), "application/json", string(b)},
			[3]string{eventName(file), "application/x-www-form-urlencoded", string(formBody(b))})
	}
	return out
}

// FuzzParse checks that any body, under any event name and either content
// type, makes a valid event or a one-line error of one of the two kinds,
// and never panics.
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s[0], s[1], []byte(s[2]))
	}
	f.Add("release", "application/json", []byte(`{"action":"published","release":{"tag_name":"v1","published_at":1e30},"repository":{"full_name":"a/b"}}`))
	f.Add("release", "application/json", []byte(`{"action":"released","release":{"tag_name":"\u0000","published_at":"2019-05-15T15:20:53Z"},"repository":{"full_name":"a/b"}}`))
	f.Add("ping", "application/x-www-form-urlencoded", []byte("payload=null&payload=1"))
	f.Fuzz(func(t *testing.T, name, contentType string, body []byte) {
		h := http.Header{}
		h.Set(github.HeaderEvent, name)
		h.Set(github.HeaderDelivery, "d")
		h.Set("Content-Type", contentType)
		ev, err := github.Parse(h, body)
		if err != nil {
			if ev != nil {
				t.Fatalf("both an event and an error: %v", err)
			}
			malformed, ignored := errors.Is(err, source.ErrMalformed), errors.Is(err, source.ErrUnsupported)
			if malformed == ignored {
				t.Fatalf("error %q matches ErrMalformed %t, ErrUnsupported %t: want exactly one", err, malformed, ignored)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || len(msg) > 200 || !utf8.ValidString(msg) {
				t.Fatalf("error %q is not one short line", msg)
			}
			if ig, ok := errors.AsType[*source.Ignored](err); ok && !slices.Contains(github.IgnoredReasons, ig.Reason) {
				t.Fatalf("reason %q is not in IgnoredReasons", ig.Reason)
			}
			return
		}
		if name != "release" {
			t.Fatalf("event %q made an event", name)
		}
		checkEvent(t, ev)
		if _, err := protojson.Marshal(ev); err != nil {
			t.Fatalf("protojson: %v", err)
		}
	})
}

// FuzzVerify checks that Verify accepts exactly the HMAC-SHA256 of the body
// under a non-empty secret, and never panics.
func FuzzVerify(f *testing.F) {
	const secret = "fuzz-secret"
	for _, s := range seeds(f) {
		body := []byte(s[2])
		f.Add(sign(secret, body), body, secret)
		f.Add(sign(secret, body)[:40], body, secret)
		f.Add("sha1="+sign(secret, body)[7:47], body, secret)
	}
	f.Add("sha256=", []byte{}, "")
	f.Fuzz(func(t *testing.T, sig string, body []byte, secret string) {
		err := github.Verify(sig, body, secret)
		if err != nil && !errors.Is(err, github.ErrSignature) {
			t.Fatalf("Verify = %v, want nil or ErrSignature", err)
		}
		want := secret != "" && strings.EqualFold(sig, sign(secret, body)) && strings.HasPrefix(sig, "sha256=")
		if (err == nil) != want {
			t.Fatalf("Verify(%q) = %v, want accepted %t", sig, err, want)
		}
	})
}

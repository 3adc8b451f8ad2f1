package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// roundTrip is what encoding/json makes of s: invalid UTF-8 becomes U+FFFD.
func roundTrip(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	got := appendString(nil, s)
	if strings.ContainsAny(string(got), "\n\r\u2028\u2029") {
		t.Fatalf("appendString(%q) = %s, not one line", s, got)
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("appendString(%q) = %s, not a JSON string: %v", s, got, err)
	}
	if want := roundTrip(t, s); back != want {
		t.Fatalf("appendString(%q) decodes to %q, want %q", s, back, want)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "check:abc:down:2025-06-03T05:16:41Z", `"check:abc:down:2025-06-03T05:16:41Z"`},
		{"quotes and backslash", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"control characters", "a\nb\rc\td\x00e\x1f", `"a\nb\rc\td\u0000e\u001f"`},
		{"non-ASCII kept", "café ✓", `"café ✓"`},
		{"line separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"invalid UTF-8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"empty", "", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendString(nil, tt.in)); got != tt.want {
				t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
			}
			checkAppendString(t, tt.in)
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\n\u2028", "\xff\xc3(", "é✓😀"} {
		f.Add(s)
	}
	f.Fuzz(checkAppendString)
}

func TestAcceptsMediaType(t *testing.T) {
	types := []string{"", "application/json"}
	tests := []struct {
		header string
		want   bool
	}{
		{"", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"APPLICATION/JSON ;charset=UTF-8", true},
		{" application/json ", true},
		{"application/jsonx", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{";", true}, // no media type at all: the same as no header
		{"application/json/", false},
	}
	for _, tt := range tests {
		if got := acceptsMediaType(types, tt.header); got != tt.want {
			t.Errorf("acceptsMediaType(%q) = %t, want %t", tt.header, got, tt.want)
		}
	}
}

func TestBearer(t *testing.T) {
	const tok = "s3cret-token"
	tests := []struct {
		header string
		want   bool
	}{
		{"Bearer " + tok, true},
		{"bearer " + tok, true},
		{"BEARER " + tok, true},
		{"Bearer  " + tok, false},
		{"Bearer " + tok + "x", false},
		{"Bearer " + tok[:len(tok)-1], false},
		{"Basic " + tok, false},
		{tok, false},
		{"Bearer", false},
		{"", false},
	}
	for _, tt := range tests {
		h := make(map[string][]string)
		if tt.header != "" {
			h["Authorization"] = []string{tt.header}
		}
		if got := bearer(h, tok); got != tt.want {
			t.Errorf("bearer(%q) = %t, want %t", tt.header, got, tt.want)
		}
	}
	if bearer(map[string][]string{"Authorization": {"Bearer "}}, "") {
		t.Error(`bearer("Bearer ") with an empty token = true, want false`)
	}
}

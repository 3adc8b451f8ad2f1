package watcher

import (
	"strings"
	"testing"
	"time"
)

func TestSlot(t *testing.T) {
	first := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	const interval = 10 * time.Minute
	tests := []struct {
		now  time.Duration // after first
		want time.Duration
	}{
		{-time.Minute, 0},
		{0, interval},
		{time.Second, interval},
		{interval, 2 * interval},
		{3*interval + time.Minute, 4 * interval}, // late: back to its place, no catch-up burst
	}
	for _, tt := range tests {
		if got := slot(first, interval, first.Add(tt.now)); !got.Equal(first.Add(tt.want)) {
			t.Errorf("slot(first, %v, first%+v) = first%+v, want first%+v", interval, tt.now, got.Sub(first), tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		failures int
		interval time.Duration
		want     time.Duration
	}{
		{1, time.Hour, time.Second},
		{2, time.Hour, 2 * time.Second},
		{5, time.Hour, 16 * time.Second},
		{13, time.Hour, time.Hour},
		{1000, time.Hour, time.Hour},
		{1, 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.failures, tt.interval); got != tt.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tt.failures, tt.interval, got, tt.want)
		}
	}
}

func TestStateKey(t *testing.T) {
	// Case-insensitive like GitHub, and valid for names KeyValue keys
	// could not hold as they are.
	if a, b := stateKey("Kong/kong"), stateKey("kong/KONG"); a != b {
		t.Errorf("stateKey differs by case: %q, %q", a, b)
	}
	for _, repo := range []string{"owner/.github", "vercel/next.js", "a/b..c"} {
		if k := stateKey(repo); strings.Trim(k, "0123456789abcdef") != "" {
			t.Errorf("stateKey(%q) = %q, want hex", repo, k)
		}
	}
}

func TestSpelling(t *testing.T) {
	tr := &tracked{repo: "kong/KONG", owner: "kong", name: "KONG"}
	tests := []struct{ url, owner, name string }{
		{"https://github.com/Kong/kong/releases/tag/3.10.0", "Kong", "kong"},
		{"https://ghe.example/Kong/kong/releases/tag/3.10.0", "Kong", "kong"},
		{"https://github.com/other/repo/releases/tag/3.10.0", "kong", "KONG"}, // not this repository
		{"", "kong", "KONG"},
	}
	for _, tt := range tests {
		if o, n := spelling(tt.url, tr); o != tt.owner || n != tt.name {
			t.Errorf("spelling(%q) = %q, %q; want %q, %q", tt.url, o, n, tt.owner, tt.name)
		}
	}
}

package sink_test

import (
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink"
)

func TestOutage(t *testing.T) {
	base := time.Date(2025, 6, 3, 5, 16, 41, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Minute, "0s"},
		{42 * time.Second, "42s"},
		{time.Minute, "1m"},
		{12*time.Minute + 5*time.Second, "12m 5s"},
		{2*time.Hour + 3*time.Minute + 20*time.Second, "2h 3m"},
		{time.Hour + 45*time.Minute + 28*time.Second, "1h 45m"},
		{5 * time.Hour, "5h"},
		{3*24*time.Hour + 4*time.Hour + 59*time.Minute, "3d 4h"},
		{1500 * time.Millisecond, "2s"},
	}
	for _, tt := range tests {
		if got := sink.Outage(base, base.Add(tt.d)); got != tt.want {
			t.Errorf("Outage(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

package sink_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/sink"
)

func TestClassification(t *testing.T) {
	base := errors.New("slack: chat.postMessage to C1: invalid_auth")
	tests := []struct {
		name         string
		err          error
		permanent    bool
		unauthorized bool
		wait         bool
		after        time.Duration
		describe     string
	}{
		{"nil", nil, false, false, false, 0, ""},
		{"plain", base, false, false, false, 0, "transient: " + base.Error()},
		{"permanent", sink.Permanent(base), true, false, false, 0, "permanent: " + base.Error()},
		{"transient", sink.Transient(base, 3*time.Second), false, false, false, 3 * time.Second, "transient (retry after 3s): " + base.Error()},
		{"wait", sink.Wait("no alert yet", time.Second), false, false, true, time.Second, "transient (retry after 1s): no alert yet"},
		{"unauthorized", sink.Unauthorized(base), true, true, false, 0, "permanent: " + base.Error()},
		{"unauthorized wrapped", fmt.Errorf("linear: %w", sink.Unauthorized(base)), true, true, false, 0, "permanent: linear: " + base.Error()},
		{"unauthorized of nil", sink.Unauthorized(nil), false, false, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sink.IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if got := sink.IsUnauthorized(tt.err); got != tt.unauthorized {
				t.Errorf("IsUnauthorized = %v, want %v", got, tt.unauthorized)
			}
			if got := sink.IsWait(tt.err); got != tt.wait {
				t.Errorf("IsWait = %v, want %v", got, tt.wait)
			}
			if got := sink.RetryAfter(tt.err); got != tt.after {
				t.Errorf("RetryAfter = %v, want %v", got, tt.after)
			}
			if got := sink.Describe(tt.err); got != tt.describe {
				t.Errorf("Describe = %q, want %q", got, tt.describe)
			}
			if tt.err != nil && tt.name != "wait" && !errors.Is(tt.err, base) {
				t.Errorf("errors.Is(err, base) = false: the class hides the cause")
			}
		})
	}
}

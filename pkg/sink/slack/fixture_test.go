package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// hcBody is the Healthchecks webhook body of testdata/healthchecks (the
// template in that README), as far as these tests need it.
type hcBody struct {
	Status       string    `json:"status"`
	Now          time.Time `json:"now"`
	Code         string    `json:"code"`
	Slug         string    `json:"slug"`
	Name         string    `json:"name"`
	ExitStatus   int32     `json:"exitstatus"`
	LastPingBody string    `json:"last_ping_body"`
	Check        struct {
		Tags     string     `json:"tags"`
		Desc     string     `json:"desc"`
		LastPing *time.Time `json:"last_ping"`
		PingURL  string     `json:"ping_url"`
	} `json:"check"`
}

// fixtureCheck builds the CheckStatusChanged a parser would make of a
// fixture. The real parser is pkg/source/healthchecks; this one is by hand
// so these tests do not depend on it.
func fixtureCheck(t *testing.T, file string) *bridgev1.CheckStatusChanged {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "healthchecks", file))
	if err != nil {
		t.Fatal(err)
	}
	var h hcBody
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := &bridgev1.CheckStatusChanged{
		CheckId:      h.Code,
		Name:         h.Name,
		Slug:         h.Slug,
		Status:       bridgev1.CheckStatus_CHECK_STATUS_DOWN,
		ChangedAt:    timestamppb.New(h.Now),
		Tags:         strings.Fields(h.Check.Tags),
		Description:  h.Check.Desc,
		LastPingBody: h.LastPingBody,
		ExitStatus:   h.ExitStatus,
		PingUrl:      h.Check.PingURL,
	}
	if h.Status == "up" {
		c.Status = bridgev1.CheckStatus_CHECK_STATUS_UP
	}
	if h.Check.LastPing != nil {
		c.LastPing = timestamppb.New(*h.Check.LastPing)
	}
	// Healthchecks shows a check at /checks/<uuid>/details/ on the host
	// that serves its ping URLs.
	if u, err := url.Parse(h.Check.PingURL); err == nil && u.Host != "" {
		c.DetailsUrl = u.Scheme + "://" + u.Host + "/checks/" + h.Code + "/details/"
	}
	return c
}

// checkEvent wraps a check in an envelope, as the gateway would.
func checkEvent(c *bridgev1.CheckStatusChanged) *event.Event {
	status := "down"
	kind := event.KindCheckDown
	if c.GetStatus() == bridgev1.CheckStatus_CHECK_STATUS_UP {
		status, kind = "up", event.KindCheckUp
	}
	at := c.GetChangedAt().AsTime()
	ev := event.New(kind, "/webhooks/healthchecks", c.GetCheckId(), event.CheckKey(c.GetCheckId(), status, at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: c}
	return ev
}

// flip returns a copy of c with another status and time.
func flip(c *bridgev1.CheckStatusChanged, status bridgev1.CheckStatus, at time.Time) *bridgev1.CheckStatusChanged {
	cp := &bridgev1.CheckStatusChanged{
		CheckId: c.GetCheckId(), Name: c.GetName(), Slug: c.GetSlug(), Status: status,
		ChangedAt: timestamppb.New(at), Tags: c.GetTags(), Description: c.GetDescription(),
		ExitStatus: c.GetExitStatus(), LastPing: timestamppb.New(at), DetailsUrl: c.GetDetailsUrl(),
	}
	return cp
}

// ledger is an in-memory effect ledger that records what a runner would:
// a result under the event's key and under each of its links.
type ledger struct {
	mu sync.Mutex
	m  map[string]sink.Result
}

func newLedger() *ledger { return &ledger{m: make(map[string]sink.Result)} }

func (l *ledger) Result(_ context.Context, key string) (sink.Result, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.m[key]
	return r, ok, nil
}

func (l *ledger) record(key string, r sink.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[key] = r
	for _, k := range r.Links {
		l.m[k] = r
	}
}

// logBuffer collects JSON log lines for inspection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes the log lines with the given message.
func (b *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

package healthchecks_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/source"
	"github.com/stoa-platform/bridge/pkg/source/healthchecks"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

const backupID = "803f680d-e89b-492b-82ef-2be7b774a92d"

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file     string
		wantType string
		wantKey  string
		wantTime string
		want     *bridgev1.CheckStatusChanged
	}{
		{
			file:     "down.json",
			wantType: "io.stoa.bridge.check.down",
			wantKey:  "check:" + backupID + ":down:2025-06-03T05:16:41Z",
			wantTime: "2025-06-03T05:16:41Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId:      backupID,
				Name:         "Database Backup",
				Slug:         "database-backup",
				Status:       bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt:    ts("2025-06-03T05:16:41Z"),
				Tags:         []string{"production", "db"},
				Description:  "Runs ~/db-backup.sh nightly",
				LastPingBody: "pg_dump: error: connection to server at \"db.internal\" (10.0.4.12), port 5432 failed: Connection refused\n",
				ExitStatus:   1,
				LastPing:     ts("2025-06-03T05:16:41Z"),
				DetailsUrl:   "https://hc.example.org/checks/" + backupID + "/details/",
				PingUrl:      "https://hc.example.org/ping/" + backupID,
			},
		},
		{
			file:     "up.json",
			wantType: "io.stoa.bridge.check.up",
			wantKey:  "check:" + backupID + ":up:2025-06-03T07:02:09Z",
			wantTime: "2025-06-03T07:02:09Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId:      backupID,
				Name:         "Database Backup",
				Slug:         "database-backup",
				Status:       bridgev1.CheckStatus_CHECK_STATUS_UP,
				ChangedAt:    ts("2025-06-03T07:02:09Z"),
				Tags:         []string{"production", "db"},
				Description:  "Runs ~/db-backup.sh nightly",
				LastPingBody: "backup written: /backups/db-2025-06-03.sql.gz (1.2 GiB)\n",
				ExitStatus:   0,
				LastPing:     ts("2025-06-03T07:02:09Z"),
				DetailsUrl:   "https://hc.example.org/checks/" + backupID + "/details/",
				PingUrl:      "https://hc.example.org/ping/" + backupID,
			},
		},
		{
			file:     "down-with-tags.json",
			wantType: "io.stoa.bridge.check.down",
			wantKey:  "check:3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4:down:2025-06-10T14:05:04Z",
			wantTime: "2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId:     "3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4",
				Name:        "keycloak-realm-export",
				Slug:        "keycloak-realm-export",
				Status:      bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt:   ts("2025-06-10T14:05:04Z"),
				Tags:        []string{"prod", "k8s", "team-platform", "sev2", "keycloak"},
				ExitStatus:  -1,
				LastPing:    ts("2025-06-10T13:00:04Z"),
				DetailsUrl:  "https://hc.example.org/checks/3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4/details/",
				PingUrl:     "https://hc.example.org/ping/3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4",
				Description: "",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := healthchecks.Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tt.file, err)
			}
			checkEnvelope(t, ev, tt.wantType, tt.want.GetCheckId(), tt.wantKey, tt.wantTime)
			if diff := cmp.Diff(tt.want, ev.GetCheckStatusChanged(), protocmp.Transform()); diff != "" {
				t.Errorf("Parse(%s) payload mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func checkEnvelope(t *testing.T, ev *event.Event, wantType, wantSubject, wantKey, wantTime string) {
	t.Helper()
	if err := event.Validate(ev); err != nil {
		t.Errorf("Validate: %v", err)
	}
	got := struct{ Source, Type, Subject, Key, Time, SpecVersion string }{
		ev.GetSource(), ev.GetType(), ev.GetSubject(), ev.GetIdempotencyKey(),
		ev.GetTime().AsTime().Format(time.RFC3339), ev.GetSpecVersion(),
	}
	want := struct{ Source, Type, Subject, Key, Time, SpecVersion string }{
		"/webhooks/healthchecks", wantType, wantSubject, wantKey, wantTime, event.SpecVersion,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envelope mismatch (-want +got):\n%s", diff)
	}
	if ev.GetId() == "" {
		t.Error("event id is empty")
	}
}

// body builds a delivery from the required fields plus extra JSON members.
func body(status, now, code, extra string) string {
	b := `{"status":"` + status + `","now":"` + now + `","code":"` + code + `"`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

const (
	code = "3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4"
	now  = "2025-06-10T14:05:04+00:00"
)

func TestParseVariants(t *testing.T) {
	long := strings.Repeat("a", healthchecks.MaxPingBody-1) + "é" + "tail" // é straddles the limit
	tests := []struct {
		name    string
		body    string
		wantKey string
		want    *bridgev1.CheckStatusChanged
	}{
		{
			name:    "required fields only",
			body:    body("down", now, code, ""),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
			},
		},
		{
			name:    "nulls where values may be missing",
			body:    body("up", now, code, `"name":null,"slug":null,"exitstatus":null,"last_ping_body":null,"check":{"last_ping":null,"tags":null}`),
			wantKey: "check:" + code + ":up:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_UP,
				ChangedAt: ts(now), ExitStatus: -1,
			},
		},
		{
			name:    "name falls back to check name",
			body:    body("down", now, code, `"name":"","slug":"s","check":{"name":"From Check"}`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: "From Check", Slug: "s", Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
			},
		},
		{
			name:    "name and slug fall back to check slug",
			body:    body("down", now, code, `"check":{"slug":"nightly"}`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: "nightly", Slug: "nightly", Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
			},
		},
		{
			name:    "upper-case uuid and an offset time are made canonical",
			body:    body("down", "2025-06-10T16:05:04+02:00", strings.ToUpper(code), ""),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
			},
		},
		{
			name:    "unknown fields ignored, tags split on single spaces",
			body:    body("down", now, code, `"future":{"x":[1,2]},"check":{"tags":" a  b\tc ","grace":5,"next":true}`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1, Tags: []string{"a", "b\tc"},
			},
		},
		{
			name:    "last ping body cut to 4 KiB on a rune boundary",
			body:    body("down", now, code, `"last_ping_body":"`+long+`"`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1, LastPingBody: strings.Repeat("a", healthchecks.MaxPingBody-1),
			},
		},
		{
			name:    "details from the ping url when there is no update url",
			body:    body("down", now, code, `"check":{"ping_url":"https://hc.example.org/ping/`+code+`"}`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
				PingUrl:    "https://hc.example.org/ping/" + code,
				DetailsUrl: "https://hc.example.org/checks/" + code + "/details/",
			},
		},
		{
			name: "details from the update url, not a separate ping host, path prefix kept",
			body: body("down", now, code, `"check":{"ping_url":"https://hc-ping.com/`+code+`",`+
				`"update_url":"https://ops.example.org/hc/api/v3/checks/`+code+`"}`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
				PingUrl:    "https://hc-ping.com/" + code,
				DetailsUrl: "https://ops.example.org/hc/checks/" + code + "/details/",
			},
		},
		{
			name:    "no details from a url that is not http(s)",
			body:    body("down", now, code, `"check":{"update_url":"ftp://hc.example.org/api/v3/checks/x"}`),
			wantKey: "check:" + code + ":down:2025-06-10T14:05:04Z",
			want: &bridgev1.CheckStatusChanged{
				CheckId: code, Name: code, Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN,
				ChangedAt: ts(now), ExitStatus: -1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := healthchecks.Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.body, err)
			}
			if got := ev.GetIdempotencyKey(); got != tt.wantKey {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
			if err := event.Validate(ev); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if diff := cmp.Diff(tt.want, ev.GetCheckStatusChanged(), protocmp.Transform()); diff != "" {
				t.Errorf("payload mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty body", ``, `healthchecks: body is not valid JSON`},
		{"not JSON", `status=down`, `healthchecks: body is not valid JSON`},
		{"truncated JSON", `{"status":"down"`, `healthchecks: body is not valid JSON`},
		{"trailing data", body("down", now, code, "") + ` {}`, `healthchecks: body is not valid JSON`},
		{"unescaped name", `{"status":"down","name":"say "hi"","now":"` + now + `","code":"` + code + `"}`, `healthchecks: body is not valid JSON`},
		{"JSON array", `[` + body("down", now, code, "") + `]`, `healthchecks: body is an array, not a JSON object`},
		{"JSON string", `"down"`, `healthchecks: body is a string, not a JSON object`},
		{"JSON null", `null`, `healthchecks: "status" is missing`},
		{"missing status", `{"now":"` + now + `","code":"` + code + `"}`, `healthchecks: "status" is missing`},
		{"status paused", body("paused", now, code, ""), `healthchecks: "status" is neither "down" nor "up"`},
		{"status upper case", body("DOWN", now, code, ""), `healthchecks: "status" is neither "down" nor "up"`},
		{"status placeholder", body("$STATUS", now, code, ""), `healthchecks: "status" is neither "down" nor "up"`},
		{"status a number", `{"status":1,"now":"` + now + `","code":"` + code + `"}`, `healthchecks: "status" is a number, not a string`},
		{"missing code", `{"status":"down","now":"` + now + `"}`, `healthchecks: "code" is missing`},
		{"code not a uuid", body("down", now, "database-backup", ""), `healthchecks: "code" is not a UUID`},
		{"code without hyphens", body("down", now, "3f1b6a1e5c2d4f8e9a470d6c2e8b71a4", ""), `healthchecks: "code" is not a UUID`},
		{"code with non-hex", body("down", now, "3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71ag", ""), `healthchecks: "code" is not a UUID`},
		{"code with hyphen misplaced", body("down", now, "3f1b6a1e5-c2d-4f8e-9a47-0d6c2e8b71a4", ""), `healthchecks: "code" is not a UUID`},
		{"missing now", `{"status":"down","code":"` + code + `"}`, `healthchecks: "now" is missing`},
		{"now not a time", body("down", "yesterday", code, ""), `healthchecks: "now" is not an RFC 3339 time`},
		{"now without offset", body("down", "2025-06-10T14:05:04", code, ""), `healthchecks: "now" is not an RFC 3339 time`},
		{"now with a space", body("down", "2025-06-10 14:05:04+00:00", code, ""), `healthchecks: "now" is not an RFC 3339 time`},
		{"now a number", `{"status":"down","now":1749564304,"code":"` + code + `"}`, `healthchecks: "now" is a number, not a string`},
		{"exitstatus a string", body("down", now, code, `"exitstatus":"1"`), `healthchecks: "exitstatus" is a string, not an integer`},
		{"exitstatus a fraction", body("down", now, code, `"exitstatus":1.5`), `healthchecks: "exitstatus" is a number, not an integer`},
		{"exitstatus out of range", body("down", now, code, `"exitstatus":4294967296`), `healthchecks: "exitstatus" is out of range`},
		{"check an array", body("down", now, code, `"check":[]`), `healthchecks: "check" is an array, not an object`},
		{"check tags a list", body("down", now, code, `"check":{"tags":["a"]}`), `healthchecks: "check.tags" is an array, not a string`},
		{"check last ping not a time", body("down", now, code, `"check":{"last_ping":"never"}`), `healthchecks: "check.last_ping" is not an RFC 3339 time`},
		{"name a boolean", body("down", now, code, `"name":true`), `healthchecks: "name" is a boolean, not a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := healthchecks.Parse([]byte(tt.body))
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tt.body, ev, tt.want)
			}
			if !errors.Is(err, source.ErrMalformed) {
				t.Errorf("Parse(%q) error %v does not match source.ErrMalformed", tt.body, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error = %q, want %q", tt.body, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"down.json", "up.json", "down-with-tags.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(body("up", now, strings.ToUpper(code), `"check":{"update_url":"http://%ff/api/"}`)))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := healthchecks.Parse(b)
		if err != nil {
			if !errors.Is(err, source.ErrMalformed) {
				t.Fatalf("error %v does not match source.ErrMalformed", err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "healthchecks: ") {
				t.Fatalf("error %q is not a one-line healthchecks reason", msg)
			}
			return
		}
		if err := event.Validate(ev); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if _, err := event.Marshal(ev); err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		p := ev.GetCheckStatusChanged()
		if want := event.CheckKey(ev.GetSubject(), map[bridgev1.CheckStatus]string{
			bridgev1.CheckStatus_CHECK_STATUS_DOWN: "down", bridgev1.CheckStatus_CHECK_STATUS_UP: "up",
		}[p.GetStatus()], ev.GetTime().AsTime()); ev.GetIdempotencyKey() != want {
			t.Fatalf("key = %q, want %q", ev.GetIdempotencyKey(), want)
		}
		if len(p.GetLastPingBody()) > healthchecks.MaxPingBody || !utf8.ValidString(p.GetLastPingBody()) {
			t.Fatalf("last ping body of %d bytes, valid UTF-8 %t", len(p.GetLastPingBody()), utf8.ValidString(p.GetLastPingBody()))
		}
		again, err := healthchecks.Parse(b)
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		if again.GetIdempotencyKey() != ev.GetIdempotencyKey() || !proto.Equal(again.GetCheckStatusChanged(), p) {
			t.Fatalf("Parse is not deterministic: key %q then %q", ev.GetIdempotencyKey(), again.GetIdempotencyKey())
		}
	})
}

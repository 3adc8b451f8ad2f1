package vuln

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
)

// TestGetOldRecord reads a record written before workloads carried the
// time they were last seen: a plain list, each seen at the report's time.
func TestGetOldRecord(t *testing.T) {
	ctx := t.Context()
	b := bustest.Open(t, bus.Options{})
	s, err := OpenStore(ctx, b.JetStream(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const group = "ghcr.io/stoa/api@sha256:aaa"
	old := `{"artifact":"` + group + `","reported_at":"2026-03-01T10:00:00Z",` +
		`"findings":[{"id":"CVE-1","package":"openssl","severity":4}],` +
		`"workloads":["prod/Deployment/api","jobs/CronJob/sync"]}`
	if _, err := s.kv.Create(ctx, bucketKey(group), []byte(old)); err != nil {
		t.Fatal(err)
	}
	st, ok, err := s.Get(ctx, group)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	want := map[string]time.Time{"prod/Deployment/api": at, "jobs/CronJob/sync": at}
	if diff := cmp.Diff(want, st.Workloads); diff != "" {
		t.Errorf("Workloads (-want +got):\n%s", diff)
	}
	if len(st.Findings) != 1 || st.Findings[0].GetId() != "CVE-1" {
		t.Errorf("Findings = %v", st.Findings)
	}

	// Written again, the record has the new shape and reads the same.
	if err := s.Put(ctx, group, st, st.Revision); err != nil {
		t.Fatal(err)
	}
	e, err := s.kv.Get(ctx, bucketKey(group))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.Value()); strings.Contains(got, `"workloads":[`) || !strings.Contains(got, `"workloads_seen":{`) {
		t.Errorf("rewritten record still has the old list: %s", got)
	}
	again, _, err := s.Get(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, again.Workloads); diff != "" {
		t.Errorf("Workloads after a rewrite (-want +got):\n%s", diff)
	}
}

package vuln_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

func openStore(t *testing.T) *vuln.Store {
	t.Helper()
	b := bustest.Open(t, bus.Options{})
	s, err := vuln.OpenStore(t.Context(), b.JetStream(), "", 0)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	key := "index.docker.io/library/ubuntu@" + ubuntuDigest

	if st, ok, err := s.Get(ctx, key); err != nil || ok {
		t.Fatalf("Get(new) = %+v, %v, %v, want none", st, ok, err)
	}
	reported := time.Date(2024, 1, 23, 13, 43, 55, 0, time.FixedZone("CET", 3600))
	in := vuln.State{
		Findings: []*bridgev1.Finding{
			finding("CVE-2019-14697", "musl", "alpine", critical, "1.1.20-r5"),
			finding("GMS-2022-20", "github.com/x/y", "go.mod", unknown, ""),
		},
		ReportedAt: reported,
		Workloads: map[string]time.Time{
			"prod/Deployment/api": reported.Add(-time.Hour),
			"lbc/Pod/ubuntu":      reported,
		},
	}
	if err := s.Put(ctx, key, in, 0); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, ok, err := s.Get(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v, want the state", ok, err)
	}
	// Titles and links are not kept: the diff does not need them.
	want := vuln.State{
		Findings: []*bridgev1.Finding{
			{Id: "CVE-2019-14697", Package: "musl", InstalledVersion: "1.0", FixedVersion: "1.1.20-r5", Severity: critical, Target: "alpine"},
			{Id: "GMS-2022-20", Package: "github.com/x/y", InstalledVersion: "1.0", Severity: unknown, Target: "go.mod"},
		},
		ReportedAt: reported.UTC(),
		Workloads: map[string]time.Time{
			"prod/Deployment/api": reported.Add(-time.Hour).UTC(),
			"lbc/Pod/ubuntu":      reported.UTC(),
		},
		Revision: got.Revision,
	}
	if got.Revision == 0 {
		t.Error("Get: Revision = 0, want the bucket's")
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if !got.Stale(reported.Add(-time.Second)) || got.Stale(reported) || got.Stale(reported.Add(time.Hour)) {
		t.Errorf("Stale around ReportedAt %v is wrong", got.ReportedAt)
	}
	if _, ok, err := s.Get(ctx, "index.docker.io/library/ubuntu:20.04"); err != nil || ok {
		t.Errorf("Get(other artifact) = %v, %v, want none", ok, err)
	}

	// An update at the revision read replaces the state.
	got.Findings = got.Findings[:1]
	if err := s.Put(ctx, key, got, got.Revision); err != nil {
		t.Fatalf("Put(update): %v", err)
	}
	again, _, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if len(again.Findings) != 1 || again.Revision <= got.Revision {
		t.Errorf("after update: %d findings at revision %d, want 1 after revision %d", len(again.Findings), again.Revision, got.Revision)
	}
}

func TestStoreConflict(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	const key = "ghcr.io/stoa/api@sha256:aaa"
	first := vuln.State{ReportedAt: time.Unix(100, 0)}

	if err := s.Put(ctx, key, first, 0); err != nil {
		t.Fatalf("Put: %v", err)
	}
	// Two replicas create the same new state: the second loses.
	if err := s.Put(ctx, key, first, 0); !errors.Is(err, vuln.ErrConflict) {
		t.Errorf("second Put(rev 0) = %v, want ErrConflict", err)
	}
	a, _, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	b := a // Another replica read the same revision.
	a.ReportedAt = time.Unix(200, 0)
	if err := s.Put(ctx, key, a, a.Revision); err != nil {
		t.Fatalf("Put(a): %v", err)
	}
	b.ReportedAt = time.Unix(300, 0)
	if err := s.Put(ctx, key, b, b.Revision); !errors.Is(err, vuln.ErrConflict) {
		t.Errorf("Put(b) at a moved revision = %v, want ErrConflict", err)
	}
	got, _, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !got.ReportedAt.Equal(time.Unix(200, 0)) {
		t.Errorf("ReportedAt = %v, want the winner's %v", got.ReportedAt, time.Unix(200, 0))
	}
}

func TestOpenStoreTwice(t *testing.T) {
	b := bustest.Open(t, bus.Options{})
	ctx := context.Background()
	for range 2 {
		if _, err := vuln.OpenStore(ctx, b.JetStream(), "TEST_VULN", 1); err != nil {
			t.Fatalf("OpenStore: %v", err)
		}
	}
}

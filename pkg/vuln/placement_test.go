package vuln_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

func TestPlaceWorkload(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	image := func(digest, ns, w string) *bridgev1.Artifact {
		return &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: digest, Namespace: ns, Workload: w}
	}
	api1, worker1 := image("sha256:111", "prod", "Deployment/api"), image("sha256:111", "prod", "Deployment/worker")
	api2 := image("sha256:222", "prod", "Deployment/api")
	old, next := vuln.GroupKey(api1), vuln.GroupKey(api2)

	// The old image's state lists both workloads, as the Slack sink wrote it.
	st := vuln.State{ReportedAt: t0}
	st.AddWorkload(api1, t0)
	st.AddWorkload(worker1, t0)
	if err := s.Put(ctx, old, st, 0); err != nil {
		t.Fatal(err)
	}
	workloads := func(group string) []string {
		t.Helper()
		st, _, err := s.Get(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		return st.WorkloadNames()
	}

	steps := []struct {
		name     string
		a        *bridgev1.Artifact
		at       time.Time
		wantFrom string
		wantOld  []string
	}{
		{name: "first placement", a: api1, at: t0, wantOld: []string{"prod/Deployment/api", "prod/Deployment/worker"}},
		{name: "same image again", a: api1, at: t0.Add(time.Hour), wantOld: []string{"prod/Deployment/api", "prod/Deployment/worker"}},
		{name: "other workload", a: worker1, at: t0, wantOld: []string{"prod/Deployment/api", "prod/Deployment/worker"}},
		{name: "moved to a new image", a: api2, at: t0.Add(2 * time.Hour), wantFrom: old, wantOld: []string{"prod/Deployment/worker"}},
		{name: "new image again", a: api2, at: t0.Add(3 * time.Hour), wantOld: []string{"prod/Deployment/worker"}},
		// A scan of the old image made before the move must not move it back.
		{name: "older scan of the old image", a: api1, at: t0.Add(time.Hour), wantOld: []string{"prod/Deployment/worker"}},
		{name: "a CI scan names no workload", a: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: "sha256:111"},
			at: t0.Add(4 * time.Hour), wantOld: []string{"prod/Deployment/worker"}},
	}
	for _, step := range steps {
		from, err := s.PlaceWorkload(ctx, step.a, step.at)
		if err != nil {
			t.Fatalf("%s: PlaceWorkload: %v", step.name, err)
		}
		if from != step.wantFrom {
			t.Errorf("%s: moved from %q, want %q", step.name, from, step.wantFrom)
		}
		if diff := cmp.Diff(step.wantOld, workloads(old)); diff != "" {
			t.Errorf("%s: old image's workloads (-want +got):\n%s", step.name, diff)
		}
	}
	// Moving never creates the new group's state: its consumer does.
	if _, ok, err := s.Get(ctx, next); err != nil || ok {
		t.Errorf("new image's state = %v, %v, want none", ok, err)
	}

	t.Run("back to the old image", func(t *testing.T) {
		from, err := s.PlaceWorkload(ctx, api1, t0.Add(5*time.Hour))
		if err != nil || from != next {
			t.Errorf("PlaceWorkload = %q, %v, want moved from %q", from, err, next)
		}
	})
	t.Run("old group without state", func(t *testing.T) {
		a := image("sha256:333", "prod", "Deployment/api")
		if _, err := s.PlaceWorkload(ctx, a, t0.Add(6*time.Hour)); err != nil {
			t.Errorf("PlaceWorkload = %v", err)
		}
	})
}

// TestPlaceWorkloadAfterAWrite moves a workload out of a group whose state
// was written since the workload was placed: the move reads the state
// afresh and keeps what the other write did.
func TestPlaceWorkloadAfterAWrite(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: "sha256:111", Namespace: "prod", Workload: "Deployment/api"}
	old := vuln.GroupKey(a)
	st := vuln.State{ReportedAt: t0}
	st.AddWorkload(a, t0)
	if err := s.Put(ctx, old, st, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlaceWorkload(ctx, a, t0); err != nil {
		t.Fatal(err)
	}
	moving, _, err := s.Get(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	moving.ReportedAt = t0.Add(time.Minute)
	moving.Findings = []*bridgev1.Finding{{Id: "CVE-1", Package: "openssl", Severity: critical}}
	if err := s.Put(ctx, old, moving, moving.Revision); err != nil {
		t.Fatal(err)
	}
	b := &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.5", Digest: "sha256:222", Namespace: "prod", Workload: "Deployment/api"}
	if from, err := s.PlaceWorkload(ctx, b, t0.Add(time.Hour)); err != nil || from != old {
		t.Fatalf("PlaceWorkload = %q, %v, want moved from %q", from, err, old)
	}
	got, _, err := s.Get(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Workloads) != 0 || len(got.Findings) != 1 || !got.ReportedAt.Equal(moving.ReportedAt) {
		t.Errorf("old state after the move: %+v, want the other write's findings and no workload", got)
	}
}

// TestPlaceWorkloadSidecar: a pod running its app and a sidecar runs two
// images at once; reports of each container must not move the pod
// between them.
func TestPlaceWorkloadSidecar(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	app := &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: "sha256:111", Namespace: "prod", Workload: "Deployment/api", Container: "api"}
	proxy := &bridgev1.Artifact{Kind: "container_image", Name: "docker.io/istio/proxyv2:1.24", Digest: "sha256:999", Namespace: "prod", Workload: "Deployment/api", Container: "istio-proxy"}
	for i, a := range []*bridgev1.Artifact{app, proxy, app, proxy} {
		from, err := s.PlaceWorkload(ctx, a, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if from != "" {
			t.Errorf("report %d (%s): moved the pod from %q; a sidecar is not a move", i, a.GetContainer(), from)
		}
	}
}

package vuln_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// The artifacts below are those pkg/source/trivy makes of the Trivy and
// Trivy Operator fixtures (see its trivy_test.go), written by hand.
const ubuntuDigest = "sha256:f78909c2b360d866b3220655c0b079838258b8891a12ac25fc670f0cbb54229f"

func TestGroupKey(t *testing.T) {
	tests := []struct {
		name string
		a    *bridgev1.Artifact
		want string
	}{
		{name: "trivy image without digest keeps its tag",
			a:    &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/aquasecurity/trivy-test-images:alpine-39"},
			want: "ghcr.io/aquasecurity/trivy-test-images:alpine-39"},
		{name: "trivy repository", a: &bridgev1.Artifact{Kind: "repository", Name: "testdata/fixtures/repo/gomod"},
			want: "testdata/fixtures/repo/gomod"},
		{name: "filesystem", a: &bridgev1.Artifact{Kind: "filesystem", Name: "/src/app"}, want: "/src/app"},
		{name: "operator report with digest",
			a: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/library/ubuntu:20.04",
				Digest: ubuntuDigest, Namespace: "lbc", Workload: "Pod/ubuntu"},
			want: "index.docker.io/library/ubuntu@" + ubuntuDigest},
		{name: "operator report without digest",
			a: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/library/nginx:alpine",
				Namespace: "default", Workload: "ReplicaSet/nginx-deployment-965685897"},
			want: "index.docker.io/library/nginx:alpine"},
		{name: "image named by digest", a: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/org/app@sha256:def", Digest: "sha256:def"},
			want: "ghcr.io/org/app@sha256:def"},
		{name: "registry port is not a tag",
			a:    &bridgev1.Artifact{Kind: "container_image", Name: "registry.example.org:5000/team/app:latest", Digest: "sha256:222"},
			want: "registry.example.org:5000/team/app@sha256:222"},
		{name: "nil", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := vuln.GroupKey(tt.a); got != tt.want {
				t.Errorf("GroupKey(%v) = %q, want %q", tt.a, got, tt.want)
			}
		})
	}
}

func TestGroupKeySameImageAnyTag(t *testing.T) {
	a := &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: "sha256:aaa", Namespace: "prod", Workload: "Deployment/api"}
	b := &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:latest", Digest: "sha256:aaa", Namespace: "jobs", Workload: "CronJob/sync"}
	c := &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: "sha256:bbb", Namespace: "prod", Workload: "Deployment/api"}
	if vuln.GroupKey(a) != vuln.GroupKey(b) {
		t.Errorf("GroupKey(%v) = %q, GroupKey(%v) = %q, want the same", a, vuln.GroupKey(a), b, vuln.GroupKey(b))
	}
	if vuln.GroupKey(a) == vuln.GroupKey(c) {
		t.Errorf("GroupKey of two digests = %q for both, want different", vuln.GroupKey(a))
	}
}

func TestWorkloads(t *testing.T) {
	art := func(ns, w string) *bridgev1.Artifact {
		return &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4", Digest: "sha256:aaa", Namespace: ns, Workload: w}
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var s vuln.State
	steps := []struct {
		name    string
		remove  bool
		a       *bridgev1.Artifact
		at      time.Time
		changed bool
		want    []string
	}{
		{name: "first", a: art("prod", "ReplicaSet/api-7d9f"), at: t0, changed: true, want: []string{"prod/ReplicaSet/api-7d9f"}},
		{name: "second sorts first", a: art("jobs", "CronJob/sync"), at: t0, changed: true,
			want: []string{"jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "again at the same time", a: art("prod", "ReplicaSet/api-7d9f"), at: t0, want: []string{"jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "an older scan", a: art("prod", "ReplicaSet/api-7d9f"), at: t0.Add(-time.Hour), want: []string{"jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "seen later", a: art("prod", "ReplicaSet/api-7d9f"), at: t0.Add(time.Hour), changed: true,
			want: []string{"jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "third", a: art("default", "Pod/debug"), at: t0, changed: true,
			want: []string{"default/Pod/debug", "jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "a CI scan has none", a: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4"}, at: t0,
			want: []string{"default/Pod/debug", "jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "remove", remove: true, a: art("jobs", "CronJob/sync"), changed: true,
			want: []string{"default/Pod/debug", "prod/ReplicaSet/api-7d9f"}},
		{name: "remove unknown", remove: true, a: art("jobs", "CronJob/other"), want: []string{"default/Pod/debug", "prod/ReplicaSet/api-7d9f"}},
		{name: "cluster-scoped", a: art("", "Node/worker-1"), at: t0, changed: true,
			want: []string{"Node/worker-1", "default/Pod/debug", "prod/ReplicaSet/api-7d9f"}},
	}
	for _, st := range steps {
		var changed bool
		if st.remove {
			changed = s.RemoveWorkload(st.a)
		} else {
			changed = s.AddWorkload(st.a, st.at)
		}
		if changed != st.changed {
			t.Errorf("%s: changed = %v, want %v", st.name, changed, st.changed)
		}
		if diff := cmp.Diff(st.want, s.WorkloadNames()); diff != "" {
			t.Errorf("%s: Workloads (-want +got):\n%s", st.name, diff)
		}
	}
	if got, want := s.Workloads["prod/ReplicaSet/api-7d9f"], t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("last seen %v, want the latest scan %v", got, want)
	}
}

func TestExpireWorkloads(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := vuln.State{Workloads: map[string]time.Time{
		"prod/Deployment/api":    t0,
		"prod/Deployment/worker": t0.Add(-vuln.WorkloadTTL), // Exactly the TTL ago: kept.
		"prod/CronJob/old":       t0.Add(-vuln.WorkloadTTL - time.Second),
		"jobs/CronJob/older":     t0.Add(-30 * 24 * time.Hour),
	}}
	gone := s.ExpireWorkloads(t0)
	if diff := cmp.Diff([]string{"jobs/CronJob/older", "prod/CronJob/old"}, gone); diff != "" {
		t.Errorf("expired (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"prod/Deployment/api", "prod/Deployment/worker"}, s.WorkloadNames()); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	if gone := s.ExpireWorkloads(t0); gone != nil {
		t.Errorf("second ExpireWorkloads = %v, want none", gone)
	}
	var empty vuln.State
	if gone := empty.ExpireWorkloads(t0); gone != nil || empty.WorkloadNames() != nil {
		t.Errorf("empty state: expired %v, names %v", gone, empty.WorkloadNames())
	}
}

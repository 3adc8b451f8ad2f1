package vuln_test

import (
	"testing"

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
	var s vuln.State
	steps := []struct {
		name    string
		remove  bool
		a       *bridgev1.Artifact
		changed bool
		want    []string
	}{
		{name: "first", a: art("prod", "ReplicaSet/api-7d9f"), changed: true, want: []string{"prod/ReplicaSet/api-7d9f"}},
		{name: "second sorts first", a: art("jobs", "CronJob/sync"), changed: true,
			want: []string{"jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "again", a: art("prod", "ReplicaSet/api-7d9f"), want: []string{"jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "third", a: art("default", "Pod/debug"), changed: true,
			want: []string{"default/Pod/debug", "jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "a CI scan has none", a: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/stoa/api:1.4"},
			want: []string{"default/Pod/debug", "jobs/CronJob/sync", "prod/ReplicaSet/api-7d9f"}},
		{name: "remove", remove: true, a: art("jobs", "CronJob/sync"), changed: true,
			want: []string{"default/Pod/debug", "prod/ReplicaSet/api-7d9f"}},
		{name: "remove unknown", remove: true, a: art("jobs", "CronJob/other"), want: []string{"default/Pod/debug", "prod/ReplicaSet/api-7d9f"}},
		{name: "cluster-scoped", a: art("", "Node/worker-1"), changed: true,
			want: []string{"Node/worker-1", "default/Pod/debug", "prod/ReplicaSet/api-7d9f"}},
	}
	for _, st := range steps {
		var changed bool
		if st.remove {
			changed = s.RemoveWorkload(st.a)
		} else {
			changed = s.AddWorkload(st.a)
		}
		if changed != st.changed {
			t.Errorf("%s: changed = %v, want %v", st.name, changed, st.changed)
		}
		if diff := cmp.Diff(st.want, s.Workloads); diff != "" {
			t.Errorf("%s: Workloads (-want +got):\n%s", st.name, diff)
		}
	}
}

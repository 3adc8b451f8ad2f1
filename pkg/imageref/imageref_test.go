package imageref_test

import (
	"testing"

	"github.com/stoa-platform/bridge/pkg/imageref"
)

func TestRepository(t *testing.T) {
	tests := []struct {
		ref, want string
	}{
		{"nginx", "index.docker.io/library/nginx"},
		{"nginx:1.25", "index.docker.io/library/nginx"},
		{"library/nginx", "index.docker.io/library/nginx"},
		{"docker.io/library/nginx", "index.docker.io/library/nginx"},
		{"docker.io/nginx", "index.docker.io/library/nginx"},
		{"index.docker.io/library/nginx:1.25@sha256:abc", "index.docker.io/library/nginx"},
		{"registry-1.docker.io/library/nginx", "index.docker.io/library/nginx"},
		{"grafana/grafana:10.4.0", "index.docker.io/grafana/grafana"},
		{"docker.io/grafana/grafana", "index.docker.io/grafana/grafana"},
		{"quay.io/argoproj/argocd:v2.13.1", "quay.io/argoproj/argocd"},
		{"ghcr.io/org/app@sha256:abc", "ghcr.io/org/app"},
		{"registry.local:5000/team/app:1", "registry.local:5000/team/app"},
		{"localhost/app", "localhost/app"},
		{"", ""},
		{"quay.io/", ""},
	}
	for _, tt := range tests {
		r, ok := imageref.Parse(tt.ref)
		if r.Repository != tt.want || ok != (tt.want != "") || imageref.Repository(tt.ref) != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.ref, r.Repository, ok, tt.want)
		}
	}
}

func TestParseAndName(t *testing.T) {
	tests := []struct {
		ref  string
		want imageref.Ref
		name string
	}{
		{"nginx", imageref.Ref{Repository: "index.docker.io/library/nginx"}, "index.docker.io/library/nginx:latest"},
		{"nginx:1.25@sha256:abc", imageref.Ref{Repository: "index.docker.io/library/nginx", Tag: "1.25", Digest: "sha256:abc"}, "index.docker.io/library/nginx:1.25"},
		{"ghcr.io/org/app@sha256:abc", imageref.Ref{Repository: "ghcr.io/org/app", Digest: "sha256:abc"}, "ghcr.io/org/app@sha256:abc"},
		{"registry.local:5000/team/app", imageref.Ref{Repository: "registry.local:5000/team/app"}, "registry.local:5000/team/app:latest"},
	}
	for _, tt := range tests {
		got, ok := imageref.Parse(tt.ref)
		if !ok || got != tt.want || got.Name() != tt.name {
			t.Errorf("Parse(%q) = %+v, %v (name %q); want %+v (name %q)", tt.ref, got, ok, got.Name(), tt.want, tt.name)
		}
	}
}

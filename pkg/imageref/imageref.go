// Package imageref reads container image references the way the
// registries' own tooling does, so that every part of the bridge spells
// one image one way: the Trivy source naming an artifact, the inventory
// listing a tool's images, the links between their tickets.
package imageref

import "strings"

// DockerHub is the registry Docker Hub names are written in full with, as
// go-containerregistry (and so Trivy Operator) writes them.
const DockerHub = "index.docker.io"

// Ref is a parsed image reference.
type Ref struct {
	// Repository is registry/path, a Docker Hub name written in full:
	// "nginx" is "index.docker.io/library/nginx".
	Repository string
	Tag        string
	Digest     string
}

// Name is "repository:tag", or "repository@digest" without a tag, or
// "repository:latest" with neither, as Docker reads it.
func (r Ref) Name() string {
	switch {
	case r.Tag != "":
		return r.Repository + ":" + r.Tag
	case r.Digest != "":
		return r.Repository + "@" + r.Digest
	}
	return r.Repository + ":latest"
}

// Parse splits an image reference. ok is false when it names no
// repository.
func Parse(ref string) (r Ref, ok bool) {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		ref, r.Digest = ref[:i], ref[i+1:]
	}
	// A colon before the last slash is a registry port, not a tag.
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref, r.Tag = ref[:i], ref[i+1:]
	}
	domain, path, found := strings.Cut(ref, "/")
	if !found || (!strings.ContainsAny(domain, ".:") && domain != "localhost") {
		domain, path = DockerHub, ref
	}
	if domain == "docker.io" || domain == "registry-1.docker.io" {
		domain = DockerHub
	}
	if path == "" || domain == "" {
		return Ref{}, false
	}
	if domain == DockerHub && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	r.Repository = domain + "/" + path
	return r, true
}

// Repository is the repository of ref (see Parse), or "" when it names
// none.
func Repository(ref string) string {
	r, _ := Parse(ref)
	return r.Repository
}

package inventory

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stoa-platform/bridge/pkg/imageref"
)

// Problem is one thing wrong with an inventory.
type Problem struct {
	// Path is the key, e.g. "tools[3].repo"; empty for the file as a whole
	// (a YAML syntax error).
	Path string
	// Reason says what is wrong, without the path.
	Reason string
}

// String reads "path: reason".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Reason
	}
	return p.Path + ": " + p.Reason
}

// Errors is every problem found in an inventory, in document order. Callers
// that list them use errors.As.
type Errors []Problem

// Error joins the problems, one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse is Load on the file's contents. On error the *Inventory is nil and
// the error is an Errors.
//
// The YAML is walked as a node tree rather than decoded into the structs:
// yaml.v3's strict decoder names an unknown key by line only, and stops at
// the first wrong type.
func Parse(data []byte) (*Inventory, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{{Reason: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	p := &parser{repos: map[string]int{}, images: map[string]string{}}
	inv := &Inventory{}
	if len(doc.Content) == 0 {
		p.add("tools", "required")
	} else {
		p.inventory(resolve(doc.Content[0]), inv)
	}
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return inv, nil
}

type parser struct {
	problems Errors
	// repos maps a lower-cased owner/repo to its tool's index.
	repos map[string]int
	// images maps a normalised image repository (imageref.Repository) to the
	// path of its first entry.
	images map[string]string
}

func (p *parser) add(path, format string, args ...any) {
	p.problems = append(p.problems, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// resolve follows an alias to its anchor.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// fields walks a mapping's keys in order, reporting a key that is unknown or
// repeated, and calls fn for the others. It is false when n is no mapping.
func (p *parser) fields(path string, n *yaml.Node, known []string, fn func(key, path string, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		p.add(path, "want a mapping")
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := resolve(n.Content[i]).Value
		kp := key
		if path != "" {
			kp = path + "." + key
		}
		switch {
		case seen[key]:
			p.add(kp, "repeated key")
		case !slices.Contains(known, key):
			p.add(kp, "unknown key")
		default:
			seen[key] = true
			fn(key, kp, resolve(n.Content[i+1]))
		}
	}
	return true
}

// str reads a scalar as its text: unquoted 2.13 or 3 (YAML numbers) are
// versions as written.
func (p *parser) str(path string, n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		if !isNull(n) {
			p.add(path, "want a string")
		}
		return ""
	}
	return n.Value
}

func (p *parser) inventory(n *yaml.Node, inv *Inventory) {
	if n.Kind != yaml.MappingNode {
		p.add("", "want a mapping with a tools list")
		return
	}
	var tools *yaml.Node
	if !p.fields("", n, []string{"tools"}, func(_, _ string, v *yaml.Node) { tools = v }) {
		return
	}
	switch {
	case tools == nil || isNull(tools):
		p.add("tools", "required")
		return
	case tools.Kind != yaml.SequenceNode:
		p.add("tools", "want a list of tools")
		return
	case len(tools.Content) == 0:
		p.add("tools", "at least one tool required")
		return
	}
	inv.Tools = make([]Tool, 0, len(tools.Content))
	for i, tn := range tools.Content {
		path := fmt.Sprintf("tools[%d]", i)
		var t Tool
		if p.tool(path, resolve(tn), &t) {
			p.validate(path, i, &t)
		}
		inv.Tools = append(inv.Tools, t)
	}
}

func (p *parser) tool(path string, n *yaml.Node, t *Tool) bool {
	var labelsSet bool
	ok := p.fields(path, n, []string{"name", "repo", "deployed", "tag_pattern", "prereleases", "images", "linear"}, func(key, kp string, v *yaml.Node) {
		switch key {
		case "name":
			t.Name = p.str(kp, v)
		case "repo":
			t.Repo = p.str(kp, v)
		case "deployed":
			t.Deployed = p.str(kp, v)
		case "tag_pattern":
			t.TagPattern = p.str(kp, v)
		case "prereleases":
			if isNull(v) {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Decode(&t.Prereleases) != nil {
				p.add(kp, "want true or false")
			}
		case "images":
			t.Images = p.imageList(kp, v)
		case "linear":
			if isNull(v) {
				return
			}
			p.fields(kp, v, []string{"team", "labels"}, func(key, kp string, v *yaml.Node) {
				switch key {
				case "team":
					t.Linear.Team = p.str(kp, v)
				case "labels":
					labelsSet = !isNull(v)
					t.Linear.Labels = p.labels(kp, v)
				}
			})
		}
	})
	if !labelsSet {
		t.Linear.Labels = []string{DefaultLabel}
	}
	if t.TagPattern == "" {
		t.TagPattern = DefaultTagPattern
	}
	return ok
}

func (p *parser) labels(path string, n *yaml.Node) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.add(path, "want a list of label names")
		return nil
	}
	labels := make([]string, 0, len(n.Content))
	for i, ln := range n.Content {
		lp := fmt.Sprintf("%s[%d]", path, i)
		l := strings.TrimSpace(p.str(lp, resolve(ln)))
		if l == "" {
			p.add(lp, "empty label")
			continue
		}
		labels = append(labels, l)
	}
	return labels
}

// imageName is an image repository as Docker spells one: an optional
// registry host (with a dot or a port, or localhost) and lower-case path
// components separated by ".", "_", "__" or dashes.
var imageName = regexp.MustCompile(`^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// imageList reads a tool's images: repositories without tag or digest,
// none listed twice in the whole inventory (compared as imageref.Repository
// spells them, so "nginx" and "docker.io/library/nginx" are the same).
func (p *parser) imageList(path string, n *yaml.Node) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.add(path, "want a list of image repositories")
		return nil
	}
	images := make([]string, 0, len(n.Content))
	for i, in := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		in = resolve(in)
		img := strings.TrimSpace(p.str(ip, in))
		switch {
		case in.Kind != yaml.ScalarNode:
			continue // p.str said so.
		case img == "":
			p.add(ip, "empty image")
			continue
		case strings.Contains(img, "@"):
			p.add(ip, "want an image repository without digest, got %q", img)
			continue
		case strings.LastIndexByte(img, ':') > strings.LastIndexByte(img, '/'):
			p.add(ip, "want an image repository without tag, got %q", img)
			continue
		case !imageName.MatchString(img):
			p.add(ip, "want an image repository like quay.io/org/name, got %q", img)
			continue
		}
		key := imageref.Repository(img) // imageName matched: never empty.
		if first, dup := p.images[key]; dup {
			p.add(ip, "%s is also %s", img, first)
			continue
		}
		p.images[key] = ip
		images = append(images, img)
	}
	return images
}

// repoName is GitHub's owner/repo: an owner of letters, digits and inner
// hyphens; a repository name of letters, digits, ".", "-" and "_".
var repoName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+$`)

// validate checks a decoded tool, the i-th of the list.
func (p *parser) validate(path string, i int, t *Tool) {
	if strings.TrimSpace(t.Name) == "" {
		p.add(path+".name", "required")
	}
	switch repo := t.Repo; {
	case repo == "":
		p.add(path+".repo", "required")
	case !repoName.MatchString(repo) || strings.HasSuffix(repo, "/.") || strings.HasSuffix(repo, "/.."):
		p.add(path+".repo", "want owner/repo, got %q", repo)
	default:
		key := strings.ToLower(repo)
		if first, dup := p.repos[key]; dup {
			p.add(path+".repo", "%s is also tools[%d]", repo, first)
		} else {
			p.repos[key] = i
		}
	}
	if t.Deployed == "" {
		p.add(path+".deployed", "required")
	} else if _, err := parseDeployed(t.Deployed); err != nil {
		p.add(path+".deployed", "%v, got %q", err, t.Deployed)
	}
	if n := strings.Count(t.TagPattern, Placeholder); n != 1 {
		p.add(path+".tag_pattern", "want %s exactly once, got %q", Placeholder, t.TagPattern)
	}
}

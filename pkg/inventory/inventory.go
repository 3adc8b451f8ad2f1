// Package inventory is the list of tools the platform runs: for each, its
// GitHub repository, the version deployed, how its release tags spell a
// version, and where its upgrade tickets go. It answers one question for the
// release-watcher and the linear-ticketer: is this release tag an upgrade of
// a tool we run, and how big a jump is it?
//
// The inventory is a YAML file (config github.inventory); Default is the
// copy of deploy/inventory.yaml built into the binary.
package inventory

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	"github.com/stoa-platform/bridge/pkg/imageref"
)

// DefaultTagPattern is the tag pattern of a tool that names none: most
// projects tag v1.2.3.
const DefaultTagPattern = "v{version}"

// DefaultLabel is the Linear label of a tool's upgrade tickets when the
// inventory names none.
const DefaultLabel = "upgrade"

// Placeholder is where the version sits in a tag pattern.
const Placeholder = "{version}"

// Tool is one tool the platform runs.
type Tool struct {
	// Name is how people call it, e.g. "Keycloak"; it titles the tickets.
	Name string `yaml:"name"`
	// Repo is the GitHub repository, "owner/repo".
	Repo string `yaml:"repo"`
	// Deployed is the version running, as people write it: "26.5.0",
	// "2.13" (= 2.13.0, so 2.13.1 is newer), "8.x" or "8" (any 8.*: only
	// 9.0.0 and later are newer), "2.13.x" (any 2.13.*).
	Deployed string `yaml:"deployed"`
	// TagPattern is how a release tag spells a version: Placeholder once,
	// with the literal text around it, e.g. "v{version}", "{version}",
	// "n8n@{version}", "helm-chart-{version}". A tag that does not match it
	// is not a release of this tool. Load sets DefaultTagPattern when empty.
	TagPattern string `yaml:"tag_pattern"`
	// Prereleases says whether pre-releases (a GitHub pre-release, or a
	// version with a "-rc.1"-style suffix) count as upgrades.
	Prereleases bool `yaml:"prereleases"`
	// Images are the tool's container image repositories, without tag or
	// digest ("quay.io/argoproj/argocd", "docker.io/grafana/grafana"): the
	// remediation tickets of those images are linked to the tool's upgrade
	// ticket. Docker Hub names may be short ("nginx") or full.
	Images []string `yaml:"images"`
	// Linear overrides where this tool's upgrade tickets go.
	Linear struct {
		// Team is a Linear team key; empty uses config linear.team.
		Team string `yaml:"team"`
		// Labels are label names. Load sets [DefaultLabel] when the key is
		// absent; an explicit empty list means no labels.
		Labels []string `yaml:"labels"`
	} `yaml:"linear"`
}

// Inventory is every tool the platform runs.
type Inventory struct {
	Tools []Tool `yaml:"tools"`
}

//go:embed default.yaml
var defaultYAML []byte

// Load reads and validates the inventory file at path. The decoding is
// strict (an unknown key is an error) and every problem is reported at
// once: the error wraps an Errors, each Problem with its key path
// ("tools[3].repo: want owner/repo").
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	inv, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", path, err)
	}
	return inv, nil
}

// Default returns a fresh copy of the built-in inventory
// (deploy/inventory.yaml), so a caller may change it freely.
func Default() *Inventory {
	inv, err := Parse(defaultYAML)
	if err != nil {
		// A test parses the same bytes: reaching this is a build of a
		// broken tree.
		panic(fmt.Sprintf("inventory: built-in default.yaml: %v", err))
	}
	return inv
}

// Lookup finds the tool of the repository owner/repo, ignoring case as
// GitHub does. The *Tool points into inv.
func (inv *Inventory) Lookup(owner, repo string) (*Tool, bool) {
	if inv == nil {
		return nil, false
	}
	full := owner + "/" + repo
	for i := range inv.Tools {
		if strings.EqualFold(inv.Tools[i].Repo, full) {
			return &inv.Tools[i], true
		}
	}
	return nil, false
}

// ToolOfImage finds the tool that lists the image repository; a tag or
// digest on it is ignored, and Docker Hub names match however they are
// spelled ("nginx" = "docker.io/library/nginx" =
// "index.docker.io/library/nginx", see imageref.Parse).
func (inv *Inventory) ToolOfImage(repository string) (Tool, bool) {
	want := imageref.Repository(repository)
	if inv == nil || want == "" {
		return Tool{}, false
	}
	for _, t := range inv.Tools {
		for _, img := range t.Images {
			if imageref.Repository(img) == want {
				return t, true
			}
		}
	}
	return Tool{}, false
}

package inventory

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lower(s string) string { return strings.ToLower(s) }

// The built-in copy is deploy/inventory.yaml: go:embed cannot reach out of
// the module, so the file is kept twice and this test keeps them equal.
func TestDefaultIsDeployInventory(t *testing.T) {
	deploy, err := os.ReadFile(filepath.Join("..", "..", "deploy", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(deploy, defaultYAML) {
		t.Error("pkg/inventory/default.yaml differs from deploy/inventory.yaml: cp deploy/inventory.yaml pkg/inventory/default.yaml")
	}
}

func TestDefault(t *testing.T) {
	if _, err := Parse(defaultYAML); err != nil {
		t.Fatalf("Parse(default.yaml) = %v", err)
	}
	inv := Default()

	// SPEC.md "Upgrade tickets": the platform's tools at these versions.
	want := map[string]string{
		"Argo CD": "2.13", "Portainer CE": "2.25", "Keycloak": "26.5", "Vault": "1.21",
		"External Secrets Operator": "0.12", "Gitleaks": "8.x", "Trivy": "0.58",
		"Prometheus": "2.48", "Grafana": "10.x", "Loki": "2.9", "OpenSearch": "2.11",
		"Fluent Bit": "3.x", "Uptime Kuma": "1.23", "NetBox": "4.5", "n8n": "1.78",
		"Kong Gateway": "3.9", "Gravitee APIM": "4.6", "Helm": "3", "Docusaurus": "3.9",
	}
	got := map[string]string{}
	for _, tool := range inv.Tools {
		got[tool.Name] = tool.Deployed
		if diff := cmp.Diff([]string{DefaultLabel}, tool.Linear.Labels); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", tool.Name, diff)
		}
		if _, err := parseDeployed(tool.Deployed); err != nil {
			t.Errorf("%s deployed %q: %v", tool.Name, tool.Deployed, err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Default() tools (-want +got):\n%s", diff)
	}

	// Each call is a fresh copy.
	inv.Tools[0].Deployed = "changed"
	if Default().Tools[0].Deployed == "changed" {
		t.Error("Default() shares its tools between calls")
	}
}

func TestLookup(t *testing.T) {
	inv := Default()
	tests := []struct {
		owner, repo string
		want        string // tool name; "" = not found
	}{
		{"keycloak", "keycloak", "Keycloak"},
		{"Keycloak", "Keycloak", "Keycloak"},
		{"kong", "kong", "Kong Gateway"},
		{"opensearch-project", "opensearch", "OpenSearch"},
		{"n8n-io", "n8n", "n8n"},
		{"keycloak", "keycloak-operator", ""},
		{"grafana", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		tool, ok := inv.Lookup(tt.owner, tt.repo)
		switch {
		case tt.want == "" && ok:
			t.Errorf("Lookup(%q, %q) = %s, true; want false", tt.owner, tt.repo, tool.Name)
		case tt.want != "" && (!ok || tool.Name != tt.want):
			t.Errorf("Lookup(%q, %q) = %v, %v; want %s", tt.owner, tt.repo, tool, ok, tt.want)
		}
	}
	tool, _ := inv.Lookup("helm", "helm")
	tool.Deployed = "4"
	if again, _ := inv.Lookup("helm", "helm"); again.Deployed != "4" {
		t.Error("Lookup returned a copy, want a pointer into the inventory")
	}
	var none *Inventory
	if _, ok := none.Lookup("helm", "helm"); ok {
		t.Error("nil Inventory: Lookup = true")
	}
}

func TestParse(t *testing.T) {
	inv, err := Parse([]byte(`
tools:
  - name: Keycloak
    repo: keycloak/keycloak
    deployed: 26.5          # unquoted: a YAML number, read as written
    tag_pattern: "{version}"
  - name: Helm
    repo: helm/helm
    deployed: 3
    prereleases: true
    linear: {team: OPS, labels: [upgrade, helm]}
  - &tool
    name: Loki
    repo: grafana/loki
    deployed: 2.10
    linear: {labels: []}
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	want := []Tool{
		{Name: "Keycloak", Repo: "keycloak/keycloak", Deployed: "26.5", TagPattern: "{version}"},
		{Name: "Helm", Repo: "helm/helm", Deployed: "3", TagPattern: "v{version}", Prereleases: true},
		{Name: "Loki", Repo: "grafana/loki", Deployed: "2.10", TagPattern: "v{version}"},
	}
	want[0].Linear.Labels = []string{"upgrade"}
	want[1].Linear.Team = "OPS"
	want[1].Linear.Labels = []string{"upgrade", "helm"}
	want[2].Linear.Labels = []string{}
	if diff := cmp.Diff(want, inv.Tools); diff != "" {
		t.Errorf("Parse tools (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty file", ``, []string{"tools: required"}},
		{"no tools", `tools:`, []string{"tools: required"}},
		{"empty list", `tools: []`, []string{"tools: at least one tool required"}},
		{"tools not a list", `tools: {name: x}`, []string{"tools: want a list of tools"}},
		{"root not a mapping", `- a`, []string{"want a mapping with a tools list"}},
		{"syntax", "tools: [", []string{"invalid YAML: line 1: did not find expected node content"}},
		{"unknown top-level key", "tool: []\ntools: [{name: A, repo: a/b, deployed: 1.0}]", []string{"tool: unknown key"}},
		{"tool not a mapping", `tools: [keycloak]`, []string{"tools[0]: want a mapping"}},
		{"required fields", `tools: [{tag_pattern: "{version}"}]`, []string{
			"tools[0].name: required",
			"tools[0].repo: required",
			"tools[0].deployed: required",
		}},
		{"unknown tool key", `tools: [{name: A, repo: a/b, deployed: "1.0", taq_pattern: "{version}"}]`, []string{
			"tools[0].taq_pattern: unknown key",
		}},
		{"repeated key", `tools: [{name: A, name: B, repo: a/b, deployed: "1.0"}]`, []string{
			"tools[0].name: repeated key",
		}},
		{"bad repo", `
tools:
  - {name: A, repo: a/b, deployed: "1.0"}
  - {name: B, repo: b, deployed: "1.0"}
  - {name: C, repo: https://github.com/c/d, deployed: "1.0"}
  - {name: D, repo: o/r/x, deployed: "1.0"}
  - {name: E, repo: -o/r, deployed: "1.0"}
`, []string{
			`tools[1].repo: want owner/repo, got "b"`,
			`tools[2].repo: want owner/repo, got "https://github.com/c/d"`,
			`tools[3].repo: want owner/repo, got "o/r/x"`,
			`tools[4].repo: want owner/repo, got "-o/r"`,
		}},
		{"duplicate repo", `
tools:
  - {name: A, repo: Kong/kong, deployed: "3.9"}
  - {name: B, repo: a/b, deployed: "1.0"}
  - {name: C, repo: kong/KONG, deployed: "3.9"}
`, []string{"tools[2].repo: kong/KONG is also tools[0]"}},
		{"bad deployed", `
tools:
  - {name: A, repo: a/a, deployed: latest}
  - {name: B, repo: b/b, deployed: v1.2.3}
  - {name: C, repo: c/c, deployed: 1.2.3.4}
`, []string{
			`tools[0].deployed: want a version like 26.5.0, 2.13, 8.x or 3, got "latest"`,
			`tools[1].deployed: want a version like 26.5.0, 2.13, 8.x or 3, got "v1.2.3"`,
			`tools[2].deployed: want a version like 26.5.0, 2.13, 8.x or 3, got "1.2.3.4"`,
		}},
		{"bad tag pattern", `
tools:
  - {name: A, repo: a/a, deployed: "1.0", tag_pattern: "v{ver}"}
  - {name: B, repo: b/b, deployed: "1.0", tag_pattern: "{version}-{version}"}
`, []string{
			`tools[0].tag_pattern: want {version} exactly once, got "v{ver}"`,
			`tools[1].tag_pattern: want {version} exactly once, got "{version}-{version}"`,
		}},
		{"wrong types", `
tools:
  - name: [A]
    repo: {owner: a}
    deployed: "1.0"
    prereleases: sometimes
    linear: {team: [T], labels: upgrade}
`, []string{
			"tools[0].name: want a string",
			"tools[0].repo: want a string",
			"tools[0].prereleases: want true or false",
			"tools[0].linear.team: want a string",
			"tools[0].linear.labels: want a list of label names",
			"tools[0].name: required",
			"tools[0].repo: required",
		}},
		{"linear keys", `tools: [{name: A, repo: a/a, deployed: "1.0", linear: {teams: X, labels: [ok, "", " "]}}]`, []string{
			"tools[0].linear.teams: unknown key",
			"tools[0].linear.labels[1]: empty label",
			"tools[0].linear.labels[2]: empty label",
		}},
		{"linear not a mapping", `tools: [{name: A, repo: a/a, deployed: "1.0", linear: OPS}]`, []string{
			"tools[0].linear: want a mapping",
		}},
		{"every tool reported", `
tools:
  - {name: A, repo: a, deployed: "1.0"}
  - {name: B, repo: b/b, deployed: nope}
  - {name: "", repo: c/c, deployed: "1.0"}
`, []string{
			`tools[0].repo: want owner/repo, got "a"`,
			`tools[1].deployed: want a version like 26.5.0, 2.13, 8.x or 3, got "nope"`,
			"tools[2].name: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse([]byte(tt.yaml))
			if inv != nil {
				t.Errorf("Parse = %+v, want nil on error", inv)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v (%T), want Errors", err, err)
			}
			got := make([]string, len(errs))
			for i, p := range errs {
				got[i] = p.String()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	inv, err := Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatalf("Load(valid.yaml) = %v", err)
	}
	if len(inv.Tools) != 2 || inv.Tools[1].TagPattern != "helm-chart-{version}" {
		t.Errorf("Load(valid.yaml) = %+v", inv.Tools)
	}

	path := filepath.Join("testdata", "invalid.yaml")
	_, err = Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Load(invalid.yaml) = %v, want 2 problems", err)
	}
	want := "inventory " + path + ": tools[1].colour: unknown key\ntools[1].repo: want owner/repo, got \"grafana\""
	if err.Error() != want {
		t.Errorf("Load(invalid.yaml) = %q, want %q", err, want)
	}

	if _, err := Load(filepath.Join("testdata", "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing.yaml) = %v, want fs.ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	for _, name := range []string{"valid.yaml", "invalid.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("tools: [&a {name: A, repo: a/a, deployed: 1.0}, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse(data)
		if err != nil {
			if inv != nil {
				t.Fatal("Parse returned both an inventory and an error")
			}
			return
		}
		// Whatever Parse accepts behaves: every tool has a usable pattern
		// and deployed version, and no repository twice.
		seen := map[string]bool{}
		for i := range inv.Tools {
			tool := &inv.Tools[i]
			if strings.Count(tool.TagPattern, Placeholder) != 1 {
				t.Fatalf("accepted tag pattern %q", tool.TagPattern)
			}
			if _, err := parseDeployed(tool.Deployed); err != nil {
				t.Fatalf("accepted deployed %q: %v", tool.Deployed, err)
			}
			if seen[lower(tool.Repo)] {
				t.Fatalf("accepted %s twice", tool.Repo)
			}
			seen[lower(tool.Repo)] = true
			tool.Upgrade(strings.Replace(tool.TagPattern, Placeholder, "1.2.3", 1), false)
		}
	})
}

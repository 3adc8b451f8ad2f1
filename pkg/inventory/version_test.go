package inventory

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

// toolTags holds, for every tool of the default inventory, a real-looking
// release tag of its style, a tag of another style the repository (or a
// neighbour) uses that must not match, and a pre-release tag.
var toolTags = map[string]struct {
	tag, want    string // a release and its version
	other        string // not a release of this tool
	pre, wantPre string // a pre-release and its version
}{
	"argoproj/argo-cd":                    {"v2.14.2", "2.14.2", "2.14.2", "v3.0.0-rc1", "3.0.0-rc1"},
	"portainer/portainer":                 {"2.27.1", "2.27.1", "v2.27.1", "2.28.0-rc.1", "2.28.0-rc.1"},
	"keycloak/keycloak":                   {"26.6.0", "26.6.0", "nightly", "26.6.0-rc.1", "26.6.0-rc.1"},
	"hashicorp/vault":                     {"v1.21.1", "1.21.1", "1.21.1", "v1.22.0-rc1", "1.22.0-rc1"},
	"external-secrets/external-secrets":   {"v0.12.1", "0.12.1", "helm-chart-0.12.1", "v0.13.0-rc1", "0.13.0-rc1"},
	"gitleaks/gitleaks":                   {"v8.21.2", "8.21.2", "8.21.2", "v9.0.0-beta.1", "9.0.0-beta.1"},
	"aquasecurity/trivy":                  {"v0.59.1", "0.59.1", "helm-chart-0.11.0", "v0.60.0-rc.1", "0.60.0-rc.1"},
	"prometheus/prometheus":               {"v2.53.3", "2.53.3", "2.53.3", "v3.0.0-rc.0", "3.0.0-rc.0"},
	"grafana/grafana":                     {"v11.4.0", "11.4.0", "11.4.0", "v12.0.0-beta1", "12.0.0-beta1"},
	"grafana/loki":                        {"v2.9.4", "2.9.4", "helm-loki-6.16.0", "v3.0.0-rc.1", "3.0.0-rc.1"},
	"opensearch-project/opensearch":       {"2.19.1", "2.19.1", "v2.19.1", "3.0.0-alpha1", "3.0.0-alpha1"},
	"fluent/fluent-bit":                   {"v3.2.10", "3.2.10", "3.2.10", "v4.0.0-rc1", "4.0.0-rc1"},
	"louislam/uptime-kuma":                {"1.23.16", "1.23.16", "v1.23.16", "2.0.0-beta.0", "2.0.0-beta.0"},
	"netbox-community/netbox":             {"v4.5.1", "4.5.1", "4.5.1", "v4.7.0-beta1", "4.7.0-beta1"},
	"n8n-io/n8n":                          {"n8n@1.80.3", "1.80.3", "@n8n/chat@0.34.0", "n8n@1.81.0-exp.0", "1.81.0-exp.0"},
	"kong/kong":                           {"3.9.2", "3.9.2", "v3.9.2", "3.10.0-rc.1", "3.10.0-rc.1"},
	"gravitee-io/gravitee-api-management": {"4.6.3", "4.6.3", "v4.6.3", "4.7.0-alpha.1", "4.7.0-alpha.1"},
	"helm/helm":                           {"v3.17.0", "3.17.0", "3.17.0", "v4.0.0-rc.1", "4.0.0-rc.1"},
	"facebook/docusaurus":                 {"v3.9.2", "3.9.2", "3.9.2", "v4.0.0-alpha.0", "4.0.0-alpha.0"},
}

func TestDefaultToolTags(t *testing.T) {
	inv := Default()
	if len(inv.Tools) != len(toolTags) {
		t.Errorf("Default() has %d tools, the tag table %d: keep them in step", len(inv.Tools), len(toolTags))
	}
	for i := range inv.Tools {
		tool := &inv.Tools[i]
		tc, ok := toolTags[lower(tool.Repo)]
		if !ok {
			t.Errorf("no tag test for %s (%s)", tool.Name, tool.Repo)
			continue
		}
		t.Run(tool.Name, func(t *testing.T) {
			for _, c := range []struct {
				tag, want string
			}{{tc.tag, tc.want}, {tc.pre, tc.wantPre}, {tc.other, ""}} {
				v, ok := tool.Version(c.tag)
				switch {
				case c.want == "" && ok:
					t.Errorf("Version(%q) = %v, true; want no match for pattern %q", c.tag, v, tool.TagPattern)
				case c.want != "" && !ok:
					t.Errorf("Version(%q) = false, want %s (pattern %q)", c.tag, c.want, tool.TagPattern)
				case c.want != "" && v.String() != c.want:
					t.Errorf("Version(%q) = %s, want %s", c.tag, v, c.want)
				}
			}
			if v, _ := tool.Version(tc.pre); v != nil && v.Prerelease() == "" {
				t.Errorf("Version(%q) has no pre-release", tc.pre)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		pattern, tag string
		want         string // "" = no match
	}{
		{"v{version}", "v1.21.0", "1.21.0"},
		{"v{version}", "v2.13", "2.13.0"},
		{"v{version}", "v0.0.1", "0.0.1"},
		{"v{version}", "v1.0.0-rc.1", "1.0.0-rc.1"},
		{"v{version}", "v4.7.0-beta1", "4.7.0-beta1"},
		{"v{version}", "v2.14-rc1", "2.14.0-rc1"},
		{"v{version}", "v1.21.0+ent", "1.21.0+ent"},
		{"", "v1.2.3", "1.2.3"}, // empty pattern: the default
		{"{version}", "26.5.0", "26.5.0"},
		{"n8n@{version}", "n8n@1.78.0", "1.78.0"},
		{"helm-chart-{version}", "helm-chart-0.12.1", "0.12.1"},
		{"{version}-lts", "2.27.0-lts", "2.27.0"},
		{"release-{version}-final", "release-1.2.3-final", "1.2.3"},

		{"v{version}", "1.21.0", ""},
		{"v{version}", "V1.21.0", ""},
		{"v{version}", "vv1.21.0", ""},
		{"v{version}", "v8", ""},
		{"v{version}", "v1.2.3.4", ""},
		{"v{version}", "v01.2.3", ""},
		{"v{version}", "v1.02.3", ""},
		{"v{version}", "v1.2.3-rc.01", ""}, // semver: no leading zero in a numeric identifier
		{"v{version}", "v1.2.3-", ""},
		{"v{version}", "v1.2.3-rc..1", ""},
		{"v{version}", "v1.2.3 ", ""},
		{"v{version}", "v", ""},
		{"v{version}", "", ""},
		{"v{version}", "helm-chart-1.2.3", ""},
		{"{version}", "v1.2.3", ""},
		{"{version}", "nightly", ""},
		{"n8n@{version}", "@n8n/chat@0.34.0", ""},
		{"n8n@{version}", "1.78.0", ""},
		{"{version}-lts", "2.27.0", ""},
		{"release-{version}-final", "release--final", ""},
		{"no placeholder", "no placeholder", ""},
		{"{version}{version}", "1.2.31.2.3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.tag, func(t *testing.T) {
			tool := &Tool{TagPattern: tt.pattern}
			v, ok := tool.Version(tt.tag)
			if tt.want == "" {
				if ok {
					t.Errorf("Version(%q) with pattern %q = %v, true; want false", tt.tag, tt.pattern, v)
				}
				return
			}
			if !ok || v.String() != tt.want {
				t.Errorf("Version(%q) with pattern %q = %v, %v; want %s, true", tt.tag, tt.pattern, v, ok, tt.want)
			}
		})
	}
}

func TestUpgrade(t *testing.T) {
	tests := []struct {
		name        string
		deployed    string
		pattern     string
		prereleases bool
		tag         string
		ghPre       bool // GitHub's prerelease flag
		want        *Upgrade
	}{
		{name: "patch", deployed: "26.5.0", pattern: "{version}", tag: "26.5.1",
			want: &Upgrade{From: "26.5.0", To: "26.5.1", Jump: JumpPatch}},
		{name: "minor", deployed: "26.5.0", pattern: "{version}", tag: "26.6.1",
			want: &Upgrade{From: "26.5.0", To: "26.6.1", Jump: JumpMinor}},
		{name: "major", deployed: "26.5.0", pattern: "{version}", tag: "27.0.0",
			want: &Upgrade{From: "26.5.0", To: "27.0.0", Jump: JumpMajor}},
		{name: "equal", deployed: "26.5.0", pattern: "{version}", tag: "26.5.0"},
		{name: "older", deployed: "26.5.0", pattern: "{version}", tag: "26.4.9"},
		{name: "older major", deployed: "26.5.0", pattern: "{version}", tag: "25.9.9"},
		{name: "other tag style", deployed: "0.12", tag: "helm-chart-0.13.0"},
		{name: "build metadata is not newer", deployed: "1.21.0", tag: "v1.21.0+ent"},

		{name: "2-part deployed equal", deployed: "2.13", tag: "v2.13.0"},
		{name: "2-part deployed patch", deployed: "2.13", tag: "v2.13.1",
			want: &Upgrade{From: "2.13", To: "2.13.1", Jump: JumpPatch}},
		{name: "2-part tag", deployed: "2.13", tag: "v2.14",
			want: &Upgrade{From: "2.13", To: "2.14", Jump: JumpMinor}},

		{name: "x deployed same major", deployed: "8.x", tag: "v8.99.3"},
		{name: "x deployed next major", deployed: "8.x", tag: "v9.0.0",
			want: &Upgrade{From: "8.x", To: "9.0.0", Jump: JumpMajor}},
		{name: "x deployed older", deployed: "8.x", tag: "v7.9.0"},
		{name: "bare major deployed same major", deployed: "3", tag: "v3.17.0"},
		{name: "bare major deployed next", deployed: "3", tag: "v4.0.0",
			want: &Upgrade{From: "3", To: "4.0.0", Jump: JumpMajor}},
		{name: "minor wildcard same", deployed: "2.13.x", tag: "v2.13.9"},
		{name: "minor wildcard next", deployed: "2.13.x", tag: "v2.14.0",
			want: &Upgrade{From: "2.13.x", To: "2.14.0", Jump: JumpMinor}},

		{name: "prerelease suffix ignored", deployed: "2.13", tag: "v2.14.0-rc.1"},
		{name: "prerelease suffix counted", deployed: "2.13", prereleases: true, tag: "v2.14.0-rc.1",
			want: &Upgrade{From: "2.13", To: "2.14.0-rc.1", Jump: JumpMinor}},
		{name: "github prerelease flag ignored", deployed: "2.13", tag: "v2.14.0", ghPre: true},
		{name: "github prerelease flag counted", deployed: "2.13", prereleases: true, tag: "v2.14.0", ghPre: true,
			want: &Upgrade{From: "2.13", To: "2.14.0", Jump: JumpMinor}},
		{name: "prerelease of deployed is older", deployed: "2.13", prereleases: true, tag: "v2.13.0-rc.2"},
		{name: "prerelease of next major over x", deployed: "8.x", prereleases: true, tag: "v9.0.0-rc.1",
			want: &Upgrade{From: "8.x", To: "9.0.0-rc.1", Jump: JumpMajor}},
		{name: "prerelease within x", deployed: "8.x", prereleases: true, tag: "v8.30.0-rc.1"},
		{name: "prerelease to prerelease", deployed: "2.14.0-rc.1", prereleases: true, tag: "v2.14.0-rc.2",
			want: &Upgrade{From: "2.14.0-rc.1", To: "2.14.0-rc.2", Jump: JumpPrerelease}},
		{name: "prerelease to release", deployed: "2.14.0-rc.1", tag: "v2.14.0",
			want: &Upgrade{From: "2.14.0-rc.1", To: "2.14.0", Jump: JumpPrerelease}},
		{name: "numeric prerelease order", deployed: "2.14.0-rc.2", prereleases: true, tag: "v2.14.0-rc.10",
			want: &Upgrade{From: "2.14.0-rc.2", To: "2.14.0-rc.10", Jump: JumpPrerelease}},

		{name: "n8n pattern", deployed: "1.78", pattern: "n8n@{version}", tag: "n8n@1.79.0",
			want: &Upgrade{From: "1.78", To: "1.79.0", Jump: JumpMinor}},
		{name: "bad deployed", deployed: "latest", tag: "v1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool := &Tool{Name: "X", Repo: "o/r", Deployed: tt.deployed, TagPattern: tt.pattern, Prereleases: tt.prereleases}
			got, ok := tool.Upgrade(tt.tag, tt.ghPre)
			if tt.want == nil {
				if ok {
					t.Errorf("Upgrade(%q, %v) with deployed %q = %+v, true; want false", tt.tag, tt.ghPre, tt.deployed, got)
				}
				return
			}
			want := *tt.want
			want.Tool = tool
			if !ok || got != want {
				t.Errorf("Upgrade(%q, %v) with deployed %q = %+v, %v; want %+v, true", tt.tag, tt.ghPre, tt.deployed, got, ok, want)
			}
		})
	}
}

func TestNewer(t *testing.T) {
	tests := []struct {
		deployed, version string
		want              bool
	}{
		{"26.5.0", "26.5.1", true},
		{"26.5.0", "26.5.0", false},
		{"2.13", "2.13.0-rc.1", false},
		{"8.x", "9.0.0-rc.1", true},
		{"8.X", "9.0.0", true},
		{"8.*", "8.5.0", false},
		{"8", "9.0.0", true},
		{"2.13.x", "2.13.99", false},
		{"2.13.x", "3.0.0", true},
		{"", "1.0.0", false},
		{"v1.2.3", "2.0.0", false}, // not a deployed version: never newer
	}
	for _, tt := range tests {
		tool := &Tool{Deployed: tt.deployed}
		if got := tool.Newer(semver.MustParse(tt.version)); got != tt.want {
			t.Errorf("Tool{Deployed: %q}.Newer(%s) = %v, want %v", tt.deployed, tt.version, got, tt.want)
		}
	}
	if (&Tool{Deployed: "1.0.0"}).Newer(nil) {
		t.Error("Newer(nil) = true, want false")
	}
}

func TestParseDeployed(t *testing.T) {
	good := []string{"26.5.0", "2.13", "0.12", "8.x", "8.X", "8.*", "3", "2.13.x", "1.0.0-rc.1", "0.0"}
	for _, s := range good {
		if _, err := parseDeployed(s); err != nil {
			t.Errorf("parseDeployed(%q) = %v, want nil", s, err)
		}
	}
	bad := []string{"", "x", "v1.2.3", "1.2.3.4", "01.2", "1.x.3", "1.2.3.x", "1.2.3+build", "latest", " 1.2", "1.2-"}
	for _, s := range bad {
		if _, err := parseDeployed(s); err == nil {
			t.Errorf("parseDeployed(%q) = nil error, want one", s)
		}
	}
}

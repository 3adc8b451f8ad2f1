package inventory

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestToolOfImage(t *testing.T) {
	inv, err := Parse([]byte(`
tools:
  - name: Grafana
    repo: grafana/grafana
    deployed: 10.x
    images: [docker.io/grafana/grafana]
  - name: Kong
    repo: Kong/kong
    deployed: "3.9"
    images: [kong]
  - name: Fluent Bit
    repo: fluent/fluent-bit
    deployed: 3.x
    images: [cr.fluentbit.io/fluent/fluent-bit, fluent/fluent-bit]
  - name: Helm
    repo: helm/helm
    deployed: "3"
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image, want string // want: tool name, "" = none
	}{
		{"index.docker.io/grafana/grafana", "Grafana"},
		{"grafana/grafana:11.0.0", "Grafana"},
		{"index.docker.io/grafana/grafana@sha256:0123", "Grafana"},
		{"docker.io/library/kong:3.9.1", "Kong"},
		{"index.docker.io/library/kong", "Kong"},
		{"kong", "Kong"},
		{"kong/kong", ""}, // Not the official image.
		{"cr.fluentbit.io/fluent/fluent-bit:3.2", "Fluent Bit"},
		{"docker.io/fluent/fluent-bit", "Fluent Bit"},
		{"ghcr.io/grafana/grafana", ""},
		{"index.docker.io/grafana/grafana-oss", ""},
		{"", ""},
	}
	for _, tt := range tests {
		tool, ok := inv.ToolOfImage(tt.image)
		if got := tool.Name; got != tt.want || ok != (tt.want != "") {
			t.Errorf("ToolOfImage(%q) = %q, %v; want %q", tt.image, got, ok, tt.want)
		}
	}
	var none *Inventory
	if _, ok := none.ToolOfImage("nginx"); ok {
		t.Error("nil Inventory: ToolOfImage = true")
	}

	// The built-in inventory names the official images.
	def := Default()
	for image, want := range map[string]string{
		"index.docker.io/grafana/grafana:10.4.0": "Grafana",
		"quay.io/argoproj/argocd:v2.13.0":        "Argo CD",
		"index.docker.io/library/kong:3.9":       "Kong Gateway",
		"docker.io/n8nio/n8n":                    "n8n",
	} {
		if tool, ok := def.ToolOfImage(image); !ok || tool.Name != want {
			t.Errorf("Default().ToolOfImage(%q) = %q, %v; want %s", image, tool.Name, ok, want)
		}
	}
}

func TestParseImages(t *testing.T) {
	inv, err := Parse([]byte(`
tools:
  - {name: A, repo: a/a, deployed: "1.0", images: [quay.io/a/a, a/b]}
  - {name: B, repo: b/b, deployed: "1.0", images: []}
  - {name: C, repo: c/c, deployed: "1.0"}
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	got := [][]string{inv.Tools[0].Images, inv.Tools[1].Images, inv.Tools[2].Images}
	if diff := cmp.Diff([][]string{{"quay.io/a/a", "a/b"}, {}, nil}, got); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"not a list", `tools: [{name: A, repo: a/a, deployed: "1.0", images: nginx}]`, []string{
			"tools[0].images: want a list of image repositories",
		}},
		{"bad entries", `
tools:
  - name: A
    repo: a/a
    deployed: "1.0"
    images: ["", nginx:1.25, "ghcr.io/a/b@sha256:0123", Grafana/Grafana, "quay.io/a b", [x], registry.local:5000/app]
`, []string{
			"tools[0].images[0]: empty image",
			`tools[0].images[1]: want an image repository without tag, got "nginx:1.25"`,
			`tools[0].images[2]: want an image repository without digest, got "ghcr.io/a/b@sha256:0123"`,
			`tools[0].images[3]: want an image repository like quay.io/org/name, got "Grafana/Grafana"`,
			`tools[0].images[4]: want an image repository like quay.io/org/name, got "quay.io/a b"`,
			"tools[0].images[5]: want a string",
		}},
		{"duplicates however spelled", `
tools:
  - {name: A, repo: a/a, deployed: "1.0", images: [nginx, quay.io/a/a]}
  - {name: B, repo: b/b, deployed: "1.0", images: [docker.io/library/nginx]}
  - {name: C, repo: c/c, deployed: "1.0", images: [quay.io/c/c, quay.io/c/c]}
`, []string{
			"tools[1].images[0]: docker.io/library/nginx is also tools[0].images[0]",
			"tools[2].images[1]: quay.io/c/c is also tools[2].images[0]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v, want Errors", err)
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

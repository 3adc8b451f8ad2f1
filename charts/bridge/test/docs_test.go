package test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the values table of the chart's README.md")

const (
	docsStart = "<!-- values:start (generated from values.yaml by `make chart-docs`) -->"
	docsEnd   = "<!-- values:end -->"
)

// TestReadmeValues keeps the chart README's values table, generated from the
// "# --" comments of values.yaml (helm-docs style), current. -update (make
// chart-docs) rewrites it.
func TestReadmeValues(t *testing.T) {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := valuesTable(values)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(chartDir, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), docsStart)
	_, after, ok2 := strings.Cut(rest, docsEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no %q ... %q markers", path, docsStart, docsEnd)
	}
	want := before + docsStart + "\n" + table + docsEnd + after
	if want == string(readme) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is stale: run `make chart-docs` and commit it", path)
}

// valuesTable renders every key with a "# --" comment as a Markdown row:
// key path, type, default, description.
func valuesTable(values []byte) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(values, &doc); err != nil {
		return "", fmt.Errorf("values.yaml: %w", err)
	}
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n")
	var walk func(n *yaml.Node, path string) error
	walk = func(n *yaml.Node, path string) error {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if desc, ok := description(k.HeadComment); ok {
				def, err := inline(v)
				if err != nil {
					return fmt.Errorf("values.yaml %s: %w", p, err)
				}
				fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", p, kind(v), def, desc)
			}
			if err := walk(v, p); err != nil {
				return err
			}
		}
		return nil
	}
	if len(doc.Content) == 0 {
		return "", fmt.Errorf("values.yaml is empty")
	}
	if err := walk(doc.Content[0], ""); err != nil {
		return "", err
	}
	return b.String(), nil
}

// description is the comment from its last "# --" on, on one line.
func description(comment string) (string, bool) {
	i := strings.LastIndex(comment, "# --")
	if i < 0 {
		return "", false
	}
	var words []string
	for _, line := range strings.Split(comment[i+len("# --"):], "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if line != "" {
			words = append(words, line)
		}
	}
	return strings.ReplaceAll(strings.Join(words, " "), "|", `\|`), true
}

func kind(v *yaml.Node) string {
	switch {
	case v.Kind == yaml.MappingNode:
		return "object"
	case v.Kind == yaml.SequenceNode:
		return "list"
	case v.Tag == "!!int":
		return "int"
	case v.Tag == "!!bool":
		return "bool"
	default:
		return "string"
	}
}

// inline is the value as compact JSON.
func inline(v *yaml.Node) (string, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return "", err
	}
	return strings.ReplaceAll(strings.TrimSpace(buf.String()), "|", `\|`), nil
}

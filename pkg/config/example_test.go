package config

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"

	"github.com/stoa-platform/bridge/pkg/secrets"
)

// The example file is part of the repository, so reading it from here works
// on any clone.
const examplePath = "../../deploy/config.example.yaml"

// The example spells out the defaults: loading it gives Default(), apart
// from keys it sets on purpose (none today; list them here when it does).
func TestExampleIsDefault(t *testing.T) {
	got, err := Load(examplePath, nil)
	if err != nil {
		t.Fatalf("Load(%s) = %v", examplePath, err)
	}
	want := Default()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s differs from Default() (-want +got):\n%s", examplePath, diff)
	}
}

// Every key of Config is in the example, with its environment variable; the
// fields of list elements are shown in comments.
func TestExampleMentionsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys() {
		listKey, field, inList := strings.Cut(k.path, "[].")
		if !inList {
			if !hasKey(&root, k.path) {
				t.Errorf("%s does not set %s to its default", examplePath, k.path)
			}
		} else {
			if !hasKey(&root, listKey) {
				t.Errorf("%s does not set %s", examplePath, listKey)
			}
			commented := regexp.MustCompile(`(?m)^\s*#\s+(- )?` + regexp.QuoteMeta(field) + `:`)
			if !commented.MatchString(text) {
				t.Errorf("%s does not show %s in a comment", examplePath, k.path)
			}
		}
		if k.env != "" && !strings.Contains(text, "Env: "+k.env+"\n") {
			t.Errorf("%s does not name %s's variable %q", examplePath, k.path, "Env: "+k.env)
		}
	}
	for _, name := range secrets.Names {
		if !regexp.MustCompile(`(?m)^#\s+` + name + `\s+` + secrets.EnvVar(name) + `\s`).MatchString(text) {
			t.Errorf("%s does not list the secret %s with its variable %s", examplePath, name, secrets.EnvVar(name))
		}
	}
}

// hasKey reports whether the document sets the dotted path.
func hasKey(root *yaml.Node, path string) bool {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
next:
	for name := range strings.SplitSeq(path, ".") {
		if n.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				n = n.Content[i+1]
				continue next
			}
		}
		return false
	}
	return true
}

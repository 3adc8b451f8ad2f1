package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/stoa-platform/bridge/pkg/config"
)

// FuzzParse: Parse never panics, and a config it accepts survives
// yaml.Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "deploy", "config.example.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a]\nnats: *a\n"))
	f.Add([]byte("<<: {listen: ':1'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data, nil)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("Parse(%q) returned an empty error", data)
			}
			return
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("yaml.Marshal(Parse(%q)) = %v", data, err)
		}
		got, err := config.Parse(out, nil)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but its marshalled form\n%s\nfails: %v", data, out, err)
		}
		if diff := cmp.Diff(c, got, equateEmpty); diff != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", data, diff)
		}
	})
}

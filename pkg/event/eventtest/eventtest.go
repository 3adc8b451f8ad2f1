// Package eventtest compares events with golden files.
package eventtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/event"
)

// Golden returns ev as stable, indented protojson with its random id
// cleared. protojson varies its spacing on purpose; compacting and indenting
// again makes the bytes the same from run to run.
func Golden(t testing.TB, ev *event.Event) []byte {
	t.Helper()
	c := proto.Clone(ev).(*event.Event)
	c.Id = ""
	b, err := protojson.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// Check compares got with the golden file at path; with update set it
// rewrites the file first. flag names the test flag that sets update, for
// the hint when the file is missing.
func Check(t testing.TB, path string, got []byte, update bool, flag string) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -%s to write it)", err, flag)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// Fixtures lists the webhook bodies in testdata matching pattern (a
// filepath.Match pattern relative to testdata), golden files aside, as
// paths relative to testdata. Tests range over it so that a fixture added
// to testdata cannot go untested.
func Fixtures(t testing.TB, pattern string) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".golden.json") {
			rel, _ := filepath.Rel("testdata", p)
			names = append(names, filepath.ToSlash(rel))
		}
	}
	if len(names) == 0 {
		t.Fatalf("no fixtures in testdata match %s", pattern)
	}
	return names
}

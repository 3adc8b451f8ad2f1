// Package test renders the bridge Helm chart with the helm binary and checks
// what comes out: every object decoded strictly against the Kubernetes API
// types (a misspelled field fails), the semantics a decoder does not check
// (probes, resources, hardening, labels, name lengths), the config the
// bridge will read, and values.schema.json through helm lint.
package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// chartDir is the chart, relative to this package.
const chartDir = ".."

// helmBin finds helm on PATH or in $TOOLS (where `make chart-test` installs
// it). Without it the test skips loudly, unless CHART_TEST_REQUIRED is set
// (make chart-test sets it), so CI can never pass without running it.
func helmBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	dirs := []string{os.Getenv("TOOLS")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "bridge-tools", "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "helm")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CHART_TEST_REQUIRED") != "" {
		t.Fatal("helm not found on PATH or in $TOOLS, and CHART_TEST_REQUIRED is set: run `make chart-test`")
	}
	t.Skip("!!! SKIPPED: helm not found on PATH or in $TOOLS; `make chart-test` installs it and runs these tests")
	return ""
}

// helm runs the helm binary and returns its stdout, and stderr on failure.
func helm(t *testing.T, bin string, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	// Keep helm away from the user's repositories, cache and plugins.
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.String() + out.String(), err
}

// render runs helm template with the values file (none when empty).
func render(t *testing.T, bin, values string) []byte {
	t.Helper()
	args := []string{"template", "rel", chartDir, "--namespace", "bridge"}
	if values != "" {
		args = append(args, "--values", values)
	}
	out, stderr, err := helm(t, bin, args...)
	if err != nil {
		t.Fatalf("helm template -f %s: %v\n%s", values, err, stderr)
	}
	return out
}

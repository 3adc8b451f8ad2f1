package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dockerfile = "../Dockerfile"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, COPY, …
	args string
}

func parseDockerfile(src string) []instruction {
	var out []instruction
	var cur strings.Builder
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// checkDockerfile returns every way src departs from the image the chart
// expects: one stage on a BASE build argument defaulting to distroless
// static nonroot, every binary copied to /usr/local/bin, the nonroot user,
// an exec-form entrypoint (no shell in the image), OCI labels.
func checkDockerfile(src string, binaries []string) []error {
	var errs []error
	ins := parseDockerfile(src)
	var from []instruction
	copied := map[string]bool{}
	labels := ""
	baseArg, user, entrypoint := false, "", ""
	for i, in := range ins {
		switch in.cmd {
		case "ARG":
			if in.args == "BASE=gcr.io/distroless/static-debian12:nonroot" && len(from) == 0 {
				baseArg = true
			}
		case "FROM":
			from = append(from, in)
		case "COPY", "ADD":
			if in.cmd == "ADD" {
				errs = append(errs, fmt.Errorf("line %d: ADD, want COPY", i+1))
			}
			f := strings.Fields(in.args)
			if len(f) < 2 || f[len(f)-1] != "/usr/local/bin/" {
				errs = append(errs, fmt.Errorf("COPY %s: want binaries copied to /usr/local/bin/", in.args))
				continue
			}
			for _, src := range f[:len(f)-1] {
				if strings.HasPrefix(src, "--") {
					errs = append(errs, fmt.Errorf("COPY %s: no flags (docker's legacy builder lacks them)", in.args))
					continue
				}
				copied[src] = true
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "LABEL":
			labels += in.args + " "
		case "RUN", "SHELL", "CMD":
			errs = append(errs, fmt.Errorf("%s %s: the base has no shell", in.cmd, in.args))
		}
	}
	if !baseArg {
		errs = append(errs, fmt.Errorf("want ARG BASE=gcr.io/distroless/static-debian12:nonroot before FROM"))
	}
	if len(from) != 1 || from[0].args != "${BASE}" {
		errs = append(errs, fmt.Errorf("FROM %v: want a single FROM ${BASE}", from))
	}
	for _, b := range binaries {
		if !copied[b] {
			errs = append(errs, fmt.Errorf("binary %s is not copied", b))
		}
	}
	if user != "65532:65532" {
		errs = append(errs, fmt.Errorf("USER %q, want 65532:65532 (distroless nonroot)", user))
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint), &argv); err != nil || !slices.Equal(argv, []string{"/usr/local/bin/bridge"}) {
		errs = append(errs, fmt.Errorf("ENTRYPOINT %s: want the exec form [\"/usr/local/bin/bridge\"]", entrypoint))
	}
	for _, l := range []string{"title", "source", "version", "revision", "created"} {
		if !regexp.MustCompile(`org\.opencontainers\.image\.` + l + `=`).MatchString(labels) {
			errs = append(errs, fmt.Errorf("no label org.opencontainers.image.%s", l))
		}
	}
	return errs
}

// binaries are the commands of services/*/cmd/*: what make build builds.
func binaries(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "services", "*", "cmd", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no services/*/cmd/* (%v)", err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(d))
	}
	slices.Sort(names)
	return names
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkDockerfile(string(src), binaries(t)) {
		t.Error(err)
	}
}

// TestMakefileServices: make build, make image-test and the Dockerfile
// must agree on the binaries.
func TestMakefileServices(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SERVICES\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no SERVICES := in the Makefile")
	}
	got := strings.Fields(string(m[1]))
	slices.Sort(got)
	if want := binaries(t); !slices.Equal(got, want) {
		t.Errorf("Makefile SERVICES = %v, want services/*/cmd/* %v", got, want)
	}
}

func TestCheckDockerfileCatches(t *testing.T) {
	valid := `ARG BASE=gcr.io/distroless/static-debian12:nonroot
FROM ${BASE}
LABEL org.opencontainers.image.title="t" \
      org.opencontainers.image.source="s" org.opencontainers.image.version="v" \
      org.opencontainers.image.revision="r" org.opencontainers.image.created="c"
COPY a b /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/bridge"]
`
	if errs := checkDockerfile(valid, []string{"a", "b"}); len(errs) > 0 {
		t.Fatalf("checkDockerfile(valid) = %v, want none", errs)
	}
	tests := []struct{ name, from, to, want string }{
		{"shell form", `ENTRYPOINT ["/usr/local/bin/bridge"]`, `ENTRYPOINT /usr/local/bin/bridge`, "exec form"},
		{"root", "USER 65532:65532", "USER root", "USER"},
		{"missing binary", "COPY a b", "COPY a", "binary b"},
		{"fixed base", "FROM ${BASE}", "FROM alpine", "FROM ${BASE}"},
		{"two stages", "FROM ${BASE}", "FROM golang AS build\nFROM ${BASE}", "single FROM"},
		{"no default base", "ARG BASE=gcr.io/distroless/static-debian12:nonroot", "ARG BASE", "ARG BASE"},
		{"shell use", "USER 65532", "RUN chmod 755 /usr/local/bin/a\nUSER 65532", "RUN"},
		{"no version label", "org.opencontainers.image.version", "org.opencontainers.image.vers", "image.version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := checkDockerfile(strings.Replace(valid, tt.from, tt.to, 1), []string{"a", "b"})
			if !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Errorf("checkDockerfile(%s) = %v, want an error containing %q", tt.name, errs, tt.want)
			}
		})
	}
}

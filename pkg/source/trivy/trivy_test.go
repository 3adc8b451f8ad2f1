package trivy_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/event/eventtest"
	"github.com/stoa-platform/bridge/pkg/source"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
	"github.com/stoa-platform/bridge/pkg/source/trivy/trivytest"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.golden.json from what Parse makes")

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures lists every report in testdata (goldens aside), as
// "trivy/<file>" and "trivy-operator/<file>".
func fixtures(t testing.TB) []string {
	t.Helper()
	names := append(eventtest.Fixtures(t, "trivy/*.json"), eventtest.Fixtures(t, "trivy-operator/*.json")...)
	if len(names) < 10 {
		t.Fatalf("found %d fixtures in testdata, want the 10 that testdata/README.md lists", len(names))
	}
	return names
}

func parse(t testing.TB, body string) (*event.Event, error) {
	t.Helper()
	return trivy.Parse([]byte(body))
}

// counts fills in the zero counts: every severity is always present.
func counts(nonZero map[string]uint32) map[string]uint32 {
	c := map[string]uint32{"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
	for k, v := range nonZero {
		c[k] = v
	}
	return c
}

// fixtureWant is what a fixture must give; the golden file holds the rest.
type fixtureWant struct {
	ignored  string // the answer, for a fixture acknowledged without an event
	reason   string // and its *source.Ignored reason
	artifact *bridgev1.Artifact
	scanner  string
	time     string
	findings int
	counts   map[string]uint32
}

const (
	fixtureTime   = "2021-08-25T12:20:30.000000005Z" // Trivy's test harness
	nginx         = "index.docker.io/library/nginx:alpine"
	nginxWorkload = "ReplicaSet/nginx-deployment-965685897"
)

var fixtureWants = map[string]fixtureWant{
	"trivy/alpine-39.json": {
		artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/aquasecurity/trivy-test-images:alpine-39"},
		scanner:  "trivy", time: fixtureTime, findings: 6, counts: counts(map[string]uint32{"CRITICAL": 2, "MEDIUM": 4}),
	},
	"trivy/centos-7.json": {
		artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/aquasecurity/trivy-test-images:centos-7"},
		scanner:  "trivy", time: fixtureTime, findings: 3, counts: counts(map[string]uint32{"MEDIUM": 1, "LOW": 2}),
	},
	"trivy/debian-buster.json": {
		artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/aquasecurity/trivy-test-images:debian-buster"},
		scanner:  "trivy", time: fixtureTime, findings: 2, counts: counts(map[string]uint32{"CRITICAL": 1, "LOW": 1}),
	},
	"trivy/ubuntu-1804.json": {
		artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/aquasecurity/trivy-test-images:ubuntu-1804"},
		scanner:  "trivy", time: fixtureTime, findings: 5, counts: counts(map[string]uint32{"MEDIUM": 4, "LOW": 1}),
	},
	"trivy/npm.json": {
		artifact: &bridgev1.Artifact{Kind: "repository", Name: "testdata/fixtures/repo/npm"},
		scanner:  "trivy", time: fixtureTime, findings: 1, counts: counts(map[string]uint32{"MEDIUM": 1}),
	},
	"trivy/gomod.json": {
		// GMS-2022-20 once per go.mod: three targets, three findings.
		artifact: &bridgev1.Artifact{Kind: "repository", Name: "testdata/fixtures/repo/gomod"},
		scanner:  "trivy", time: fixtureTime, findings: 5, counts: counts(map[string]uint32{"MEDIUM": 1, "UNKNOWN": 4}),
	},
	"trivy-operator/vulnerabilityreport.single.json": {
		artifact: &bridgev1.Artifact{Kind: "container_image", Name: nginx, Namespace: "default", Workload: nginxWorkload, Container: "nginx"},
		scanner:  "trivy-operator", time: "2023-03-23T16:23:01Z", findings: 1, counts: counts(map[string]uint32{"CRITICAL": 1}),
	},
	"trivy-operator/vulnerabilityreport.extended.json": {
		artifact: &bridgev1.Artifact{
			Kind: "container_image", Name: "index.docker.io/library/ubuntu:20.04",
			Digest:    "sha256:f78909c2b360d866b3220655c0b079838258b8891a12ac25fc670f0cbb54229f",
			Namespace: "lbc", Workload: "Pod/ubuntu", Container: "ubuntu",
		},
		scanner: "trivy-operator", time: "2024-01-23T13:43:55Z", findings: 5, counts: counts(map[string]uint32{"MEDIUM": 5}),
	},
	"trivy-operator/vulnerabilityreport.empty.json": {
		// No findings is news too: everything was fixed.
		artifact: &bridgev1.Artifact{Kind: "container_image", Name: nginx, Namespace: "default", Workload: nginxWorkload, Container: "nginx"},
		scanner:  "trivy-operator", time: "2023-03-23T16:23:01Z", findings: 0, counts: counts(nil),
	},
	"trivy-operator/webhook-envelope.delete.json": {
		ignored: "trivy-operator: a deleted report needs no action", reason: trivy.ReasonDeleted,
	},
}

// TestParseFixtures runs every fixture: its outcome, its artifact and
// counts, and its whole event (id aside) against its golden file.
func TestParseFixtures(t *testing.T) {
	files := fixtures(t)
	for name := range fixtureWants {
		if !slices.Contains(files, name) {
			t.Errorf("fixtureWants names %s, which is not in testdata", name)
		}
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			want, ok := fixtureWants[file]
			if !ok {
				t.Fatalf("no expectation for %s: add it to fixtureWants", file)
			}
			ev, err := trivy.Parse(readFixture(t, file))
			if want.ignored != "" {
				if ig, ok := errors.AsType[*source.Ignored](err); !ok || ig.Reason != want.reason || err.Error() != want.ignored {
					t.Fatalf("Parse(%s) = %v, %v; want ignored (%s) with %q", file, ev, err, want.reason, want.ignored)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", file, err)
			}
			if err := invariants(ev); err != nil {
				t.Fatal(err)
			}
			r := ev.GetVulnerabilityReport()
			if diff := cmp.Diff(want.artifact, r.GetArtifact(), protocmp.Transform()); diff != "" {
				t.Errorf("artifact mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.counts, r.GetCounts()); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
			if got := len(r.GetFindings()); got != want.findings {
				t.Errorf("%d findings, want %d", got, want.findings)
			}
			if got := ev.GetTime().AsTime().Format(time.RFC3339Nano); got != want.time || r.GetScanner() != want.scanner {
				t.Errorf("time, scanner = %s, %s; want %s, %s", got, r.GetScanner(), want.time, want.scanner)
			}
			eventtest.Check(t, filepath.Join("testdata", strings.TrimSuffix(file, ".json")+".golden.json"), eventtest.Golden(t, ev), *update, "update")
		})
	}
}

// invariants checks what holds for every event Parse makes.
func invariants(ev *event.Event) error {
	if err := event.Validate(ev); err != nil {
		return fmt.Errorf("Validate: %w", err)
	}
	if _, err := event.Marshal(ev); err != nil {
		return fmt.Errorf("Marshal: %w", err)
	}
	r := ev.GetVulnerabilityReport()
	name := r.GetArtifact().GetName()
	switch {
	case ev.GetSource() != trivy.Source || event.Kind(ev) != event.KindVulnerabilityFound:
		return fmt.Errorf("source, kind = %q, %q", ev.GetSource(), event.Kind(ev))
	case name == "" || ev.GetSubject() != name:
		return fmt.Errorf("subject %q, artifact name %q: want the same, not empty", ev.GetSubject(), name)
	case !ev.GetTime().AsTime().Equal(r.GetScannedAt().AsTime()):
		return fmt.Errorf("time %v is not scanned_at %v", ev.GetTime().AsTime(), r.GetScannedAt().AsTime())
	case r.GetScanner() != trivy.ScannerTrivy && r.GetScanner() != trivy.ScannerOperator:
		return fmt.Errorf("scanner %q", r.GetScanner())
	}
	digest, ok := strings.CutPrefix(ev.GetIdempotencyKey(), event.VulnerabilityKey(name, ""))
	if b, err := hex.DecodeString(digest); !ok || err != nil || len(b) != 16 {
		return fmt.Errorf("key %q is not vuln:<artifact>:<32 hex digits>", ev.GetIdempotencyKey())
	}
	fs := r.GetFindings()
	want := map[string]uint32{"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}
	for i, f := range fs {
		want[trivy.SeverityName(f.GetSeverity())]++
		if f.GetId() == "" || len(f.GetTitle()) > trivy.MaxTitle {
			return fmt.Errorf("finding %d: id %q, title of %d bytes", i, f.GetId(), len(f.GetTitle()))
		}
		if i > 0 && order(fs[i-1], f) >= 0 {
			return fmt.Errorf("findings %d and %d are out of order or duplicates: %v, %v", i-1, i, fs[i-1], f)
		}
	}
	if diff := cmp.Diff(want, r.GetCounts()); diff != "" {
		return fmt.Errorf("counts do not match the findings (-want +got):\n%s", diff)
	}
	return nil
}

// order is the documented order of findings: most severe first, then id,
// package, installed version, target.
func order(a, b *bridgev1.Finding) int {
	if a.GetSeverity() != b.GetSeverity() {
		return int(b.GetSeverity()) - int(a.GetSeverity())
	}
	for _, p := range [][2]string{
		{a.GetId(), b.GetId()}, {a.GetPackage(), b.GetPackage()},
		{a.GetInstalledVersion(), b.GetInstalledVersion()}, {a.GetTarget(), b.GetTarget()},
	} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

// Bodies for the variant tests.

func obj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

func vuln(id, pkg, installed, fixed, severity string) string {
	m := []string{`"VulnerabilityID":"` + id + `"`, `"PkgName":"` + pkg + `"`, `"InstalledVersion":"` + installed + `"`}
	if fixed != "" {
		m = append(m, `"FixedVersion":"`+fixed+`"`)
	}
	if severity != "" {
		m = append(m, `"Severity":"`+severity+`"`)
	}
	return obj(m...)
}

func result(target string, vulns ...string) string {
	return obj(`"Target":"`+target+`"`, `"Class":"lang-pkgs"`, `"Vulnerabilities":[`+strings.Join(vulns, ",")+`]`)
}

// image is a Trivy image report of artifactName with metadata (a JSON
// object, or "") and results.
func image(artifactName, metadata string, results ...string) string {
	m := []string{`"SchemaVersion":2`, `"CreatedAt":"2025-06-03T05:16:41Z"`,
		`"ArtifactName":"` + artifactName + `"`, `"ArtifactType":"container_image"`}
	if metadata != "" {
		m = append(m, `"Metadata":`+metadata)
	}
	return obj(append(m, `"Results":[`+strings.Join(results, ",")+`]`)...)
}

func fs(kind, artifactName string, results ...string) string {
	return obj(`"SchemaVersion":2`, `"CreatedAt":"2025-06-03T05:16:41Z"`, `"ArtifactName":"`+artifactName+`"`,
		`"ArtifactType":"`+kind+`"`, `"Results":[`+strings.Join(results, ",")+`]`)
}

// operator is a VulnerabilityReport object with the given report members.
func operator(labels string, report ...string) string {
	return obj(`"apiVersion":"aquasecurity.github.io/v1alpha1"`, `"kind":"VulnerabilityReport"`,
		`"metadata":{"name":"r","namespace":"meta-ns","creationTimestamp":"2025-06-01T00:00:00Z","labels":`+labels+`}`,
		`"report":`+obj(report...))
}

func opVuln(id, pkg, severity, target string) string {
	return obj(`"vulnerabilityID":"`+id+`"`, `"resource":"`+pkg+`"`, `"installedVersion":"1.0"`,
		`"fixedVersion":""`, `"severity":"`+severity+`"`, `"title":"t"`, `"primaryLink":"https://l/`+id+`"`, `"target":"`+target+`"`)
}

const workloadLabels = `{"trivy-operator.resource.kind":"Deployment","trivy-operator.resource.name":"api","trivy-operator.resource.namespace":"apps"}`

func finding(severity bridgev1.Severity, id, pkg, installed, fixed, target string) *bridgev1.Finding {
	return &bridgev1.Finding{Id: id, Package: pkg, InstalledVersion: installed, FixedVersion: fixed, Severity: severity, Target: target}
}

const (
	critical = bridgev1.Severity_SEVERITY_CRITICAL
	high     = bridgev1.Severity_SEVERITY_HIGH
	medium   = bridgev1.Severity_SEVERITY_MEDIUM
	unknown  = bridgev1.Severity_SEVERITY_UNKNOWN
)

var oneVuln = result("go.mod", vuln("CVE-1", "a", "1", "2", "HIGH"))

func TestParseVariants(t *testing.T) {
	oneFinding := []*bridgev1.Finding{finding(high, "CVE-1", "a", "1", "2", "go.mod")}
	tests := []struct {
		name     string
		body     string
		artifact *bridgev1.Artifact
		findings []*bridgev1.Finding
		time     string
	}{
		{
			name:     "image named by ArtifactName, Docker Hub written in full, digest from RepoDigests",
			body:     image("nginx:1.25", `{"RepoTags":["nginx:1.25"],"RepoDigests":["nginx@sha256:abc"]}`, oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/library/nginx:1.25", Digest: "sha256:abc"},
			findings: oneFinding,
		},
		{
			name:     "image by digest alone",
			body:     image("ghcr.io/org/app@sha256:def", "", oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/org/app@sha256:def", Digest: "sha256:def"},
			findings: oneFinding,
		},
		{
			name: "untagged image is latest, with the digest of its own repository",
			body: image("registry.example.org:5000/team/app",
				`{"RepoDigests":["mirror.example.org/team/app@sha256:111","registry.example.org:5000/team/app@sha256:222"]}`, oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "registry.example.org:5000/team/app:latest", Digest: "sha256:222"},
			findings: oneFinding,
		},
		{
			name:     "docker.io and a user repository",
			body:     image("docker.io/grafana/grafana:10.4.2", "", oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/grafana/grafana:10.4.2"},
			findings: oneFinding,
		},
		{
			name:     "archive named by its Reference before its RepoTags",
			body:     image("/tmp/app.tar", `{"RepoTags":["docker.io/library/alpine:3.19"],"Reference":"quay.io/org/alpine:3.19"}`, oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "quay.io/org/alpine:3.19"},
			findings: oneFinding,
		},
		{
			name:     "archive named by its RepoTags",
			body:     image("images/app.tar.gz", `{"RepoTags":["alpine:3.19"],"ImageConfig":{"history":[{"created":"x"}]}}`, oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/library/alpine:3.19"},
			findings: oneFinding,
		},
		{
			name:     "image by ID named by its RepoTags",
			body:     image("sha256:055936d3920576da", `{"RepoTags":["registry.example.org/app:3"]}`, oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "registry.example.org/app:3"},
			findings: oneFinding,
		},
		{
			name:     "archive of an untagged image keeps its path",
			body:     image("./build/app.tar.gz", `{"RepoTags":[],"Reference":null}`, oneVuln),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "./build/app.tar.gz"},
			findings: oneFinding,
		},
		{
			name: "results without vulnerabilities, null or absent",
			body: fs("filesystem", "/src/app",
				`{"Target":"go.mod","Class":"lang-pkgs","Type":"gomod","Packages":[{"Name":"x"}]}`,
				`{"Target":"package-lock.json","Vulnerabilities":null}`,
				`{"Target":"Dockerfile","Class":"config","Misconfigurations":[{"ID":"DS002"}]}`),
			artifact: &bridgev1.Artifact{Kind: "filesystem", Name: "/src/app"},
		},
		{
			name:     "a clean scan has no Results",
			body:     obj(`"SchemaVersion":2`, `"CreatedAt":"2025-06-03T05:16:41Z"`, `"ArtifactName":"."`, `"ArtifactType":"filesystem"`),
			artifact: &bridgev1.Artifact{Kind: "filesystem", Name: "."},
		},
		{
			name:     "credentials dropped from a repository URL",
			body:     fs("repository", "https://ci:s3cr3t-t0ken@git.example.org/platform/app.git", oneVuln),
			artifact: &bridgev1.Artifact{Kind: "repository", Name: "https://git.example.org/platform/app.git"},
			findings: oneFinding,
		},
		{
			name: "no ArtifactType: an image when it has image metadata",
			body: obj(`"SchemaVersion":2`, `"CreatedAt":"2025-06-03T05:16:41Z"`, `"ArtifactName":"alpine:3.19"`,
				`"Metadata":{"RepoTags":["alpine:3.19"]}`, `"Results":[`+oneVuln+`]`),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/library/alpine:3.19"},
			findings: oneFinding,
		},
		{
			name:     "no ArtifactType: a filesystem otherwise",
			body:     obj(`"SchemaVersion":2`, `"CreatedAt":"2025-06-03T05:16:41Z"`, `"ArtifactName":"src"`, `"Results":[`+oneVuln+`]`),
			artifact: &bridgev1.Artifact{Kind: "filesystem", Name: "src"},
			findings: oneFinding,
		},
		{
			name:     "another ArtifactType is kept",
			body:     fs("vm", "ami-0123456789abcdef0", oneVuln),
			artifact: &bridgev1.Artifact{Kind: "vm", Name: "ami-0123456789abcdef0"},
			findings: oneFinding,
		},
		{
			name: "duplicates dropped, most severe kept; severities in any case; target after vulnerabilities",
			body: fs("repository", "repo",
				`{"Vulnerabilities":[`+vuln("CVE-1", "a", "1", "2", "high")+`,`+vuln("CVE-1", "a", "1", "", "CRITICAL")+`],"Target":"t1"}`,
				result("t2", vuln("CVE-2", "c", "1", "2", "Medium"), vuln("CVE-1", "a", "1", "2", "HIGH"),
					vuln("CVE-0", "b", "1", "", ""), vuln("CVE-3", "c", "1", "", "NEGLIGIBLE"), vuln("CVE-2", "c", "1", "2", "MEDIUM"))),
			artifact: &bridgev1.Artifact{Kind: "repository", Name: "repo"},
			findings: []*bridgev1.Finding{
				finding(critical, "CVE-1", "a", "1", "", "t1"),
				finding(high, "CVE-1", "a", "1", "2", "t2"),
				finding(medium, "CVE-2", "c", "1", "2", "t2"),
				finding(unknown, "CVE-0", "b", "1", "", "t2"),
				finding(unknown, "CVE-3", "c", "1", "", "t2"),
			},
		},
		{
			name:     "of two duplicates as severe, the one with a fix is kept",
			body:     fs("repository", "repo", result("t", vuln("CVE-1", "a", "1", "", "HIGH"), vuln("CVE-1", "a", "1", "1.1", "HIGH"))),
			artifact: &bridgev1.Artifact{Kind: "repository", Name: "repo"},
			findings: []*bridgev1.Finding{finding(high, "CVE-1", "a", "1", "1.1", "t")},
		},
		{
			name: "unknown members skipped at every level",
			body: obj(`"Trivy":{"Version":"0.58.1"}`, `"SchemaVersion":2`, `"x":[1,{"y":[null,true,"z"]}]`,
				`"CreatedAt":"2025-06-03T05:16:41Z"`, `"ArtifactName":"repo"`, `"ArtifactType":"repository"`,
				`"Results":[{"Target":"go.mod","Packages":[{"ID":"a@1","Locations":[{"StartLine":1}]}],`+
					`"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"a","InstalledVersion":"1","FixedVersion":"2",`+
					`"Severity":"HIGH","CVSS":{"nvd":{"V3Score":7.5}},"References":["u"],"Future":{"a":[1]}}],"Future":null}]`),
			artifact: &bridgev1.Artifact{Kind: "repository", Name: "repo"},
			findings: oneFinding,
		},
		{
			name: "operator: labels name the workload and its namespace",
			body: operator(workloadLabels, `"updateTimestamp":"2025-06-02T10:00:00Z"`, `"registry":{"server":"ghcr.io"}`,
				`"artifact":{"repository":"org/api","tag":"2.1.0","digest":"sha256:aaa"}`,
				`"vulnerabilities":[`+opVuln("CVE-9", "openssl", "HIGH", "ghcr.io/org/api:2.1.0 (debian 12.5)")+`]`),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/org/api:2.1.0", Digest: "sha256:aaa", Namespace: "apps", Workload: "Deployment/api"},
			findings: []*bridgev1.Finding{{Id: "CVE-9", Package: "openssl", InstalledVersion: "1.0", Severity: high,
				Title: "t", PrimaryUrl: "https://l/CVE-9", Target: "ghcr.io/org/api:2.1.0 (debian 12.5)"}},
			time: "2025-06-02T10:00:00Z",
		},
		{
			name: "operator: no labels, no tag, null vulnerabilities, time of creation",
			body: operator(`null`, `"registry":{"server":"docker.io"}`, `"artifact":{"repository":"library/redis","digest":"sha256:bbb"}`,
				`"vulnerabilities":null`),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "index.docker.io/library/redis@sha256:bbb", Digest: "sha256:bbb", Namespace: "meta-ns"},
			time:     "2025-06-01T00:00:00Z",
		},
		{
			name: "operator: wrapped, update",
			body: obj(`"verb":"update"`, `"operatorObject":`+operator(workloadLabels, `"registry":{"server":"ghcr.io"}`,
				`"artifact":{"repository":"org/api","tag":"2.1.0"}`, `"vulnerabilities":[]`)),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/org/api:2.1.0", Namespace: "apps", Workload: "Deployment/api"},
			time:     "2025-06-01T00:00:00Z",
		},
		{
			name: "operator: wrapped, the object before the verb",
			body: obj(`"operatorObject":`+operator(`{}`, `"registry":{"server":"ghcr.io"}`, `"artifact":{"repository":"org/api","tag":"2"}`),
				`"verb":"update"`),
			artifact: &bridgev1.Artifact{Kind: "container_image", Name: "ghcr.io/org/api:2", Namespace: "meta-ns"},
			time:     "2025-06-01T00:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parse(t, tt.body)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.body, err)
			}
			if err := invariants(ev); err != nil {
				t.Fatal(err)
			}
			r := ev.GetVulnerabilityReport()
			if diff := cmp.Diff(tt.artifact, r.GetArtifact(), protocmp.Transform()); diff != "" {
				t.Errorf("artifact mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, r.GetFindings(), protocmp.Transform()); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
			wantTime := tt.time
			if wantTime == "" {
				wantTime = "2025-06-03T05:16:41Z"
			}
			if got := ev.GetTime().AsTime().Format(time.RFC3339Nano); got != wantTime {
				t.Errorf("time = %s, want %s", got, wantTime)
			}
			if b, _ := event.Marshal(ev); bytes.Contains(b, []byte("s3cr3t")) {
				t.Errorf("the event carries the URL's credentials")
			}
		})
	}
}

func TestParseWithoutTime(t *testing.T) {
	before := time.Now()
	ev, err := parse(t, obj(`"SchemaVersion":2`, `"ArtifactName":"repo"`, `"ArtifactType":"repository"`))
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.GetTime().AsTime(); got.Before(before) || got.After(after) {
		t.Errorf("time = %v, want the time of the call, in [%v, %v]", got, before, after)
	}
}

func TestParseMaxFindings(t *testing.T) {
	// As many as allowed, all the same: one finding once de-duplicated.
	ev, err := parse(t, fs("repository", "r", result("t", strings.TrimSuffix(strings.Repeat(`{"VulnerabilityID":"C"},`, trivy.MaxFindings), ","))))
	if err != nil {
		t.Fatalf("Parse of %d findings: %v", trivy.MaxFindings, err)
	}
	if n := len(ev.GetVulnerabilityReport().GetFindings()); n != 1 {
		t.Errorf("%d findings, want 1", n)
	}
}

func TestParseLongTitle(t *testing.T) {
	long := strings.Repeat("a", trivy.MaxTitle-1) + "é" // é straddles the limit
	ev, err := parse(t, fs("repository", "repo", result("t",
		`{"VulnerabilityID":"CVE-1","PkgName":"a","InstalledVersion":"1","Severity":"LOW","Title":"`+long+`"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.GetVulnerabilityReport().GetFindings()[0].GetTitle(); got != long[:trivy.MaxTitle-1] {
		t.Errorf("title of %d bytes, want the %d bytes before the cut rune", len(got), trivy.MaxTitle-1)
	}
}

func TestParseIgnored(t *testing.T) {
	configAudit := obj(`"apiVersion":"aquasecurity.github.io/v1alpha1"`, `"kind":"ConfigAuditReport"`,
		`"metadata":{"name":"x"}`, `"report":{"checks":[{"checkID":"KSV001","success":false}]}`)
	tests := []struct {
		name, body, want, reason string
	}{
		{"other report kind", configAudit, "trivy-operator: a ConfigAuditReport is not a VulnerabilityReport: nothing to do", trivy.ReasonReportKind},
		{"other report kind, wrapped", obj(`"verb":"update"`, `"operatorObject":`+configAudit),
			"trivy-operator: a ConfigAuditReport is not a VulnerabilityReport: nothing to do", trivy.ReasonReportKind},
		{"cluster-wide report", strings.Replace(configAudit, "ConfigAuditReport", "ClusterRbacAssessmentReport", 1),
			"trivy-operator: a ClusterRbacAssessmentReport is not a VulnerabilityReport: nothing to do", trivy.ReasonReportKind},
		{"unknown kind is not named", strings.Replace(configAudit, "ConfigAuditReport", "Evil\\nKind", 1),
			"trivy-operator: only VulnerabilityReport objects are handled", trivy.ReasonReportKind},
		{"delete with an empty object", `{"verb":"delete","operatorObject":{}}`, "trivy-operator: a deleted report needs no action", trivy.ReasonDeleted},
		{"delete with null", `{"verb":"delete","operatorObject":null}`, "trivy-operator: a deleted report needs no action", trivy.ReasonDeleted},
		{"delete with another kind's object", obj(`"verb":"delete"`, `"operatorObject":`+configAudit),
			"trivy-operator: a deleted report needs no action", trivy.ReasonDeleted},
		{"unknown verb", obj(`"verb":"create"`, `"operatorObject":`+configAudit),
			"trivy-operator: only the update and delete verbs are handled", trivy.ReasonVerb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parse(t, tt.body)
			ig, ok := errors.AsType[*source.Ignored](err)
			if !ok || !errors.Is(err, source.ErrUnsupported) || err.Error() != tt.want || ig.Reason != tt.reason {
				t.Errorf("Parse(%q) = %v, %v; want ignored (%s) with %q", tt.body, ev, err, tt.reason, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	alpine := string(readFixture(t, "trivy/alpine-39.json"))
	single := string(readFixture(t, "trivy-operator/vulnerabilityreport.single.json"))
	tests := []struct {
		name, body, want string
	}{
		{"empty body", ``, `trivy: body is not valid JSON`},
		{"not JSON", `SchemaVersion=2`, `trivy: body is not valid JSON`},
		{"truncated report", alpine[:len(alpine)/2], `trivy: body is not valid JSON`},
		{"truncated between tokens", `{"SchemaVersion":2,"Results":[`, `trivy: body is not valid JSON`},
		{"syntax error in a skipped member", `{"SchemaVersion":2,"Packages":[1,}]}`, `trivy: body is not valid JSON`},
		{"syntax error in a vulnerability", fs("repository", "r", `{"Target":"t","Vulnerabilities":[{"VulnerabilityID":}]}`), `trivy: body is not valid JSON`},
		{"trailing data", alpine + ` {}`, `trivy: body has data after the report`},
		{"two reports", alpine + alpine, `trivy: body has data after the report`},
		{"trailing garbage", alpine + `x`, `trivy: body is not valid JSON`},
		{"JSON array", `[` + alpine + `]`, `trivy: body is an array, not an object`},
		{"JSON string", `"report"`, `trivy: body is a string, not an object`},
		{"JSON number", `2`, `trivy: body is a number, not an object`},
		{"JSON null", `null`, `trivy: body is neither a Trivy JSON report nor a Trivy Operator report`},
		{"empty object", `{}`, `trivy: body is neither a Trivy JSON report nor a Trivy Operator report`},
		{"another document", `{"status":"down","check":{"name":"x"}}`, `trivy: body is neither a Trivy JSON report nor a Trivy Operator report`},
		{"a Kubernetes object of another group", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`,
			`trivy-operator: "apiVersion" is not aquasecurity.github.io: not a Trivy Operator object`},
		{"both formats", obj(`"SchemaVersion":2`, `"kind":"VulnerabilityReport"`),
			`trivy: body mixes the fields of a Trivy report and a Trivy Operator report`},
		{"SchemaVersion missing", obj(`"ArtifactName":"r"`, `"Results":[]`), `trivy: "SchemaVersion" is missing`},
		{"SchemaVersion 1", strings.Replace(alpine, `"SchemaVersion": 2`, `"SchemaVersion": 1`, 1), `trivy: only SchemaVersion 2 reports are supported`},
		{"a huge number, skipped", `{"Trivy":{"Size":1e7000},"x":1e7000}`, `trivy: body is neither a Trivy JSON report nor a Trivy Operator report`},
		{"a huge number at the top", `1e7000`, `trivy: body is a number, not an object`},
		{"SchemaVersion out of range", obj(`"SchemaVersion":1e7000`), `trivy: "SchemaVersion" is out of range`},
		{"SchemaVersion a string", strings.Replace(alpine, `"SchemaVersion": 2`, `"SchemaVersion": "2"`, 1), `trivy: "SchemaVersion" is a string, not a number`},
		{"ArtifactName missing", obj(`"SchemaVersion":2`, `"ArtifactType":"repository"`), `trivy: "ArtifactName" is missing`},
		{"image without a name", obj(`"SchemaVersion":2`, `"ArtifactType":"container_image"`, `"Metadata":{"RepoTags":[]}`), `trivy: "ArtifactName" is missing`},
		{"ArtifactName a number", obj(`"SchemaVersion":2`, `"ArtifactName":5`), `trivy: "ArtifactName" is a number, not a string`},
		{"CreatedAt not a time", strings.Replace(alpine, `"2021-08-25T12:20:30.000000005Z"`, `"yesterday"`, 1), `trivy: "CreatedAt" is not an RFC 3339 time`},
		{"CreatedAt in year 0", strings.Replace(alpine, `"2021-08-25T12:20:30.000000005Z"`, `"0000-01-01T00:00:00Z"`, 1), `trivy: "CreatedAt" is not an RFC 3339 time`},
		{"Metadata an array", obj(`"SchemaVersion":2`, `"Metadata":[]`), `trivy: "Metadata" is an array, not an object`},
		{"RepoTags holds a number", obj(`"SchemaVersion":2`, `"Metadata":{"RepoTags":["a",1]}`), `trivy: "Metadata.RepoTags" holds a number, not a string`},
		{"RepoTags a string", obj(`"SchemaVersion":2`, `"Metadata":{"RepoTags":"a"}`), `trivy: "Metadata.RepoTags" is a string, not an array`},
		{"Results an object", obj(`"SchemaVersion":2`, `"Results":{}`), `trivy: "Results" is an object, not an array`},
		{"a result a string", obj(`"SchemaVersion":2`, `"Results":["go.mod"]`), `trivy: "Results[]" is a string, not an object`},
		{"Target a number", obj(`"SchemaVersion":2`, `"Results":[{"Target":1}]`), `trivy: "Results[].Target" is a number, not a string`},
		{"Vulnerabilities an object", obj(`"SchemaVersion":2`, `"Results":[{"Vulnerabilities":{}}]`), `trivy: "Results[].Vulnerabilities" is an object, not an array`},
		{"a vulnerability a string", obj(`"SchemaVersion":2`, `"Results":[{"Vulnerabilities":["CVE-1"]}]`), `trivy: "Results[].Vulnerabilities[]" is a string, not an object`},
		{"Severity a number", obj(`"SchemaVersion":2`, `"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":4}]}]`),
			`trivy: "Results[].Vulnerabilities[].Severity" is a number, not a string`},
		{"VulnerabilityID missing", obj(`"SchemaVersion":2`, `"Results":[{"Vulnerabilities":[{"PkgName":"a"}]}]`),
			`trivy: "Results[].Vulnerabilities[].VulnerabilityID" is missing`},
		{"too many findings", fs("repository", "r", result("t", strings.Repeat(`{"VulnerabilityID":"C"},`, trivy.MaxFindings)+`{"VulnerabilityID":"D"}`)),
			`trivy: the report lists more than 50000 vulnerabilities`},
		{"too many findings, operator", operator(`{}`, `"artifact":{"repository":"r"}`,
			`"vulnerabilities":[`+strings.Repeat(`{"vulnerabilityID":"C"},`, trivy.MaxFindings)+`{"vulnerabilityID":"D"}]`),
			`trivy: the report lists more than 50000 vulnerabilities`},
		{"artifact name with a line break", fs("repository", `repo\nX-Injected: 1`, oneVuln), `trivy: the artifact name contains control characters`},
		{"artifact name too long", fs("repository", strings.Repeat("r", trivy.MaxName+1), oneVuln), `trivy: the artifact name is longer than 1024 bytes`},
		{"operator: kind missing", strings.Replace(single, `"kind": "VulnerabilityReport",`, ``, 1), `trivy-operator: "kind" is missing`},
		{"operator: repository missing", strings.Replace(single, `"repository": "library/nginx",`, ``, 1),
			`trivy-operator: "report.artifact.repository" is missing`},
		{"operator: updateTimestamp not a time", strings.Replace(single, `"updateTimestamp": "2023-03-23T16:23:01Z"`, `"updateTimestamp": "now"`, 1),
			`trivy-operator: "report.updateTimestamp" is not an RFC 3339 time`},
		{"operator: a label a number", strings.Replace(single, `"resource-spec-hash": "fc85b485f"`, `"resource-spec-hash": 5`, 1),
			`trivy: "metadata.labels" holds a number, not a string`},
		{"operator: report an array", strings.Replace(single, `"report": {`, `"report": [], "x": {`, 1),
			`trivy: "report" is an array, not an object`},
		{"operator: vulnerabilityID missing", operator(`{}`, `"artifact":{"repository":"r"}`, `"vulnerabilities":[{"resource":"a"}]`),
			`trivy-operator: "report.vulnerabilities[].vulnerabilityID" is missing`},
		{"operator: a vulnerability's severity a number", operator(`{}`, `"artifact":{"repository":"r"}`, `"vulnerabilities":[{"vulnerabilityID":"C","severity":1}]`),
			`trivy: "report.vulnerabilities[].severity" is a number, not a string`},
		{"wrapper: verb missing", `{"operatorObject":` + single + `}`, `trivy-operator: "verb" is missing`},
		{"wrapper: verb a number", `{"verb":1,"operatorObject":` + single + `}`, `trivy: "verb" is a number, not a string`},
		{"wrapper: update without an object", `{"verb":"update","operatorObject":null}`, `trivy-operator: "operatorObject" is missing or empty`},
		{"wrapper: update with a broken object", `{"verb":"update","operatorObject":{"apiVersion":"aquasecurity.github.io/v1alpha1","kind":"VulnerabilityReport"}}`,
			`trivy-operator: "report.artifact.repository" is missing`},
		{"wrapper: object of the wrong type", `{"verb":"update","operatorObject":{"report":{"artifact":[]}}}`,
			`trivy: "operatorObject.report.artifact" is an array, not an object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parse(t, tt.body)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tt.body, ev, tt.want)
			}
			if !errors.Is(err, source.ErrMalformed) {
				t.Errorf("Parse error %v does not match source.ErrMalformed", err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestKeys checks what makes two reports the same event: the artifact and
// the meaning of its findings, not the scan's time, order or wording.
func TestKeys(t *testing.T) {
	base := image("ghcr.io/org/app:1", "", result("a", vuln("CVE-1", "p", "1", "2", "HIGH"), vuln("CVE-2", "q", "1", "", "LOW")),
		result("b", vuln("CVE-3", "r", "1", "2", "CRITICAL")))
	single := string(readFixture(t, "trivy-operator/vulnerabilityreport.single.json"))
	tests := []struct {
		name      string
		a, b      string
		wantEqual bool
	}{
		{"same report", base, base, true},
		{"re-scan at another time", base, strings.Replace(base, "2025-06-03T05:16:41Z", "2025-07-01T00:00:00.5Z", 1), true},
		{"results and findings in another order", base,
			image("ghcr.io/org/app:1", "", result("b", vuln("CVE-3", "r", "1", "2", "CRITICAL")),
				result("a", vuln("CVE-2", "q", "1", "", "LOW"), vuln("CVE-1", "p", "1", "2", "HIGH"))), true},
		{"a finding repeated", base,
			image("ghcr.io/org/app:1", "", result("a", vuln("CVE-1", "p", "1", "2", "HIGH"), vuln("CVE-2", "q", "1", "", "LOW"), vuln("CVE-1", "p", "1", "2", "HIGH")),
				result("b", vuln("CVE-3", "r", "1", "2", "CRITICAL"))), true},
		{"reworded title and link", base, strings.Replace(base, `"PkgName":"p"`, `"PkgName":"p","Title":"new words","PrimaryURL":"https://x"`, 1), true},
		{"the same image named in short", base, strings.Replace(base, `"ghcr.io/org/app:1"`, `"ghcr.io/org/app:1","Metadata":{"RepoDigests":["ghcr.io/org/app@sha256:1"]}`, 1), true},
		{"severity changed", base, strings.Replace(base, `"LOW"`, `"MEDIUM"`, 1), false},
		{"a fix appeared", base, strings.Replace(base, `"PkgName":"q","InstalledVersion":"1"`, `"PkgName":"q","InstalledVersion":"1","FixedVersion":"1.1"`, 1), false},
		{"a finding fixed", base, image("ghcr.io/org/app:1", "", result("a", vuln("CVE-1", "p", "1", "2", "HIGH")), result("b", vuln("CVE-3", "r", "1", "2", "CRITICAL"))), false},
		{"another target", base, strings.Replace(base, `"Target":"b"`, `"Target":"c"`, 1), false},
		{"another tag", base, strings.Replace(base, `app:1`, `app:2`, 1), false},
		{"operator: bare and wrapped", single, `{"verb":"update","operatorObject":` + single + `}`, true},
		{"operator: re-scan", single, strings.Replace(single, `"updateTimestamp": "2023-03-23T16:23:01Z"`, `"updateTimestamp": "2023-03-24T16:23:01Z"`, 1), true},
		// Another workload is news for the image's workload list; the sinks,
		// not the key, keep it from alerting twice.
		{"operator: another workload of the same image", single, strings.ReplaceAll(single, "nginx-deployment-965685897", "other-5d8f"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parse(t, tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := parse(t, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if equal := a.GetIdempotencyKey() == b.GetIdempotencyKey(); equal != tt.wantEqual {
				t.Errorf("keys %q and %q: equal %t, want %t", a.GetIdempotencyKey(), b.GetIdempotencyKey(), equal, tt.wantEqual)
			}
		})
	}
}

// TestParseReaderTrickle reads every fixture one byte per Read, as a slow
// sender sends it: the same event as from memory.
func TestParseReaderTrickle(t *testing.T) {
	for _, file := range fixtures(t) {
		t.Run(file, func(t *testing.T) {
			body := readFixture(t, file)
			want, wantErr := trivy.Parse(body)
			got, err := trivy.ParseReader(iotest.OneByteReader(bytes.NewReader(body)))
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("ParseReader error %v, Parse error %v", err, wantErr)
			}
			if err != nil {
				return
			}
			got.Id = want.GetId()
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("ParseReader and Parse differ (-Parse +ParseReader):\n%s", diff)
			}
		})
	}
}

// errReader yields some of a body, then fails as a body over its limit or
// a sender gone would.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestParseReadError(t *testing.T) {
	errGone := errors.New("connection reset by peer")
	alpine := readFixture(t, "trivy/alpine-39.json")
	for _, n := range []int{0, 100, len(alpine) / 2, len(alpine)} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ev, err := trivy.ParseReader(&errReader{r: bytes.NewReader(alpine[:n]), err: errGone})
			if !errors.Is(err, errGone) {
				t.Fatalf("Parse = %v, %v; want an error wrapping the reader's", ev, err)
			}
			if errors.Is(err, source.ErrMalformed) || errors.Is(err, source.ErrUnsupported) {
				t.Errorf("error %v blames the body", err)
			}
		})
	}
}

// largeSize is just under the gateway's default body limit (25 MiB).
const largeSize = 25<<20 - 4096

// TestParseLarge parses a 25 MiB report and checks that it is read as a
// stream: all that Parse allocates, findings included, is well under the
// size of the body, so the body was never held whole.
func TestParseLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 25 MiB report")
	}
	body, n := trivytest.Report(largeSize)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ev, err := trivy.ParseReader(bytes.NewReader(body))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Parse of a %d-byte report: %v", len(body), err)
	}
	if err := invariants(ev); err != nil {
		t.Fatal(err)
	}
	r := ev.GetVulnerabilityReport()
	if got := len(r.GetFindings()); got != n {
		t.Errorf("%d findings, want %d", got, n)
	}
	if r.GetArtifact().GetName() != trivytest.Artifact || r.GetArtifact().GetDigest() == "" {
		t.Errorf("artifact = %v, want %s with its digest", r.GetArtifact(), trivytest.Artifact)
	}
	// Every finding is a separate allocation of a few hundred bytes; the
	// body is 25 MiB. Holding it, or any large part of it, would show.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(body))/2 {
		t.Errorf("Parse allocated %d bytes for a %d-byte body with %d findings: it does not stream", alloc, len(body), n)
	}
	// The event must fit in one message of the embedded NATS server
	// (8 MiB, see pkg/bus).
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 8<<20 {
		t.Errorf("event of %d bytes for %d findings: over NATS's 8 MiB payload", len(b), n)
	}
	t.Logf("%d-byte report, %d findings: %d bytes allocated, %d-byte event", len(body), n, after.TotalAlloc-before.TotalAlloc, len(b))
}

// BenchmarkParseLarge parses a 25 MiB report with thousands of findings.
func BenchmarkParseLarge(b *testing.B) {
	body, n := trivytest.Report(largeSize)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := trivy.ParseReader(bytes.NewReader(body))
		if err != nil || len(ev.GetVulnerabilityReport().GetFindings()) != n {
			b.Fatalf("Parse: %v", err)
		}
	}
	b.ReportMetric(float64(n), "findings/op")
}

// BenchmarkParseFixture parses a real, small report: the common case.
func BenchmarkParseFixture(b *testing.B) {
	body := readFixture(b, "trivy/alpine-39.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trivy.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParse: no input panics; an error is a one-line reason of a known
// kind; an event satisfies every invariant; the same input gives the same
// key and payload.
func FuzzParse(f *testing.F) {
	for _, file := range fixtures(f) {
		f.Add(readFixture(f, file))
	}
	f.Add([]byte(fs("repository", "https://u:p@h/r", oneVuln)))
	f.Add([]byte(image("nginx", `{"RepoDigests":["nginx@sha256:1"]}`, oneVuln)))
	f.Add([]byte(`{"verb":"update","operatorObject":` + operator(workloadLabels, `"artifact":{"repository":"r"}`) + `}`))
	f.Add([]byte(`{"SchemaVersion":2,"x":[{"y":[]}],"Results":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := trivy.Parse(b)
		if err != nil {
			ig, ignored := errors.AsType[*source.Ignored](err)
			if !errors.Is(err, source.ErrMalformed) && !ignored {
				t.Fatalf("error %v is neither source.ErrMalformed nor a *source.Ignored", err)
			}
			if ignored && !slices.Contains(trivy.IgnoredReasons, ig.Reason) {
				t.Fatalf("ignored with reason %q, not one of %q", ig.Reason, trivy.IgnoredReasons)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "trivy") {
				t.Fatalf("error %q is not a one-line trivy reason", msg)
			}
			return
		}
		if err := invariants(ev); err != nil {
			t.Fatal(err)
		}
		again, err := trivy.ParseReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		// A report without a time is dated by the call: leave it out.
		r1, r2 := proto.Clone(ev.GetVulnerabilityReport()).(*bridgev1.VulnerabilityReport), proto.Clone(again.GetVulnerabilityReport()).(*bridgev1.VulnerabilityReport)
		r1.ScannedAt, r2.ScannedAt = nil, nil
		if again.GetIdempotencyKey() != ev.GetIdempotencyKey() || !proto.Equal(r1, r2) {
			t.Fatalf("Parse is not deterministic: key %q then %q", ev.GetIdempotencyKey(), again.GetIdempotencyKey())
		}
	})
}

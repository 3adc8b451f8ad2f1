// Package trivytest builds Trivy reports for tests and benchmarks of the
// Trivy ingest: real reports are small, and the gateway must take large
// ones.
package trivytest

import (
	"bytes"
	"fmt"
	"strconv"
)

// Artifact is the image every Report scans.
const Artifact = "registry.example.org/platform/big:1.0"

// Severities cycles through Trivy's severities, one per finding.
var severities = [...]string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

// Report returns a `trivy image --format json` report (SchemaVersion 2) of
// at most size bytes and close to it, shaped like a real one: language
// results with a package list and vulnerabilities that carry descriptions,
// references, CVSS and vendor data, all of which the parser must skip.
// Every finding is distinct; findings is their number. The same size
// always gives the same report.
func Report(size int) (body []byte, findings int) {
	// Larger than a result's header and one vulnerability together, so
	// that the report never outgrows size once closed.
	const reserve = 16 << 10

	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"SchemaVersion":2,"Trivy":{"Version":"0.58.1"},"ReportID":"0197a2b4-5c3d-7e8f-9a0b-1c2d3e4f5a6b",` +
		`"CreatedAt":"2025-06-03T05:16:41.123456789Z","ArtifactID":"sha256:` + hex64(0) + `",` +
		`"ArtifactName":"` + Artifact + `","ArtifactType":"container_image",` +
		`"Metadata":{"Size":104857600,"OS":{"Family":"debian","Name":"12.5"},"ImageID":"sha256:` + hex64(1) + `",` +
		`"RepoTags":["` + Artifact + `"],"RepoDigests":["registry.example.org/platform/big@sha256:` + hex64(2) + `"]},` +
		`"Results":[`)
	for r := 0; b.Len()+reserve <= size; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Target":"app/module%d/go.mod","Class":"lang-pkgs","Type":"gomod","Packages":[`, r)
		for i := range 40 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"ID":"example.org/m%[1]d/p%[2]d@v1.%[2]d.0","Name":"example.org/m%[1]d/p%[2]d",`+
				`"Identifier":{"PURL":"pkg:golang/example.org/m%[1]d/p%[2]d@v1.%[2]d.0","UID":"%016[3]x"},`+
				`"Version":"v1.%[2]d.0","Relationship":"indirect","Layer":{}}`, r, i, r*1000+i)
		}
		b.WriteString(`],"Vulnerabilities":[`)
		for i := 0; i < 500 && b.Len()+reserve <= size; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			writeVuln(&b, r, i, findings)
			findings++
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes(), findings
}

func writeVuln(b *bytes.Buffer, r, i, n int) {
	id := "CVE-2024-" + strconv.Itoa(10000+n)
	fmt.Fprintf(b, `{"VulnerabilityID":%q,"PkgID":"example.org/m%[2]d/p%[3]d@v1.%[3]d.0","PkgName":"example.org/m%[2]d/p%[3]d",`+
		`"PkgIdentifier":{"PURL":"pkg:golang/example.org/m%[2]d/p%[3]d@v1.%[3]d.0","UID":"%016[4]x"},`+
		`"InstalledVersion":"v1.%[3]d.0","FixedVersion":"1.%[3]d.1, 2.0.%[3]d","Status":"fixed",`+
		`"Layer":{"Digest":"sha256:%[5]s","DiffID":"sha256:%[6]s"},"SeveritySource":"nvd",`+
		`"PrimaryURL":"https://avd.aquasec.com/nvd/cve-2024-%[7]d",`+
		`"DataSource":{"ID":"ghsa","Name":"GitHub Security Advisory Go","URL":"https://github.com/advisories?query=type%%3Areviewed+ecosystem%%3Ago"},`+
		`"Fingerprint":"sha256:%[8]s","Title":"example.org/m%[2]d: uncontrolled resource consumption in parser (\u00e9dition %[3]d)",`+
		`"Description":"A crafted input can make the parser of example.org/m%[2]d allocate without bound.\n\n`+
		`An attacker who controls the input can exhaust memory and crash the process. Versions before 1.%[3]d.1 are affected; `+
		`upgrade, or bound the size of untrusted input before parsing it. This description is long on purpose, as real ones are: `+
		`the parser must skip it without keeping it.",`+
		`"Severity":%[9]q,"CweIDs":["CWE-400","CWE-770"],"VendorSeverity":{"ghsa":3,"nvd":3,"redhat":2},`+
		`"CVSS":{"ghsa":{"V3Vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H","V3Score":7.5},`+
		`"nvd":{"V2Vector":"AV:N/AC:L/Au:N/C:N/I:N/A:P","V3Vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H","V2Score":5,"V3Score":7.5}},`+
		`"References":["https://github.com/advisories/GHSA-xxxx-yyyy-%[7]d","https://nvd.nist.gov/vuln/detail/%[1]s",`+
		`"https://pkg.go.dev/vuln/GO-2024-%[7]d","https://example.org/m%[2]d/security/%[3]d"],`+
		`"PublishedDate":"2024-01-16T12:15:45Z","LastModifiedDate":"2024-01-19T21:15:08Z"}`,
		id, r, i, r*1000+i, hex64(3*n+3), hex64(3*n+4), 10000+n, hex64(3*n+5), severities[n%len(severities)])
}

// hex64 is 64 hex digits derived from n: a stand-in sha256.
func hex64(n int) string {
	s := fmt.Sprintf("%016x", uint64(n)*0x9e3779b97f4a7c15)
	return s + s + s + s
}

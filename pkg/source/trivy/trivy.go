// Package trivy turns a Trivy vulnerability report into a
// vulnerability.found event. It reads three documents, told apart by their
// keys:
//
//   - a `trivy image|fs|repo --format json` report (SchemaVersion 2), as CI
//     posts it;
//   - a bare Trivy Operator VulnerabilityReport object, as the operator's
//     webhook broadcast (OPERATOR_WEBHOOK_BROADCAST_URL) posts it;
//   - the same object in the {"verb": …, "operatorObject": …} wrapper the
//     operator sends when OPERATOR_SEND_DELETED_REPORTS is on.
//
// Every one becomes the same VulnerabilityReport: the artifact, its findings
// de-duplicated and sorted, their counts by severity. The idempotency key
// is event.VulnerabilityKey(artifact, digest of the findings), so a re-scan
// that finds the same thing, with a new timestamp, is the same event.
//
// A report is read as it arrives. A json.Decoder walks the document token
// by token down to each vulnerability, the only value decoded whole, and
// skips what the bridge does not use (Packages, ImageConfig,
// managedFields) one element at a time. A 25 MiB report with thousands of
// findings costs its findings, not its size.
package trivy

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/imageref"
	"github.com/stoa-platform/bridge/pkg/source"
)

// Source is the CloudEvents source of every event this package makes.
const Source = "/webhooks/trivy"

// Scanners: the VulnerabilityReport's scanner, by document.
const (
	ScannerTrivy    = "trivy"
	ScannerOperator = "trivy-operator"
)

// Artifact kinds. A Trivy report's ArtifactType is kept as it is (Trivy
// also knows "vm", "sbom", …); these are the ones the bridge expects.
const (
	KindImage      = "container_image"
	KindRepository = "repository"
	KindFilesystem = "filesystem"
)

// MaxTitle bounds a finding's title, on a UTF-8 boundary: with thousands of
// findings an event must still fit in one NATS message.
const MaxTitle = 512

// MaxFindings bounds the vulnerabilities one report may list (before
// de-duplication), and so the memory a report costs: real scans of the
// largest images list a few thousand; 25 MiB of Trivy output holds about
// fifteen thousand.
const MaxFindings = 50_000

// MaxName bounds an artifact name. It is the event's subject and part of
// its idempotency key, which travels as a NATS header.
const MaxName = 1024

// Reasons of the *source.Ignored errors Parse returns: a fixed set, since
// each is a label of bridge_events_ignored_total.
const (
	// ReasonDeleted: the operator's wrapper with the verb "delete".
	ReasonDeleted = "deleted"
	// ReasonReportKind: an operator report other than a VulnerabilityReport
	// (ConfigAuditReport, ExposedSecretReport, …), all broadcast to the
	// same URL.
	ReasonReportKind = "report_kind"
	// ReasonVerb: the operator's wrapper with a verb other than update and
	// delete.
	ReasonVerb = "verb"
)

// IgnoredReasons lists every Reason Parse gives, in a fixed order.
var IgnoredReasons = []string{ReasonDeleted, ReasonReportKind, ReasonVerb}

// Parse reads one report and returns its vulnerability.found event,
// whose subject is the artifact's name and whose time is the scan's time
// (CreatedAt, or the operator's updateTimestamp; the time of the call when
// the report has neither).
//
// The artifact is named as follows. An image is
// "registry/repository:tag" (or "registry/repository@digest" without a
// tag), with Docker Hub names written in full ("nginx:1.25" is
// "index.docker.io/library/nginx:1.25", as the operator writes them), and
// its registry digest apart. A Trivy image report scanned from an archive
// (ArtifactName a .tar path) or by image ID is named from
// Metadata.Reference, RepoTags or RepoDigests. A repository or filesystem is its ArtifactName, without any
// credentials in a URL. An operator report adds the namespace and the
// workload ("Kind/name") from its trivy-operator.resource.* labels.
//
// Findings are de-duplicated on (id, package, installed version, target),
// keeping the most severe, and sorted by severity (most severe first), id,
// package, installed version and target. The digest in the key covers
// each finding's id, package, versions, severity and target, not its title
// or link, so that a reworded advisory is not a new event.
//
// Errors match source.ErrMalformed (not JSON, not a Trivy or Trivy
// Operator document, a field of the wrong type), or are a *source.Ignored
// (matching source.ErrUnsupported) whose Reason is one of IgnoredReasons
// (an operator report other than a VulnerabilityReport, a deleted report).
// Both read as a one-line reason that does not quote the body.
func Parse(body []byte) (*event.Event, error) {
	return parse(bytes.NewReader(body), time.Now)
}

// ParseReader is Parse reading the body from r as it arrives, so that a
// large report is never held whole. An error that is neither of Parse's
// wraps r's own error (a body over its limit, a sender gone).
func ParseReader(r io.Reader) (*event.Event, error) {
	return parse(r, time.Now)
}

func parse(r io.Reader, now func() time.Time) (*event.Event, error) {
	p := parser{dec: json.NewDecoder(r)}
	// Numbers stay text until a field wants one: as float64 tokens, a
	// number out of range (1e7000) would fail wherever it is, even skipped.
	p.dec.UseNumber()
	var d document
	if err := p.object("", d.member(&p)); err != nil {
		return nil, err
	}
	// Read to the end: trailing data is an error, and a body over the
	// limit must be refused whatever it starts with.
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, readError(err)
		}
		return nil, source.Malformedf("trivy: body has data after the report")
	}
	return d.event(now)
}

// Formats a document's keys belong to.
const (
	formatTrivy = 1 << iota
	formatOperator
	formatWrapper
)

// document is what a body says, in whichever format; event decides which
// it was once every key has been read, since keys come in any order.
type document struct {
	formats int

	// A Trivy report.
	schema       float64 // 0: absent
	createdAt    string
	artifactName string
	artifactType string
	image        imageMetadata
	findings     []*bridgev1.Finding

	// A Trivy Operator object, bare.
	object operatorObject

	// The operator's wrapper.
	verb    string
	wrapped operatorObject
}

// imageMetadata is the part of a Trivy report's Metadata that names an image.
type imageMetadata struct {
	RepoTags    []string
	RepoDigests []string
	Reference   string
}

func (m imageMetadata) empty() bool {
	return len(m.RepoTags) == 0 && len(m.RepoDigests) == 0 && m.Reference == ""
}

// trivyVuln is the part of a Results[].Vulnerabilities[] entry a finding keeps.
type trivyVuln struct {
	VulnerabilityID  string `json:"VulnerabilityID"`
	PkgName          string `json:"PkgName"`
	InstalledVersion string `json:"InstalledVersion"`
	FixedVersion     string `json:"FixedVersion"`
	Severity         string `json:"Severity"`
	Title            string `json:"Title"`
	PrimaryURL       string `json:"PrimaryURL"`
}

// operatorObject is the part of a Trivy Operator report object the event
// uses. seen is set once it has a member.
type operatorObject struct {
	seen       bool
	apiVersion string
	kind       string
	namespace  string
	created    string
	labels     map[string]string
	updated    string
	server     string
	repository string
	tag        string
	digest     string
	findings   []*bridgev1.Finding
}

// operatorVuln is one report.vulnerabilities[] entry of a VulnerabilityReport.
type operatorVuln struct {
	VulnerabilityID  string `json:"vulnerabilityID"`
	Resource         string `json:"resource"`
	InstalledVersion string `json:"installedVersion"`
	FixedVersion     string `json:"fixedVersion"`
	Severity         string `json:"severity"`
	Title            string `json:"title"`
	PrimaryLink      string `json:"primaryLink"`
	Target           string `json:"target"`
}

// member reads one top-level member of the body.
func (d *document) member(p *parser) func(key string) error {
	return func(key string) error {
		var err error
		switch key {
		case "SchemaVersion":
			d.formats |= formatTrivy
			d.schema, err = p.number("SchemaVersion")
		case "CreatedAt":
			d.formats |= formatTrivy
			d.createdAt, err = p.str("CreatedAt")
		case "ArtifactName":
			d.formats |= formatTrivy
			d.artifactName, err = p.str("ArtifactName")
		case "ArtifactType":
			d.formats |= formatTrivy
			d.artifactType, err = p.str("ArtifactType")
		case "Metadata":
			d.formats |= formatTrivy
			err = p.object("Metadata", func(key string) error {
				switch key {
				case "RepoTags":
					return p.decode("Metadata.RepoTags", &d.image.RepoTags)
				case "RepoDigests":
					return p.decode("Metadata.RepoDigests", &d.image.RepoDigests)
				case "Reference":
					var err error
					d.image.Reference, err = p.str("Metadata.Reference")
					return err
				}
				return p.skip()
			})
		case "Results":
			d.formats |= formatTrivy
			err = p.array("Results", func() error { return d.result(p) })
		case "apiVersion", "kind", "metadata", "report":
			d.formats |= formatOperator
			err = d.object.member(p, "", key)
		case "verb":
			d.formats |= formatWrapper
			d.verb, err = p.str("verb")
		case "operatorObject":
			d.formats |= formatWrapper
			err = p.object("operatorObject", func(key string) error {
				return d.wrapped.member(p, "operatorObject.", key)
			})
		default:
			err = p.skip()
		}
		return err
	}
}

// result reads one Results[] entry. Its Target may come after its
// Vulnerabilities, so it is set on the entry's findings at the end.
func (d *document) result(p *parser) error {
	start := len(d.findings)
	var target string
	err := p.object("Results[]", func(key string) error {
		switch key {
		case "Target":
			var err error
			target, err = p.str("Results[].Target")
			return err
		case "Vulnerabilities":
			return p.array("Results[].Vulnerabilities", func() error {
				var v trivyVuln
				if err := p.decode("Results[].Vulnerabilities[]", &v); err != nil {
					return err
				}
				if v.VulnerabilityID == "" {
					return source.Malformedf(`trivy: "Results[].Vulnerabilities[].VulnerabilityID" is missing`)
				}
				if err := p.count(); err != nil {
					return err
				}
				d.findings = append(d.findings, newFinding(v.VulnerabilityID, v.PkgName,
					v.InstalledVersion, v.FixedVersion, v.Severity, v.Title, v.PrimaryURL, ""))
				return nil
			})
		}
		return p.skip()
	})
	for _, f := range d.findings[start:] {
		f.Target = target
	}
	return err
}

// member reads one member of an operator object; prefix is its path.
func (o *operatorObject) member(p *parser, prefix, key string) error {
	o.seen = true
	var err error
	switch key {
	case "apiVersion":
		o.apiVersion, err = p.str(prefix + "apiVersion")
	case "kind":
		o.kind, err = p.str(prefix + "kind")
	case "metadata":
		err = p.object(prefix+"metadata", func(key string) error {
			var err error
			switch key {
			case "namespace":
				o.namespace, err = p.str(prefix + "metadata.namespace")
			case "creationTimestamp":
				o.created, err = p.str(prefix + "metadata.creationTimestamp")
			case "labels":
				err = p.decode(prefix+"metadata.labels", &o.labels)
			default:
				err = p.skip()
			}
			return err
		})
	case "report":
		err = p.object(prefix+"report", func(key string) error {
			var err error
			switch key {
			case "updateTimestamp":
				o.updated, err = p.str(prefix + "report.updateTimestamp")
			case "registry":
				err = p.object(prefix+"report.registry", func(key string) error {
					var err error
					if key == "server" {
						o.server, err = p.str(prefix + "report.registry.server")
					} else {
						err = p.skip()
					}
					return err
				})
			case "artifact":
				err = p.object(prefix+"report.artifact", func(key string) error {
					var err error
					switch key {
					case "repository":
						o.repository, err = p.str(prefix + "report.artifact.repository")
					case "tag":
						o.tag, err = p.str(prefix + "report.artifact.tag")
					case "digest":
						o.digest, err = p.str(prefix + "report.artifact.digest")
					default:
						err = p.skip()
					}
					return err
				})
			case "vulnerabilities":
				path := prefix + "report.vulnerabilities[]"
				err = p.array(prefix+"report.vulnerabilities", func() error {
					var v operatorVuln
					if err := p.decode(path, &v); err != nil {
						return err
					}
					if v.VulnerabilityID == "" {
						return source.Malformedf("trivy-operator: %q is missing", path+".vulnerabilityID")
					}
					if err := p.count(); err != nil {
						return err
					}
					o.findings = append(o.findings, newFinding(v.VulnerabilityID, v.Resource,
						v.InstalledVersion, v.FixedVersion, v.Severity, v.Title, v.PrimaryLink, v.Target))
					return nil
				})
			default:
				err = p.skip()
			}
			return err
		})
	default:
		err = p.skip()
	}
	return err
}

// event decides what the body was and makes its event.
func (d *document) event(now func() time.Time) (*event.Event, error) {
	switch d.formats {
	case formatTrivy:
		return d.trivyEvent(now)
	case formatOperator:
		return d.object.event(now)
	case formatWrapper:
		switch {
		case d.verb == "":
			return nil, source.Malformedf(`trivy-operator: "verb" is missing`)
		case d.verb == "delete":
			// The operator could not read a deleted report, so the object
			// is whatever it last held: only the verb can be trusted.
			return nil, &source.Ignored{Reason: ReasonDeleted, Detail: "trivy-operator: a deleted report needs no action"}
		case d.verb != "update":
			return nil, &source.Ignored{Reason: ReasonVerb, Detail: "trivy-operator: only the update and delete verbs are handled"}
		case !d.wrapped.seen:
			return nil, source.Malformedf(`trivy-operator: "operatorObject" is missing or empty`)
		}
		return d.wrapped.event(now)
	case 0:
		return nil, source.Malformedf("trivy: body is neither a Trivy JSON report nor a Trivy Operator report")
	}
	return nil, source.Malformedf("trivy: body mixes the fields of a Trivy report and a Trivy Operator report")
}

func (d *document) trivyEvent(now func() time.Time) (*event.Event, error) {
	switch d.schema {
	case 0:
		return nil, source.Malformedf(`trivy: "SchemaVersion" is missing`)
	case 2:
	default:
		return nil, source.Malformedf("trivy: only SchemaVersion 2 reports are supported")
	}
	art := &bridgev1.Artifact{Kind: d.artifactType}
	if art.Kind == "" {
		// Older Trivy versions may leave it out; only images carry image
		// metadata.
		art.Kind = KindFilesystem
		if !d.image.empty() {
			art.Kind = KindImage
		}
	}
	if art.Kind == KindImage {
		art.Name, art.Digest = reportImage(d.artifactName, d.image)
	} else {
		art.Name = withoutCredentials(d.artifactName)
	}
	if art.Name == "" {
		return nil, source.Malformedf(`trivy: "ArtifactName" is missing`)
	}
	at, err := scanTime("trivy", "CreatedAt", d.createdAt, now)
	if err != nil {
		return nil, err
	}
	return build("trivy", ScannerTrivy, art, d.findings, at)
}

// reportKinds are the Trivy Operator's other report kinds, all broadcast
// to the same URL: named in the answer when ignored.
var reportKinds = []string{
	"ExposedSecretReport", "ConfigAuditReport", "InfraAssessmentReport",
	"ClusterComplianceReport", "RbacAssessmentReport", "ClusterRbacAssessmentReport",
	"ClusterConfigAuditReport", "ClusterInfraAssessmentReport", "ClusterVulnerabilityReport",
	"SbomReport", "ClusterSbomReport",
}

// Labels the operator puts on a report to name the workload it scanned.
const (
	labelKind      = "trivy-operator.resource.kind"
	labelName      = "trivy-operator.resource.name"
	labelNamespace = "trivy-operator.resource.namespace"
	labelContainer = "trivy-operator.container.name"
)

func (o *operatorObject) event(now func() time.Time) (*event.Event, error) {
	if group, _, _ := strings.Cut(o.apiVersion, "/"); group != "aquasecurity.github.io" {
		return nil, source.Malformedf(`trivy-operator: "apiVersion" is not aquasecurity.github.io: not a Trivy Operator object`)
	}
	switch {
	case o.kind == "VulnerabilityReport":
	case o.kind == "":
		return nil, source.Malformedf(`trivy-operator: "kind" is missing`)
	case slices.Contains(reportKinds, o.kind):
		return nil, &source.Ignored{Reason: ReasonReportKind,
			Detail: "trivy-operator: a " + o.kind + " is not a VulnerabilityReport: nothing to do"}
	default:
		return nil, &source.Ignored{Reason: ReasonReportKind, Detail: "trivy-operator: only VulnerabilityReport objects are handled"}
	}
	if o.repository == "" {
		return nil, source.Malformedf(`trivy-operator: "report.artifact.repository" is missing`)
	}
	ref := o.repository
	if o.server != "" {
		ref = o.server + "/" + o.repository
	}
	img, ok := imageref.Parse(ref)
	if !ok {
		img.Repository = ref
	}
	img.Tag, img.Digest = o.tag, o.digest
	art := &bridgev1.Artifact{
		Kind:      KindImage,
		Name:      img.Name(),
		Digest:    o.digest,
		Namespace: cmp.Or(o.labels[labelNamespace], o.namespace),
		Container: o.labels[labelContainer],
	}
	if k, n := o.labels[labelKind], o.labels[labelName]; n != "" {
		art.Workload = n
		if k != "" {
			art.Workload = k + "/" + n
		}
	}
	field, value := "report.updateTimestamp", o.updated
	if value == "" {
		field, value = "metadata.creationTimestamp", o.created
	}
	at, err := scanTime("trivy-operator", field, value, now)
	if err != nil {
		return nil, err
	}
	return build("trivy-operator", ScannerOperator, art, o.findings, at)
}

// scanTime parses an RFC 3339 time, or returns now() when there is none.
func scanTime(prefix, field, value string, now func() time.Time) (time.Time, error) {
	if value == "" {
		return now(), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil || timestamppb.New(t).CheckValid() != nil {
		return time.Time{}, source.Malformedf("%s: %q is not an RFC 3339 time", prefix, field)
	}
	return t, nil
}

// build normalises the findings and makes the event.
func build(prefix, scanner string, art *bridgev1.Artifact, findings []*bridgev1.Finding, at time.Time) (*event.Event, error) {
	switch {
	case len(art.Name) > MaxName:
		return nil, source.Malformedf("%s: the artifact name is longer than %d bytes", prefix, MaxName)
	case strings.ContainsFunc(art.Name, unicode.IsControl):
		return nil, source.Malformedf("%s: the artifact name contains control characters", prefix)
	}
	findings = normalise(findings)
	counts := make(map[string]uint32, len(severityNames))
	for _, n := range severityNames {
		counts[n] = 0
	}
	for _, f := range findings {
		counts[SeverityName(f.Severity)]++
	}
	ev := event.New(event.KindVulnerabilityFound, Source, art.Name, event.VulnerabilityKey(art.Name, digest(workloadOf(art), findings)), at)
	ev.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: &bridgev1.VulnerabilityReport{
		Artifact:  art,
		Findings:  findings,
		Counts:    counts,
		ScannedAt: timestamppb.New(at),
		Scanner:   scanner,
	}}
	return ev, nil
}

func newFinding(id, pkg, installed, fixed, severity, title, link, target string) *bridgev1.Finding {
	return &bridgev1.Finding{
		Id:               id,
		Package:          pkg,
		InstalledVersion: installed,
		FixedVersion:     fixed,
		Severity:         parseSeverity(severity),
		Title:            source.Truncate(title, MaxTitle),
		PrimaryUrl:       link,
		Target:           target,
	}
}

// severityNames are the keys of VulnerabilityReport.counts, most severe first.
var severityNames = [...]string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

// SeverityName is Trivy's name of s ("CRITICAL" … "UNKNOWN"), the key of
// VulnerabilityReport.counts. UNSPECIFIED is "UNKNOWN".
func SeverityName(s bridgev1.Severity) string {
	switch s {
	case bridgev1.Severity_SEVERITY_CRITICAL:
		return "CRITICAL"
	case bridgev1.Severity_SEVERITY_HIGH:
		return "HIGH"
	case bridgev1.Severity_SEVERITY_MEDIUM:
		return "MEDIUM"
	case bridgev1.Severity_SEVERITY_LOW:
		return "LOW"
	}
	return "UNKNOWN"
}

// parseSeverity reads Trivy's severity names, in any case. Anything else,
// including none, is UNKNOWN: Trivy's own word for an unrated advisory.
func parseSeverity(s string) bridgev1.Severity {
	switch {
	case strings.EqualFold(s, "CRITICAL"):
		return bridgev1.Severity_SEVERITY_CRITICAL
	case strings.EqualFold(s, "HIGH"):
		return bridgev1.Severity_SEVERITY_HIGH
	case strings.EqualFold(s, "MEDIUM"):
		return bridgev1.Severity_SEVERITY_MEDIUM
	case strings.EqualFold(s, "LOW"):
		return bridgev1.Severity_SEVERITY_LOW
	}
	return bridgev1.Severity_SEVERITY_UNKNOWN
}

// normalise de-duplicates findings on (id, package, installed, target),
// keeping the most severe and then the one with a fix, and sorts them most
// severe first. The result does not depend on the input's order.
func normalise(fs []*bridgev1.Finding) []*bridgev1.Finding {
	slices.SortFunc(fs, func(a, b *bridgev1.Finding) int {
		return cmp.Or(
			compareIdentity(a, b),
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(noFix(a), noFix(b)),
			cmp.Compare(a.FixedVersion, b.FixedVersion),
			cmp.Compare(a.Title, b.Title),
			cmp.Compare(a.PrimaryUrl, b.PrimaryUrl),
		)
	})
	fs = slices.CompactFunc(fs, func(a, b *bridgev1.Finding) bool { return compareIdentity(a, b) == 0 })
	// Stable: within a severity the order stays (id, package, installed, target).
	slices.SortStableFunc(fs, func(a, b *bridgev1.Finding) int { return cmp.Compare(b.Severity, a.Severity) })
	return fs
}

func compareIdentity(a, b *bridgev1.Finding) int {
	return cmp.Or(
		cmp.Compare(a.Id, b.Id),
		cmp.Compare(a.Package, b.Package),
		cmp.Compare(a.InstalledVersion, b.InstalledVersion),
		cmp.Compare(a.Target, b.Target),
	)
}

func noFix(f *bridgev1.Finding) int {
	if f.FixedVersion == "" {
		return 1
	}
	return 0
}

// digest is the hex of the first 16 bytes of a SHA-256 over each finding's
// id, package, versions, target and severity, length-prefixed so that no
// two lists encode alike. Titles and links are left out: a reworded
// advisory is not a new report.
func digest(workload string, fs []*bridgev1.Finding) string {
	h := sha256.New()
	var b []byte
	if workload != "" {
		// The operator reports one image once per workload container, with
		// the same findings: without the workload in the key, the stream
		// would drop the second workload's report as a duplicate of the
		// first, and the image's workload list would never grow.
		b = binary.AppendUvarint(b, uint64(len(workload)))
		h.Write(append(b, workload...))
	}
	for _, f := range fs {
		b = b[:0]
		for _, s := range [...]string{f.Id, f.Package, f.InstalledVersion, f.FixedVersion, f.Target} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = append(b, byte(f.Severity))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// workloadOf identifies the workload container a report comes from, "" for
// a report that names none (a CI scan).
func workloadOf(a *bridgev1.Artifact) string {
	if a.GetWorkload() == "" {
		return ""
	}
	return a.GetNamespace() + "/" + a.GetWorkload() + "/" + a.GetContainer()
}

// reportImage names the image of a Trivy image report and finds its
// registry digest. ArtifactName is what the user asked to scan, unless it
// is an archive path (trivy image --input), when the image's own metadata
// names it.
func reportImage(artifactName string, m imageMetadata) (name, digest string) {
	ref := artifactName
	if ref == "" || notReference(ref) {
		ref = m.Reference
		for _, r := range [][]string{m.RepoTags, m.RepoDigests} {
			if ref == "" && len(r) > 0 {
				ref = r[0]
			}
		}
	}
	img, ok := imageref.Parse(ref)
	if ref == "" || notReference(ref) || !ok {
		// An archive of an untagged image: its path is all there is.
		return artifactName, ""
	}
	// Named before the RepoDigests look-up: "nginx" is nginx:latest, whatever
	// digest that tag points to.
	name = img.Name()
	if img.Digest == "" {
		img.Digest = repoDigest(img.Repository, m.RepoDigests)
	}
	return name, img.Digest
}

// repoDigest returns the digest of the RepoDigests entry of repository, or
// else of the first entry.
func repoDigest(repository string, repoDigests []string) string {
	first := ""
	for _, rd := range repoDigests {
		img, ok := imageref.Parse(rd)
		if !ok || img.Digest == "" {
			continue
		}
		if img.Repository == repository {
			return img.Digest
		}
		if first == "" {
			first = img.Digest
		}
	}
	return first
}

// notReference reports whether an image's ArtifactName is a file path (an
// image archive or an OCI layout) or a bare image ID rather than a
// reference to a repository.
func notReference(s string) bool {
	lower := strings.ToLower(s)
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.ContainsRune(s, '\\') || strings.HasPrefix(s, "sha256:")
}

// withoutCredentials drops the user information from a URL, so that a
// repository scanned through https://user:token@host/… does not carry the
// token into the event, Slack or Linear. It works on the text, not
// net/url, so that a name is never re-escaped.
func withoutCredentials(name string) string {
	scheme, rest, ok := strings.Cut(name, "://")
	if !ok {
		return name
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	i := strings.LastIndexByte(authority, '@')
	if i < 0 {
		return name
	}
	name = scheme + "://" + authority[i+1:]
	if hasPath {
		name += "/" + path
	}
	return name
}

// parser walks a JSON document with a json.Decoder. Paths in its errors
// name fields as the documents spell them, never the body's values.
type parser struct {
	dec      *json.Decoder
	findings int // read so far, in any format
}

// count counts one more finding, refusing a report with too many.
func (p *parser) count() error {
	p.findings++
	if p.findings > MaxFindings {
		return source.Malformedf("trivy: the report lists more than %d vulnerabilities", MaxFindings)
	}
	return nil
}

// object reads an object (or null, as absent), calling member with each
// key; member must consume the key's value.
func (p *parser) object(path string, member func(key string) error) error {
	ok, err := p.open(path, '{')
	if err != nil || !ok {
		return err
	}
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return err
		}
		key, _ := t.(string) // a key is always a string
		if err := member(key); err != nil {
			return err
		}
	}
	_, err = p.token()
	return err
}

// array reads an array (or null, as empty), calling elem for each element;
// elem must consume it.
func (p *parser) array(path string, elem func() error) error {
	ok, err := p.open(path, '[')
	if err != nil || !ok {
		return err
	}
	for p.dec.More() {
		if err := elem(); err != nil {
			return err
		}
	}
	_, err = p.token()
	return err
}

// open reads the start of an object or array. It returns false for null,
// which Go's encoder writes for a nil map or slice.
func (p *parser) open(path string, want json.Delim) (bool, error) {
	t, err := p.token()
	if err != nil {
		return false, err
	}
	switch t {
	case want:
		return true, nil
	case nil:
		return false, nil
	}
	what := "an object"
	if want == '[' {
		what = "an array"
	}
	return false, source.Malformedf("trivy: %s is %s, not %s", quote(path), describe(t), what)
}

// str reads a string, or null as "".
func (p *parser) str(path string) (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	switch v := t.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	}
	return "", source.Malformedf("trivy: %s is %s, not a string", quote(path), describe(t))
}

// number reads a number, or null as 0.
func (p *parser) number(path string) (float64, error) {
	t, err := p.token()
	if err != nil {
		return 0, err
	}
	switch v := t.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0, source.Malformedf("trivy: %s is out of range", quote(path))
		}
		return f, nil
	case nil:
		return 0, nil
	}
	return 0, source.Malformedf("trivy: %s is %s, not a number", quote(path), describe(t))
}

// decode decodes one whole value into v.
func (p *parser) decode(path string, v any) error {
	err := p.dec.Decode(v)
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		at := path
		if te.Field != "" {
			at += "." + te.Field
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 1.5" → "number"
		verb := "is"
		if te.Field == "" && te.Type != reflect.TypeOf(v).Elem() {
			verb = "holds" // an element of a list or a map, named by neither
		}
		return source.Malformedf("trivy: %s %s %s, not %s", quote(at), verb, source.Article(got), source.TypeName(te.Type))
	}
	if err != nil {
		return readError(err)
	}
	return nil
}

// skip consumes one value. An object or array is walked one level deep,
// each member decoded and dropped alone, so that a large array the bridge
// does not use (Packages, managedFields) is never held whole.
func (p *parser) skip() error {
	t, err := p.token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	for p.dec.More() {
		if d == '{' {
			if _, err := p.token(); err != nil {
				return err
			}
		}
		if err := p.dec.Decode(&discard{}); err != nil {
			return readError(err)
		}
	}
	_, err = p.token()
	return err
}

// discard decodes any value into nothing, without allocating.
type discard struct{}

func (*discard) UnmarshalJSON([]byte) error { return nil }

func (p *parser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		return nil, readError(err)
	}
	return t, nil
}

// readError tells a body that is not JSON (400) from a body that could not
// be read (the reader's error, wrapped).
func readError(err error) error {
	if _, ok := errors.AsType[*json.SyntaxError](err); ok || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return source.Malformedf("trivy: body is not valid JSON")
	}
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		// Not expected where readError is used (decode names the field):
		// a value the decoder could not take is the body's fault all the same.
		return source.Malformedf("trivy: body has a value of the wrong type")
	}
	return fmt.Errorf("trivy: reading the report: %w", err)
}

func quote(path string) string {
	if path == "" {
		return "body"
	}
	return `"` + path + `"`
}

func describe(t json.Token) string {
	switch t := t.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

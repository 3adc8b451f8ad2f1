package inventory

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Jump is how far an upgrade goes, by the first of major, minor and patch
// that differs between the deployed version and the new one. A pre-release
// of a later version is still that version's jump (2.13.0 → 2.14.0-rc.1 is
// minor); JumpPrerelease is only a move between versions with the same
// major.minor.patch (2.14.0-rc.1 → 2.14.0-rc.2 or 2.14.0).
type Jump string

// The jumps, biggest first.
const (
	JumpMajor      Jump = "major"
	JumpMinor      Jump = "minor"
	JumpPatch      Jump = "patch"
	JumpPrerelease Jump = "prerelease"
)

// Upgrade is a release of a tool newer than the deployed version.
type Upgrade struct {
	Tool *Tool
	// From is the deployed version as the inventory writes it ("26.5.0",
	// "8.x").
	From string
	// To is the new version as the tag writes it, without the pattern's
	// literal text ("26.6.1", "2.14", "4.7.0-beta1").
	To string
	// Jump compares To with the lowest version From allows (8.x → 8.0.0).
	Jump Jump
}

// tagVersion is what a tag pattern's placeholder may stand for: 2 or 3
// numeric parts without leading zeros, an optional pre-release and build
// metadata (whose identifiers semver checks). A 1-part "v8" is not a
// release version: projects that tag so are not in the inventory, and
// accepting it would let branch-like tags through.
var tagVersion = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// Version reads the version out of a release tag by the tool's pattern.
// It is false when the tag does not match the pattern as a whole (another
// tag style of the same repository, e.g. a chart's "helm-chart-0.12.1"
// next to the app's "v0.12.1") or the version is not 2- or 3-part semver.
// A 2-part version is completed: "v2.13" is 2.13.0.
func (t *Tool) Version(tag string) (*semver.Version, bool) {
	v, _, ok := t.version(tag)
	return v, ok
}

// version is Version that also returns the version as the tag writes it.
func (t *Tool) version(tag string) (*semver.Version, string, bool) {
	pattern := t.TagPattern
	if pattern == "" {
		pattern = DefaultTagPattern
	}
	prefix, suffix, ok := strings.Cut(pattern, Placeholder)
	if !ok || strings.Contains(suffix, Placeholder) {
		return nil, "", false
	}
	if len(tag) < len(prefix)+len(suffix) || !strings.HasPrefix(tag, prefix) || !strings.HasSuffix(tag, suffix) {
		return nil, "", false
	}
	raw := tag[len(prefix) : len(tag)-len(suffix)]
	m := tagVersion.FindStringSubmatch(raw)
	if m == nil {
		return nil, "", false
	}
	patch := m[3]
	if patch == "" {
		patch = "0"
	}
	// StrictNewVersion rather than NewVersion: the latter's leniency
	// depends on a package-level switch of semver.
	v, err := semver.StrictNewVersion(m[1] + "." + m[2] + "." + patch + m[4] + m[5])
	if err != nil {
		return nil, "", false
	}
	return v, raw, true
}

// Newer reports whether v is newer than the deployed version: for a
// concrete one ("26.5.0", "2.13"), by semver precedence (so 2.13.0-rc.1
// is not newer than 2.13); for "8.x", when v's major is above 8, whatever
// its pre-release (9.0.0-rc.1 is not an 8.*); for "2.13.x", when v's
// major.minor is above 2.13. It is false when Deployed does not parse.
func (t *Tool) Newer(v *semver.Version) bool {
	d, err := parseDeployed(t.Deployed)
	if err != nil || v == nil {
		return false
	}
	return d.newer(v)
}

// Upgrade says whether the release with this tag is an upgrade: the tag
// matches the pattern, its version is Newer than the deployed one, and it
// is not a pre-release (prerelease is GitHub's flag; a version with a
// pre-release suffix is one too) unless the tool counts them.
func (t *Tool) Upgrade(tag string, prerelease bool) (Upgrade, bool) {
	v, raw, ok := t.version(tag)
	if !ok {
		return Upgrade{}, false
	}
	d, err := parseDeployed(t.Deployed)
	if err != nil || !d.newer(v) {
		return Upgrade{}, false
	}
	if (prerelease || v.Prerelease() != "") && !t.Prereleases {
		return Upgrade{}, false
	}
	return Upgrade{Tool: t, From: t.Deployed, To: raw, Jump: jump(d.floor, v)}, true
}

// wildcard is how much of a deployed version is left open.
type wildcard int

const (
	exact    wildcard = iota // "26.5.0", "2.13"
	anyPatch                 // "2.13.x": any 2.13.*
	anyMinor                 // "8.x", "8": any 8.*
)

// deployed is a parsed Tool.Deployed.
type deployed struct {
	// floor is the lowest version it allows: 8.x → 8.0.0.
	floor *semver.Version
	wild  wildcard
}

var (
	deployedWild  = regexp.MustCompile(`^(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.[xX*])?$`)
	errBadVersion = errors.New("want a version like 26.5.0, 2.13, 8.x or 3")
)

// parseDeployed reads a deployed version: a concrete 2- or 3-part version
// (with an optional pre-release), or one with the last parts left open
// ("8.x", "8", "2.13.x"). A single number means its whole major: "Helm 3"
// is any 3.*, not 3.0.0.
func parseDeployed(s string) (deployed, error) {
	if m := deployedWild.FindStringSubmatch(s); m != nil {
		major, _ := strconv.ParseUint(m[1], 10, 64)
		open := strings.HasSuffix(s, "x") || strings.HasSuffix(s, "X") || strings.HasSuffix(s, "*")
		switch {
		case m[2] == "":
			// "8" or "8.x".
			return deployed{floor: semver.New(major, 0, 0, "", ""), wild: anyMinor}, nil
		case open:
			minor, _ := strconv.ParseUint(m[2], 10, 64)
			return deployed{floor: semver.New(major, minor, 0, "", ""), wild: anyPatch}, nil
		}
		// "2.13": a concrete version, read below.
	}
	v, _, ok := (&Tool{TagPattern: Placeholder}).version(s)
	if !ok || v.Metadata() != "" {
		return deployed{}, errBadVersion
	}
	return deployed{floor: v, wild: exact}, nil
}

func (d deployed) newer(v *semver.Version) bool {
	switch d.wild {
	case anyMinor:
		return v.Major() > d.floor.Major()
	case anyPatch:
		return v.Major() > d.floor.Major() ||
			v.Major() == d.floor.Major() && v.Minor() > d.floor.Minor()
	}
	return v.GreaterThan(d.floor)
}

func jump(from, to *semver.Version) Jump {
	switch {
	case from.Major() != to.Major():
		return JumpMajor
	case from.Minor() != to.Minor():
		return JumpMinor
	case from.Patch() != to.Patch():
		return JumpPatch
	}
	return JumpPrerelease
}

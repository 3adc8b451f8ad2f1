package vuln

import (
	"cmp"
	"slices"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// Change is a report against the one before it for the same artifact.
// Each list is sorted most severe first, then by id, package, target and
// installed version; a list with nothing in it is nil.
type Change struct {
	// New are the current findings the previous report did not have.
	New []*bridgev1.Finding
	// Fixed are the previous findings the current report no longer has.
	Fixed []*bridgev1.Finding
	// Unchanged are the current findings the previous report had too.
	Unchanged []*bridgev1.Finding
}

// Moved reports whether anything appeared or went: a change that did not
// move needs no alert and no comment.
func (c Change) Moved() bool { return len(c.New) > 0 || len(c.Fixed) > 0 }

// findingKey is a finding's identity across reports. The installed version
// is left out on purpose: a package upgraded to a version still affected
// by the same vulnerability is the same open finding, not a fix and a new
// one.
type findingKey struct{ id, pkg, target string }

func keyOf(f *bridgev1.Finding) findingKey {
	return findingKey{f.Id, f.Package, f.Target}
}

// Diff compares the current findings with the previous ones, keyed on
// (id, package, target). Apply the same policy to both sides first, or a
// policy change reads as findings fixed or new. Nil findings are skipped;
// the inputs are not modified.
func Diff(prev, cur []*bridgev1.Finding) Change {
	before := make(map[findingKey]bool, len(prev))
	for _, f := range prev {
		if f != nil {
			before[keyOf(f)] = true
		}
	}
	now := make(map[findingKey]bool, len(cur))
	var c Change
	for _, f := range cur {
		if f == nil {
			continue
		}
		k := keyOf(f)
		now[k] = true
		if before[k] {
			c.Unchanged = append(c.Unchanged, f)
		} else {
			c.New = append(c.New, f)
		}
	}
	for _, f := range prev {
		if f != nil && !now[keyOf(f)] {
			c.Fixed = append(c.Fixed, f)
		}
	}
	for _, l := range [][]*bridgev1.Finding{c.New, c.Fixed, c.Unchanged} {
		slices.SortStableFunc(l, compareFindings)
	}
	return c
}

// compareFindings orders findings most severe first, then by id, package,
// target and installed version, so that messages and tickets read the
// same for the same report whatever order the scanner wrote.
func compareFindings(a, b *bridgev1.Finding) int {
	return cmp.Or(
		cmp.Compare(severity(b.Severity), severity(a.Severity)),
		cmp.Compare(a.Id, b.Id),
		cmp.Compare(a.Package, b.Package),
		cmp.Compare(a.Target, b.Target),
		cmp.Compare(a.InstalledVersion, b.InstalledVersion),
		cmp.Compare(a.FixedVersion, b.FixedVersion),
	)
}

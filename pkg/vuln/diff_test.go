package vuln_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

func TestDiff(t *testing.T) {
	var (
		musl    = finding("CVE-2019-14697", "musl", "alpine", critical, "1.1.20-r5")
		openssl = finding("CVE-2021-1", "openssl", "alpine", high, "")
		zlib    = finding("CVE-2021-2", "zlib", "alpine", medium, "1.2.12")
		bash    = finding("CVE-2021-3", "bash", "alpine", medium, "5.1")
		// The same vulnerability in another target is another finding.
		gms1 = finding("GMS-2022-20", "github.com/x/y", "a/go.mod", unknown, "")
		gms2 = finding("GMS-2022-20", "github.com/x/y", "b/go.mod", unknown, "")
	)
	upgraded := finding("CVE-2021-1", "openssl", "alpine", high, "")
	upgraded.InstalledVersion = "1.1" // Still affected: not fixed, not new.

	type want struct{ New, Fixed, Unchanged []string }
	tests := []struct {
		name      string
		prev, cur []*bridgev1.Finding
		want      want
		moved     bool
	}{
		{name: "both empty"},
		{name: "first report", cur: []*bridgev1.Finding{zlib, musl, openssl}, moved: true,
			want: want{New: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine", "CVE-2021-2/zlib/alpine"}}},
		{name: "all fixed", prev: []*bridgev1.Finding{openssl, musl}, moved: true,
			want: want{Fixed: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine"}}},
		{name: "same report again", prev: []*bridgev1.Finding{musl, openssl}, cur: []*bridgev1.Finding{openssl, musl},
			want: want{Unchanged: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-1/openssl/alpine"}}},
		{name: "one fixed, one new", prev: []*bridgev1.Finding{musl, openssl, zlib}, cur: []*bridgev1.Finding{bash, zlib, musl}, moved: true,
			want: want{New: []string{"CVE-2021-3/bash/alpine"}, Fixed: []string{"CVE-2021-1/openssl/alpine"},
				Unchanged: []string{"CVE-2019-14697/musl/alpine", "CVE-2021-2/zlib/alpine"}}},
		{name: "another installed version is the same finding", prev: []*bridgev1.Finding{openssl}, cur: []*bridgev1.Finding{upgraded},
			want: want{Unchanged: []string{"CVE-2021-1/openssl/alpine"}}},
		{name: "keyed on target", prev: []*bridgev1.Finding{gms1}, cur: []*bridgev1.Finding{gms2, gms1}, moved: true,
			want: want{New: []string{"GMS-2022-20/github.com/x/y/b/go.mod"}, Unchanged: []string{"GMS-2022-20/github.com/x/y/a/go.mod"}}},
		{name: "nil findings skipped", prev: []*bridgev1.Finding{nil, musl}, cur: []*bridgev1.Finding{musl, nil},
			want: want{Unchanged: []string{"CVE-2019-14697/musl/alpine"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, cur := ids(tt.prev), ids(tt.cur)
			c := vuln.Diff(tt.prev, tt.cur)
			got := want{ids(c.New), ids(c.Fixed), ids(c.Unchanged)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
			if c.Moved() != tt.moved {
				t.Errorf("Moved() = %v, want %v", c.Moved(), tt.moved)
			}
			if diff := cmp.Diff(prev, ids(tt.prev)); diff != "" {
				t.Errorf("Diff reordered prev (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cur, ids(tt.cur)); diff != "" {
				t.Errorf("Diff reordered cur (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffOrderDoesNotDependOnInput(t *testing.T) {
	fs := []*bridgev1.Finding{
		finding("CVE-2", "b", "t", medium, ""),
		finding("CVE-1", "b", "t", medium, ""),
		finding("CVE-1", "a", "t", medium, ""),
		finding("CVE-9", "z", "t", critical, ""),
		finding("CVE-1", "a", "s", medium, ""),
	}
	want := []string{"CVE-9/z/t", "CVE-1/a/s", "CVE-1/a/t", "CVE-1/b/t", "CVE-2/b/t"}
	for i := range fs {
		rotated := append(append([]*bridgev1.Finding(nil), fs[i:]...), fs[:i]...)
		if diff := cmp.Diff(want, ids(vuln.Diff(nil, rotated).New)); diff != "" {
			t.Errorf("rotation %d: New (-want +got):\n%s", i, diff)
		}
	}
}

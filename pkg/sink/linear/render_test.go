package linear

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md")

var published = timestamppb.New(time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC))

// Release notes in the styles the inventory's projects write: GitHub's
// generated "What's Changed", a changelog with an upgrade section, none.
const (
	argoNotes = "## Upgrading\n\n" +
		"> [!WARNING]\n> **BREAKING CHANGE**: the legacy repo-server plugin mechanism has been removed.\n\n" +
		"Read the [migration guide](https://argo-cd.readthedocs.io/en/stable/operator-manual/upgrading/2.14-3.0/) first.\n\n" +
		"## What's Changed\n" +
		"* feat: fine-grained RBAC for applications by @alice in https://github.com/argoproj/argo-cd/pull/1\n" +
		"* chore: deprecate the `--insecure` flag of argocd login by @bob in https://github.com/argoproj/argo-cd/pull/2\n" +
		"* fix: Removed the unused `repository.credentials` key by @carol in https://github.com/argoproj/argo-cd/pull/3\n" +
		"\n```yaml\n# breaking: not a hint, inside a code block\nkind: ConfigMap\n```\n\n" +
		"**Full Changelog**: https://github.com/argoproj/argo-cd/compare/v2.14.0...v3.0.0\n"
	keycloakNotes = "### Highlights\r\n\r\n- Organizations can now be managed from the admin console.\r\n" +
		"- Faster startup with the new cache.\r\n\r\n### Upgrading\r\n\r\nNo migration steps are needed.\r\n"
)

func tool(name, repo, deployed string) *inventory.Tool {
	return &inventory.Tool{Name: name, Repo: repo, Deployed: deployed}
}

func rel(owner, repo, tag, name, body string) *bridgev1.ReleasePublished {
	return &bridgev1.ReleasePublished{
		Owner:       owner,
		Repo:        repo,
		Tag:         tag,
		Name:        name,
		Url:         fmt.Sprintf("https://github.com/%s/%s/releases/tag/%s", owner, repo, tag),
		Body:        body,
		PublishedAt: published,
		Origin:      "webhook",
	}
}

// longNotes are over the trim limit and cut inside a code block.
func longNotes() string {
	var b strings.Builder
	b.WriteString("## Changes\n\n```\n")
	for i := range 200 {
		fmt.Fprintf(&b, "line %03d of a very long changelog that goes on\n", i)
	}
	b.WriteString("```\n")
	return b.String()
}

func TestRenderTicket(t *testing.T) {
	argo := tool("ArgoCD", "argoproj/argo-cd", "2.13")
	keycloak := tool("Keycloak", "keycloak/keycloak", "26.5.0")
	vault := tool("Vault", "hashicorp/vault", "1.21")
	vault.Linear.Labels = []string{"upgrade", "security"}
	hostile := tool("Fluent [Bit](https://evil.example)", "fluent/fluent-bit", "3.x")
	hostile.Linear.Labels = []string{}

	tests := []struct {
		golden       string
		rel          *bridgev1.ReleasePublished
		up           inventory.Upgrade
		wantPriority int
	}{
		{"major-breaking", rel("argoproj", "argo-cd", "v3.0.0", "v3.0.0", argoNotes),
			inventory.Upgrade{Tool: argo, From: "2.13", To: "3.0.0", Jump: inventory.JumpMajor}, 2},
		{"minor", rel("keycloak", "keycloak", "26.6.0", "Keycloak 26.6.0", keycloakNotes),
			inventory.Upgrade{Tool: keycloak, From: "26.5.0", To: "26.6.0", Jump: inventory.JumpMinor}, 3},
		{"patch-no-notes", &bridgev1.ReleasePublished{Owner: "hashicorp", Repo: "vault", Tag: "v1.21.1"},
			inventory.Upgrade{Tool: vault, From: "1.21", To: "1.21.1", Jump: inventory.JumpPatch}, 4},
		{"long-notes-hostile-name", rel("fluent", "fluent-bit", "v4.0.0", "Fluent Bit v4.0.0 [*security*] <b>", longNotes()),
			inventory.Upgrade{Tool: hostile, From: "3.x", To: "4.0.0", Jump: inventory.JumpMajor}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			tk := renderTicket(tt.rel, tt.up)
			if tk.Priority != tt.wantPriority {
				t.Errorf("priority = %d, want %d", tk.Priority, tt.wantPriority)
			}
			golden(t, tt.golden, fmt.Sprintf("Title: %s\nPriority: %d\nLabels: %s\n\n%s",
				tk.Title, tk.Priority, strings.Join(tk.Labels, ", "), tk.Description))
		})
	}
}

func TestRenderComment(t *testing.T) {
	keycloak := tool("Keycloak", "keycloak/keycloak", "26.5.0")
	r := rel("keycloak", "keycloak", "26.6.1", "Keycloak 26.6.1", argoNotes)
	got := renderComment(r, inventory.Upgrade{Tool: keycloak, From: "26.5.0", To: "26.6.1", Jump: inventory.JumpMinor}, "26.6.0")
	golden(t, "comment", got)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("rendered %s (-want +got):\n%s", name, diff)
	}
}

func TestTitle(t *testing.T) {
	up := inventory.Upgrade{Tool: tool("Keycloak", "keycloak/keycloak", "26.5.0"), From: "26.5.0", To: "26.6.1", Jump: inventory.JumpMinor}
	if got, want := title(up), "Upgrade Keycloak 26.5.0 → 26.6.1"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
}

func TestPriority(t *testing.T) {
	tests := []struct {
		jump inventory.Jump
		want int
	}{
		{inventory.JumpMajor, 2},
		{inventory.JumpMinor, 3},
		{inventory.JumpPatch, 4},
		{inventory.JumpPrerelease, 4},
	}
	for _, tt := range tests {
		if got := priority(tt.jump); got != tt.want {
			t.Errorf("priority(%s) = %d, want %d", tt.jump, got, tt.want)
		}
	}
}

func TestBreakingHints(t *testing.T) {
	tests := []struct {
		name  string
		notes string
		want  []string
	}{
		{"none", "## What's Changed\n* fix: a bug\n", nil},
		{"kinds", "# BREAKING CHANGES\n* Breaking change: x\n- deprecated flag --y\n+ removed the z API\n" +
			"1. Migration: run the script\nthe removal of w\nnothing here\n",
			[]string{"BREAKING CHANGES", "Breaking change: x", "deprecated flag --y", "removed the z API",
				"1. Migration: run the script", "the removal of w"}},
		{"not words inside words", "unremovedable\nimmigrationx\n", nil},
		{"code fences skipped", "```\nbreaking inside\n```\nbreaking outside\n", []string{"breaking outside"}},
		{"duplicates once", "- breaking\n* breaking\n", []string{"breaking"}},
		{"table row", "| breaking | yes |\n", []string{"breaking | yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, breakingHints(tt.notes)); diff != "" {
				t.Errorf("breakingHints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBreakingHintsBounded(t *testing.T) {
	notes := strings.Repeat("breaking "+strings.Repeat("x", 500)+"\n", 3)
	for i := range 30 {
		notes += fmt.Sprintf("deprecated %d\n", i)
	}
	hints := breakingHints(notes)
	if len(hints) != maxHints {
		t.Errorf("%d hints, want %d", len(hints), maxHints)
	}
	for _, h := range hints {
		if n := utf8.RuneCountInString(h); n > maxHintRunes {
			t.Errorf("hint of %d runes, want at most %d", n, maxHintRunes)
		}
	}
}

func TestNotesTrimmed(t *testing.T) {
	got := notes(longNotes(), maxNotesRunes)
	if n := utf8.RuneCountInString(got); n > maxNotesRunes+200 {
		t.Errorf("notes of %d runes, want about %d", n, maxNotesRunes)
	}
	if strings.Count(got, "```")%2 != 0 {
		t.Errorf("notes leave a code fence open:\n%s", got)
	}
	if !strings.Contains(got, "Trimmed") {
		t.Errorf("trimmed notes do not say so")
	}
	if short := notes("a\r\nb", maxNotesRunes); short != "a\nb\n" {
		t.Errorf("notes(short) = %q, want %q", short, "a\nb\n")
	}
}

func TestIssueID(t *testing.T) {
	a := IssueID("release:keycloak/keycloak@26.6.1")
	if a != IssueID("release:keycloak/keycloak@26.6.1") {
		t.Fatal("IssueID is not deterministic")
	}
	if a == IssueID("release:keycloak/keycloak@26.6.2") {
		t.Fatal("IssueID is the same for two keys")
	}
	if a == commentID("release:keycloak/keycloak@26.6.1") {
		t.Fatal("IssueID and commentID collide")
	}
	// 8-4-4-4-12 hex, version 4, RFC 4122 variant.
	if len(a) != 36 || a[8] != '-' || a[13] != '-' || a[18] != '-' || a[23] != '-' {
		t.Fatalf("IssueID = %q, not a UUID", a)
	}
	if a[14] != '4' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("IssueID = %q, want version 4 and variant 10xx", a)
	}
}

package match_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/match"
)

// The events are invented; only the fields rules look at are set.

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

const checkID = "0b7c1e2a-0000-4000-8000-000000000001"

func checkEvent(status bridgev1.CheckStatus, tags ...string) *event.Event {
	kind := event.KindCheckDown
	if status == bridgev1.CheckStatus_CHECK_STATUS_UP {
		kind = event.KindCheckUp
	}
	ev := event.New(kind, "/webhooks/healthchecks", "check/"+checkID, event.CheckKey(checkID, kind, testTime), testTime)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId: checkID, Name: "Database Backup", Slug: "database-backup", Status: status, Tags: tags,
	}}
	return ev
}

func releaseEvent(owner, repo string) *event.Event {
	ev := event.New(event.KindReleasePublished, "/webhooks/github", owner+"/"+repo+"@26.6.1",
		event.ReleaseKey(owner, repo, "26.6.1", false), testTime)
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: &bridgev1.ReleasePublished{Owner: owner, Repo: repo, Tag: "26.6.1"}}
	return ev
}

func vulnEvent(artifact string, sev ...bridgev1.Severity) *event.Event {
	ev := event.New(event.KindVulnerabilityFound, "/webhooks/trivy", artifact, event.VulnerabilityKey(artifact, "sha256:1111"), testTime)
	rep := &bridgev1.VulnerabilityReport{
		Artifact:  &bridgev1.Artifact{Kind: "container_image", Name: artifact, Digest: "sha256:1111"},
		ScannedAt: timestamppb.New(testTime),
	}
	for _, s := range sev {
		rep.Findings = append(rep.Findings, &bridgev1.Finding{Id: "CVE-2026-0001", Package: "openssl", Severity: s})
	}
	ev.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: rep}
	return ev
}

func TestMatch(t *testing.T) {
	var (
		down     = checkEvent(bridgev1.CheckStatus_CHECK_STATUS_DOWN, "prod", "db")
		up       = checkEvent(bridgev1.CheckStatus_CHECK_STATUS_UP, "prod")
		release  = releaseEvent("Keycloak", "keycloak")
		critical = vulnEvent("ghcr.io/stoa/api:1.2", bridgev1.Severity_SEVERITY_LOW, bridgev1.Severity_SEVERITY_CRITICAL)
		high     = vulnEvent("ghcr.io/stoa/api:1.2", bridgev1.Severity_SEVERITY_HIGH)
		other    = vulnEvent("docker.io/library/nginx:1.27", bridgev1.Severity_SEVERITY_CRITICAL)
		none     = vulnEvent("ghcr.io/stoa/api:1.2")
	)
	tests := []struct {
		name    string
		subject string
		filter  map[string]string
		ev      *event.Event
		want    bool
	}{
		{"exact kind", "check.down", nil, down, true},
		{"exact kind, other kind", "check.down", nil, up, false},
		{"star", "check.*", nil, up, true},
		{"star on first token", "*.down", nil, down, true},
		{"star does not match release", "check.*", nil, release, false},
		{"full wildcard", ">", nil, release, true},
		{"tail wildcard", "vulnerability.>", nil, critical, true},
		{"tail wildcard needs a token", "check.down.>", nil, down, false},
		{"too many tokens", "check.down.x", nil, down, false},
		{"severity at threshold", "vulnerability.*", map[string]string{"severity": "CRITICAL"}, critical, true},
		{"severity lower case", "vulnerability.*", map[string]string{"severity": "critical"}, critical, true},
		{"severity below", "vulnerability.*", map[string]string{"severity": "CRITICAL"}, high, false},
		{"severity above", "vulnerability.*", map[string]string{"severity": "medium"}, high, true},
		{"severity no findings", "vulnerability.*", map[string]string{"severity": "LOW"}, none, false},
		{"severity on a check", ">", map[string]string{"severity": "LOW"}, down, false},
		{"artifact glob", "vulnerability.found", map[string]string{"artifact": "ghcr.io/stoa/*"}, critical, true},
		{"artifact glob miss", "vulnerability.found", map[string]string{"artifact": "ghcr.io/stoa/*"}, other, false},
		{"artifact and severity", ">", map[string]string{"artifact": "ghcr.io/stoa/*", "severity": "CRITICAL"}, high, false},
		{"repository exact, any case", "release.published", map[string]string{"repository": "keycloak/Keycloak"}, release, true},
		{"repo glob", "release.published", map[string]string{"repo": "keycloak/*"}, release, true},
		{"repo miss", "release.published", map[string]string{"repo": "grafana/*"}, release, false},
		{"repo on a check", ">", map[string]string{"repo": "*"}, down, false},
		{"tag present", "check.*", map[string]string{"tags": "prod"}, down, true},
		{"tag alias", "check.*", map[string]string{"tag": "db"}, down, true},
		{"tag absent", "check.*", map[string]string{"tag": "db"}, up, false},
		{"status down", "check.*", map[string]string{"status": "down"}, down, true},
		{"status up vs down", "check.*", map[string]string{"status": "up"}, down, false},
		{"status on a release", ">", map[string]string{"status": "up"}, release, false},
		{"check by name", "check.*", map[string]string{"check": "Database*"}, down, true},
		{"check by slug", "check.*", map[string]string{"check": "database-backup"}, down, true},
		{"check by id", "check.*", map[string]string{"check": checkID}, down, true},
		{"check miss", "check.*", map[string]string{"check": "api-*"}, down, false},
		{"empty subject is every kind", "", map[string]string{"tag": "prod"}, down, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := match.Rule{Subject: tt.subject, Filter: tt.filter}
			if got := r.Match(tt.ev); got != tt.want {
				t.Errorf("Rule{%q, %v}.Match(%s) = %v, want %v", tt.subject, tt.filter, event.Kind(tt.ev), got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		rule match.Rule
		want []string
	}{
		{"good", match.Rule{Subject: "vulnerability.*", Filter: map[string]string{"severity": "high", "artifact": "ghcr.io/*"}}, nil},
		{"empty subject is allowed", match.Rule{Filter: map[string]string{"tag": "prod"}}, nil},
		{"subject matching no kind", match.Rule{Subject: "check.sideways"}, []string{`subject: "check.sideways" matches no event kind`}},
		{"partial wildcard", match.Rule{Subject: "check.d*"}, []string{"subject: \"check.d*\": wildcards must be whole tokens"}},
		{"> not last", match.Rule{Subject: ">.up"}, []string{"subject: \">.up\": > must be the last token"}},
		{"unknown field", match.Rule{Subject: ">", Filter: map[string]string{"colour": "red"}}, []string{"filter.colour: unknown field (known: artifact, check,"}},
		{"bad glob", match.Rule{Subject: ">", Filter: map[string]string{"check": "[a"}}, []string{`filter.check: bad pattern "[a"`}},
		{"bad severity", match.Rule{Subject: ">", Filter: map[string]string{"severity": "SEVERITY_UNSPECIFIED"}}, []string{"filter.severity: \"SEVERITY_UNSPECIFIED\" is not UNKNOWN"}},
		{"bad status", match.Rule{Subject: ">", Filter: map[string]string{"status": "degraded"}}, []string{`filter.status: "degraded" is not down or up`}},
		{"empty tag", match.Rule{Subject: ">", Filter: map[string]string{"tags": ""}}, []string{"filter.tags: empty tag"}},
		{"every problem, sorted by key", match.Rule{Subject: "x", Filter: map[string]string{"status": "x", "colour": "y"}},
			[]string{"subject:", "filter.colour:", "filter.status:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.rule.Validate()
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors starting %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to start with %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	r := match.Rule{Filter: map[string]string{"tags": "prod", "check": "api-*"}}
	if got, want := r.String(), "> check=api-* tags=prod"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

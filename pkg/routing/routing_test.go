package routing_test

import (
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/routing"
)

var at = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func check(tags ...string) *event.Event {
	ev := event.New(event.KindCheckDown, "/webhooks/healthchecks", "check/c1", event.CheckKey("c1", "down", at), at)
	ev.Data = &bridgev1.Event_CheckStatusChanged{CheckStatusChanged: &bridgev1.CheckStatusChanged{
		CheckId: "c1", Name: "api", Status: bridgev1.CheckStatus_CHECK_STATUS_DOWN, Tags: tags,
	}}
	return ev
}

func vuln(artifact string, sev bridgev1.Severity) *event.Event {
	ev := event.New(event.KindVulnerabilityFound, "/webhooks/trivy", artifact, event.VulnerabilityKey(artifact, "sha256:1"), at)
	ev.Data = &bridgev1.Event_VulnerabilityReport{VulnerabilityReport: &bridgev1.VulnerabilityReport{
		Artifact: &bridgev1.Artifact{Name: artifact},
		Findings: []*bridgev1.Finding{{Id: "CVE-2026-1", Severity: sev}},
	}}
	return ev
}

func TestRoutes(t *testing.T) {
	rules := routing.New([]config.Route{
		{Subject: "vulnerability.found", Filter: map[string]string{"artifact": "ghcr.io/stoa/*"}, LinearTeam: "SEC"},
		{Subject: "vulnerability.found", Filter: map[string]string{"severity": "critical"}, SlackChannel: "#sec-critical"},
		{Subject: "vulnerability.found", SlackChannel: "#sec-all", LinearTeam: "OPS"},
		{Subject: "check.*", Filter: map[string]string{"tags": "prod"}, SlackChannel: "#incidents"},
	})
	tests := []struct {
		name          string
		ev            *event.Event
		channel, team string
	}{
		{"stoa image: team from the first rule, channel from the first rule naming one",
			vuln("ghcr.io/stoa/api:1.2", bridgev1.Severity_SEVERITY_HIGH), "#sec-all", "SEC"},
		{"critical elsewhere: channel from the severity rule", vuln("docker.io/library/nginx:1", bridgev1.Severity_SEVERITY_CRITICAL), "#sec-critical", "OPS"},
		{"critical stoa image: both specific rules", vuln("ghcr.io/stoa/web:2", bridgev1.Severity_SEVERITY_CRITICAL), "#sec-critical", "SEC"},
		{"prod check", check("prod", "db"), "#incidents", "PLAT"},
		{"other check keeps the defaults", check("staging"), "#checks", "PLAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rules.SlackChannel(tt.ev, "#checks"); got != tt.channel {
				t.Errorf("SlackChannel = %q, want %q", got, tt.channel)
			}
			if got := rules.LinearTeam(tt.ev, "PLAT"); got != tt.team {
				t.Errorf("LinearTeam = %q, want %q", got, tt.team)
			}
		})
	}
}

func TestNoRulesKeepDefaults(t *testing.T) {
	rules := routing.New(nil)
	ev := check("prod")
	if got := rules.SlackChannel(ev, "#checks"); got != "#checks" {
		t.Errorf("SlackChannel = %q, want the default", got)
	}
	if got := rules.LinearTeam(ev, ""); got != "" {
		t.Errorf("LinearTeam = %q, want the default (empty)", got)
	}
}

package n8n

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

func TestRouteMatch(t *testing.T) {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Route{Subject: tt.subject, Filter: tt.filter, URL: "http://n8n/webhook/x"}
			if got := r.Match(tt.ev); got != tt.want {
				t.Errorf("Route{%q, %v}.Match(%s) = %v, want %v", tt.subject, tt.filter, event.Kind(tt.ev), got, tt.want)
			}
		})
	}
}

func TestRoutesFrom(t *testing.T) {
	cfg := []config.N8NRoute{
		{Subject: "check.down", URL: "https://n8n.example/webhook/a", Auth: "header", Header: "X-N8N-Key", Filter: map[string]string{"tag": "prod"}},
		{Subject: ">", URL: "http://n8n:5678/webhook/b"},
		{Subject: "vulnerability.*", URL: "https://n8n.example/webhook/c", Auth: "basic", Filter: map[string]string{"severity": "HIGH", "artifact": "ghcr.io/*"}},
	}
	routes, err := RoutesFrom(cfg)
	if err != nil {
		t.Fatalf("RoutesFrom = %v", err)
	}
	if len(routes) != 3 || routes[0].Header != "X-N8N-Key" || routes[2].Filter["severity"] != "HIGH" {
		t.Errorf("RoutesFrom = %+v", routes)
	}
	again, err := RoutesFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if routes[0].ID() == routes[1].ID() || routes[0].ID() != again[0].ID() {
		t.Errorf("route IDs not distinct and stable: %s %s", routes[0].ID(), routes[1].ID())
	}
}

func TestRoutesFromErrors(t *testing.T) {
	tests := []struct {
		name  string
		route config.N8NRoute
		want  []string
	}{
		{"unknown filter", config.N8NRoute{Subject: ">", URL: "http://n/w", Filter: map[string]string{"colour": "red"}},
			[]string{"n8n.routes[0].filter.colour: unknown field"}},
		{"bad severity", config.N8NRoute{Subject: ">", URL: "http://n/w", Filter: map[string]string{"severity": "SEVERE"}},
			[]string{"n8n.routes[0].filter.severity: \"SEVERE\" is not"}},
		{"bad glob", config.N8NRoute{Subject: ">", URL: "http://n/w", Filter: map[string]string{"artifact": "ghcr.io/[stoa"}},
			[]string{"n8n.routes[0].filter.artifact: bad pattern"}},
		{"bad status", config.N8NRoute{Subject: ">", URL: "http://n/w", Filter: map[string]string{"status": "sideways"}},
			[]string{"n8n.routes[0].filter.status:"}},
		{"missing subject and url", config.N8NRoute{},
			[]string{"n8n.routes[0].subject: required", "n8n.routes[0].url: required"}},
		{"relative url", config.N8NRoute{Subject: ">", URL: "/webhook/x"},
			[]string{"n8n.routes[0].url: not an absolute"}},
		{"user info in url", config.N8NRoute{Subject: ">", URL: "https://u:pw@n8n/webhook/x"},
			[]string{"n8n.routes[0].url: must not carry user info"}},
		{"bad auth", config.N8NRoute{Subject: ">", URL: "http://n/w", Auth: "bearer"},
			[]string{"n8n.routes[0].auth: \"bearer\""}},
		{"header auth without header", config.N8NRoute{Subject: ">", URL: "http://n/w", Auth: "header"},
			[]string{"n8n.routes[0].header: required"}},
		{"bad wildcard", config.N8NRoute{Subject: "check.>.down", URL: "http://n/w"},
			[]string{"n8n.routes[0].subject:"}},
		{"partial wildcard", config.N8NRoute{Subject: "check.do*", URL: "http://n/w"},
			[]string{"n8n.routes[0].subject:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RoutesFrom([]config.N8NRoute{tt.route})
			if err == nil {
				t.Fatalf("RoutesFrom(%+v) = nil error, want %q", tt.route, tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("RoutesFrom errors:\n%s\nwant %d lines", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestRoutesFromReportsEveryRoute(t *testing.T) {
	_, err := RoutesFrom([]config.N8NRoute{
		{Subject: ">", URL: "http://n/w", Filter: map[string]string{"x": "1"}},
		{Subject: ">", URL: "http://n/w"},
		{Subject: ">", URL: "http://n/w", Filter: map[string]string{"y": "1"}},
	})
	var got []string
	for _, l := range strings.Split(err.Error(), "\n") {
		got = append(got, l[:strings.Index(l, ":")])
	}
	want := []string{"n8n.routes[0].filter.x", "n8n.routes[2].filter.y"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error paths (-want +got):\n%s", diff)
	}
}

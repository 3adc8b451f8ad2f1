package n8n

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/config"
)

func TestRoutesFrom(t *testing.T) {
	cfg := []config.N8NRoute{
		{Subject: "check.down", URL: "https://n8n.example/webhook/a", Auth: "header", Header: "X-N8N-Key", Filter: map[string]string{"tag": "prod"}},
		{Subject: ">", URL: "http://n8n:5678/webhook/b", ContentType: "application/json"},
		{Subject: "vulnerability.*", URL: "https://n8n.example/webhook/c", Auth: "basic", Filter: map[string]string{"severity": "HIGH", "artifact": "ghcr.io/*"}},
	}
	routes, err := RoutesFrom(cfg)
	if err != nil {
		t.Fatalf("RoutesFrom = %v", err)
	}
	if len(routes) != 3 || routes[0].Header != "X-N8N-Key" || routes[2].Filter["severity"] != "HIGH" || routes[1].ContentType != ContentTypeJSON {
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
		{"bad content type", config.N8NRoute{Subject: ">", URL: "http://n/w", ContentType: "text/plain"},
			[]string{"n8n.routes[0].content_type: \"text/plain\" is not application/cloudevents+json or application/json"}},
		{"content type with parameters", config.N8NRoute{Subject: ">", URL: "http://n/w", ContentType: "application/json; charset=utf-8"},
			[]string{"n8n.routes[0].content_type:"}},
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

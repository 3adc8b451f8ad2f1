package linear

import (
	"context"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/routing"
	"github.com/stoa-platform/bridge/pkg/secrets"
)

// TestRoutedRemediation: a routing rule sends the tickets of the
// ghcr.io/stoa images to team OPS; another image keeps linear.team.
func TestRoutedRemediation(t *testing.T) {
	f := newFixture(t)
	f.s = New(Options{
		APIURL:  f.srv.URL(),
		APIKey:  func(context.Context) (secrets.Secret, error) { return secrets.New(f.srv.APIKey()), nil },
		Team:    "PLAT",
		Lookup:  f.led,
		Timeout: 5 * time.Second,
		Routing: routing.New([]config.Route{{Subject: "vulnerability.*", Filter: map[string]string{"artifact": "ghcr.io/stoa/*"}, LinearTeam: "OPS"}}),
	})
	f.mustDeliver(t, vulnReport("A", cveA))
	f.mustDeliver(t, imageReport("docker.io/library/nginx:1.27", "B", cveB))

	teams := map[string]string{}
	for _, is := range f.srv.Issues() {
		teams[is.Title] = is.TeamID
	}
	if got := teams["Remediate 1 vulnerability in ghcr.io/stoa/app:1.0"]; got != otherTeamID {
		t.Errorf("stoa image ticket in team %q, want OPS (%s); tickets: %v", got, otherTeamID, teams)
	}
	if got := teams["Remediate 1 vulnerability in docker.io/library/nginx:1.27"]; got != teamID {
		t.Errorf("nginx ticket in team %q, want PLAT (%s); tickets: %v", got, teamID, teams)
	}
}

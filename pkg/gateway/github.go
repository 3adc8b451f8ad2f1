package gateway

import (
	"net/http"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/github"
)

// githubEndpoint is POST /webhooks/github: an HMAC-SHA256 signature of the
// raw body (so it is checked once the body is read, before any parsing),
// and a JSON or form-encoded body, as a hook's "Content type" setting says.
func githubEndpoint() endpoint {
	return endpoint{
		source: "github",
		secret: secrets.GitHubWebhookSecret,
		verify: func(h http.Header, body []byte, secret string) bool {
			return github.Verify(h.Get(github.HeaderSignature), body, secret) == nil
		},
		mediaTypes:     []string{"application/json", "application/x-www-form-urlencoded"},
		parse:          github.Parse,
		kinds:          []string{event.KindReleasePublished},
		ignoredReasons: github.IgnoredReasons,
	}
}

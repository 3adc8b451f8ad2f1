package gateway

import (
	"io"
	"net/http"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
)

// trivyEndpoint is POST /webhooks/trivy: a bearer token (CI sends it with
// its request; Trivy Operator with OPERATOR_WEBHOOK_BROADCAST_CUSTOM_HEADERS),
// and a Trivy JSON report or a Trivy Operator report, as application/json
// or with no Content-Type at all. (curl -d sends a form type, which is
// refused: CI must say application/json.) A report can reach the body
// limit, so it is parsed as it arrives rather than read whole first.
func trivyEndpoint() endpoint {
	return endpoint{
		source:     "trivy",
		secret:     secrets.TrivyToken,
		authorize:  bearer,
		mediaTypes: []string{"", "application/json"},
		stream: func(_ http.Header, body io.Reader) (*event.Event, error) {
			return trivy.ParseReader(body)
		},
		kinds:          []string{event.KindVulnerabilityFound},
		ignoredReasons: trivy.IgnoredReasons,
	}
}

package gateway

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/source/healthchecks"
)

// healthchecksEndpoint is POST /webhooks/healthchecks: a bearer token, and
// a body read as JSON whether or not it says so, since Healthchecks sends
// no Content-Type unless the user adds one.
func healthchecksEndpoint() endpoint {
	return endpoint{
		source:     "healthchecks",
		secret:     secrets.HealthchecksToken,
		authorize:  bearer,
		mediaTypes: []string{"", "application/json"},
		parse: func(_ http.Header, body []byte) (*event.Event, error) {
			return healthchecks.Parse(body)
		},
		kinds: []string{event.KindCheckDown, event.KindCheckUp},
	}
}

// bearer reports whether the Authorization header is "Bearer <token>". The
// scheme is case-insensitive (RFC 9110); the token is compared in constant
// time so that its bytes cannot be guessed one at a time.
func bearer(h http.Header, token string) bool {
	const scheme = "Bearer "
	v := h.Get("Authorization")
	if token == "" || len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(v[len(scheme):]), []byte(token)) == 1
}

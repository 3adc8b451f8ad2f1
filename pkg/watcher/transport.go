package watcher

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/stoa-platform/bridge/pkg/secrets"
)

// errToken is wrapped by a request's error when the GITHUB_TOKEN secret
// could not be read (other than not being set).
var errToken = errors.New("watcher: reading the " + secrets.GitHubToken + " secret")

// etagKey carries the ETag to send as If-None-Match in a request's context:
// go-github's ListReleases takes no headers.
type etagKey struct{}

// transport adds the token and If-None-Match to each request.
type transport struct {
	base  http.RoundTripper
	token func(ctx context.Context) (secrets.Secret, error)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	etag, _ := ctx.Value(etagKey{}).(string)
	var auth string
	if t.token != nil {
		s, err := t.token(ctx)
		switch {
		case errors.Is(err, secrets.ErrNotFound):
		case err != nil:
			if req.Body != nil {
				_ = req.Body.Close()
			}
			// The provider's error names the secret, never its value.
			return nil, fmt.Errorf("%w: %w", errToken, err)
		case !s.IsZero():
			auth = "Bearer " + s.Reveal()
		}
	}
	if etag == "" && auth == "" {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	r := req.Clone(ctx)
	if etag != "" {
		r.Header.Set("If-None-Match", etag)
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return t.base.RoundTrip(r)
}

package n8n_test

import (
	"context"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/n8n"
	"github.com/stoa-platform/bridge/pkg/sink/sinktest"
)

// TestSinkSuite: the n8n sink passes the suite every sink passes.
func TestSinkSuite(t *testing.T) {
	sinktest.Run(t, sinktest.Suite{
		New: func(t *testing.T, url string) sink.Sink {
			return n8n.New(n8n.Options{
				Routes:  []n8n.Route{{Subject: ">", URL: url + "/webhook/suite", Auth: n8n.AuthHeader, Header: "X-N8N-Key"}},
				Auth:    func(context.Context) (secrets.Secret, error) { return secrets.New(sinktest.Secret), nil },
				Timeout: 5 * time.Second,
			})
		},
		Event: down(),
	})
}

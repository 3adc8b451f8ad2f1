package linear_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/sink/linear"
	"github.com/stoa-platform/bridge/pkg/sink/sinktest"
)

// TestSinkSuite: the Linear sink passes the suite every sink passes.
func TestSinkSuite(t *testing.T) {
	inv, err := inventory.Parse([]byte("tools:\n  - name: Hello-World\n    repo: Codertocat/Hello-World\n    deployed: \"0.0.0\"\n    tag_pattern: \"{version}\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := event.New(event.KindReleasePublished, "/webhooks/github", "Codertocat/Hello-World",
		event.ReleaseKey("Codertocat", "Hello-World", "0.0.1", false), at)
	ev.Data = &bridgev1.Event_ReleasePublished{ReleasePublished: &bridgev1.ReleasePublished{
		Owner: "Codertocat", Repo: "Hello-World", Tag: "0.0.1", Url: "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1",
		PublishedAt: timestamppb.New(at),
	}}
	sinktest.Run(t, sinktest.Suite{
		New: func(t *testing.T, url string) sink.Sink {
			return linear.New(linear.Options{
				APIURL:    url + "/graphql",
				APIKey:    func(context.Context) (secrets.Secret, error) { return secrets.New(sinktest.Secret), nil },
				Team:      "PLAT",
				Inventory: inv,
				Lookup:    sinktest.Empty{},
				Timeout:   5 * time.Second,
			})
		},
		Event: ev,
	})
}

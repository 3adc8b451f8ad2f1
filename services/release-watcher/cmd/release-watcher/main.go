// Command release-watcher polls the GitHub releases of every tool in the
// inventory and publishes release.published events for versions newer than
// the deployed one, to the NATS named by nats.url.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stoa-platform/bridge/pkg/service"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return service.Main(ctx, "release-watcher", os.Args[1:], os.Stderr, service.Options{
		Parts:   []service.Part{service.ReleaseWatcher},
		Env:     os.LookupEnv,
		Environ: os.Environ,
	})
}

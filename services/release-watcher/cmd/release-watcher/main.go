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

// version is stamped by make build (-ldflags "-X main.version=…"): the one
// package variable, because the linker can set nothing else.
var version = "dev"

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return service.Main(ctx, "release-watcher", os.Args[1:], os.Stderr, service.Options{
		Version: version,
		Stdout:  os.Stdout,
		Parts:   []service.Part{service.ReleaseWatcher},
		Env:     os.LookupEnv,
		Environ: os.Environ,
	})
}

// Command linear-ticketer consumes release.published events from the NATS
// named by nats.url and opens or updates Linear upgrade tickets. Several
// replicas may share its durable consumer.
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
	return service.Main(ctx, "linear-ticketer", os.Args[1:], os.Stderr, service.Options{
		Version: version,
		Stdout:  os.Stdout,
		Parts:   []service.Part{service.LinearTicketer},
		Env:     os.LookupEnv,
		Environ: os.Environ,
	})
}

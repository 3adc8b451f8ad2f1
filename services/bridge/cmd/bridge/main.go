// Command bridge runs every bridge service in one process with an embedded
// NATS server: the default install, and a valid small production one.
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
	return service.Main(ctx, "bridge", os.Args[1:], os.Stderr, service.Options{
		Version:  version,
		Stdout:   os.Stdout,
		Parts:    service.All,
		Embedded: true,
		Env:      os.LookupEnv,
		Environ:  os.Environ,
	})
}

// Command slack-notifier consumes events from the NATS named by nats.url and
// posts Slack alerts. Several replicas may share its durable consumer.
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
	return service.Main(ctx, "slack-notifier", os.Args[1:], os.Stderr, service.Options{
		Version: version,
		Stdout:  os.Stdout,
		Parts:   []service.Part{service.SlackNotifier},
		Env:     os.LookupEnv,
		Environ: os.Environ,
	})
}

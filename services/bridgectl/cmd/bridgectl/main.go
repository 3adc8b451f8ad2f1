// Command bridgectl is the bridge operator's tool: validate a config, send a
// sample or recorded event, show stream and consumer state, list and replay
// dead letters.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stoa-platform/bridge/services/bridgectl/internal/cli"
)

// version is stamped by make build (-ldflags "-X main.version=…"): the one
// package variable, because the linker can set nothing else.
var version = "dev"

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("bridgectl", version)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
}

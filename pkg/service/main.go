package service

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/stoa-platform/bridge/pkg/config"
)

// Main is a service binary's whole life after signal handling: flags,
// config, logger, Run. It returns the process exit code: 0 after a graceful
// shutdown, 1 on a runtime error, 2 on bad flags or config. --version
// prints "<name> <o.Version>" to o.Stdout (stderr when nil) and returns 0.
func Main(ctx context.Context, name string, args []string, stderr io.Writer, o Options) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML config `file` (default $BRIDGE_CONFIG; built-in defaults when neither is set)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	version := cmp.Or(o.Version, "dev")
	if *showVersion {
		out := o.Stdout
		if out == nil {
			out = stderr
		}
		fmt.Fprintf(out, "%s %s\n", name, version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	if *path == "" && o.Env != nil {
		*path, _ = o.Env("BRIDGE_CONFIG")
	}
	cfg, err := config.Load(*path, o.Env)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid config:\n%v\n", name, err)
		return 2
	}
	log := NewLogger(cfg.Log, stderr).With("service", name)
	log.Info("starting", "version", version)
	if o.Environ != nil {
		if unknown := config.UnknownEnv(o.Environ()); len(unknown) > 0 {
			log.Warn("environment variables that set no config key (a typo?)", "names", unknown)
		}
	}
	if *path == "" {
		log.Info("no config file: using built-in defaults")
	} else {
		log.Info("config loaded", "file", *path)
	}
	if err := Run(ctx, cfg, log, o); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

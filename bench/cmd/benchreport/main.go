// Command benchreport measures the bridge against the quality bars of
// SPEC.md and writes docs/benchmarks.md: ingest throughput next to the
// reference server of the benchkit (../shared/bench by default), end-to-end
// latency and memory at 500 events/s, consumer scaling in cluster mode,
// the same job done by n8n, and both durability modes.
//
// It builds the bridge binaries and the benchkit's refserver and loadgen,
// runs everything on loopback and alternates the systems it compares in
// every round, so that drift on a shared machine hits both. Run it from
// the repository root: make bench-report.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// secret signs the benchkit's GitHub webhooks; hcToken is the Healthchecks
// bearer token.
const (
	secret  = "bench-secret"
	hcToken = "bench-healthchecks-token"
)

type options struct {
	benchkit string
	out      string
	rounds   int
	duration time.Duration
	conns    int
	rate     int
	events   int
	skip     map[string]bool
}

func main() {
	var o options
	var skip string
	flag.StringVar(&o.benchkit, "benchkit", envOr("BENCHKIT", "../shared/bench"), "the benchkit folder (refserver, loadgen); $BENCHKIT")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "the report to write")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of every measurement")
	flag.DurationVar(&o.duration, "d", 8*time.Second, "measured duration of one run")
	flag.IntVar(&o.conns, "c", 16, "connections of the closed-loop ingest runs")
	flag.IntVar(&o.rate, "rate", 500, "events/s of the open-loop latency runs")
	flag.IntVar(&o.events, "events", 4000, "events preloaded for one consumer-scaling run")
	flag.StringVar(&skip, "skip", "", "comma-separated sections to leave out: ingest, latency, scaling, n8n")
	flag.Parse()
	o.skip = make(map[string]bool)
	for s := range strings.SplitSeq(skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.skip[s] = true
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, o); err != nil {
		log.Error("benchreport failed", "err", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// kit is what a run uses: the binaries and a scratch folder.
type kit struct {
	log     *slog.Logger
	o       options
	tmp     string
	bin     string // bridge binaries
	refBin  string // benchkit binaries
	started time.Time
}

func run(ctx context.Context, log *slog.Logger, o options) error {
	benchkit, err := filepath.Abs(o.benchkit)
	if err != nil {
		return fmt.Errorf("benchreport: benchkit: %w", err)
	}
	if _, err := os.Stat(filepath.Join(benchkit, "cmd", "refserver")); err != nil {
		return fmt.Errorf("benchreport: %s is not the benchkit (set -benchkit or BENCHKIT): %w", benchkit, err)
	}
	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return fmt.Errorf("benchreport: scratch folder: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	k := &kit{log: log, o: o, tmp: tmp, bin: filepath.Join(tmp, "bin"), refBin: filepath.Join(tmp, "benchkit"), started: time.Now()}

	log.Info("building the bridge and the benchkit")
	for _, s := range []string{"bridge", "webhook-gateway", "slack-notifier"} {
		if err := build(ctx, ".", nil, filepath.Join(k.bin, s), "./services/"+s+"/cmd/"+s); err != nil {
			return err
		}
	}
	// The benchkit is its own module, outside this workspace.
	if err := build(ctx, benchkit, []string{"GOWORK=off"}, k.refBin+"/", "./cmd/refserver", "./cmd/loadgen"); err != nil {
		return err
	}

	r := &report{rounds: o.rounds, benchkit: o.benchkit, o: o, command: "go run ./bench/cmd/benchreport " + strings.Join(os.Args[1:], " ")}
	// A section that fails is reported as such; the others still run and
	// are written, and the exit status says it failed.
	section := func(name string, f func() error) {
		if o.skip[name] || ctx.Err() != nil {
			return
		}
		if err := f(); err != nil {
			log.Error("section failed", "section", name, "err", err)
			r.failed = append(r.failed, fmt.Sprintf("%s: %v", name, firstLine(err.Error())))
		}
	}
	section("ingest", func() (err error) { r.ingest, err = k.ingest(ctx); return err })
	section("latency", func() (err error) { r.latency, err = k.latency(ctx); return err })
	section("scaling", func() (err error) { r.scaling, err = k.scaling(ctx); return err })
	section("n8n", func() (err error) { r.n8n, err = k.n8n(ctx); return err })
	r.took = time.Since(k.started)
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return fmt.Errorf("benchreport: %w", err)
	}
	if err := os.WriteFile(o.out, []byte(r.markdown(machine())), 0o644); err != nil {
		return fmt.Errorf("benchreport: %w", err)
	}
	log.Info("report written", "file", o.out, "took", r.took.Round(time.Second))
	if len(r.failed) > 0 {
		return fmt.Errorf("benchreport: %d section(s) failed: %s", len(r.failed), strings.Join(r.failed, "; "))
	}
	return ctx.Err()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// build runs go build in dir.
func build(ctx context.Context, dir string, env []string, out string, pkgs ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", out}, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("benchreport: go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
	}
	return nil
}

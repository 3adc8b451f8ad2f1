package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stoa-platform/bridge/pkg/bus"
)

// deadletter runs "bridgectl deadletter VERB": the dead-letter workflow of
// SPEC.md — look (list, show), fix the cause, then replay or purge.
func (e *env) deadletter(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "list":
		return e.deadletterList(ctx, args[1:])
	case "show":
		return e.deadletterShow(ctx, args[1:])
	case "replay":
		return e.deadletterReplay(ctx, args[1:])
	case "purge":
		return e.deadletterPurge(ctx, args[1:])
	}
	return errUsage
}

// dlArgs is what a deadletter verb was given: its sequence numbers and
// flags.
type dlArgs struct {
	verb   string
	seqs   []uint64
	filter bus.DeadLetterFilter
	output string
	all    bool
	yes    bool
}

// parseDeadLetter parses args for verb; with selects, the filter flags
// are there too. Every mistake is a badArgs naming the flag or argument.
func parseDeadLetter(verb string, args []string, fs *flag.FlagSet, a *dlArgs, selects bool) error {
	a.verb = "deadletter " + verb
	a.output = "table"
	if selects {
		fs.StringVar(&a.filter.Consumer, "consumer", "", "")
		fs.StringVar(&a.filter.Reason, "reason", "", "")
		fs.Func("older-than", "", ageFlag(&a.filter.OlderThan))
		fs.Func("newer-than", "", ageFlag(&a.filter.NewerThan))
	}
	fs.SetOutput(io.Discard)
	// The flag package stops at the first argument; sequence numbers and
	// flags may come in any order.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errUsage
			}
			return badArgs{fmt.Errorf("%s: %s", a.verb, dashes(err.Error()))}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	for _, p := range pos {
		seq, err := strconv.ParseUint(p, 10, 64)
		if err != nil || seq == 0 {
			return badArgs{fmt.Errorf("%s: %q is not a sequence number (the SEQ of deadletter list)", a.verb, p)}
		}
		a.seqs = append(a.seqs, seq)
	}
	if a.output != "table" && a.output != "json" {
		return badArgs{fmt.Errorf("%s: --output %q: want table or json", a.verb, a.output)}
	}
	if f := a.filter; f.OlderThan > 0 && f.NewerThan > 0 && f.OlderThan >= f.NewerThan {
		return badArgs{fmt.Errorf("%s: --older-than %s and --newer-than %s select nothing: the older bound must be the smaller", a.verb, f.OlderThan, f.NewerThan)}
	}
	return nil
}

// dashes writes the flag package's -name as --name, as the usage does.
func dashes(s string) string {
	for _, at := range []string{"flag -", "defined: -", "argument: -"} {
		s = strings.ReplaceAll(s, at, at+"-")
	}
	return s
}

// ageFlag parses a positive Go duration, or a whole number of days ("7d").
func ageFlag(d *time.Duration) func(string) error {
	return func(s string) error {
		v, err := time.ParseDuration(s)
		if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
			var n uint64
			if n, err = strconv.ParseUint(days, 10, 16); err == nil {
				v = time.Duration(n) * 24 * time.Hour
			}
		}
		if err != nil || v <= 0 {
			return errors.New("want a positive age such as 30m, 12h or 7d")
		}
		*d = v
		return nil
	}
}

// selection checks that exactly one of SEQ... and --all is given, and the
// filter flags only with --all.
func (a *dlArgs) selection() error {
	switch {
	case len(a.seqs) == 0 && !a.all:
		return badArgs{fmt.Errorf("%s: give SEQ... or --all (narrowed by --consumer, --reason, --older-than, --newer-than)", a.verb)}
	case len(a.seqs) > 0 && a.all:
		return badArgs{fmt.Errorf("%s: give SEQ... or --all, not both", a.verb)}
	case len(a.seqs) > 0 && a.filter != (bus.DeadLetterFilter{}):
		return badArgs{fmt.Errorf("%s: --consumer, --reason, --older-than and --newer-than narrow --all; with SEQ... they are not used", a.verb)}
	}
	return nil
}

func (e *env) deadletterList(ctx context.Context, args []string) error {
	var a dlArgs
	fs := flag.NewFlagSet("deadletter list", flag.ContinueOnError)
	fs.IntVar(&a.filter.Limit, "limit", 100, "")
	fs.StringVar(&a.output, "output", "table", "")
	if err := parseDeadLetter("list", args, fs, &a, true); err != nil {
		return err
	}
	switch {
	case len(a.seqs) > 0:
		return badArgs{fmt.Errorf("deadletter list: takes no SEQ (deadletter show SEQ shows one)")}
	case a.filter.Limit < 0:
		return badArgs{fmt.Errorf("deadletter list: --limit %d: want 0 (all) or more", a.filter.Limit)}
	}
	var recs []bus.DeadLetterRecord
	err := e.withBus(ctx, func(b *bus.Bus) (err error) {
		recs, err = b.FindDeadLetters(ctx, a.filter)
		return err
	})
	if err != nil {
		return err
	}
	if a.output == "json" {
		return writeJSON(e.stdout, deadLetterRows(recs))
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tCONSUMER\tSUBJECT\tKEY\tATTEMPTS\tFAILED AT\tREASON")
	for _, r := range deadLetterRows(recs) {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Seq, r.Consumer, r.EventSubject, r.Key, r.Attempts, r.FailedAt, r.Reason)
	}
	return w.Flush()
}

func (e *env) deadletterShow(ctx context.Context, args []string) error {
	var a dlArgs
	fs := flag.NewFlagSet("deadletter show", flag.ContinueOnError)
	fs.StringVar(&a.output, "output", "table", "")
	if err := parseDeadLetter("show", args, fs, &a, false); err != nil {
		return err
	}
	if len(a.seqs) != 1 {
		return badArgs{fmt.Errorf("deadletter show: give one SEQ (the SEQ of deadletter list)")}
	}
	var rec bus.DeadLetterRecord
	err := e.withBus(ctx, func(b *bus.Bus) (err error) {
		rec, err = b.DeadLetter(ctx, a.seqs[0])
		return err
	})
	if err != nil {
		return gone("deadletter show", a.seqs[0], err)
	}
	if a.output == "json" {
		// The record's own JSON: the dead letter and its event as protojson.
		return writeJSON(e.stdout, rec)
	}
	// The dead letter holds the event as parsed (no request header, no
	// credential) and the sink's error text: all of it can be shown.
	dl := rec.DeadLetter
	// protojson's own layout varies its spacing on purpose; encoding/json
	// lays it out the same way every time.
	compact, err := protojson.Marshal(dl.GetEvent())
	var ev bytes.Buffer
	if err == nil {
		err = json.Indent(&ev, compact, "", "  ")
	}
	if err != nil {
		return fmt.Errorf("deadletter show %d: %w", rec.Sequence, err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "seq:\t%d\n", rec.Sequence)
	fmt.Fprintf(w, "consumer:\t%s\n", dl.GetConsumer())
	fmt.Fprintf(w, "reason:\t%s\n", dl.GetReason())
	fmt.Fprintf(w, "attempts:\t%d\n", dl.GetAttempts())
	fmt.Fprintf(w, "failed at:\t%s (%s ago)\n", rec.FailedAt().UTC().Format(time.RFC3339), time.Since(rec.FailedAt()).Round(time.Second))
	fmt.Fprintf(w, "stored:\t%s on %s\n", rec.Stored.UTC().Format(time.RFC3339), rec.Subject)
	fmt.Fprintf(w, "event subject:\t%s\n", dl.GetEventSubject())
	fmt.Fprintf(w, "event seq:\t%d\n", dl.GetStreamSequence())
	fmt.Fprintf(w, "key:\t%s\n", dl.GetEvent().GetIdempotencyKey())
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "event:\n%s\n", ev.Bytes())
	return nil
}

func (e *env) deadletterReplay(ctx context.Context, args []string) error {
	var a dlArgs
	fs := flag.NewFlagSet("deadletter replay", flag.ContinueOnError)
	fs.BoolVar(&a.all, "all", false, "")
	if err := parseDeadLetter("replay", args, fs, &a, true); err != nil {
		return err
	}
	if err := a.selection(); err != nil {
		return err
	}
	return e.eachDeadLetter(ctx, a, "replayed", func(b *bus.Bus, seq uint64) (bus.DeadLetterRecord, error) {
		// Read first only to say what was replayed.
		rec, err := b.DeadLetter(ctx, seq)
		if err == nil {
			err = b.Replay(ctx, seq)
		}
		return rec, err
	})
}

func (e *env) deadletterPurge(ctx context.Context, args []string) error {
	var a dlArgs
	fs := flag.NewFlagSet("deadletter purge", flag.ContinueOnError)
	fs.BoolVar(&a.all, "all", false, "")
	fs.BoolVar(&a.yes, "yes", false, "")
	if err := parseDeadLetter("purge", args, fs, &a, true); err != nil {
		return err
	}
	if err := a.selection(); err != nil {
		return err
	}
	if a.all && !a.yes {
		return badArgs{errors.New("deadletter purge: --all removes every matching dead letter for good: add --yes")}
	}
	return e.eachDeadLetter(ctx, a, "purged", func(b *bus.Bus, seq uint64) (bus.DeadLetterRecord, error) {
		return b.DeleteDeadLetter(ctx, seq)
	})
}

// eachDeadLetter runs do on the dead letters a selects (its SEQs, or what
// its filter matches with --all), printing one line for each done; a
// failure does not stop the others.
func (e *env) eachDeadLetter(ctx context.Context, a dlArgs, done string, do func(*bus.Bus, uint64) (bus.DeadLetterRecord, error)) error {
	return e.withBus(ctx, func(b *bus.Bus) error {
		seqs := a.seqs
		if a.all {
			recs, err := b.FindDeadLetters(ctx, a.filter)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				fmt.Fprintln(e.stdout, "no dead letter matches")
				return nil
			}
			for _, r := range recs {
				seqs = append(seqs, r.Sequence)
			}
		}
		var failed []error
		for _, seq := range seqs {
			rec, err := do(b, seq)
			if err != nil {
				failed = append(failed, gone(a.verb, seq, err))
				continue
			}
			dl := rec.DeadLetter
			fmt.Fprintf(e.stdout, "%s dead letter %d: %s %s (%s)\n", done, seq, dl.GetConsumer(), dl.GetEvent().GetIdempotencyKey(), dl.GetReason())
		}
		switch {
		case len(failed) == 0:
			if len(seqs) > 1 {
				fmt.Fprintf(e.stdout, "%s %d dead letters\n", done, len(seqs))
			}
			return nil
		case len(seqs) == 1:
			return failed[0]
		}
		for _, err := range failed {
			fmt.Fprintf(e.stderr, "bridgectl: %v\n", err)
		}
		return fmt.Errorf("%s %d of %d dead letters; %d failed (above)", done, len(seqs)-len(failed), len(seqs), len(failed))
	})
}

// gone says plainly that dead letter seq is not there; other errors are
// returned as they are.
func gone(verb string, seq uint64, err error) error {
	if errors.Is(err, bus.ErrDeadLetterNotFound) {
		return fmt.Errorf("%s: dead letter %d not found: replayed or purged already, aged out, or never there (see deadletter list)", verb, seq)
	}
	return err
}

// deadLetterRow is one dead letter as bridgectl lists it.
type deadLetterRow struct {
	Seq          uint64 `json:"seq"`
	Consumer     string `json:"consumer"`
	EventSubject string `json:"event_subject"`
	EventID      string `json:"event_id"`
	Key          string `json:"key"`
	Attempts     uint32 `json:"attempts"`
	FailedAt     string `json:"failed_at"`
	Reason       string `json:"reason"`
}

func deadLetterRows(recs []bus.DeadLetterRecord) []deadLetterRow {
	rows := make([]deadLetterRow, 0, len(recs))
	for _, r := range recs {
		dl := r.DeadLetter
		rows = append(rows, deadLetterRow{
			Seq:          r.Sequence,
			Consumer:     dl.GetConsumer(),
			EventSubject: dl.GetEventSubject(),
			EventID:      dl.GetEvent().GetId(),
			Key:          dl.GetEvent().GetIdempotencyKey(),
			Attempts:     dl.GetAttempts(),
			FailedAt:     r.FailedAt().UTC().Format(time.RFC3339),
			Reason:       dl.GetReason(),
		})
	}
	return rows
}

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/match"
	"github.com/stoa-platform/bridge/pkg/silence"
)

// badArgs is a usage error worth more than the usage: Run prints it and
// exits 2.
type badArgs struct{ err error }

func (b badArgs) Error() string { return b.err.Error() }
func (b badArgs) Unwrap() error { return b.err }

// matchFlags collects repeated --match field=value flags.
type matchFlags map[string]string

func (m matchFlags) String() string { return "" }

func (m matchFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	k = strings.TrimSpace(k)
	switch {
	case !ok || k == "":
		return fmt.Errorf("--match %q: want field=value (fields: %s)", v, strings.Join(match.Fields(), ", "))
	case m[k] != "":
		return fmt.Errorf("--match %q: %s is already matched", v, k)
	}
	m[k] = strings.TrimSpace(val)
	return nil
}

func (e *env) silence(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "add":
		return e.silenceAdd(ctx, args[1:])
	case "list":
		fs := flag.NewFlagSet("silence list", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		output := fs.String("output", "table", "")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
			return errUsage
		}
		var list []silence.Silence
		err := e.withSilences(ctx, func(st *silence.Store) (err error) {
			list, err = st.List(ctx)
			return err
		})
		if err != nil {
			return err
		}
		rows := silenceRows(list, time.Now())
		if *output == "json" {
			return writeJSON(e.stdout, rows)
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tMATCH\tSTATE\tENDS\tREASON")
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Match, r.State, r.EndsAt, r.Reason)
		}
		return w.Flush()
	case "expire":
		if len(args) != 2 {
			return errUsage
		}
		var s silence.Silence
		err := e.withSilences(ctx, func(st *silence.Store) (err error) {
			s, err = st.Expire(ctx, args[1])
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "silence %s expired: %s\n", s.ID, s.Rule)
		return nil
	}
	return errUsage
}

func (e *env) silenceAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("silence add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	filter := matchFlags{}
	fs.Var(filter, "match", "")
	subject := fs.String("subject", "", "")
	dur := fs.Duration("for", 0, "")
	reason := fs.String("reason", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return badArgs{fmt.Errorf("silence add: %w", err)}
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	user, _ := e.lookup("USER")
	now := time.Now().UTC()
	s := silence.Silence{
		Rule:      match.Rule{Subject: *subject, Filter: filter},
		Reason:    *reason,
		CreatedBy: user,
		StartsAt:  now,
		EndsAt:    now.Add(*dur),
	}
	// Judged before connecting: a typo needs no NATS to be explained.
	if err := s.Validate(); err != nil {
		return badArgs{fmt.Errorf("silence add: --for is required (a Go duration: 30m, 2h), --reason too:\n%w", err)}
	}
	err := e.withSilences(ctx, func(st *silence.Store) (err error) {
		s, err = st.Add(ctx, s)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "silence %s added: %s until %s\n", s.ID, s.Rule, s.EndsAt.Format(time.RFC3339))
	return nil
}

// withSilences connects and opens the silence store.
func (e *env) withSilences(ctx context.Context, fn func(*silence.Store) error) error {
	return e.withBus(ctx, func(b *bus.Bus) error {
		st, err := silence.Open(ctx, b.JetStream(), event.SilenceBucket(b.Prefix()), b.Replicas())
		if err != nil {
			return err
		}
		return fn(st)
	})
}

// silenceRow is one silence as bridgectl prints it.
type silenceRow struct {
	ID        string            `json:"id"`
	Match     string            `json:"match"`
	Subject   string            `json:"subject,omitempty"`
	Filter    map[string]string `json:"filter,omitempty"`
	State     string            `json:"state"`
	StartsAt  string            `json:"starts_at"`
	EndsAt    string            `json:"ends_at"`
	Reason    string            `json:"reason"`
	CreatedBy string            `json:"created_by,omitempty"`
}

func silenceRows(list []silence.Silence, now time.Time) []silenceRow {
	rows := make([]silenceRow, 0, len(list))
	for _, s := range list {
		rows = append(rows, silenceRow{
			ID: s.ID, Match: s.Rule.String(), Subject: s.Rule.Subject, Filter: s.Rule.Filter,
			State: s.State(now), StartsAt: s.StartsAt.UTC().Format(time.RFC3339),
			EndsAt: s.EndsAt.UTC().Format(time.RFC3339), Reason: s.Reason, CreatedBy: s.CreatedBy,
		})
	}
	return rows
}

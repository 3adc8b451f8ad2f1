// Package cli implements bridgectl's subcommands.
package cli

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/source/healthchecks"
)

//go:embed samples/*.json
var samples embed.FS

const usage = `usage: bridgectl [--config FILE] [--nats URL] COMMAND

Commands:
  config validate FILE             check a config file; prints every problem with its key
  send check-down|check-up [FILE]  publish a Healthchecks webhook body (FILE, "-" for stdin,
                                   or a built-in sample stamped with the current time)
       --gateway URL               post it to a running gateway instead (bearer token from
                                   BRIDGE_SECRET_HEALTHCHECKS_TOKEN)
  status [--output json]           streams and consumers, with pending counts
  deadletter list [--consumer NAME] [--limit N] [--output json]
  deadletter replay SEQ            send a dead letter's event to its consumer again

Without --nats, bridgectl uses nats.url from the config, else the all-in-one
bridge's embedded server at nats.listen (default 127.0.0.1:4222).
`

// errUsage makes Run print the usage and exit 2.
var errUsage = errors.New("usage")

type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	cfg            config.Config
	natsURL        string
}

// Run executes bridgectl with args and returns the exit code: 0 on success,
// 1 when the command failed, 2 on a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	fs := flag.NewFlagSet("bridgectl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "")
	natsURL := fs.String("nats", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if *cfgPath == "" {
		*cfgPath, _ = lookup("BRIDGE_CONFIG")
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, lookup: lookup, natsURL: *natsURL}
	rest := fs.Args()
	var err error
	if rest[0] == "config" {
		err = e.config(rest[1:])
	} else {
		if e.cfg, err = config.Load(*cfgPath, lookup); err != nil {
			fmt.Fprintf(stderr, "bridgectl: %v\n", err)
			return 2
		}
		switch rest[0] {
		case "send":
			err = e.send(ctx, rest[1:])
		case "status":
			err = e.status(ctx, rest[1:])
		case "deadletter":
			err = e.deadletter(ctx, rest[1:])
		default:
			err = errUsage
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "bridgectl: %v\n", err)
		return 1
	}
}

func (e *env) config(args []string) error {
	if len(args) != 2 || args[0] != "validate" {
		return errUsage
	}
	cfg, err := config.Load(args[1], e.lookup)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("%s is not valid:\n%w", args[1], err)
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", args[1])
	return nil
}

// connect opens the bus without starting an embedded server.
func (e *env) connect(ctx context.Context) (*bus.Bus, error) {
	url := e.natsURL
	if url == "" {
		url = e.cfg.NATS.URL
	}
	if url == "" {
		if e.cfg.NATS.Listen == "" {
			return nil, errors.New("no NATS to reach: set --nats, nats.url or nats.listen")
		}
		url = "nats://" + e.cfg.NATS.Listen
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{
		URL:            url,
		Credentials:    e.cfg.NATS.Credentials,
		Prefix:         e.cfg.NATS.SubjectPrefix,
		Replicas:       e.cfg.NATS.Replicas,
		MaxAge:         e.cfg.NATS.MaxAge,
		PublishTimeout: e.cfg.NATS.PublishTimeout,
		Name:           "bridgectl",
	})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return b, nil
}

// withBus connects, runs fn, and closes the connection.
func (e *env) withBus(ctx context.Context, fn func(*bus.Bus) error) error {
	b, err := e.connect(ctx)
	if err != nil {
		return err
	}
	err = fn(b)
	if cerr := b.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return err
}

func (e *env) send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	gatewayURL := fs.String("gateway", "", "")
	if len(args) == 0 {
		return errUsage
	}
	kind := args[0]
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 1 {
		return errUsage
	}
	var want string
	switch kind {
	case "check-down":
		want = event.KindCheckDown
	case "check-up":
		want = event.KindCheckUp
	default:
		return fmt.Errorf("send: unknown kind %q (want check-down or check-up)", kind)
	}
	body, err := e.body(kind, fs.Arg(0))
	if err != nil {
		return err
	}
	ev, err := healthchecks.Parse(body)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if got := event.Kind(ev); got != want {
		return fmt.Errorf("send %s: the body is a %s", kind, got)
	}
	if *gatewayURL != "" {
		return e.post(ctx, *gatewayURL, body)
	}
	return e.withBus(ctx, func(b *bus.Bus) error {
		ack, err := b.Publish(ctx, ev)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		dup := ""
		if ack.Duplicate {
			dup = " (duplicate: the stream already had this key)"
		}
		fmt.Fprintf(e.stdout, "published %s id=%s key=%s stream=%s seq=%d%s\n", want, ev.GetId(), ev.GetIdempotencyKey(), ack.Stream, ack.Sequence, dup)
		return nil
	})
}

func (e *env) body(kind, file string) ([]byte, error) {
	switch file {
	case "":
		b, err := samples.ReadFile("samples/" + kind + ".json")
		if err != nil {
			return nil, err
		}
		now := time.Now().UTC().Format("2006-01-02T15:04:05+00:00")
		return bytes.ReplaceAll(b, []byte("$NOW"), []byte(now)), nil
	case "-":
		return io.ReadAll(e.stdin)
	default:
		return os.ReadFile(file)
	}
}

func (e *env) post(ctx context.Context, base string, body []byte) error {
	token, _ := e.lookup("BRIDGE_SECRET_HEALTHCHECKS_TOKEN")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/webhooks/healthchecks", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("send: gateway answered %s: %s", resp.Status, bytes.TrimSpace(answer))
	}
	fmt.Fprintf(e.stdout, "%s %s\n", resp.Status, bytes.TrimSpace(answer))
	return nil
}

func (e *env) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	output := fs.String("output", "table", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	var st bus.Status
	err := e.withBus(ctx, func(b *bus.Bus) (err error) {
		st, err = b.Status(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(e.stdout, st)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STREAM\tSUBJECTS\tMESSAGES\tBYTES\tFIRST\tLAST")
	for _, s := range st.Streams {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\n", s.Name, strings.Join(s.Subjects, ","), s.Messages, s.Bytes, s.FirstSeq, s.LastSeq)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CONSUMER\tPENDING\tACK PENDING\tREDELIVERED\tLAST DELIVERED")
	for _, c := range st.Consumers {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\n", c.Name, c.Pending, c.AckPending, c.Redelivered, c.LastDelivered)
	}
	return w.Flush()
}

func (e *env) deadletter(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("deadletter list", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		consumer := fs.String("consumer", "", "")
		limit := fs.Int("limit", 100, "")
		output := fs.String("output", "table", "")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
			return errUsage
		}
		var recs []bus.DeadLetterRecord
		err := e.withBus(ctx, func(b *bus.Bus) (err error) {
			recs, err = b.DeadLetters(ctx, *consumer, *limit)
			return err
		})
		if err != nil {
			return err
		}
		if *output == "json" {
			return writeJSON(e.stdout, deadLetterRows(recs))
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SEQ\tCONSUMER\tSUBJECT\tKEY\tATTEMPTS\tFAILED AT\tREASON")
		for _, r := range deadLetterRows(recs) {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Seq, r.Consumer, r.EventSubject, r.Key, r.Attempts, r.FailedAt, r.Reason)
		}
		return w.Flush()
	case "replay":
		if len(args) != 2 {
			return errUsage
		}
		seq, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("deadletter replay: %q is not a sequence number", args[1])
		}
		if err := e.withBus(ctx, func(b *bus.Bus) error { return b.Replay(ctx, seq) }); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "replayed dead letter %d\n", seq)
		return nil
	}
	return errUsage
}

// deadLetterRow is one dead letter as bridgectl prints it.
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
			FailedAt:     dl.GetFailedAt().AsTime().UTC().Format(time.RFC3339),
			Reason:       dl.GetReason(),
		})
	}
	return rows
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

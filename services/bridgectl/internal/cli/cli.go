// Package cli implements bridgectl's subcommands.
package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink/n8n"
	"github.com/stoa-platform/bridge/pkg/source/github"
	"github.com/stoa-platform/bridge/pkg/source/healthchecks"
	"github.com/stoa-platform/bridge/pkg/source/trivy"
)

//go:embed samples/*.json
var samples embed.FS

const usage = `usage: bridgectl [--config FILE] [--nats URL] COMMAND

Commands:
  config validate FILE             check a config file; prints every problem with its key
  send KIND [FILE] [--gateway URL] publish a recorded webhook body (FILE, "-" for stdin) as an
                                   event; KIND is check-down, check-up (both have a built-in
                                   sample stamped with the current time), release (a GitHub
                                   release delivery) or vulnerability (a Trivy or Trivy
                                   Operator report). With --gateway, post it to a running
                                   gateway as its sender would: bearer token or HMAC signature
                                   from BRIDGE_SECRET_HEALTHCHECKS_TOKEN, _TRIVY_TOKEN or
                                   _GITHUB_WEBHOOK_SECRET
  status [--output json]           streams and consumers, with pending counts
  deadletter list [FILTER] [--limit N] [--output json]
                                   what the sinks gave up on, oldest first
  deadletter show SEQ [--output json]
                                   one dead letter whole: consumer, reason, attempts, the event
  deadletter replay SEQ... | --all [FILTER]
                                   send dead letters' events to their consumers again (the
                                   ledger makes an effect already made nothing the second time)
  deadletter purge SEQ... | --all [FILTER] --yes
                                   remove dead letters for good; prints what it removed
                                   FILTER: --consumer NAME, --reason TEXT (substring, any case),
                                   --older-than AGE, --newer-than AGE (30m, 12h, 7d)
  silence add --match FIELD=VALUE [--match …] [--subject KIND] --for DURATION --reason TEXT
                                   mute the matching events in every sink until then
                                   (fields: check, tags, status, severity, repository, artifact)
  silence list [--output json]     active and recently expired silences
  silence expire ID                end a silence now

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
		case "silence":
			err = e.silence(ctx, rest[1:])
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
	case errors.As(err, new(badArgs)):
		fmt.Fprintf(stderr, "bridgectl: %v\n", err)
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
	if err == nil {
		// Route filters are the n8n sink's to judge: unknown fields, bad
		// patterns and severities.
		_, err = n8n.RoutesFrom(cfg.N8N.Routes)
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

// sendKind is one kind of event bridgectl can send: how to parse a body of
// it, and how to post it to the gateway as its real sender would.
type sendKind struct {
	path   string // gateway endpoint
	want   string // the event kind the body must make; "" for any
	sample bool   // a built-in sample exists (samples/<name>.json)
	parse  func(h http.Header, body []byte) (*event.Event, error)
	// sign sets the sender's authentication on a request to the gateway.
	sign func(req *http.Request, body []byte, lookup func(string) (string, bool))
}

var sendKinds = map[string]sendKind{
	"check-down": {path: "/webhooks/healthchecks", want: event.KindCheckDown, sample: true, parse: parseHealthchecks, sign: bearerFrom("BRIDGE_SECRET_HEALTHCHECKS_TOKEN")},
	"check-up":   {path: "/webhooks/healthchecks", want: event.KindCheckUp, sample: true, parse: parseHealthchecks, sign: bearerFrom("BRIDGE_SECRET_HEALTHCHECKS_TOKEN")},
	"release":    {path: "/webhooks/github", want: event.KindReleasePublished, parse: parseGitHubRelease, sign: signGitHub},
	"vulnerability": {path: "/webhooks/trivy", want: event.KindVulnerabilityFound, parse: func(_ http.Header, body []byte) (*event.Event, error) {
		return trivy.Parse(body)
	}, sign: bearerFrom("BRIDGE_SECRET_TRIVY_TOKEN")},
}

func parseHealthchecks(_ http.Header, body []byte) (*event.Event, error) {
	return healthchecks.Parse(body)
}

// parseGitHubRelease reads FILE as the body of a GitHub "release" delivery.
func parseGitHubRelease(h http.Header, body []byte) (*event.Event, error) {
	return github.Parse(h, body)
}

func bearerFrom(envName string) func(*http.Request, []byte, func(string) (string, bool)) {
	return func(req *http.Request, _ []byte, lookup func(string) (string, bool)) {
		token, _ := lookup(envName)
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

// signGitHub signs the body as GitHub does, with the webhook secret from
// BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET.
func signGitHub(req *http.Request, body []byte, lookup func(string) (string, bool)) {
	secret, _ := lookup("BRIDGE_SECRET_GITHUB_WEBHOOK_SECRET")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
}

func kindNames() string {
	names := make([]string, 0, len(sendKinds))
	for k := range sendKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (e *env) send(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	name := args[0]
	// --gateway may come before or after FILE.
	var gatewayURL, file string
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--gateway" || a == "-gateway":
			if i+1 == len(args) {
				return errUsage
			}
			i++
			gatewayURL = args[i]
		case strings.HasPrefix(a, "--gateway="):
			gatewayURL = strings.TrimPrefix(a, "--gateway=")
		case file == "" && (a == "-" || !strings.HasPrefix(a, "-")):
			file = a
		default:
			return errUsage
		}
	}
	k, ok := sendKinds[name]
	if !ok {
		return fmt.Errorf("send: unknown kind %q (want one of %s)", name, kindNames())
	}
	if file == "" && !k.sample {
		return fmt.Errorf("send %s: a FILE is needed (no built-in sample)", name)
	}
	body, err := e.body(name, file)
	if err != nil {
		return err
	}
	// The headers the real sender would set, for parsing and posting alike.
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", "release")
	h.Set("X-GitHub-Delivery", event.NewID())
	ev, err := k.parse(h, body)
	if err != nil {
		return fmt.Errorf("send %s: %w", name, err)
	}
	if got := event.Kind(ev); got != k.want {
		return fmt.Errorf("send %s: the body is a %s", name, got)
	}
	if gatewayURL != "" {
		return e.post(ctx, gatewayURL, k, h, body)
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
		fmt.Fprintf(e.stdout, "published %s id=%s key=%s stream=%s seq=%d%s\n", k.want, ev.GetId(), ev.GetIdempotencyKey(), ack.Stream, ack.Sequence, dup)
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

func (e *env) post(ctx context.Context, base string, k sendKind, h http.Header, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+k.path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	req.Header = h.Clone()
	k.sign(req, body, e.lookup)
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Package linear is the Linear sink of the linear-ticketer: it turns a
// release of a tool in the inventory into an upgrade ticket through
// Linear's GraphQL API (the typed client in linearapi), one attempt per
// delivery.
//
// A release.published newer than the tool's deployed version opens a
// ticket "Upgrade <tool> <deployed> → <new>" in the tool's team (its
// inventory override, else Options.Team), with a Markdown description
// (the release link, the jump, breaking-change hints, the trimmed notes),
// a priority from the jump (major High, minor Medium, patch Low), the
// tool's labels, and an attachment whose URL is the release page.
//
// One ticket per tool at a time: the ticket is recorded in the effect
// ledger under OpenKey. While it is open (its workflow state is not
// completed, canceled or duplicate), a newer release retitles it and adds
// a comment instead of opening another; a release not newer than the
// ticket's is skipped. Once it is closed, the next release opens a new one.
//
// Exactly one ticket per release, even across a crash between Linear's
// answer and the ledger write: the issue id is chosen by the client,
// derived from the event's idempotency key (IssueID), and a retried or
// uncertain delivery looks before it creates — the issues the release URL
// is attached to, then the issue with the derived id — and finishes what
// the earlier attempt left undone.
//
// Team key, workflow states and label names are resolved once per team
// and cached. A label Linear does not have is skipped with a warning; the
// sink never creates labels.
//
// The API key is sent as Linear expects a personal key: "Authorization:
// <key>", no "Bearer". With no key the sink runs dry: it logs the calls it
// would make and reports sink.OutcomeDryRun, with Fields["action"] set to
// "create" or "update".
package linear

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
	"github.com/stoa-platform/bridge/pkg/inventory"
	"github.com/stoa-platform/bridge/pkg/routing"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/sink"
	"github.com/stoa-platform/bridge/pkg/vuln"
)

// The remediation ticket of a vulnerability report is described in vuln.go.

// Name is the consumer this sink runs in. Its ledger keys start with it.
const Name = "linear-ticketer"

// OpenKey is the ledger key under which the upgrade ticket of a repository
// is found: "linear-ticketer|open:<owner/repo>", lower-cased.
func OpenKey(owner, repo string) string {
	return Name + "|open:" + strings.ToLower(owner+"/"+repo)
}

// Defaults for Options.
const (
	DefaultAPIURL  = "https://api.linear.app/graphql"
	DefaultTimeout = 10 * time.Second
)

// Outcomes this sink reports besides sink.OutcomeSkipped and
// sink.OutcomeDryRun.
const (
	OutcomeCreated = "created"
	OutcomeUpdated = "updated"
)

// Reasons of a skipped release, in Result.Fields["reason"].
const (
	ReasonNotInInventory = "not_in_inventory"
	// ReasonTagMismatch: the tag is not of the tool's tag pattern (another
	// artefact released from the same repository).
	ReasonTagMismatch = "tag_mismatch"
	ReasonNotNewer    = "not_newer"
	ReasonPrerelease  = "prerelease"
	// ReasonOlderThanOpen: the open ticket is for this release or a newer one.
	ReasonOlderThanOpen = "older_than_open"
)

// Dry-run actions, in Result.Fields["action"].
const (
	ActionCreate = "create"
	ActionUpdate = "update"
)

// Options configure a Sink.
type Options struct {
	// APIURL is Linear's GraphQL endpoint (config linear.api_url). Empty
	// means DefaultAPIURL.
	APIURL string
	// APIKey returns the API key (LINEAR_API_KEY). It is called at each
	// delivery, so a rotated key is used without a restart.
	// secrets.ErrNotFound or an empty key means dry-run; another error
	// fails the delivery as transient. Nil means dry-run.
	APIKey func(ctx context.Context) (secrets.Secret, error)
	// Team is the key of the team tickets go to (config linear.team),
	// unless a tool names its own.
	Team string
	// Routing sends some events' tickets to another team than Team
	// (config routing[].linear_team); nil keeps Team for all.
	Routing *routing.Rules
	// Inventory lists the tools whose releases make tickets.
	Inventory *inventory.Inventory
	// Lookup reads the effect ledger. Nil means nothing is ever recorded,
	// so no ticket is ever found open.
	Lookup sink.Lookup
	// Logger receives dry-run and warning lines. Nil discards them.
	Logger *slog.Logger
	// HTTPClient sends the requests. Nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each API call. Zero means DefaultTimeout.
	Timeout time.Duration
	// Policy selects the findings of a vulnerability report that count
	// (config vulnerabilities.*). Nil means vuln.DefaultMinSeverity only.
	Policy *vuln.Policy
	// CloseWhenFixed moves a remediation ticket to its team's first
	// completed state once every finding is fixed (linear.close_when_fixed).
	CloseWhenFixed bool
	// TicketAfter is how long a check must be down before it gets an
	// incident ticket (checks.ticket_after); zero opens none.
	TicketAfter time.Duration
}

// Sink implements sink.Sink for Linear. It is safe for concurrent use.
type Sink struct {
	apiURL  string
	apiKey  func(ctx context.Context) (secrets.Secret, error)
	team    string
	routing *routing.Rules
	inv     *inventory.Inventory
	lookup  sink.Lookup
	log     *slog.Logger
	hc      *http.Client
	timeout time.Duration
	now     func() time.Time
	policy  *vuln.Policy
	// closeWhenFixed is Options.CloseWhenFixed.
	closeWhenFixed bool
	// ticketAfter is Options.TicketAfter.
	ticketAfter time.Duration

	mu sync.Mutex
	// teams caches resolved teams by upper-cased key.
	teams map[string]*teamCache
}

// teamCache is what the sink learned about a team, once.
type teamCache struct {
	team
	// labels maps a lower-cased label name to its id, or "" for a label
	// Linear does not have (warned about once).
	labels map[string]string
}

var _ sink.Sink = (*Sink)(nil)

// New returns a Sink. It makes no call to Linear.
func New(o Options) *Sink {
	s := &Sink{
		apiURL:  o.APIURL,
		apiKey:  o.APIKey,
		team:    o.Team,
		routing: o.Routing,
		inv:     o.Inventory,
		lookup:  o.Lookup,
		log:     o.Logger,
		hc:      o.HTTPClient,
		timeout: o.Timeout,
		now:     time.Now,
		teams:   map[string]*teamCache{},

		policy:         o.Policy,
		closeWhenFixed: o.CloseWhenFixed,
		ticketAfter:    o.TicketAfter,
	}
	if s.apiURL == "" {
		s.apiURL = DefaultAPIURL
	}
	if s.apiKey == nil {
		s.apiKey = func(context.Context) (secrets.Secret, error) { return secrets.Secret{}, nil }
	}
	if s.inv == nil {
		s.inv = &inventory.Inventory{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{}
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.policy == nil {
		// The empty configuration is valid: NewPolicy cannot fail on it.
		s.policy, _ = vuln.NewPolicy(config.Vulnerabilities{}, nil, s.log)
	}
	return s
}

// Deliver makes one attempt at the Linear effect of one event. Kinds other
// than release.published, vulnerability.found, check.down and check.up
// are a permanent failure: they are dead-lettered, not lost, until their
// flow is written.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Result, error) {
	switch kind := event.Kind(d.Event); kind {
	case event.KindReleasePublished:
		return s.release(ctx, d)
	case event.KindVulnerabilityFound:
		return s.vulnerability(ctx, d)
	case event.KindCheckDown:
		return s.checkDown(ctx, d)
	case event.KindCheckUp:
		return s.checkUp(ctx, d)
	case "":
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: event %s has no payload", d.Event.GetId()))
	default:
		return sink.Result{}, sink.Permanent(fmt.Errorf("linear: no ticket flow for %s", kind))
	}
}

// client returns an API client for this delivery, or nil in dry-run.
func (s *Sink) client(ctx context.Context) (*client, error) {
	key, err := s.apiKey(ctx)
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, sink.Transient(fmt.Errorf("linear: read the API key: %w", err), 0)
	case key.IsZero():
		return nil, nil
	}
	return newClient(s.apiURL, key, s.hc, s.timeout, s.now), nil
}

// IssueID is the id the sink gives the issue it creates for an event:
// a UUID derived from the idempotency key (SHA-256, formatted with the
// version-4 and RFC 4122 variant bits, as Linear's issueCreate wants a
// UUID v4), so a replayed create collides with the first one instead of
// making a second issue.
func IssueID(idempotencyKey string) string { return derivedUUID("issue|" + idempotencyKey) }

// commentID is the id of the comment an event adds to an open ticket.
func commentID(idempotencyKey string) string { return derivedUUID("comment|" + idempotencyKey) }

func derivedUUID(name string) string {
	h := sha256.Sum256([]byte(Name + "|" + name))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// releaseOf returns the event's release, or a permanent error if it lacks
// what a ticket needs.
func releaseOf(ev *event.Event) (*bridgev1.ReleasePublished, error) {
	r := ev.GetReleasePublished()
	if r.GetOwner() == "" || r.GetRepo() == "" || r.GetTag() == "" {
		return nil, sink.Permanent(fmt.Errorf("linear: event %s: release has no owner, repo or tag", ev.GetId()))
	}
	return r, nil
}

// teamFor is the key of the team whose ticket ev opens: a routing rule's,
// else linear.team. Every choice of team is made here (an inventory
// tool's own team is chosen before, in release.go: it is more specific).
func (s *Sink) teamFor(ev *event.Event) string { return s.routing.LinearTeam(ev, s.team) }

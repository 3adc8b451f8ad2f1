// Package event holds the bridge's event envelope: its kinds and subjects,
// the idempotency keys derived from an event's meaning, and its wire form.
//
// The envelope itself is generated from proto/bridge/v1/event.proto into
// package bridgev1; this package adds what every producer and consumer must
// agree on and protobuf cannot say.
package event

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// Event is the envelope every service publishes and consumes.
type Event = bridgev1.Event

// Kinds: the last part of an event's subject and type.
const (
	KindReleasePublished   = "release.published"
	KindVulnerabilityFound = "vulnerability.found"
	KindCheckDown          = "check.down"
	KindCheckUp            = "check.up"
)

// Kinds lists every kind, in a fixed order.
var Kinds = []string{KindReleasePublished, KindVulnerabilityFound, KindCheckDown, KindCheckUp}

// TypePrefix prefixes a kind to make the CloudEvents type.
const TypePrefix = "io.stoa.bridge."

// SpecVersion is the CloudEvents version the envelope follows.
const SpecVersion = "1.0"

// ContentType is the Content-Type header value of an encoded Event.
const ContentType = "application/protobuf; proto=bridge.v1.Event"

// DefaultPrefix is the subject prefix when the config names none.
const DefaultPrefix = "bridge"

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid event")

// Kind returns the event's kind from its payload, or "" if it has none.
func Kind(ev *Event) string {
	switch d := ev.GetData().(type) {
	case *bridgev1.Event_ReleasePublished:
		return KindReleasePublished
	case *bridgev1.Event_VulnerabilityReport:
		return KindVulnerabilityFound
	case *bridgev1.Event_CheckStatusChanged:
		switch d.CheckStatusChanged.GetStatus() {
		case bridgev1.CheckStatus_CHECK_STATUS_DOWN:
			return KindCheckDown
		case bridgev1.CheckStatus_CHECK_STATUS_UP:
			return KindCheckUp
		}
	}
	return ""
}

// Subject is the NATS subject events of kind are published on:
// "<prefix>.events.<kind>".
func Subject(prefix, kind string) string { return prefix + ".events." + kind }

// SubjectWildcard matches every event subject under prefix.
func SubjectWildcard(prefix string) string { return prefix + ".events.>" }

// KindOf returns the kind of an event subject, or "" when subject is not one.
func KindOf(prefix, subject string) string {
	k, ok := strings.CutPrefix(subject, prefix+".events.")
	if !ok {
		return ""
	}
	return k
}

// DeadLetterSubject is where consumer dead-letters: "<prefix>.deadletter.<consumer>".
func DeadLetterSubject(prefix, consumer string) string { return prefix + ".deadletter." + consumer }

// DeadLetterWildcard matches every dead-letter subject under prefix.
func DeadLetterWildcard(prefix string) string { return prefix + ".deadletter.>" }

// EventsStream names the events stream: BRIDGE_EVENTS for the default prefix.
func EventsStream(prefix string) string { return streamName(prefix) + "_EVENTS" }

// DeadLetterStream names the dead-letter stream: BRIDGE_DEADLETTER for the default prefix.
func DeadLetterStream(prefix string) string { return streamName(prefix) + "_DEADLETTER" }

// LedgerBucket names the effect ledger's KeyValue bucket: BRIDGE_LEDGER for
// the default prefix.
func LedgerBucket(prefix string) string { return streamName(prefix) + "_LEDGER" }

// WatcherBucket names the release-watcher's KeyValue bucket (ETag and last
// seen release per tool): BRIDGE_WATCHER for the default prefix.
func WatcherBucket(prefix string) string { return streamName(prefix) + "_WATCHER" }

// VulnBucket names the bucket of each artifact's last reported findings:
// BRIDGE_VULN for the default prefix.
func VulnBucket(prefix string) string { return streamName(prefix) + "_VULN" }

// SilenceBucket names the bucket of operators' silences: BRIDGE_SILENCES
// for the default prefix.
func SilenceBucket(prefix string) string { return streamName(prefix) + "_SILENCES" }

func streamName(prefix string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(prefix))
}

// ReleaseKey is the idempotency key of a release, the same whether the
// webhook or the watcher saw it first: "release:<owner>/<repo>@<tag>".
// A pre-release's key ends in "#prerelease": when GitHub promotes it to a
// full release under the same tag, that is a new event, not a duplicate
// that the stream and the ledger would swallow.
func ReleaseKey(owner, repo, tag string, prerelease bool) string {
	k := "release:" + strings.ToLower(owner+"/"+repo) + "@" + tag
	if prerelease {
		k += "#prerelease"
	}
	return k
}

// VulnerabilityKey is the idempotency key of a vulnerability report.
func VulnerabilityKey(artifact, digest string) string { return "vuln:" + artifact + ":" + digest }

// CheckKey is the idempotency key of a check status flip. Healthchecks
// retries a slow delivery with the same body, so (check, status, flip time)
// names one flip.
func CheckKey(checkID, status string, at time.Time) string {
	return "check:" + checkID + ":" + status + ":" + at.UTC().Format(time.RFC3339)
}

// Entity is the key per-entity ordering is kept on: all events about one
// check, one repository or one artifact.
func Entity(ev *Event) string {
	switch d := ev.GetData().(type) {
	case *bridgev1.Event_ReleasePublished:
		return "release:" + strings.ToLower(d.ReleasePublished.GetOwner()+"/"+d.ReleasePublished.GetRepo())
	case *bridgev1.Event_VulnerabilityReport:
		return "vuln:" + d.VulnerabilityReport.GetArtifact().GetName()
	case *bridgev1.Event_CheckStatusChanged:
		return "check:" + d.CheckStatusChanged.GetCheckId()
	}
	return ev.GetSubject()
}

// New returns an envelope with a fresh id, the CloudEvents type of kind and
// the given attributes. The caller sets the payload.
func New(kind, source, subject, key string, at time.Time) *Event {
	return &Event{
		Id:             NewID(),
		Source:         source,
		Type:           TypePrefix + kind,
		Subject:        subject,
		Time:           timestamppb.New(at),
		SpecVersion:    SpecVersion,
		IdempotencyKey: key,
	}
}

// NewID returns a random (version 4) UUID.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	// Hand-formatted: fmt.Sprintf was most of the cost of an envelope
	// (pprof of BenchmarkIngestHealthchecks).
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// Validate reports the first missing attribute or a type that does not
// match the payload.
func Validate(ev *Event) error {
	kind := Kind(ev)
	switch {
	case ev.GetId() == "":
		return fmt.Errorf("%w: id is empty", ErrInvalid)
	case ev.GetSource() == "":
		return fmt.Errorf("%w: source is empty", ErrInvalid)
	case ev.GetIdempotencyKey() == "":
		return fmt.Errorf("%w: idempotency_key is empty", ErrInvalid)
	case kind == "":
		return fmt.Errorf("%w: no payload", ErrInvalid)
	case ev.GetType() != TypePrefix+kind:
		return fmt.Errorf("%w: type %q does not match payload %s", ErrInvalid, ev.GetType(), kind)
	case ev.GetTime() == nil:
		return fmt.Errorf("%w: time is empty", ErrInvalid)
	}
	return nil
}

// Marshal encodes ev in its wire form.
func Marshal(ev *Event) ([]byte, error) {
	b, err := proto.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("event: marshal: %w", err)
	}
	return b, nil
}

// Unmarshal decodes an event and validates it.
func Unmarshal(b []byte) (*Event, error) {
	ev := new(Event)
	if err := proto.Unmarshal(b, ev); err != nil {
		return nil, fmt.Errorf("event: unmarshal: %w", err)
	}
	if err := Validate(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

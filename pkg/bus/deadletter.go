package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// HeaderReplayFor is set by Replay to the consumer the dead letter belongs
// to: the other consumers of the subject ack the replayed event without
// acting on it (they have made their effect, or dead-lettered it themselves).
const HeaderReplayFor = "Bridge-Replay-For"

// ErrDeadLetterNotFound is returned by Replay for a sequence the dead-letter
// stream does not hold (never there, already replayed, or aged out).
var ErrDeadLetterNotFound = errors.New("bus: dead letter not found")

// DeadLetterRecord is one message of the dead-letter stream.
type DeadLetterRecord struct {
	// Sequence in the dead-letter stream: what Replay takes.
	Sequence uint64
	Subject  string
	// Stored is when the dead letter was stored.
	Stored     time.Time
	DeadLetter *bridgev1.DeadLetter
}

// MarshalJSON renders the dead letter with protojson, so that its event's
// payload and timestamps read as they do in the proto contract.
func (r DeadLetterRecord) MarshalJSON() ([]byte, error) {
	dl, err := protojson.Marshal(r.DeadLetter)
	if err != nil {
		return nil, fmt.Errorf("bus: dead letter json: %w", err)
	}
	return json.Marshal(struct {
		Sequence   uint64          `json:"seq"`
		Subject    string          `json:"subject"`
		Stored     time.Time       `json:"stored"`
		DeadLetter json.RawMessage `json:"dead_letter"`
	}{r.Sequence, r.Subject, r.Stored, dl})
}

// deadLetterBatch is how many dead letters one fetch asks for.
const deadLetterBatch = 256

// DeadLetterFilter selects dead letters. The zero filter selects every one.
type DeadLetterFilter struct {
	// Consumer selects the dead letters of one consumer ("" for all).
	Consumer string
	// Reason selects dead letters whose reason contains it, ignoring case.
	Reason string
	// OlderThan selects dead letters that failed more than this long ago
	// (0: no bound).
	OlderThan time.Duration
	// NewerThan selects dead letters that failed less than this long ago
	// (0: no bound).
	NewerThan time.Duration
	// Limit keeps only the newest Limit matching dead letters (all when
	// Limit <= 0).
	Limit int
}

// Match reports whether r passes every bound of f but Limit, its age
// counted at now.
func (f DeadLetterFilter) Match(r DeadLetterRecord, now time.Time) bool {
	dl := r.DeadLetter
	if f.Consumer != "" && dl.GetConsumer() != f.Consumer {
		return false
	}
	if f.Reason != "" && !strings.Contains(strings.ToLower(dl.GetReason()), strings.ToLower(f.Reason)) {
		return false
	}
	age := now.Sub(r.FailedAt())
	if f.OlderThan > 0 && age <= f.OlderThan {
		return false
	}
	if f.NewerThan > 0 && age >= f.NewerThan {
		return false
	}
	return true
}

// FailedAt is when the consumer gave up on the event; when the dead
// letter does not say, when it was stored.
func (r DeadLetterRecord) FailedAt() time.Time {
	if at := r.DeadLetter.GetFailedAt(); at != nil {
		return at.AsTime()
	}
	return r.Stored
}

// DeadLetters returns the dead letters of consumer (of every consumer when
// consumer is ""), oldest first, at most the newest limit of them (all when
// limit <= 0).
func (b *Bus) DeadLetters(ctx context.Context, consumer string, limit int) ([]DeadLetterRecord, error) {
	return b.FindDeadLetters(ctx, DeadLetterFilter{Consumer: consumer, Limit: limit})
}

// FindDeadLetters returns the dead letters f selects, oldest first, their
// age counted from now.
func (b *Bus) FindDeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetterRecord, error) {
	filter := event.DeadLetterWildcard(b.o.Prefix)
	if f.Consumer != "" {
		filter = event.DeadLetterSubject(b.o.Prefix, f.Consumer)
	}
	name := event.DeadLetterStream(b.o.Prefix)
	// An ephemeral, unacknowledged, in-memory consumer: reading leaves no
	// trace, and the server removes it if we die before deleting it.
	cons, err := b.js.CreateConsumer(ctx, name, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: read dead letters: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = b.js.DeleteConsumer(ctx, name, cons.CachedInfo().Name)
	}()
	if cons.CachedInfo().NumPending == 0 {
		return nil, nil
	}

	now := time.Now()
	var out []DeadLetterRecord
	for {
		batch, err := cons.FetchNoWait(deadLetterBatch)
		if err != nil {
			return nil, fmt.Errorf("bus: read dead letters: %w", err)
		}
		n, left := 0, uint64(0)
		for msg := range batch.Messages() {
			n++
			rec, pending, err := decodeDeadLetter(msg)
			if err != nil {
				return nil, err
			}
			left = pending
			if !f.Match(rec, now) {
				continue
			}
			out = append(out, rec)
			if f.Limit > 0 && len(out) >= 2*f.Limit {
				out = append(out[:0:0], out[len(out)-f.Limit:]...)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("bus: read dead letters: %w", err)
		}
		if n == 0 || left == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bus: read dead letters: %w", err)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// DeadLetter returns dead letter seq, or ErrDeadLetterNotFound.
func (b *Bus) DeadLetter(ctx context.Context, seq uint64) (DeadLetterRecord, error) {
	_, rec, err := b.getDeadLetter(ctx, seq)
	if err != nil {
		return DeadLetterRecord{}, fmt.Errorf("bus: dead letter %d: %w", seq, err)
	}
	return rec, nil
}

// DeleteDeadLetter removes dead letter seq for good and returns what it
// was, or ErrDeadLetterNotFound.
func (b *Bus) DeleteDeadLetter(ctx context.Context, seq uint64) (DeadLetterRecord, error) {
	stream, rec, err := b.getDeadLetter(ctx, seq)
	if err == nil {
		err = stream.DeleteMsg(ctx, seq)
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Removed by someone else since we read it.
		err = ErrDeadLetterNotFound
	}
	if err != nil {
		return DeadLetterRecord{}, fmt.Errorf("bus: delete dead letter %d: %w", seq, err)
	}
	return rec, nil
}

// getDeadLetter reads dead letter seq straight from the stream.
func (b *Bus) getDeadLetter(ctx context.Context, seq uint64) (jetstream.Stream, DeadLetterRecord, error) {
	stream, err := b.js.Stream(ctx, event.DeadLetterStream(b.o.Prefix))
	if err != nil {
		return nil, DeadLetterRecord{}, err
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, DeadLetterRecord{}, ErrDeadLetterNotFound
	}
	if err != nil {
		return nil, DeadLetterRecord{}, err
	}
	dl := new(bridgev1.DeadLetter)
	if err := proto.Unmarshal(raw.Data, dl); err != nil {
		return nil, DeadLetterRecord{}, fmt.Errorf("decode: %w", err)
	}
	return stream, DeadLetterRecord{Sequence: raw.Sequence, Subject: raw.Subject, Stored: raw.Time, DeadLetter: dl}, nil
}

func decodeDeadLetter(msg jetstream.Msg) (DeadLetterRecord, uint64, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return DeadLetterRecord{}, 0, fmt.Errorf("bus: read dead letters: %w", err)
	}
	dl := new(bridgev1.DeadLetter)
	if err := proto.Unmarshal(msg.Data(), dl); err != nil {
		return DeadLetterRecord{}, 0, fmt.Errorf("bus: dead letter %d: decode: %w", meta.Sequence.Stream, err)
	}
	return DeadLetterRecord{
		Sequence:   meta.Sequence.Stream,
		Subject:    msg.Subject(),
		Stored:     meta.Timestamp,
		DeadLetter: dl,
	}, meta.NumPending, nil
}

// Replay republishes the event of dead letter seq to its original subject,
// so that its consumer tries it again, then deletes the dead letter. The
// republished event carries a new Nats-Msg-Id (derived from seq: the
// stream's dedupe would swallow the original one, and a Replay repeated
// after a crash is stored once), HeaderReplayOf and HeaderReplayFor.
func (b *Bus) Replay(ctx context.Context, seq uint64) error {
	stream, rec, err := b.getDeadLetter(ctx, seq)
	if err != nil {
		return fmt.Errorf("bus: replay %d: %w", seq, err)
	}
	dl := rec.DeadLetter
	ev := dl.GetEvent()
	if ev == nil {
		return fmt.Errorf("bus: replay %d: the event was undecodable, nothing to replay", seq)
	}
	subject := dl.GetEventSubject()
	if event.KindOf(b.o.Prefix, subject) == "" {
		subject = event.Subject(b.o.Prefix, event.Kind(ev))
	}
	data, err := event.Marshal(ev)
	if err != nil {
		return fmt.Errorf("bus: replay %d: %w", seq, err)
	}
	h := nats.Header{
		jetstream.MsgIDHeader: []string{ev.GetIdempotencyKey() + "|replay|" + formatSeq(seq)},
		HeaderContentType:     []string{event.ContentType},
		HeaderReplayOf:        []string{formatSeq(seq)},
		HeaderReplayFor:       []string{dl.GetConsumer()},
	}
	if tp := ev.GetTraceparent(); tp != "" {
		h[HeaderTraceparent] = []string{tp}
	}
	if _, err := b.publish(ctx, &nats.Msg{Subject: subject, Header: h, Data: data}); err != nil {
		return fmt.Errorf("bus: replay %d: %w", seq, err)
	}
	// Delete only after the event is back: a crash in between leaves the
	// dead letter, and replaying it again stores a duplicate, not a copy.
	if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("bus: replay %d: delete dead letter: %w", seq, err)
	}
	return nil
}

package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// DeadLetters returns the dead letters of consumer (of every consumer when
// consumer is ""), oldest first, at most the newest limit of them (all when
// limit <= 0).
func (b *Bus) DeadLetters(ctx context.Context, consumer string, limit int) ([]DeadLetterRecord, error) {
	filter := event.DeadLetterWildcard(b.o.Prefix)
	if consumer != "" {
		filter = event.DeadLetterSubject(b.o.Prefix, consumer)
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
			out = append(out, rec)
			if limit > 0 && len(out) >= 2*limit {
				out = append(out[:0:0], out[len(out)-limit:]...)
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
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
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
	stream, err := b.js.Stream(ctx, event.DeadLetterStream(b.o.Prefix))
	if err != nil {
		return fmt.Errorf("bus: replay %d: %w", seq, err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("bus: replay %d: %w", seq, ErrDeadLetterNotFound)
	}
	if err != nil {
		return fmt.Errorf("bus: replay %d: %w", seq, err)
	}
	dl := new(bridgev1.DeadLetter)
	if err := proto.Unmarshal(raw.Data, dl); err != nil {
		return fmt.Errorf("bus: replay %d: decode: %w", seq, err)
	}
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

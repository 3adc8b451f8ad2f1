package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/ledger"
)

// Status is what bridgectl status shows.
type Status struct {
	Streams []StreamStatus `json:"streams"`
	// Consumers are those of the events stream.
	Consumers []ConsumerStatus `json:"consumers"`
}

// StreamStatus describes one stream.
type StreamStatus struct {
	Name      string   `json:"name"`
	Subjects  []string `json:"subjects"`
	Messages  uint64   `json:"messages"`
	Bytes     uint64   `json:"bytes"`
	FirstSeq  uint64   `json:"first_seq"`
	LastSeq   uint64   `json:"last_seq"`
	Consumers int      `json:"consumers"`
}

// ConsumerStatus describes one durable consumer.
type ConsumerStatus struct {
	Name string `json:"name"`
	// Pending counts messages not yet delivered.
	Pending uint64 `json:"pending"`
	// AckPending counts messages delivered and not yet acknowledged,
	// including those waiting for a delayed retry.
	AckPending int `json:"ack_pending"`
	// Redelivered counts unacknowledged messages delivered more than once.
	Redelivered int `json:"redelivered"`
	// LastDelivered is the stream sequence last delivered.
	LastDelivered uint64 `json:"last_delivered_seq"`
	// AckFloor is the stream sequence below which everything is acknowledged.
	AckFloor uint64 `json:"ack_floor_seq"`
	// Waiting counts open pull requests: roughly, the runners attached.
	Waiting int `json:"waiting"`
}

// Status reports the events and dead-letter streams, the ledger bucket's
// stream when it exists, and every consumer of the events stream.
func (b *Bus) Status(ctx context.Context) (Status, error) {
	var st Status
	names := []string{
		event.EventsStream(b.o.Prefix),
		event.DeadLetterStream(b.o.Prefix),
		"KV_" + ledger.Bucket(b.o.Prefix),
	}
	for i, name := range names {
		s, err := b.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) && i == len(names)-1 {
			continue // No consumer has opened the ledger yet.
		}
		if err != nil {
			return Status{}, fmt.Errorf("bus: status of %s: %w", name, err)
		}
		info := s.CachedInfo()
		st.Streams = append(st.Streams, StreamStatus{
			Name:      name,
			Subjects:  info.Config.Subjects,
			Messages:  info.State.Msgs,
			Bytes:     info.State.Bytes,
			FirstSeq:  info.State.FirstSeq,
			LastSeq:   info.State.LastSeq,
			Consumers: info.State.Consumers,
		})
		if i != 0 {
			continue
		}
		list := s.ListConsumers(ctx)
		for ci := range list.Info() {
			st.Consumers = append(st.Consumers, ConsumerStatus{
				Name:          ci.Name,
				Pending:       ci.NumPending,
				AckPending:    ci.NumAckPending,
				Redelivered:   ci.NumRedelivered,
				LastDelivered: ci.Delivered.Stream,
				AckFloor:      ci.AckFloor.Stream,
				Waiting:       ci.NumWaiting,
			})
		}
		if err := list.Err(); err != nil {
			return Status{}, fmt.Errorf("bus: status of %s consumers: %w", name, err)
		}
	}
	return st, nil
}

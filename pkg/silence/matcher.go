package silence

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-platform/bridge/pkg/event"
)

// gaugeInterval is how often the active-silences gauge is recounted
// between updates: a silence ends by the clock, not by a KV write.
const gaugeInterval = 15 * time.Second

// Matcher answers whether an event is silenced from an in-memory copy of
// the bucket, which a KV watch keeps current. It is safe for concurrent
// use.
type Matcher struct {
	mu       sync.RWMutex
	silences map[string]Silence
	active   prometheus.Gauge
	log      *slog.Logger
	now      func() time.Time
}

// Watch loads every silence and keeps the Matcher current until ctx is
// done. active (may be nil) is set to the number of silences in force. The
// returned Matcher already holds every silence stored when Watch returns.
func (st *Store) Watch(ctx context.Context, log *slog.Logger, active prometheus.Gauge) (*Matcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := st.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("silence: watch: %w", err)
	}
	m := &Matcher{silences: make(map[string]Silence), active: active, log: log, now: st.now}
	// The watch sends every current value, then a nil marker.
	for initial := true; initial; {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return nil, fmt.Errorf("silence: watch: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("silence: watch: stopped while loading")
			}
			if e == nil {
				initial = false
				continue
			}
			m.apply(e, false)
		}
	}
	m.count()
	go m.follow(ctx, w)
	return m, nil
}

func (m *Matcher) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	t := time.NewTicker(gaugeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.count()
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() == nil {
					m.log.Error("silence watch stopped: silences no longer change until restart")
				}
				return
			}
			if e != nil {
				m.apply(e, true)
				m.count()
			}
		}
	}
}

// apply takes one KV entry into the copy; announce logs the change.
func (m *Matcher) apply(e jetstream.KeyValueEntry, announce bool) {
	if e.Operation() != jetstream.KeyValuePut {
		m.mu.Lock()
		delete(m.silences, e.Key())
		m.mu.Unlock()
		return
	}
	s, err := decode(e.Value())
	if err != nil {
		m.log.Warn("silence ignored: undecodable", "silence_id", e.Key(), "err", err)
		return
	}
	m.mu.Lock()
	m.silences[e.Key()] = s
	m.mu.Unlock()
	if announce {
		now := m.now()
		m.log.Info("silence "+s.State(now), "silence_id", s.ID, "match", s.Rule.String(),
			"ends_at", s.EndsAt.UTC().Format(time.RFC3339), "reason", s.Reason, "created_by", s.CreatedBy)
	}
}

func (m *Matcher) count() {
	if m.active == nil {
		return
	}
	now := m.now()
	m.mu.RLock()
	n := 0
	for _, s := range m.silences {
		if s.Active(now) {
			n++
		}
	}
	m.mu.RUnlock()
	m.active.Set(float64(n))
}

// Silenced returns the silence in force at now that matches ev; when
// several do, the one ending last (then the lowest id), so that the answer
// does not depend on map order.
func (m *Matcher) Silenced(ev *event.Event, now time.Time) (Silence, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var found []Silence
	for _, s := range m.silences {
		if s.Active(now) && s.Rule.Match(ev) {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return Silence{}, false
	}
	return slices.MinFunc(found, func(a, b Silence) int {
		if c := b.EndsAt.Compare(a.EndsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}), true
}

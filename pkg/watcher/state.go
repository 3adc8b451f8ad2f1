package watcher

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoa-platform/bridge/pkg/inventory"
)

// OpenState creates or opens the watcher's state bucket (named by
// event.WatcherBucket) (one small value
// per tool, no history) with the given replicas (1 when < 1).
func OpenState(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "release-watcher: ETag and last-seen release per tool",
		History:     1,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("watcher: open state bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// state is what the watcher keeps per tool across restarts.
type state struct {
	// Repo is "owner/repo" as the inventory spells it, for people reading
	// the bucket: the key is opaque.
	Repo string `json:"repo"`
	// ETag is the release list's ETag at the last 200, sent back as
	// If-None-Match.
	ETag string `json:"etag,omitempty"`
	// LastSeenTag and LastSeenVersion name the newest release announced
	// (or, on the first poll, found); later polls announce only newer ones.
	LastSeenTag     string `json:"last_seen_tag,omitempty"`
	LastSeenVersion string `json:"last_seen_version,omitempty"`
	// LastPoll is when GitHub last answered 200 or 304.
	LastPoll time.Time `json:"last_poll"`
	// Tool fingerprints the inventory entry the ETag was evaluated with:
	// when the deployed version, the pattern or the pre-release flag
	// change, the list is fetched and judged again.
	Tool string `json:"tool"`
}

// stateKey is the bucket key of a repository: the hex of its lower-cased
// "owner/repo". KeyValue keys allow only [-/_=.a-zA-Z0-9] and dots split
// them into tokens, while GitHub names may start with a dot ("owner/.github");
// hex maps every name to a valid key without collisions.
func stateKey(repo string) string { return hex.EncodeToString([]byte(strings.ToLower(repo))) }

func fingerprint(t *inventory.Tool) string {
	return t.Deployed + "|" + t.TagPattern + "|" + strconv.FormatBool(t.Prereleases)
}

// load returns the tool's state and whether there was one.
func (w *Watcher) load(ctx context.Context, repo string) (state, bool, error) {
	e, err := w.o.State.Get(ctx, stateKey(repo))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return state{Repo: repo}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("watcher: read the state of %s: %w", repo, err)
	}
	var st state
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		// A value this code did not write: start afresh rather than stall
		// the tool forever; the first-poll rule keeps that quiet.
		w.log.Warn("unreadable release-watcher state, starting afresh", "repo", repo, "err", err)
		return state{Repo: repo}, false, nil
	}
	return st, true, nil
}

func (w *Watcher) save(ctx context.Context, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("watcher: encode the state of %s: %w", st.Repo, err)
	}
	if _, err := w.o.State.Put(ctx, stateKey(st.Repo), b); err != nil {
		return fmt.Errorf("watcher: write the state of %s: %w", st.Repo, err)
	}
	return nil
}

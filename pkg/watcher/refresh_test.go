package watcher_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/watcher"
)

// tokens plays the secrets provider: stored is what Vault holds, inUse
// what the last read put in use.
type tokens struct {
	mu        sync.Mutex
	stored    string
	inUse     string
	changedAt time.Time
	refreshes int
}

func (k *tokens) get(context.Context) (secrets.Secret, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return secrets.New(k.inUse), nil
}

func (k *tokens) refresh(_ context.Context, since time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshes++
	if k.stored != k.inUse {
		k.inUse, k.changedAt = k.stored, time.Now()
	}
	return k.changedAt.After(since)
}

// TestRefreshOnBadCredentials: a 401 has the secrets read again once, and
// the poll made again at once when GITHUB_TOKEN changed.
func TestRefreshOnBadCredentials(t *testing.T) {
	const (
		oldToken   = "ghp_oldTokenMustNotLeak"
		newToken   = "ghp_newTokenMustNotLeak"
		wrongToken = "ghp_wrongTokenMustNotLeak"
		repo       = "hashicorp/vault"
	)
	tests := []struct {
		name          string
		stored        string
		inUse         string // oldToken when empty
		noHook        bool
		fail          int // a status the first request answers instead
		wantErr       bool
		wantRequests  int
		wantRefreshes int
	}{
		{name: "rotated", stored: newToken, wantRequests: 2, wantRefreshes: 1},
		{name: "not rotated", stored: oldToken, wantErr: true, wantRequests: 1, wantRefreshes: 1},
		{name: "no refresh hook", stored: newToken, noHook: true, wantErr: true, wantRequests: 1},
		{name: "rotated to another refused token", stored: wrongToken, wantErr: true, wantRequests: 2, wantRefreshes: 1},
		{name: "not a 401", stored: newToken, inUse: newToken, fail: http.StatusForbidden, wantErr: true, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tool("Vault", repo, "1.21.0", "v{version}", false))
			e.gh.AddRelease("hashicorp", "vault", "v1.22.0", false, false)
			// GitHub has the new token only.
			e.gh.RequireToken(newToken)
			if tt.fail != 0 {
				e.gh.Fail(1, tt.fail)
			}
			k := &tokens{stored: tt.stored, inUse: cmp.Or(tt.inUse, oldToken)}
			w := e.watcher(func(o *watcher.Options) {
				o.Token = k.get
				if !tt.noHook {
					o.Refresh = k.refresh
				}
			})
			err := w.PollOnce(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("PollOnce() = %v, want error %v", err, tt.wantErr)
			}
			if got := e.gh.Requests(repo); got != tt.wantRequests {
				t.Errorf("%d requests to GitHub, want %d", got, tt.wantRequests)
			}
			if k.refreshes != tt.wantRefreshes {
				t.Errorf("%d refreshes, want %d", k.refreshes, tt.wantRefreshes)
			}
			wantTags := []string{"v1.22.0"}
			if tt.wantErr {
				wantTags = nil
			}
			if got := e.pub.take(); !slices.Equal(got, wantTags) {
				t.Errorf("published %q, want %q", got, wantTags)
			}
			retried := e.log.count("github refused the token; secrets re-read, polling again", nil)
			if want := tt.wantRequests - 1; retried != want {
				t.Errorf("%d re-poll lines in the log, want %d:\n%s", retried, want, e.log)
			}
			if !tt.wantErr && len(w.Unreachable()) != 0 {
				t.Errorf("Unreachable() = %q, want none: the retry worked", w.Unreachable())
			}
			for where, s := range map[string]string{"error": fmt.Sprint(err), "log": e.log.String(), "notes": strings.Join(w.Unreachable(), "\n")} {
				for _, tok := range []string{oldToken, newToken, wrongToken} {
					if strings.Contains(s, tok) {
						t.Errorf("a token appears in the %s: %s", where, s)
					}
				}
			}
		})
	}
}

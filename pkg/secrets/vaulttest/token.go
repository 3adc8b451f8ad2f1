package vaulttest

import (
	"fmt"
	"net/http"
	"time"
)

// token is a Vault service token.
type token struct {
	id          string
	accessor    string
	policies    []string
	ttl         time.Duration // creation TTL, and the renewal default
	maxTTL      time.Duration // explicit max TTL from issue time; 0 = none
	renewable   bool
	issued      time.Time
	expires     time.Time // zero: never (root)
	path        string
	displayName string
	meta        map[string]string
}

// CreateToken issues a service token, as auth/token/create would, and
// returns its id. ttl zero means 768h; maxTTL caps renewals (zero: no cap).
// "default" is added to policies.
func (s *Server) CreateToken(policies []string, ttl time.Duration, renewable bool, maxTTL time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueToken(policies, ttl, maxTTL, renewable, "auth/token/create", "token", nil).id
}

func (s *Server) issueToken(policies []string, ttl, maxTTL time.Duration, renewable bool, path, display string, meta map[string]string) *token {
	if ttl <= 0 {
		ttl = defaultTTL
	}
	if maxTTL > 0 && ttl > maxTTL {
		ttl = maxTTL
	}
	now := s.now()
	t := &token{
		id:          newTokenID(),
		accessor:    newID(),
		policies:    policySet(policies),
		ttl:         ttl,
		maxTTL:      maxTTL,
		renewable:   renewable,
		issued:      now,
		expires:     now.Add(ttl),
		path:        path,
		displayName: display,
		meta:        meta,
	}
	s.tokens[t.id] = t
	return t
}

// lookupToken finds a live token. Expired tokens are revoked on sight, as
// Vault's expiration manager would have done. Only the root token works
// outside the server's namespace.
func (s *Server) lookupToken(id string, inNS bool) (*token, bool) {
	t, ok := s.tokens[id]
	if !ok || id == "" {
		return nil, false
	}
	if !t.expires.IsZero() && !s.now().Before(t.expires) {
		delete(s.tokens, id)
		return nil, false
	}
	if !inNS && id != s.rootToken {
		return nil, false
	}
	return t, true
}

func (s *Server) remaining(t *token) time.Duration {
	if t.expires.IsZero() {
		return 0
	}
	return t.expires.Sub(s.now())
}

func (s *Server) lookupSelf(t *token) reply {
	var expire any
	if !t.expires.IsZero() {
		expire = t.expires.UTC().Format(time.RFC3339Nano)
	}
	var meta any
	if t.meta != nil {
		meta = t.meta
	}
	return secretReply(map[string]any{
		"accessor":         t.accessor,
		"creation_time":    t.issued.Unix(),
		"creation_ttl":     seconds(t.ttl),
		"display_name":     t.displayName,
		"entity_id":        "",
		"expire_time":      expire,
		"explicit_max_ttl": seconds(t.maxTTL),
		"id":               t.id,
		"issue_time":       t.issued.UTC().Format(time.RFC3339Nano),
		"meta":             meta,
		"num_uses":         0,
		"orphan":           t.id != s.rootToken,
		"path":             t.path,
		"policies":         t.policies,
		"renewable":        t.renewable,
		"ttl":              seconds(s.remaining(t)),
		"type":             "service",
	}, nil, nil)
}

func (s *Server) renewSelf(t *token, body map[string]any) reply {
	if !t.renewable {
		return errorReply(http.StatusBadRequest, "lease is not renewable")
	}
	incr, err := parseSeconds(body["increment"])
	if err != nil {
		return errorReply(http.StatusBadRequest, "invalid increment")
	}
	ttl := incr
	if ttl <= 0 {
		ttl = t.ttl
	}
	now := s.now()
	var warnings []string
	if t.maxTTL > 0 {
		if last := t.issued.Add(t.maxTTL); now.Add(ttl).After(last) {
			warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly",
				ttl.String(), last.Sub(now).Truncate(time.Second).String()))
			ttl = last.Sub(now)
		}
	}
	t.expires = now.Add(ttl)
	s.counts.Renewals++
	return secretReply(nil, s.authBody(t, ttl), warnings)
}

// authBody is the "auth" object of a login or renewal answer; ttl is the
// lease just granted.
func (s *Server) authBody(t *token, ttl time.Duration) map[string]any {
	var meta any
	if t.meta != nil {
		meta = t.meta
	}
	return map[string]any{
		"client_token":      t.id,
		"accessor":          t.accessor,
		"policies":          t.policies,
		"token_policies":    t.policies,
		"identity_policies": nil,
		"metadata":          meta,
		"lease_duration":    seconds(ttl),
		"renewable":         t.renewable,
		"entity_id":         "",
		"token_type":        "service",
		"orphan":            true,
		"mfa_requirement":   nil,
		"num_uses":          0,
	}
}

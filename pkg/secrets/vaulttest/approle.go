package vaulttest

import (
	"fmt"
	"net/http"
	"time"
)

// appRole is an AppRole role: its role id and the secret ids issued for it.
type appRole struct {
	Role
	roleID    string
	secretIDs map[string]bool
}

// AddAppRole creates (or replaces) the AppRole role name and returns its
// role id.
func (s *Server) AddAppRole(name string, r Role) (roleID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar := &appRole{Role: r, roleID: newID(), secretIDs: map[string]bool{}}
	s.appRoles[name] = ar
	return ar.roleID
}

// SecretID issues a new secret id for the AppRole role, as
// auth/<mount>/role/<role>/secret-id would. It fails the test if the role
// does not exist.
func (s *Server) SecretID(role string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.appRoles[role]
	if !ok {
		s.t.Fatalf("vaulttest: SecretID(%q): no such AppRole role", role)
	}
	return s.newSecretID(ar)
}

// WrappedSecretID issues a new secret id for the AppRole role and returns a
// wrapping token (TTL 5 minutes) holding it, as a secret-id request with
// X-Vault-Wrap-TTL would. It fails the test if the role does not exist.
func (s *Server) WrappedSecretID(role string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.appRoles[role]
	if !ok {
		s.t.Fatalf("vaulttest: WrappedSecretID(%q): no such AppRole role", role)
	}
	p := "auth/" + s.appMount + "/role/" + role + "/secret-id"
	rep := s.wrap(p, "5m", secretReply(s.secretIDData(ar), nil, nil))
	info := rep.body.(map[string]any)["wrap_info"].(map[string]any)
	return info["token"].(string)
}

func (s *Server) newSecretID(ar *appRole) string {
	id := newID()
	ar.secretIDs[id] = true
	return id
}

func (s *Server) secretIDData(ar *appRole) map[string]any {
	return map[string]any{
		"secret_id":          s.newSecretID(ar),
		"secret_id_accessor": newID(),
		"secret_id_num_uses": 0,
		"secret_id_ttl":      0,
	}
}

func (s *Server) roleID(name string) reply {
	ar, ok := s.appRoles[name]
	if !ok {
		return notFound
	}
	return secretReply(map[string]any{"role_id": ar.roleID}, nil, nil)
}

func (s *Server) secretIDReply(name string) reply {
	ar, ok := s.appRoles[name]
	if !ok {
		return errorReply(http.StatusBadRequest, fmt.Sprintf("role %q does not exist", name))
	}
	return secretReply(s.secretIDData(ar), nil, nil)
}

func (s *Server) appRoleLogin(body map[string]any) reply {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	if roleID == "" {
		s.counts.FailedLogins["approle"]++
		return errorReply(http.StatusBadRequest, "missing role_id")
	}
	for name, ar := range s.appRoles {
		if ar.roleID != roleID || !ar.secretIDs[secretID] {
			continue
		}
		s.counts.Logins["approle"]++
		t := s.issueToken(ar.Policies, ar.TTL, ar.MaxTTL, true, "auth/"+s.appMount+"/login", "approle", map[string]string{"role_name": name})
		return secretReply(nil, s.authBody(t, t.ttl), nil)
	}
	s.counts.FailedLogins["approle"]++
	return errorReply(http.StatusBadRequest, "invalid role or secret ID")
}

// wrapping is a response-wrapping token: single use, holding an answer.
type wrapping struct {
	body    any
	expires time.Time
}

// wrap stores rep under a new wrapping token and answers with its wrap_info.
func (s *Server) wrap(path, ttlHeader string, rep reply) reply {
	ttl, err := parseSeconds(ttlHeader)
	if err != nil || ttl <= 0 {
		return errorReply(http.StatusBadRequest, "error parsing X-Vault-Wrap-TTL header")
	}
	now := s.now()
	id := newTokenID()
	s.wrapped[id] = &wrapping{body: rep.body, expires: now.Add(ttl)}
	out := secretReply(nil, nil, nil)
	out.body.(map[string]any)["wrap_info"] = map[string]any{
		"token":            id,
		"accessor":         newID(),
		"ttl":              seconds(ttl),
		"creation_time":    now.UTC().Format(time.RFC3339Nano),
		"creation_path":    path,
		"wrapped_accessor": "",
	}
	return out
}

// unwrap answers sys/wrapping/unwrap. Vault takes the wrapping token from
// the body when there is one (then X-Vault-Token must be a valid token), else
// from X-Vault-Token.
func (s *Server) unwrap(r *http.Request, inNS bool, body map[string]any) reply {
	wt := r.Header.Get("X-Vault-Token")
	if v, _ := body["token"].(string); v != "" {
		if _, ok := s.lookupToken(wt, inNS); !ok {
			return permissionDenied
		}
		wt = v
	}
	w, ok := s.wrapped[wt]
	if ok && !s.now().Before(w.expires) {
		delete(s.wrapped, wt)
		ok = false
	}
	if !ok {
		return errorReply(http.StatusBadRequest, "wrapping token is not valid or does not exist")
	}
	delete(s.wrapped, wt)
	s.counts.Unwraps++
	return reply{status: http.StatusOK, body: w.body}
}

package vaulttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issuer is the iss claim of the service-account JWTs the fake signs and the
// one its Kubernetes auth mount accepts.
const Issuer = "https://kubernetes.default.svc.cluster.local"

// defaultTTL is Vault's default_lease_ttl (32 days), used for tokens whose
// role names no TTL.
const defaultTTL = 768 * time.Hour

// Server is a running fake Vault. Its controls are safe for concurrent use
// with the requests it serves.
type Server struct {
	t         testing.TB
	ts        *httptest.Server
	now       func() time.Time
	namespace string
	tls       bool
	kvMount   string
	appMount  string
	k8sMount  string
	key       *ecdsa.PrivateKey
	rootToken string

	mu       sync.Mutex
	sealed   bool
	stopped  bool
	tokens   map[string]*token
	wrapped  map[string]*wrapping
	kv       map[string]*kvSecret
	appRoles map[string]*appRole
	k8sRoles map[string]Role
	counts   Counts
}

// Option configures a Server.
type Option func(*Server)

// WithNamespace puts every mount and every token but the root token in the
// Vault Enterprise namespace ns: requests must send X-Vault-Namespace: ns.
func WithNamespace(ns string) Option {
	return func(s *Server) { s.namespace = strings.Trim(ns, "/") }
}

// WithTLS serves HTTPS with httptest's certificate, valid for 127.0.0.1
// and example.com and signed by itself: clients must be given CACertPEM.
func WithTLS() Option {
	return func(s *Server) { s.tls = true }
}

// WithClock replaces time.Now for token TTLs, wrapping TTLs and JWT expiry.
// The vault/api lifetime watcher runs on real time: keep the default when
// testing it.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithKVMount mounts the KV v2 engine at mount instead of "secret".
func WithKVMount(mount string) Option {
	return func(s *Server) { s.kvMount = strings.Trim(mount, "/") }
}

// WithAppRoleMount mounts AppRole auth at auth/<mount> instead of
// auth/approle.
func WithAppRoleMount(mount string) Option {
	return func(s *Server) { s.appMount = strings.Trim(mount, "/") }
}

// WithKubernetesMount mounts Kubernetes auth at auth/<mount> instead of
// auth/kubernetes.
func WithKubernetesMount(mount string) Option {
	return func(s *Server) { s.k8sMount = strings.Trim(mount, "/") }
}

// Role configures an AppRole or Kubernetes auth role: the tokens its logins
// get and, for Kubernetes, the service accounts it accepts.
type Role struct {
	// Policies are given to the token, with "default" added as Vault does.
	Policies []string
	// TTL is token_ttl; zero means Vault's default of 768h.
	TTL time.Duration
	// MaxTTL is token_max_ttl: renewals never extend the token past its
	// issue time plus MaxTTL. Zero means no cap.
	MaxTTL time.Duration
	// ServiceAccountNames is bound_service_account_names (Kubernetes only).
	// "*" accepts any name.
	ServiceAccountNames []string
	// ServiceAccountNamespaces is bound_service_account_namespaces
	// (Kubernetes only). "*" accepts any namespace.
	ServiceAccountNamespaces []string
}

// KVRead identifies a KV v2 read: the secret path under the mount and the
// version served (0 when the read found nothing).
type KVRead struct {
	Path    string
	Version int
}

// Counts is what clients have done to the Server so far.
type Counts struct {
	// Logins counts successful logins by auth method ("approle",
	// "kubernetes").
	Logins map[string]int
	// FailedLogins counts refused logins by auth method.
	FailedLogins map[string]int
	// Renewals counts successful auth/token/renew-self calls.
	Renewals int
	// Unwraps counts successful sys/wrapping/unwrap calls.
	Unwraps int
	// KVReads counts GETs of <mount>/data/<path>.
	KVReads map[KVRead]int
}

// KVReadsOf returns the number of reads of path, any version.
func (c Counts) KVReadsOf(path string) int {
	n := 0
	for r, k := range c.KVReads {
		if r.Path == path {
			n += k
		}
	}
	return n
}

// New starts a fake Vault, unsealed, and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("vaulttest: generating the service-account signing key: %v", err)
	}
	s := &Server{
		t:        t,
		now:      time.Now,
		kvMount:  "secret",
		appMount: "approle",
		k8sMount: "kubernetes",
		key:      key,
		tokens:   map[string]*token{},
		wrapped:  map[string]*wrapping{},
		kv:       map[string]*kvSecret{},
		appRoles: map[string]*appRole{},
		k8sRoles: map[string]Role{},
		counts: Counts{
			Logins:       map[string]int{},
			FailedLogins: map[string]int{},
			KVReads:      map[KVRead]int{},
		},
	}
	for _, o := range opts {
		o(s)
	}
	root := &token{
		id:          newTokenID(),
		accessor:    newID(),
		policies:    []string{"root"},
		issued:      s.now(),
		path:        "auth/token/root",
		displayName: "root",
	}
	s.rootToken = root.id
	s.tokens[root.id] = root
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	if s.tls {
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's address, for api.Config.Address.
func (s *Server) URL() string { return s.ts.URL }

// CACertPEM is the PEM of the certificate a WithTLS server presents, for
// the client's CA file; nil without TLS.
func (s *Server) CACertPEM() []byte {
	if s.ts.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// RootToken returns the root token: it never expires, is valid in every
// namespace and cannot be renewed.
func (s *Server) RootToken() string { return s.rootToken }

// Namespace returns the namespace given to WithNamespace ("" for root).
func (s *Server) Namespace() string { return s.namespace }

// Seal makes every endpoint but sys/health answer 503 "Vault is sealed",
// and sys/health report sealed.
func (s *Server) Seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
}

// Unseal undoes Seal; tokens and secrets are kept.
func (s *Server) Unseal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = false
}

// Stop closes the listener: further connections are refused. It waits for
// requests in flight. Calling it again does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	stopped := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if !stopped {
		s.ts.Close()
	}
}

// Counts returns a copy of the counters.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Counts{
		Logins:       make(map[string]int, len(s.counts.Logins)),
		FailedLogins: make(map[string]int, len(s.counts.FailedLogins)),
		Renewals:     s.counts.Renewals,
		Unwraps:      s.counts.Unwraps,
		KVReads:      make(map[KVRead]int, len(s.counts.KVReads)),
	}
	for k, v := range s.counts.Logins {
		c.Logins[k] = v
	}
	for k, v := range s.counts.FailedLogins {
		c.FailedLogins[k] = v
	}
	for k, v := range s.counts.KVReads {
		c.KVReads[k] = v
	}
	return c
}

// reply is an answer before it is written, so that response wrapping can
// replace it.
type reply struct {
	status int
	body   any
}

func errorReply(status int, msgs ...string) reply {
	if msgs == nil {
		msgs = []string{}
	}
	return reply{status: status, body: map[string]any{"errors": msgs}}
}

var (
	permissionDenied = errorReply(http.StatusForbidden, "permission denied")
	notFound         = errorReply(http.StatusNotFound)
)

// secretReply is Vault's response envelope around data, auth and warnings.
func secretReply(data, auth map[string]any, warnings []string) reply {
	var d, a any
	if data != nil {
		d = data
	}
	if auth != nil {
		a = auth
	}
	return reply{status: http.StatusOK, body: map[string]any{
		"request_id":     newID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           d,
		"wrap_info":      nil,
		"warnings":       warnings,
		"auth":           a,
	}}
}

// serveHTTP holds the lock for the whole request: requests are tiny, and one
// lock makes every endpoint atomic, as the tests expect of Vault.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()

	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeReply(w, notFound)
		return
	}
	if p == "sys/health" {
		s.health(w, r)
		return
	}
	if s.sealed {
		writeReply(w, errorReply(http.StatusServiceUnavailable, "Vault is sealed"))
		return
	}
	var body map[string]any
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeReply(w, errorReply(http.StatusBadRequest, "failed to parse JSON input: "+err.Error()))
			return
		}
	}
	inNS := strings.Trim(r.Header.Get("X-Vault-Namespace"), "/") == s.namespace
	rep := s.route(r, p, inNS, body)
	if ttl := r.Header.Get("X-Vault-Wrap-TTL"); ttl != "" && rep.status == http.StatusOK && p != "sys/wrapping/unwrap" {
		rep = s.wrap(p, ttl, rep)
	}
	writeReply(w, rep)
}

func (s *Server) route(r *http.Request, p string, inNS bool, body map[string]any) reply {
	write := r.Method == http.MethodPost || r.Method == http.MethodPut
	read := r.Method == http.MethodGet
	// Unauthenticated paths: Vault lets them through without a token.
	if p == "sys/wrapping/unwrap" {
		if !write {
			return errorReply(http.StatusMethodNotAllowed)
		}
		return s.unwrap(r, inNS, body)
	}
	if inNS && write {
		switch p {
		case "auth/" + s.appMount + "/login":
			return s.appRoleLogin(body)
		case "auth/" + s.k8sMount + "/login":
			return s.kubernetesLogin(body)
		}
	}

	tok, ok := s.lookupToken(r.Header.Get("X-Vault-Token"), inNS)
	if !ok {
		return permissionDenied
	}
	noRoute := permissionDenied
	if tok.id == s.rootToken {
		noRoute = errorReply(http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p))
	}
	if !inNS {
		return noRoute
	}

	switch {
	case p == "auth/token/lookup-self":
		if !read {
			return errorReply(http.StatusMethodNotAllowed)
		}
		return s.lookupSelf(tok)
	case p == "auth/token/renew-self":
		if !write {
			return errorReply(http.StatusMethodNotAllowed)
		}
		return s.renewSelf(tok, body)
	case strings.HasPrefix(p, s.kvMount+"/data/"):
		path := strings.TrimPrefix(p, s.kvMount+"/data/")
		switch {
		case read:
			return s.kvRead(path, r.URL.Query().Get("version"))
		case write:
			return s.kvWrite(path, body)
		}
		return errorReply(http.StatusMethodNotAllowed)
	case strings.HasPrefix(p, s.kvMount+"/metadata/"):
		if !read {
			return errorReply(http.StatusMethodNotAllowed)
		}
		return s.kvMetadata(strings.TrimPrefix(p, s.kvMount+"/metadata/"))
	case strings.HasPrefix(p, "auth/"+s.appMount+"/role/"):
		name, what, ok := strings.Cut(strings.TrimPrefix(p, "auth/"+s.appMount+"/role/"), "/")
		switch {
		case ok && what == "role-id" && read:
			return s.roleID(name)
		case ok && what == "secret-id" && write:
			return s.secretIDReply(name)
		}
	}
	return noRoute
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeReply(w, errorReply(http.StatusMethodNotAllowed))
		return
	}
	status := http.StatusOK
	if s.sealed {
		status = http.StatusServiceUnavailable
		if c, err := strconv.Atoi(r.URL.Query().Get("sealedcode")); err == nil {
			status = c
		}
	}
	writeReply(w, reply{status: status, body: map[string]any{
		"initialized":                  true,
		"sealed":                       s.sealed,
		"standby":                      false,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              s.now().Unix(),
		"version":                      "1.21.4-fake",
		"enterprise":                   s.namespace != "",
		"cluster_name":                 "vault-cluster-fake",
		"cluster_id":                   "00000000-0000-0000-0000-000000000000",
	}})
}

func writeReply(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(rep.status)
	// A failed write means the client has gone: nothing to tell it.
	_ = json.NewEncoder(w).Encode(rep.body)
}

// parseSeconds reads a Vault duration: a number of seconds (JSON number or
// string) or a Go duration string such as "1h".
func parseSeconds(v any) (time.Duration, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return time.Duration(v * float64(time.Second)), nil
	case string:
		if v == "" {
			return 0, nil
		}
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		return time.ParseDuration(v)
	}
	return 0, fmt.Errorf("vaulttest: duration of type %T", v)
}

// seconds is how Vault reports a duration: whole seconds, rounded down.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// newID returns a random UUID-shaped identifier, like Vault's accessors,
// role ids and secret ids.
func newID() string {
	b := make([]byte, 16)
	// crypto/rand.Read never fails (Go 1.24+).
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newTokenID returns a token shaped like Vault's service tokens.
func newTokenID() string { return "hvs." + rand.Text() }

// policySet adds "default" (but not to root) and sorts, as Vault does.
func policySet(p []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(x string) {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	for _, x := range p {
		add(x)
	}
	if !seen["root"] {
		add("default")
	}
	sort.Strings(out)
	return out
}

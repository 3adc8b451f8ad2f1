package vaulttest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"
)

// AddKubernetesRole creates (or replaces) the Kubernetes auth role name.
func (s *Server) AddKubernetesRole(name string, r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k8sRoles[name] = r
}

// ServiceAccountJWT returns a projected service-account token for
// namespace/name, signed with the key the Kubernetes auth mount trusts,
// issued by Issuer, valid for one hour.
func (s *Server) ServiceAccountJWT(namespace, name string) string {
	now := s.now()
	return s.SignJWT(map[string]any{
		"iss": Issuer,
		"sub": "system:serviceaccount:" + namespace + ":" + name,
		"aud": []string{Issuer},
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]any{"name": name, "uid": newID()},
		},
	})
}

// SignJWT signs claims (ES256) with the key the Kubernetes auth mount trusts,
// for tokens ServiceAccountJWT cannot make: expired, another issuer.
func (s *Server) SignJWT(claims map[string]any) string {
	s.t.Helper()
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`))
	payload, err := json.Marshal(claims)
	if err != nil {
		s.t.Fatalf("vaulttest: SignJWT: %v", err)
	}
	signed := header + "." + base64.RawURLEncoding.EncodeToString(payload)
	h := sha256.Sum256([]byte(signed))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, h[:])
	if err != nil {
		s.t.Fatalf("vaulttest: SignJWT: %v", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// saClaims are the claims Vault's Kubernetes auth reads, in both the
// projected-token and the legacy secret-token shapes.
type saClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
	Nbf int64  `json:"nbf"`
	K8s struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
	LegacyNamespace string `json:"kubernetes.io/serviceaccount/namespace"`
	LegacyName      string `json:"kubernetes.io/serviceaccount/service-account.name"`
}

// verifyJWT checks the signature, issuer and validity window; it returns
// the service account's namespace and name.
func (s *Server) verifyJWT(jwt string) (namespace, name string, ok bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", "", false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "ES256" {
		return "", "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", "", false
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&s.key.PublicKey, h[:], r, ss) {
		return "", "", false
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", false
	}
	var c saClaims
	if json.Unmarshal(pb, &c) != nil {
		return "", "", false
	}
	now := s.now().Unix()
	if c.Iss != Issuer || (c.Exp != 0 && now >= c.Exp) || (c.Nbf != 0 && now < c.Nbf) {
		return "", "", false
	}
	namespace, name = c.K8s.Namespace, c.K8s.ServiceAccount.Name
	if namespace == "" && name == "" {
		namespace, name = c.LegacyNamespace, c.LegacyName
	}
	if namespace == "" && name == "" {
		// sub is system:serviceaccount:<namespace>:<name>.
		f := strings.Split(c.Sub, ":")
		if len(f) != 4 || f[0] != "system" || f[1] != "serviceaccount" {
			return "", "", false
		}
		namespace, name = f[2], f[3]
	}
	return namespace, name, namespace != "" && name != ""
}

func bound(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}

func (s *Server) kubernetesLogin(body map[string]any) reply {
	roleName, _ := body["role"].(string)
	jwt, _ := body["jwt"].(string)
	fail := func(rep reply) reply {
		s.counts.FailedLogins["kubernetes"]++
		return rep
	}
	if roleName == "" {
		return fail(errorReply(http.StatusBadRequest, "missing role"))
	}
	if jwt == "" {
		return fail(errorReply(http.StatusBadRequest, "missing jwt"))
	}
	role, ok := s.k8sRoles[roleName]
	if !ok {
		return fail(errorReply(http.StatusBadRequest, fmt.Sprintf("invalid role name %q", roleName)))
	}
	namespace, name, ok := s.verifyJWT(jwt)
	if !ok {
		return fail(permissionDenied)
	}
	if !bound(role.ServiceAccountNamespaces, namespace) {
		return fail(errorReply(http.StatusForbidden, "namespace not authorized"))
	}
	if !bound(role.ServiceAccountNames, name) {
		return fail(errorReply(http.StatusForbidden, "service account name not authorized"))
	}
	s.counts.Logins["kubernetes"]++
	t := s.issueToken(role.Policies, role.TTL, role.MaxTTL, true, "auth/"+s.k8sMount+"/login", "kubernetes-"+namespace+"-"+name, map[string]string{
		"role":                      roleName,
		"service_account_name":      name,
		"service_account_namespace": namespace,
	})
	return secretReply(nil, s.authBody(t, t.ttl), nil)
}

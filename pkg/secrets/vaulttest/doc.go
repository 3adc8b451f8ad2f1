// Package vaulttest is a FAKE of the HashiCorp Vault HTTP API, for tests.
// It is not Vault: no real Vault server can be built or installed where the
// bridge is developed (TOOLING.md "Vault"), so this httptest server was
// written from Vault's API documentation and the error texts Vault is known to
// return, to be driven by the real github.com/hashicorp/vault/api client.
//
// A Server starts with one root token, a KV v2 mount ("secret"), an AppRole
// mount ("approle") and a Kubernetes auth mount ("kubernetes"). Tests shape
// it with controls (Put, CreateToken, AddAppRole, SecretID, WrappedSecretID,
// AddKubernetesRole, ServiceAccountJWT, SignJWT, Seal, Unseal, Stop) and read
// what the client did with Counts.
//
// Behaviour table, one row per endpoint: what Vault does, what the fake does.
// Check it against a real Vault (1.21) when one can be had.
//
//	Every request (all but the rows marked "no token")
//	  Vault: X-Vault-Token required; missing, unknown or expired token → 403
//	         {"errors":["permission denied"]}. X-Vault-Namespace selects the
//	         namespace; a token from namespace N is denied elsewhere; a path
//	         with no mount → 404 "no handler for route" (root token) or 403.
//	  Fake:  same. All mounts live in the namespace given by WithNamespace
//	         ("" = root). A request for another namespace finds no mount:
//	         403 permission denied, or 404 no handler for the root token,
//	         which (like Vault's) works in every namespace. Policies are
//	         recorded and returned, never enforced (every valid token may
//	         use every endpoint).
//	Sealed (Seal)
//	  Vault: every endpoint but sys/health → 503 {"errors":["Vault is sealed"]}.
//	  Fake:  same; Unseal undoes it. Stop closes the listener: connections are
//	         refused.
//	GET|HEAD /v1/sys/health (no token)
//	  Vault: 200 {"initialized":true,"sealed":false,"standby":false,...};
//	         sealed → 503, or the code in ?sealedcode=N (vault/api sends 299).
//	  Fake:  same fields (version "1.21.4-fake"); honours sealedcode only.
//	GET /v1/<kv>/data/<path>[?version=N]
//	  Vault: 200 {"data":{"data":{...},"metadata":{"created_time":RFC3339,
//	         "custom_metadata":null,"deletion_time":"","destroyed":false,
//	         "version":N}}}; missing path or version → 404 {"errors":[]}.
//	  Fake:  same; counts the read by path and resolved version.
//	POST|PUT /v1/<kv>/data/<path> {"data":{...},"options":{"cas":N}}
//	  Vault: writes version current+1, 200 {"data":{"created_time",
//	         "custom_metadata":null,"deletion_time":"","destroyed":false,
//	         "version":N}}; cas mismatch → 400 "check-and-set parameter did
//	         not match the current version"; no "data" → 400 "no data
//	         provided".
//	  Fake:  same. Test control Put(path, map[string]string) does the same
//	         write without HTTP (rotation).
//	GET /v1/<kv>/metadata/<path>
//	  Vault: 200 {"data":{"current_version","oldest_version","created_time",
//	         "updated_time","max_versions":0,"cas_required":false,
//	         "delete_version_after":"0s","custom_metadata":null,
//	         "versions":{"1":{"created_time","deletion_time":"",
//	         "destroyed":false}}}}; missing → 404 {"errors":[]}.
//	  Fake:  same.
//	GET /v1/auth/token/lookup-self
//	  Vault: 200 {"data":{"accessor","creation_time","creation_ttl",
//	         "display_name","expire_time","explicit_max_ttl","id",
//	         "issue_time","num_uses":0,"orphan","path","policies",
//	         "renewable","ttl","type":"service"}}; root token: ttl 0,
//	         expire_time null, policies ["root"].
//	  Fake:  same fields; ttl counts down against the clock (WithClock).
//	POST|PUT /v1/auth/token/renew-self {"increment":"1h"|3600}
//	  Vault: new TTL = increment (or the token's own TTL when 0), capped so
//	         the token never outlives issue_time+max_ttl (with a warning);
//	         200 {"auth":{client_token,accessor,policies,lease_duration,
//	         renewable,...}}; non-renewable token → 400 {"errors":["lease is
//	         not renewable"]}; expired token → 403 permission denied.
//	  Fake:  same, with real expiry: a token past its TTL is gone (403).
//	         Counts successful renewals.
//	POST|PUT /v1/auth/<approle>/login {"role_id","secret_id"} (no token)
//	  Vault: 200 {"auth":{"client_token","accessor","policies":["default",
//	         ...],"token_policies","metadata":{"role_name"},"lease_duration",
//	         "renewable":true,"token_type":"service","orphan":true}}; wrong
//	         role or secret id → 400 {"errors":["invalid role or secret ID"]};
//	         missing role_id → 400 "missing role_id".
//	  Fake:  same; secret ids have unlimited uses and no TTL. Counts logins
//	         under "approle".
//	GET /v1/auth/<approle>/role/<name>/role-id
//	POST|PUT /v1/auth/<approle>/role/<name>/secret-id
//	  Vault: {"data":{"role_id"}}; {"data":{"secret_id","secret_id_accessor",
//	         "secret_id_num_uses":0,"secret_id_ttl":0}}; unknown role → 400
//	         `role "x" does not exist` (secret-id), 404 (role-id).
//	  Fake:  same.
//	Any request with X-Vault-Wrap-TTL: 60s|60
//	  Vault: the 200 answer is stored in a single-use wrapping token and
//	         replaced by {"wrap_info":{"token","accessor","ttl",
//	         "creation_time","creation_path","wrapped_accessor"}}.
//	  Fake:  same for every endpoint with a JSON answer. Wrapping tokens are
//	         only accepted by sys/wrapping/unwrap.
//	POST|PUT /v1/sys/wrapping/unwrap [{"token"}] (wrapping token as
//	X-Vault-Token, or a valid token + the wrapping token in the body)
//	  Vault: 200 with the wrapped answer, once; again, unknown or expired →
//	         400 {"errors":["wrapping token is not valid or does not exist"]}.
//	  Fake:  same.
//	POST|PUT /v1/auth/<kubernetes>/login {"role","jwt"} (no token)
//	  Vault (role with bound_service_account_names/namespaces, config with
//	  pem_keys and issuer, iss validation on): the JWT signature must verify
//	  against a configured key, iss must match, exp must be in the future,
//	  else 403 {"errors":["permission denied"]}; SA name not bound → 403
//	  "service account name not authorized"; namespace not bound → 403
//	  "namespace not authorized"; unknown role → 400 `invalid role name "x"`;
//	  no jwt → 400 "missing jwt". Success answers like an AppRole login with
//	  metadata {role, service_account_name, service_account_namespace,...}.
//	  Fake:  same; the key is an ECDSA P-256 key generated by New (ES256
//	         JWTs, see ServiceAccountJWT), issuer Issuer. No TokenReview call
//	         and no audience check are simulated. "*" binds every name.
//	         Counts logins under "kubernetes".
//	Any other path
//	  Vault: 404 {"errors":["no handler for route \"p\". route entry not
//	         found."]} for the root token, 403 permission denied otherwise.
//	  Fake:  same. A wrong method on a known path → 405 {"errors":[]}
//	         (Vault's 405 says "unsupported operation").
package vaulttest

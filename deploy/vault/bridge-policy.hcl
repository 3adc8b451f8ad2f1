# The Vault policy the bridge needs: read its one KV v2 secret, nothing else.
# Token renewal and lookup of its own token are granted by Vault's built-in
# "default" policy, which every token carries unless created with
# -no-default-policy.
#
# Adjust "secret" (vault.kv_mount) and "bridge" (vault.path) to your config.
# KV v2 serves the values under <mount>/data/<path>.

path "secret/data/bridge" {
  capabilities = ["read"]
}

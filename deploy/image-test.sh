#!/usr/bin/env bash
# Builds deploy/Dockerfile with podman on a scratch base (no base image can
# be pulled where CI runs) and checks what a cluster relies on: the user, the
# exec-form entrypoint, the labels, every binary in /usr/local/bin owned by
# root and executable, no shell, and the version stamped into the binaries.
# No container is started (none can run here): the image's filesystem is
# read with `podman create` + `podman export`.
#
# Usage (from the repository root, after make build):
#   deploy/image-test.sh BIN_DIR VERSION BINARY...
set -euo pipefail

bindir=$1 version=$2
shift 2
tag="localhost/bridge-image-test:$$"
tmp=$(mktemp -d)
ctr=""
cleanup() {
  [ -z "$ctr" ] || podman rm -f "$ctr" >/dev/null 2>&1 || true
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
fail() { echo "image-test: FAIL: $*" >&2; failed=1; }

podman build --quiet --layers=false -f deploy/Dockerfile --build-arg BASE=scratch \
  --build-arg VERSION="$version" -t "$tag" "$bindir" >/dev/null

user=$(podman image inspect --format '{{.Config.User}}' "$tag")
[ "$user" = "65532:65532" ] || fail "user is \"$user\", want 65532:65532"
entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$tag")
[ "$entrypoint" = '["/usr/local/bin/bridge"]' ] || fail "entrypoint is $entrypoint, want [\"/usr/local/bin/bridge\"]"
label=$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.version"}}' "$tag")
[ "$label" = "$version" ] || fail "label org.opencontainers.image.version is \"$label\", want \"$version\""

ctr=$(podman create "$tag")
podman export "$ctr" >"$tmp/rootfs.tar"
tar -tvf "$tmp/rootfs.tar" >"$tmp/listing"
for b in "$@"; do
  # e.g. "-rwxr-xr-x 0/0 25165824 2026-12-04 19:41 usr/local/bin/bridge"
  line=$(awk -v p="usr/local/bin/$b" '$NF == p' "$tmp/listing")
  if [ -z "$line" ]; then fail "/usr/local/bin/$b is missing"; continue; fi
  read -r mode owner _ <<<"$line"
  [[ $mode == -r?x* ]] || fail "/usr/local/bin/$b has mode $mode, want an executable file"
  [[ $mode == -????????? && ${mode:5:1} != w && ${mode:8:1} != w ]] || fail "/usr/local/bin/$b has mode $mode: writable by others than its owner"
  [ "$owner" = "0/0" ] || fail "/usr/local/bin/$b is owned by $owner, want root (0/0)"
done
if awk '{print $NF}' "$tmp/listing" | grep -Eq '(^|/)(sh|bash|ash|dash|busybox)$'; then
  fail "the image has a shell"
fi

# The binaries run on this host too: check the stamped version of one.
tar -xf "$tmp/rootfs.tar" -C "$tmp" usr/local/bin/bridge
got=$("$tmp/usr/local/bin/bridge" --version)
[ "$got" = "bridge $version" ] || fail "bridge --version printed \"$got\", want \"bridge $version\""

if [ "$failed" != 0 ]; then exit 1; fi
echo "image-test: ok: user 65532:65532, entrypoint /usr/local/bin/bridge, $# binaries, no shell, version $version"

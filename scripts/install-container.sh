#!/usr/bin/env bash
# Installs what scripts/build-image.sh and test/e2e/container.test.ts need: rootful podman
# with runc (crun refuses the hybrid cgroup layout of some CI sandboxes), slirp4netns (the
# test's container reaches the host's loopback through it), debootstrap (the local Node base),
# podman-compose (renders deploy/compose.yaml). Podman's settings come from
# scripts/containers.conf via CONTAINERS_CONF: /etc/containers is left as it is.
# Idempotent: safe to run on every CI job.
set -euo pipefail

missing=()
for cmd in podman runc slirp4netns debootstrap podman-compose; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$cmd")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-container: podman, runc, slirp4netns, debootstrap and podman-compose already present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-container: missing: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  podman runc slirp4netns debootstrap podman-compose
echo "install-container: done"

#!/usr/bin/env bash
# Builds the Debian 13 ("trixie") root filesystem the test harness runs Dovecot 2.4 and
# Postfix 3.10 from (DMS_FLAVOUR=debian13, the base of DMS's next major; see
# test/harness/flavour.ts). Made with debootstrap from the mirror apt uses here, as
# scripts/build-image.sh makes its base, then the packages installed inside with apt.
# Cached under /var/cache/oauth2-mail-proxy/, keyed by the suite, the mirror, the package
# list, this script's build function and scripts/lib/debootstrap.sh: a second run with the same
# inputs builds nothing.
# Called by scripts/install-backend.sh; prints the root's path on its last line.
#
#   bash scripts/install-dms-debian13.sh
#
# Needs root (debootstrap, chroot, mount in a private mount namespace).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=trixie
# DMS's image installs these (plus what they pull in); the harness uses all but managesieved
# and pop3d today, the ManageSieve and POP3 fronts use those.
PACKAGES=(dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-managesieved postfix)
CACHE=/var/cache/oauth2-mail-proxy
MAIL_UID=5000   # docker-mailserver's vmail uid/gid, as scripts/install-backend.sh makes on the host

log() { echo "install-dms-debian13: $*" >&2; }
# shellcheck source=scripts/lib/debootstrap.sh
. scripts/lib/debootstrap.sh

# Runs a command inside the root with /proc and /dev mounted in a private mount namespace:
# the mounts vanish with the command, nothing is left mounted on the host.
in_root() {
  local root=$1; shift
  unshare --mount --propagation private -- sh -c '
    root=$1; shift
    mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && exec chroot "$root" "$@"
  ' sh "$root" "$@"
}

build_root() {
  local root=$1 mirror=$2
  log "debootstrap $SUITE from $mirror (cold: a few minutes)"
  debootstrap_minbase "$SUITE" "$root" "$mirror"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # As on the host: keep maintainer scripts from starting daemons, and the postfix package
  # from asking for a mailer type (the harness writes its own main.cf per test).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  echo "postfix postfix/main_mailer_type select No configuration" | in_root "$root" debconf-set-selections
  in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$root.apt.log" 2>&1 \
    && in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$root.apt.log" 2>&1 \
    || { tail -n 20 "$root.apt.log" >&2; exit 1; }
  in_root "$root" groupadd -g "$MAIL_UID" vmail
  in_root "$root" useradd -u "$MAIL_UID" -g "$MAIL_UID" -M -d /nonexistent -s /usr/sbin/nologin vmail
  slim_root "$root"
  rm -f "$root.apt.log"
}

if [ "$(id -u)" -ne 0 ]; then
  log "needs root (debootstrap, chroot)"; exit 1
fi
for cmd in debootstrap unshare chroot; do
  command -v "$cmd" >/dev/null 2>&1 || { log "missing $cmd (apt-get install debootstrap util-linux)"; exit 1; }
done

mirror=$(debian_mirror)
key=$( { echo "$SUITE $mirror ${PACKAGES[*]} $MAIL_UID"; sed -n '/^in_root()/,/^}/p;/^build_root()/,/^}/p' "$0"; cat scripts/lib/debootstrap.sh; } | hash_of)
dir="$CACHE/dms-debian13-$key"
if [ -e "$dir/ready" ]; then
  log "$dir is up to date"
else
  mkdir -p "$CACHE"
  work=$(mktemp -d "$CACHE/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand $work now
  trap "rm -rf --one-file-system '$work'" EXIT
  start=$SECONDS
  build_root "$work/root" "$mirror"
  in_root "$work/root" dovecot --version >"$work/dovecot-version"
  in_root "$work/root" postconf -d -h mail_version >"$work/postfix-version"
  touch "$work/ready"
  rm -rf --one-file-system "$dir"
  mv "$work" "$dir"
  trap - EXIT
  log "built $dir in $((SECONDS - start)) s: Dovecot $(cat "$dir/dovecot-version"), Postfix $(cat "$dir/postfix-version")"
  # Older roots (other inputs) only take space now.
  find "$CACHE" -maxdepth 1 -name 'dms-debian13-*' ! -path "$dir" -exec rm -rf --one-file-system {} +
fi
ln -sfn "$(basename "$dir")" "$CACHE/dms-debian13"
echo "$dir/root"

# Sourced by scripts/build-image.sh (the image's Node base, Debian 12) and
# scripts/install-dms-debian13.sh (the Debian 13 backend root): the Debian root both start
# from. The caller defines log(). Both hash this file into their cache keys: a change here
# builds their roots anew.
# shellcheck shell=bash

hash_of() { sha256sum | cut -c1-16; }

# The mirror apt uses here (deb822 or one-line sources), so debootstrap reaches what apt reaches.
debian_mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }
  echo "$uri"
}

# debootstrap_minbase SUITE ROOT MIRROR: a minimal Debian SUITE at ROOT; on failure the end of
# debootstrap's log, then exit.
debootstrap_minbase() {
  local suite=$1 root=$2 mirror=$3
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -n 20 "$root.debootstrap.log" >&2; exit 1; }
  rm -f "$root.debootstrap.log"
}

# slim_root ROOT: what a built root need not keep (downloaded packages, apt lists, docs).
slim_root() {
  local root=$1
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
    "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info"
}

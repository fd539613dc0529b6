#!/usr/bin/env bash
# Installs what test/harness/backend.ts needs to run a DMS-like Dovecot + Postfix
# per test file: the packages (without starting their system-wide services) and the
# unprivileged mail user. Idempotent: safe to run on every CI job and before the demo.
set -euo pipefail

MAIL_UID=5000   # docker-mailserver's vmail uid/gid; the harness configures the same
MAIL_USER=vmail

# The second backend flavour (Dovecot 2.4 + Postfix 3.10 from Debian 13, cached). A failed
# build does not fail the install: the tests that need it skip and say why.
debian13() {
  [ "$(id -u)" -eq 0 ] || { echo "install-backend: not root: the Debian 13 backend (DMS_FLAVOUR=debian13) is not built" >&2; return 0; }
  local start=$SECONDS
  bash "$(dirname "$0")/install-dms-debian13.sh" >/dev/null \
    && echo "install-backend: Debian 13 backend ready ($((SECONDS - start)) s)" \
    || echo "install-backend: WARNING: the Debian 13 backend could not be built; DMS_FLAVOUR=debian13 tests skip" >&2
}

missing=()
# fail2ban-regex: the CI test of deploy/fail2ban runs the real filter over our log lines.
# haproxy: test/reliability/load/ runs two proxy instances behind it (PROXY protocol v2).
# gdb: the soak asks glibc in the proxy process to return free memory (malloc_trim) before reading RSS.
# promtool (package prometheus, its daemon not started): the CI test of deploy/monitoring checks the PromQL.
# sieve-connect: the ManageSieve e2e test uploads a script with Debian's real client.
# debootstrap: scripts/install-dms-debian13.sh builds the Debian 13 root (Dovecot 2.4, DMS_FLAVOUR=debian13).
# nginx + libnginx-mod-mail: `npm run bench` measures nginx's mail proxy (auth_http) beside ours; the bench
# starts its own nginx with its own prefix and config, never the system service.
# redis-server: test/state/ starts one per test file as the replicas' shared store (issue 20).
# chromium: test/e2e/portal.test.ts signs in to the app-password portal in a real headless browser
# (driven by the playwright-core npm package, which downloads no browser of its own).
for cmd in dovecot doveadm postfix postconf openssl curl fail2ban-regex haproxy gdb promtool sieve-connect debootstrap nginx redis-server chromium; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$cmd")
done
# dovecot-lmtpd and dovecot-pop3d have no command of their own: check their binaries
# (Postfix delivers through lmtp; the POP3 tests log in to pop3).
[ -x /usr/lib/dovecot/lmtp ] || missing+=("dovecot-lmtpd")
# ManageSieve (4190) and the Sieve plugin that runs the scripts at LMTP delivery, as DMS with ENABLE_MANAGESIEVE=1.
[ -x /usr/lib/dovecot/managesieve ] || missing+=("dovecot-managesieved")
[ -e /usr/lib/dovecot/modules/lib90_sieve_plugin.so ] || missing+=("dovecot-sieve")
[ -x /usr/lib/dovecot/pop3 ] || missing+=("dovecot-pop3d")
[ -e /usr/lib/nginx/modules/ngx_mail_module.so ] || missing+=("libnginx-mod-mail")
need_user=0
getent passwd "$MAIL_USER" >/dev/null 2>&1 || need_user=1

if [ "${#missing[@]}" -eq 0 ] && [ "$need_user" -eq 0 ]; then
  echo "install-backend: dovecot (imap, pop3, lmtp, managesieve, sieve), postfix, openssl, curl, fail2ban, haproxy, gdb, promtool, sieve-connect, debootstrap, nginx mail, redis-server, chromium and user $MAIL_USER already present"
  debian13
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-backend: missing: ${missing[*]:-}$([ "$need_user" -eq 1 ] && echo " user:$MAIL_USER")" >&2
  echo "install-backend: run this script as root (e.g. sudo $0) to install them" >&2
  exit 1
fi

if [ "${#missing[@]}" -gt 0 ]; then
  # Without this preseed the postfix package asks for a mailer type and the install hangs.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep maintainer scripts from starting the system-wide daemons (no systemd in CI
  # containers anyway, but invoke-rc.d would still try): policy-rc.d exit 101 = "deny".
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  trap 'if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi' EXIT
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-managesieved dovecot-sieve sieve-connect postfix openssl curl ca-certificates fail2ban \
    haproxy gdb prometheus debootstrap nginx libnginx-mod-mail redis-server chromium
  # The nginx package's default site listens on port 80. policy-rc.d kept the maintainer
  # scripts from starting it; also keep systemd from starting it at boot (disable works without
  # a running systemd), and stop one that an earlier install without policy-rc.d left running.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable nginx >/dev/null 2>&1 || true; fi
  if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then nginx -s quit || true; fi
  # The same for redis-server (port 6379): the tests start their own per test file.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable redis-server >/dev/null 2>&1 || true; fi
  if [ -s /run/redis/redis-server.pid ] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then kill "$(cat /run/redis/redis-server.pid)" || true; fi
fi

if [ "$need_user" -eq 1 ]; then
  getent group "$MAIL_USER" >/dev/null 2>&1 || groupadd -g "$MAIL_UID" "$MAIL_USER"
  useradd -u "$MAIL_UID" -g "$MAIL_UID" -M -d /nonexistent -s /usr/sbin/nologin "$MAIL_USER"
fi

debian13
echo "install-backend: done"

#!/usr/bin/env bash
# Installs what test/harness/backend.ts needs to run a DMS-like Dovecot + Postfix
# per test file: the packages (without starting their system-wide services) and the
# unprivileged mail user. Idempotent: safe to run on every CI job and before the demo.
set -euo pipefail

MAIL_UID=5000   # docker-mailserver's vmail uid/gid; the harness configures the same
MAIL_USER=vmail

missing=()
# fail2ban-regex: the CI test of deploy/fail2ban runs the real filter over our log lines.
# haproxy: test/reliability/load/ runs two proxy instances behind it (PROXY protocol v2).
# gdb: the soak asks glibc in the proxy process to return free memory (malloc_trim) before reading RSS.
# promtool (package prometheus, its daemon not started): the CI test of deploy/monitoring checks the PromQL.
# redis-server: test/state/ starts one per test file as the replicas' shared store (issue 20).
for cmd in dovecot doveadm postfix postconf openssl curl fail2ban-regex haproxy gdb promtool redis-server; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$cmd")
done
# dovecot-lmtpd has no command of its own: check its binary (Postfix delivers through it).
[ -x /usr/lib/dovecot/lmtp ] || missing+=("dovecot-lmtpd")
need_user=0
getent passwd "$MAIL_USER" >/dev/null 2>&1 || need_user=1

if [ "${#missing[@]}" -eq 0 ] && [ "$need_user" -eq 0 ]; then
  echo "install-backend: dovecot, postfix, openssl, curl, fail2ban, haproxy, gdb, promtool, redis-server and user $MAIL_USER already present"
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
    dovecot-imapd dovecot-lmtpd postfix openssl curl ca-certificates fail2ban haproxy gdb prometheus redis-server
  # The tests start their own redis-server per test file: the package's system-wide one
  # (started by the maintainer script where policy-rc.d did not stop it) must not keep
  # port 6379 or start at boot.
  if command -v systemctl >/dev/null 2>&1; then
    # disable works on the unit symlinks even without a running systemd (containers).
    systemctl disable redis-server >/dev/null 2>&1 || true
    [ -d /run/systemd/system ] && { systemctl stop redis-server >/dev/null 2>&1 || true; }
  fi
  pid=$(cat /run/redis/redis-server.pid 2>/dev/null || true)
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
fi

if [ "$need_user" -eq 1 ]; then
  getent group "$MAIL_USER" >/dev/null 2>&1 || groupadd -g "$MAIL_UID" "$MAIL_USER"
  useradd -u "$MAIL_UID" -g "$MAIL_UID" -M -d /nonexistent -s /usr/sbin/nologin "$MAIL_USER"
fi

echo "install-backend: done"

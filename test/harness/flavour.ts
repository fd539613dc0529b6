// Which DMS generation the test backend imitates. `debian12` (the default) is DMS v15:
// the host's Dovecot 2.3 and Postfix 3.7. `debian13` is the base of DMS's next major:
// Dovecot 2.4 and Postfix 3.10 run from the Debian 13 root that
// scripts/install-dms-debian13.sh builds, in a chroot that shares the host's network.
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Flavour = 'debian12' | 'debian13';

export const DEBIAN13_DIR = '/var/cache/oauth2-mail-proxy/dms-debian13';
const DEBIAN13_ROOT = join(DEBIAN13_DIR, 'root');

/** DMS_FLAVOUR from the environment; anything else is a mistake worth a loud failure. */
export function flavourFromEnv(env: NodeJS.ProcessEnv = process.env): Flavour {
  const v = env.DMS_FLAVOUR ?? 'debian12';
  if (v !== 'debian12' && v !== 'debian13') throw new Error(`DMS_FLAVOUR must be debian12 or debian13, not ${JSON.stringify(v)}`);
  return v;
}

/** Why the Debian 13 backend cannot run here, or undefined when it can (a reason for t.skip). */
export function debian13Unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the Debian 13 backend runs in a chroot: needs root';
  if (!existsSync(join(DEBIAN13_DIR, 'ready'))) {
    return `no Debian 13 root at ${DEBIAN13_DIR} (scripts/install-dms-debian13.sh, run by npm pretest, could not build it)`;
  }
  return undefined;
}

/** "Dovecot 2.4.1-4 ..." as the build recorded it, for test names and reports. */
export function debian13Versions(): { dovecot: string; postfix: string } {
  const read = (f: string) => readFileSync(join(DEBIAN13_DIR, f), 'utf8').trim();
  return { dovecot: read('dovecot-version'), postfix: read('postfix-version') };
}

/** uid and gid of `user` as this flavour's programs see them (the Debian 13 root has its own passwd). */
export function flavourUser(flavour: Flavour, user: string): { uid: number; gid: number } {
  const passwd = readFileSync(flavour === 'debian12' ? '/etc/passwd' : join(DEBIAN13_ROOT, 'etc', 'passwd'), 'utf8');
  const f = passwd.split('\n').map((l) => l.split(':')).find((l) => l[0] === user);
  if (!f) throw new Error(`no user ${user} in the ${flavour} passwd file`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * The command line that runs `cmd args` for this flavour. For debian13: in a private mount
 * namespace (the mounts vanish with the last process in it, daemons included) mount /proc,
 * /dev and the host's temp dir (where the harness keeps every backend's files) into the
 * root, then chroot. Paths are the same inside and out, so configs need no translation.
 */
export function flavourCommand(flavour: Flavour, cmd: string, args: string[]): { cmd: string; args: string[] } {
  if (flavour === 'debian12') return { cmd, args };
  const reason = debian13Unavailable();
  if (reason) throw new Error(reason);
  const script = 'r=$1; t=$2; shift 2; mkdir -p "$r$t" && mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" '
    + '&& mount --bind "$t" "$r$t" && exec chroot "$r" "$@"';
  return { cmd: 'unshare', args: ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', DEBIAN13_ROOT, tmpdir(), cmd, ...args] };
}

/** Start of Dovecot's successful-login log line: 2.3 writes `Login: user=<…>`, 2.4 `Logged in: user=<…>`. */
export const DOVECOT_LOGGED_IN = '(?:Login|Logged in): ';

/** Regex source matching `user`'s login line in either flavour's dovecot.log. */
export function dovecotLoginLine(user: string): string {
  return `${DOVECOT_LOGGED_IN}user=<${user.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`;
}

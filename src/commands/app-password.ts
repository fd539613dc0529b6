// `oauth2-mail-proxy app-password list|create|revoke`: the admin's view of users' app
// passwords, where the proxy keeps them: the shared store when SHARED_STATE_URL is set
// (every replica sees a change at its next login), else the state file (APP_PASSWORDS_FILE,
// or --file; the running proxy reads it again at its next login). A secret is printed once,
// by create. Exit codes: 0 done, 1 nothing to revoke, 64 usage, 75 the store did not
// answer (try again), 78 configuration error.
import { canonicalAddress } from '../auth/address.js';
import { cleanLabel, type AppPasswordStore } from '../auth/app-passwords.js';
import { MASTER_SEPARATOR } from '../auth/master-login.js';
import { ConfigError, loadSections, readConfigFile, type RawConfig } from '../config/load.js';
import { AppPasswordFile } from '../state/app-password-file.js';
import { RedisAppPasswords } from '../state/redis-app-passwords.js';

export const APP_PASSWORD_USAGE = `usage: oauth2-mail-proxy app-password [--config FILE] [--file FILE] [--json] COMMAND
  list USER               the user's app passwords (label, created, last used, from where)
  create USER [LABEL]     a new one for USER; its secret is printed once
  revoke USER ID|--all    revokes one, or all of the user's

With SHARED_STATE_URL set the app passwords are in the shared store (Redis/Valkey) and
are managed there (--file is refused: the proxy no longer reads the file). Otherwise FILE
defaults to APP_PASSWORDS_FILE. --config FILE: the proxy's YAML file, read for those two
keys as the proxy reads it (the environment wins).`;

export interface CommandIo {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

const iso = (ms: number | undefined): string => (ms ? new Date(ms).toISOString() : '-');

export async function appPasswordCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args: string[] = [];
  let file: string | undefined;
  let configPath: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--file') file = argv[++i] ?? '';
    else if (a === '--config' || a === '-c') configPath = argv[++i] ?? '';
    else if (a.startsWith('--config=')) configPath = a.slice('--config='.length);
    else if (a.startsWith('--file=')) file = a.slice('--file='.length);
    else if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') { io.out(`${APP_PASSWORD_USAGE}\n`); return 0; }
    else args.push(a);
  }
  const [command, user, third, ...rest] = args;
  const usage = (why: string): number => { io.err(`${why}\n${APP_PASSWORD_USAGE}\n`); return 64; };
  if (!command || !user) return usage('a command and a user are required');
  // Without its name the CLI would work on what the environment alone says: maybe a state
  // file the proxy (SHARED_STATE_URL in its YAML) no longer reads.
  if (configPath !== undefined && !configPath.trim()) return usage('--config needs a file name');
  const opened = await openStore(io, file, configPath);
  if (typeof opened === 'number') return opened;
  const store = opened;
  try {
    switch (command) {
      case 'list': {
        if (third !== undefined) return usage('list takes one user');
        const list = (await store.list(user)).map(({ hash: _hash, ...r }) => r);
        if (json) io.out(`${JSON.stringify(list, null, 2)}\n`);
        // Cleaned again for the terminal: a file written by hand, or before labels were cleaned so.
        else for (const r of list) io.out(`${r.id}  ${JSON.stringify(cleanLabel(r.label))}  created ${iso(r.createdAt)}  last used ${iso(r.lastUsedAt)}${r.lastUsedAt ? ` from ${r.lastAddress} (${r.lastProtocol})` : ''}\n`);
        if (!json && list.length === 0) io.out(`no app passwords for ${user}\n`);
        return 0;
      }
      case 'create': {
        // A name no login can match (a blank, a control character, non-ASCII, Dovecot's master
        // separator) would get a secret that never works: refuse it, as the token logins do (claims.ts).
        if (user.includes(MASTER_SEPARATOR) || !canonicalAddress(user)) return usage(`${JSON.stringify(user)} is not a mailbox address (ASCII local@domain)`);
        const { record, secret } = await store.create(user, [third, ...rest].filter(Boolean).join(' '));
        io.out(json ? `${JSON.stringify({ id: record.id, label: record.label, secret })}\n` : `${record.id}  ${JSON.stringify(record.label)}\napp password (shown once): ${secret}\n`);
        return 0;
      }
      case 'revoke': {
        if (!third || rest.length) return usage('revoke takes a user and an id, or --all');
        const n = await store.revoke(user, third === '--all' ? 'all' : third);
        io.out(`revoked ${n}\n`);
        return n > 0 ? 0 : 1;
      }
      default:
        return usage(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ERR_APP_PASSWORDS_UNAVAILABLE' && code !== 'ERR_APP_PASSWORDS_FILE') throw err;
    io.err(`${(err as Error).message}\n`);
    return code === 'ERR_APP_PASSWORDS_FILE' ? 78 : 75; // EX_CONFIG, EX_TEMPFAIL
  } finally {
    await store.close();
  }
}

/** The store the proxy uses with this environment, or the exit code that says why there is none. */
async function openStore(io: CommandIo, file: string | undefined, configPath: string | undefined): Promise<AppPasswordStore | number> {
  let shared;
  let raw: RawConfig = {};
  try {
    // The proxy's own YAML, read as the proxy reads it: the store is where the proxy looks.
    if (configPath !== undefined) raw = readConfigFile(configPath);
    shared = loadSections(io.env, raw, ['sharedState']).sharedState.sharedState;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${err.message}\n`);
    return 78;
  }
  if (shared) {
    if (file !== undefined) { io.err('SHARED_STATE_URL is set: the app passwords are in the shared store, not in --file\n'); return 64; }
    return RedisAppPasswords.open(shared);
  }
  const path = file ?? io.env.APP_PASSWORDS_FILE ?? raw.APP_PASSWORDS_FILE ?? '';
  if (!path) { io.err('APP_PASSWORDS_FILE is not set (or pass --file FILE)\n'); return 78; }
  return AppPasswordFile.open(path).catch((err: Error & { code?: string }) => {
    if (err.code !== 'ERR_APP_PASSWORDS_FILE') throw err;
    io.err(`${err.message}\n`);
    return 78; // EX_CONFIG
  });
}

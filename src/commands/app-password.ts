// `oauth2-mail-proxy app-password list|create|revoke`: the admin's view of users' app
// passwords, on the same state file the proxy reads (APP_PASSWORDS_FILE, or --file). The
// running proxy picks changes up within about a second. A secret is printed once, by create.
// Exit codes: 0 done, 1 nothing to revoke, 64 usage, 78 configuration error.
import { AppPasswordFile } from '../state/app-password-file.js';

export const APP_PASSWORD_USAGE = `usage: oauth2-mail-proxy app-password [--file FILE] [--json] COMMAND
  list USER               the user's app passwords (label, created, last used, from where)
  create USER [LABEL]     a new one for USER; its secret is printed once
  revoke USER ID|--all    revokes one, or all of the user's

FILE defaults to APP_PASSWORDS_FILE.`;

export interface CommandIo {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

const iso = (ms: number | undefined): string => (ms ? new Date(ms).toISOString() : '-');

export async function appPasswordCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const args: string[] = [];
  let file = io.env.APP_PASSWORDS_FILE ?? '';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--file') file = argv[++i] ?? '';
    else if (a.startsWith('--file=')) file = a.slice('--file='.length);
    else if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') { io.out(`${APP_PASSWORD_USAGE}\n`); return 0; }
    else args.push(a);
  }
  const [command, user, third, ...rest] = args;
  const usage = (why: string): number => { io.err(`${why}\n${APP_PASSWORD_USAGE}\n`); return 64; };
  if (!command || !user) return usage('a command and a user are required');
  if (!file) { io.err('APP_PASSWORDS_FILE is not set (or pass --file FILE)\n'); return 78; }
  const store = await AppPasswordFile.open(file);
  try {
    switch (command) {
      case 'list': {
        if (third !== undefined) return usage('list takes one user');
        const list = store.list(user).map(({ hash: _hash, ...r }) => r);
        if (json) io.out(`${JSON.stringify(list, null, 2)}\n`);
        else for (const r of list) io.out(`${r.id}  ${JSON.stringify(r.label)}  created ${iso(r.createdAt)}  last used ${iso(r.lastUsedAt)}${r.lastUsedAt ? ` from ${r.lastAddress} (${r.lastProtocol})` : ''}\n`);
        if (!json && list.length === 0) io.out(`no app passwords for ${user}\n`);
        return 0;
      }
      case 'create': {
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
  } finally {
    await store.close();
  }
}

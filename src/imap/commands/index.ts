// The pre-auth command table: which commands exist before login. Anything else is an
// unknown command (or one that needs a login first) and counts toward the budget.
import { authenticate } from './authenticate.js';
import type { CommandHandler } from './context.js';
import { id } from './id.js';
import { login } from './login.js';
import { capability, logout, noop, starttls } from './simple.js';

export const PREAUTH_COMMANDS: ReadonlyMap<string, CommandHandler> = new Map([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['LOGOUT', logout],
  ['ID', id],
  ['STARTTLS', starttls],
  ['AUTHENTICATE', authenticate],
  ['LOGIN', login],
]);

/** Commands a client may send only after login: a clear NO instead of "unknown". */
export const POSTAUTH_COMMANDS = new Set([
  'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LIST', 'LSUB', 'NAMESPACE',
  'STATUS', 'APPEND', 'IDLE', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE', 'UID', 'GETQUOTAROOT',
]);

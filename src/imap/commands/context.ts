// What a command handler may do. Handlers never touch the socket: the session writes,
// reads continuations, upgrades TLS and logs in (STYLE: wildduck imap-core).
import type { SaslCredentials, SaslMechanism } from '../../auth/sasl/types.js';
import type { ImapCommand } from '../parser.js';

export interface ImapContext {
  readonly secure: boolean;
  readonly canStartTls: boolean;
  readonly allowPlaintextAuth: boolean;
  send(line: string): void;
  reply(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: string): void;
  /** Sends `+ prompt` and returns the client's next line; null when it cancelled with `*`. */
  continuation(prompt: string): Promise<Buffer | null>;
  /** Counts an invalid command toward the bad-command budget. */
  bad(tag: string, text: string, code?: string): void;
  /** A login the handler found malformed: counted, logged and answered as a failed login. */
  authFailed(tag: string, mechanism: string, reason: string): Promise<void>;
  startTls(tag: string): void;
  logout(tag: string): void;
  setClientId(fields: ReadonlyArray<readonly [string, string]>): void;
  /** The SASL exchange (`initial`: the SASL-IR response), then as login(). Nothing more is read until it has replied. */
  authenticate(tag: string, mechanism: SaslMechanism, initial: string | undefined): void;
  /** Decides on the credentials, logs in to the backend, and replies (or splices). Nothing more is read until then. */
  login(tag: string, creds: SaslCredentials): void;
}

export type CommandHandler = (ctx: ImapContext, cmd: ImapCommand) => void | Promise<void>;

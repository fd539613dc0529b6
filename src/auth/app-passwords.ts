// App passwords: random secrets a user makes for a client that cannot do OAuth (most phone
// clients, Apple Mail), checked by the proxy itself. The proxy then logs in to DMS with the
// master account; an app password never reaches Dovecot.
//
// The secret is 100 random bits, so the hash needs no work factor to resist guessing: scrypt
// with a small cost keeps a stolen state file useless and a check cheap (a few ms). Every
// app password of the user is checked, with no early exit, and a user with none costs one
// dummy check: whether a password is an app password or a DMS password shows in no timing.
import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { MAX_APP_PASSWORD_LABEL_CHARS } from '../limits.js';

/** What the store keeps of one app password (never the secret). */
export interface AppPasswordRecord {
  readonly id: string;
  readonly user: string;
  readonly label: string;
  readonly createdAt: number;
  readonly hash: string;
  lastUsedAt?: number;
  lastAddress?: string;
  lastProtocol?: string;
}

/**
 * Where app passwords live: a state file (one instance), or the shared store of the replicas
 * (issue 20: src/state/redis-app-passwords.ts). Every call may wait on I/O; a store that does
 * not answer rejects with AppPasswordsUnavailableError (a login then fails closed, as
 * temporarily unavailable, never as a wrong password).
 */
export interface AppPasswordStore {
  /** The user's app passwords (ASCII case-insensitive user), oldest first. */
  list(user: string): Promise<readonly AppPasswordRecord[]>;
  /** Makes one; the secret is returned once and never stored. */
  create(user: string, label: string): Promise<{ readonly record: AppPasswordRecord; readonly secret: string }>;
  /** Revokes one (`id`) or all (`'all'`); resolves with how many were revoked. */
  revoke(user: string, id: string | 'all'): Promise<number>;
  /** A successful login with `id`: kept in memory, written in batches (no write per login). */
  used(id: string, at: number, address: string, protocol: string): void;
  /** Writes pending last-used data and lets go of the store. */
  close(): Promise<void>;
  /**
   * Calls `fn` whenever app passwords are revoked, by any caller (CLI, portal, SCIM deletion),
   * here or on another replica, so that the sessions that logged in with them end too. The
   * store starts following outside changes at the first call; returns the unsubscribe.
   */
  onRevoked(fn: RevokedListener): () => void;
}

/** `ids`: the revoked ids, or 'all' (every app password of `user`, lower case). */
export type RevokedListener = (user: string, ids: readonly string[] | 'all') => void;

/** The listeners of a store's revocations; a listener's fault never reaches the store's caller. */
export class RevokedListeners {
  private readonly fns = new Set<RevokedListener>();

  get size(): number { return this.fns.size; }

  add(fn: RevokedListener): () => void {
    this.fns.add(fn);
    return () => { this.fns.delete(fn); };
  }

  tell(user: string, ids: readonly string[] | 'all'): void {
    if (ids !== 'all' && ids.length === 0) return;
    for (const fn of this.fns) {
      try {
        fn(user, ids);
      } catch {
        // a session that cannot be ended now ends with its connection; the revocation stands
      }
    }
  }
}

/** The store did not answer (in time): nothing can be said about the user's app passwords. */
export class AppPasswordsUnavailableError extends Error {
  readonly code = 'ERR_APP_PASSWORDS_UNAVAILABLE';
}

export class AppPasswordLimitError extends Error {
  readonly code = 'ERR_APP_PASSWORD_LIMIT';
}

/**
 * What a label may not hold: it is shown in the admin's terminal (`app-password list`) and in
 * the portal. Cc: C0 and C1 controls (U+009B and U+009D are CSI and OSC to a terminal, as
 * ESC [ and ESC ]); Cf: format characters (bidi overrides and isolates that make a label
 * read backwards, zero-width characters); Zl, Zp: line breaks; Cs: half a surrogate pair.
 * The joiners U+200C and U+200D stay: Persian words and emoji sequences are written with them.
 */
const HIDDEN = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}]|(?![\u200c\u200d])\p{Cf}/gu;

/** A label as stored: only characters that show, trimmed, at most MAX_APP_PASSWORD_LABEL_CHARS characters (never half of one). */
export function cleanLabel(label: string): string {
  const kept = [...label.replace(HIDDEN, '').trim()].slice(0, MAX_APP_PASSWORD_LABEL_CHARS).join('').trim();
  // Joiners only join: a label with nothing else to show is no label.
  return /[^\s\u200c\u200d]/u.test(kept) ? kept : 'App password';
}

// 32 letters and digits without 0/O, 1/I/L, so that a secret read off a screen is typed right.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 5;
const GROUP_CHARS = 4;

/** `xxxx-xxxx-xxxx-xxxx-xxxx`: 20 characters of a 31-letter alphabet, about 99 bits. */
export function generateAppPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let s = '';
    for (let i = 0; i < GROUP_CHARS; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(s);
  }
  return groups.join('-');
}

/** What a user typed, in the form it was generated in (case and separators forgiven). */
export function normalizeAppPassword(typed: string): string | null {
  const chars = typed.toLowerCase().replace(/[\s-]/g, '');
  if (chars.length !== GROUPS * GROUP_CHARS || [...chars].some((c) => !ALPHABET.includes(c))) return null;
  return chars.match(new RegExp(`.{${GROUP_CHARS}}`, 'g'))!.join('-');
}

const COST: ScryptOptions = { N: 4096, r: 8, p: 1 };
const KEY_BYTES = 32;

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, KEY_BYTES, COST, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashAppPassword(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const DUMMY = { salt: randomBytes(16), key: randomBytes(KEY_BYTES) };

/**
 * The record `password` matches among `records`, or undefined. Every record is checked (a
 * malformed hash against a dummy), and no record at all costs one dummy check.
 */
export async function matchAppPassword(password: string, records: readonly AppPasswordRecord[]): Promise<AppPasswordRecord | undefined> {
  const secret = normalizeAppPassword(password) ?? password;
  const parsed = records.map((r) => ({ r, h: parseHash(r.hash) }));
  if (parsed.length === 0) parsed.push({ r: undefined as never, h: null });
  const keys = await Promise.all(parsed.map(({ h }) => scrypt(secret, h?.salt ?? DUMMY.salt)));
  let hit: AppPasswordRecord | undefined;
  parsed.forEach(({ r, h }, i) => {
    const same = timingSafeEqual(keys[i]!, h?.key ?? DUMMY.key);
    if (same && h && !hit) hit = r;
  });
  return hit;
}

function parseHash(hash: string): { salt: Buffer; key: Buffer } | null {
  const m = /^scrypt\$4096\$8\$1\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return null;
  const key = Buffer.from(m[2]!, 'base64');
  return key.length === KEY_BYTES ? { salt: Buffer.from(m[1]!, 'base64'), key } : null;
}

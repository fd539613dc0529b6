// SHA512-CRYPT ($6$), the glibc crypt(3) scheme DMS writes into postfix-accounts.cf
// (`setup email add` runs `doveadm pw -s SHA512-CRYPT`). Implemented here instead of
// shelling out to doveadm: the proxy's image has no Dovecot, a child process per SCIM
// request is slow and one more failure mode, and the algorithm is fully specified
// (Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512", 2007). Tested against
// `openssl passwd -6` and `doveadm pw -t` in test/scim/sha512-crypt.test.ts.
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;
const MAX_SALT_CHARS = 16;

// The spec's byte order for the final base64 encoding: 21 triples, then byte 63.
const ORDER: ReadonlyArray<readonly [number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

const sha512 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** `length` bytes of `block` repeated (the spec's P and S sequences). */
function stretch(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length) block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

function encode64(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < chars; i++, w >>= 6) s += ALPHABET[w & 0x3f];
  return s;
}

/**
 * crypt(3) with a `$6$[rounds=N$]salt` setting: returns `$6$[rounds=N$]salt$hash`.
 * Without a setting a random 16-character salt and the default 5000 rounds are used.
 */
export function sha512Crypt(password: string | Buffer, setting?: string): string {
  const p = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  let rounds = DEFAULT_ROUNDS;
  let customRounds = false;
  let saltText: string;
  if (setting === undefined) {
    saltText = randomSalt();
  } else {
    const m = /^\$6\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
    if (!m) throw new Error('not a $6$ setting');
    if (m[1] !== undefined) {
      customRounds = true;
      rounds = Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Number(m[1])));
    }
    saltText = m[2]!.slice(0, MAX_SALT_CHARS);
  }
  const s = Buffer.from(saltText, 'utf8');

  const b = sha512(p, s, p);
  const a = createHash('sha512').update(p).update(s);
  let n = p.length;
  for (; n > 64; n -= 64) a.update(b);
  a.update(b.subarray(0, n));
  for (n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let c = a.digest();

  const dp = createHash('sha512');
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pSeq = stretch(dp.digest(), p.length);
  const ds = createHash('sha512');
  for (let i = 0; i < 16 + c[0]!; i++) ds.update(s);
  const sSeq = stretch(ds.digest(), s.length);

  for (let r = 0; r < rounds; r++) {
    const h = createHash('sha512');
    h.update(r & 1 ? pSeq : c);
    if (r % 3) h.update(sSeq);
    if (r % 7) h.update(pSeq);
    h.update(r & 1 ? c : pSeq);
    c = h.digest();
  }

  let out = '';
  for (const [x, y, z] of ORDER) out += encode64(c[x]!, c[y]!, c[z]!, 4);
  out += encode64(0, 0, c[63]!, 2);
  return `$6$${customRounds ? `rounds=${rounds}$` : ''}${saltText}$${out}`;
}

/** True when `password` hashes to `hash` (a `$6$...` string), compared in full. */
export function verifySha512Crypt(password: string, hash: string): boolean {
  return sha512Crypt(password, hash) === hash;
}

function randomSalt(): string {
  const bytes = randomBytes(MAX_SALT_CHARS);
  let s = '';
  for (const byte of bytes) s += ALPHABET[byte & 0x3f];
  return s;
}

/**
 * The postfix-accounts.cf password of an OAuth-only user: the hash of 32 random bytes that
 * are thrown away at once, so no password login can ever match it, while every DMS tool
 * (doveadm, setup email update) still sees a well-formed SHA512-CRYPT entry.
 */
export function unusablePasswordHash(): string {
  return `{SHA512-CRYPT}${sha512Crypt(randomBytes(32).toString('base64url'))}`;
}

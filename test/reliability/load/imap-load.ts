// Raw-socket IMAP load: login/logout cycles and IDLE sessions, over implicit TLS, with a
// token (XOAUTH2) or a password (LOGIN). Every read is bounded.
import { RawClient, xoauth2 } from '../../harness/raw-imap.js';

export type Credential =
  | { readonly kind: 'token'; readonly user: string; readonly token: string }
  | { readonly kind: 'password'; readonly user: string; readonly password: string };

export interface ImapTarget { readonly port: number; readonly ca: string; readonly localAddress?: string }

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

async function login(c: RawClient, cred: Credential, timeoutMs: number): Promise<void> {
  const greeting = await c.line(timeoutMs);
  if (!greeting.startsWith('* OK')) throw new Error(`greeting: ${greeting.slice(0, 120)}`);
  const r = cred.kind === 'token'
    ? await c.command(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(cred.user, cred.token)}`, timeoutMs)
    : await c.command(`a1 LOGIN ${quote(cred.user)} ${quote(cred.password)}`, timeoutMs);
  if (!r.tagged.startsWith('a1 OK')) throw new Error(`login: ${r.tagged.slice(0, 120)}`);
}

/** connect → login → LOGOUT → server closes. Throws with what went wrong. */
export async function loginCycle(t: ImapTarget, cred: Credential, timeoutMs = 15_000): Promise<void> {
  const c = await RawClient.connect(t.port, { implicitTls: true, ca: t.ca, ...(t.localAddress ? { localAddress: t.localAddress } : {}) });
  try {
    await login(c, cred, timeoutMs);
    const bye = await c.command('a2 LOGOUT', timeoutMs);
    if (!bye.tagged.startsWith('a2 OK')) throw new Error(`logout: ${bye.tagged.slice(0, 120)}`);
    await Promise.race([c.closedPromise, new Promise((r) => setTimeout(r, timeoutMs))]);
  } finally {
    c.close();
  }
}

export interface IdleSession {
  readonly client: RawClient;
  readonly user: string;
  /** Waits for an untagged `* N EXISTS` while idling. */
  sawExists(timeoutMs: number): Promise<boolean>;
  /** DONE, then LOGOUT; true if both were answered OK. */
  finish(timeoutMs?: number): Promise<boolean>;
}

/** connect → login → SELECT INBOX → IDLE, resolved at the `+ idling` continuation. */
export async function openIdle(t: ImapTarget, cred: Credential, timeoutMs = 30_000): Promise<IdleSession> {
  const c = await RawClient.connect(t.port, { implicitTls: true, ca: t.ca, ...(t.localAddress ? { localAddress: t.localAddress } : {}) });
  try {
    await login(c, cred, timeoutMs);
    const sel = await c.command('a2 SELECT INBOX', timeoutMs);
    if (!sel.tagged.startsWith('a2 OK')) throw new Error(`select: ${sel.tagged.slice(0, 120)}`);
    c.write('a3 IDLE\r\n');
    const plus = await c.line(timeoutMs);
    if (!plus.startsWith('+')) throw new Error(`idle: ${plus.slice(0, 120)}`);
  } catch (e) {
    c.close();
    throw e;
  }
  const seen: string[] = [];
  return {
    client: c,
    user: cred.user,
    async sawExists(ms) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (seen.some((l) => / EXISTS$/.test(l))) return true;
        try { seen.push(await c.line(Math.max(1, deadline - Date.now()))); } catch { return false; }
      }
      return seen.some((l) => / EXISTS$/.test(l));
    },
    async finish(ms = 15_000) {
      try {
        c.write('DONE\r\n');
        const done = await c.until('a3', ms);
        const bye = await c.command('a4 LOGOUT', ms);
        return done.tagged.startsWith('a3 OK') && bye.tagged.startsWith('a4 OK');
      } catch {
        return false;
      } finally {
        c.close();
      }
    },
  };
}

/** Runs `count` jobs with at most `concurrency` at once; returns the errors (by message). */
export async function runPool(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<Map<string, number>> {
  const errors = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      try {
        await job(i);
      } catch (e) {
        const k = (e as Error).message.replace(/\d+/g, 'N').slice(0, 100);
        errors.set(k, (errors.get(k) ?? 0) + 1);
      }
    }
  }));
  return errors;
}

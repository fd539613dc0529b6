// A submission client that behaves like an MTA client: each message has a unique
// Message-ID, a transaction that fails before the final 250 is retried (up to maxAttempts)
// on a fresh connection, and every attempt's ending is recorded so the accounting can tell
// a lost message from the classic SMTP duplicate window (RFC 5321 §6.1: the server may have
// taken responsibility for a message whose 250 never reached the client).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawSmtp, xoauth2Ir } from '../../harness/raw-smtp.js';

export type AttemptEnd =
  /** 250 after the final dot. */
  | 'acked'
  /** Connect, greeting, EHLO or AUTH failed or was refused: nothing of the message was sent. */
  | 'no-session'
  /** MAIL, RCPT or DATA refused, or the connection dropped before the final dot was written. */
  | 'failed-before-dot'
  /** The final dot was written but no reply came (connection lost or timed out): the server may have queued it. */
  | 'dropped-after-dot'
  /** A definite non-250 reply to the final dot: the server did not take the message. */
  | 'refused-after-dot';

export interface MessageRecord {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly attempts: AttemptEnd[];
  acked: boolean;
}

export interface SubmitterOptions {
  readonly port: number;
  readonly ca: string;
  /** Senders; worker w sends as senders[w % n] to the next sender in the list. */
  readonly senders: ReadonlyArray<{ readonly email: string; readonly token: string }>;
  readonly count: number;
  readonly workers: number;
  readonly maxAttempts: number;
  readonly localAddress?: (worker: number) => string;
  /** Probability that the client drops its own connection right after writing the final dot. */
  readonly dropAfterDot?: number;
  readonly replyTimeoutMs?: number;
}

class Dropped extends Error {}

export class Submitter {
  readonly records: MessageRecord[] = [];
  /** Open client connections, for a chaos loop to pick from. */
  readonly live = new Set<RawSmtp>();
  readonly runId = randomBytes(4).toString('hex');
  private readonly timeoutMs: number;

  constructor(private readonly o: SubmitterOptions) {
    this.timeoutMs = o.replyTimeoutMs ?? 15_000;
    for (let i = 0; i < o.count; i++) {
      const w = i % o.workers;
      const from = o.senders[w % o.senders.length]!.email;
      const to = o.senders[(w + 1) % o.senders.length]!.email;
      this.records.push({ id: `load-${this.runId}-${i}@client.example.test`, from, to, attempts: [], acked: false });
    }
  }

  get settled(): number {
    return this.records.filter((r) => r.acked || r.attempts.length >= this.o.maxAttempts).length;
  }

  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.o.workers }, (_, w) => this.worker(w)));
  }

  private async worker(w: number): Promise<void> {
    const sender = this.o.senders[w % this.o.senders.length]!;
    let session: RawSmtp | null = null;
    for (let i = w; i < this.records.length; i += this.o.workers) {
      const rec = this.records[i]!;
      while (!rec.acked && rec.attempts.length < this.o.maxAttempts) {
        if (rec.attempts.length > 0) await sleep(Math.min(2000, 100 * 2 ** rec.attempts.length));
        if (!session || session.closed) {
          session?.close();
          session = await this.open(w, sender).catch(() => null);
          if (!session) { rec.attempts.push('no-session'); continue; }
        }
        const end = await this.transaction(session, rec);
        rec.attempts.push(end);
        if (end === 'acked') rec.acked = true;
        else { this.forget(session); session.close(); session = null; }
      }
    }
    if (session) { this.forget(session); await session.quit(); }
  }

  private forget(c: RawSmtp): void {
    this.live.delete(c);
  }

  private async open(w: number, sender: { email: string; token: string }): Promise<RawSmtp> {
    const local = this.o.localAddress?.(w);
    const c = await RawSmtp.connect(this.o.port, { implicitTls: true, ca: this.o.ca, timeoutMs: this.timeoutMs, ...(local ? { localAddress: local } : {}) });
    this.live.add(c);
    void c.closedPromise.then(() => this.forget(c));
    try {
      const expect = async (p: Promise<{ code: number; raw: string }>, code: number, what: string): Promise<void> => {
        const r = await p;
        if (r.code !== code) throw new Error(`${what}: ${r.raw.slice(0, 120)}`);
      };
      await expect(c.reply(this.timeoutMs), 220, 'greeting');
      await expect(c.ehlo('client.example.test', this.timeoutMs), 250, 'EHLO');
      await expect(c.command(`AUTH XOAUTH2 ${xoauth2Ir(sender.email, sender.token)}`, this.timeoutMs), 235, 'AUTH');
      return c;
    } catch (e) {
      this.forget(c);
      c.close();
      throw e;
    }
  }

  private async transaction(c: RawSmtp, rec: MessageRecord): Promise<AttemptEnd> {
    try {
      const step = async (line: string, want: number): Promise<void> => {
        if (c.closed) throw new Dropped();
        const r = await c.command(line, this.timeoutMs);
        if (r.code !== want) throw new Error(`${line.split(' ')[0]}: ${r.code}`);
      };
      await step(`MAIL FROM:<${rec.from}>`, 250);
      await step(`RCPT TO:<${rec.to}>`, 250);
      await step('DATA', 354);
      if (c.closed) return 'failed-before-dot';
    } catch {
      return 'failed-before-dot';
    }
    await c.write(messageText(rec));
    if (this.o.dropAfterDot && Math.random() < this.o.dropAfterDot) {
      c.close();
      return 'dropped-after-dot';
    }
    try {
      const r = await c.reply(this.timeoutMs);
      return r.code === 250 ? 'acked' : 'refused-after-dot';
    } catch {
      return 'dropped-after-dot';
    }
  }
}

function messageText(rec: MessageRecord): string {
  const body = Array.from({ length: 20 }, (_, k) => `line ${k} of ${rec.id} ${'x'.repeat(40)}`).join('\r\n');
  return [
    `From: <${rec.from}>`, `To: <${rec.to}>`, `Subject: load ${rec.id}`, `Message-ID: <${rec.id}>`,
    `Date: ${new Date().toUTCString()}`, '', body, '.', '',
  ].join('\r\n');
}

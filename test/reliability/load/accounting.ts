// The no-mail-lost accounting: what the client was told (per attempt) against what is in
// the mailboxes. A message acknowledged with 250 must be there exactly once, unless an
// earlier attempt of it ended in the duplicate window (final dot written, no reply), which
// explains one extra copy each. A message never acknowledged may be there only through such
// an attempt.
//
// With `queued` (distinct Postfix queue ids per message, from its log), submissions and
// deliveries are told apart: every copy beyond the number of queue ids is Postfix handing
// one queued message to LMTP again because it was restarted before it recorded the first
// delivery (an MTA's at-least-once delivery, which no front proxy can cause or prevent).
// Those are counted on their own row; every *submission* must still be explained by the
// client's attempts, and nothing acknowledged may be missing.
import type { AttemptEnd, MessageRecord } from './submitter.js';

export interface Accounting {
  readonly rows: ReadonlyArray<readonly [string, number]>;
  readonly attempts: ReadonlyMap<AttemptEnd, number>;
  /** Messages whose fate the rules do not explain (each with the reason). */
  readonly violations: string[];
  readonly acked: number;
  readonly missing: number;
}

export function account(records: readonly MessageRecord[], delivered: ReadonlyMap<string, number>, queued?: ReadonlyMap<string, number>): Accounting {
  const c = { ackedOnce: 0, ackedDupExplained: 0, missing: 0, unackedDelivered: 0, unackedAbsent: 0, retried: 0, redelivered: 0 };
  const violations: string[] = [];
  const attempts = new Map<AttemptEnd, number>();
  const known = new Set<string>();
  for (const r of records) {
    known.add(r.id);
    for (const a of r.attempts) attempts.set(a, (attempts.get(a) ?? 0) + 1);
    if (r.attempts.length > 1) c.retried += 1;
    const inMailbox = delivered.get(r.id) ?? 0;
    const submissions = queued?.get(r.id);
    // Copies beyond the queue ids: one queued message delivered again by Postfix itself.
    const copies = submissions !== undefined && inMailbox > submissions && submissions > 0 ? submissions : inMailbox;
    if (copies < inMailbox) c.redelivered += inMailbox - copies;
    const uncertain = r.attempts.filter((a) => a === 'dropped-after-dot').length;
    if (r.acked) {
      if (copies === 0) { c.missing += 1; violations.push(`${r.id}: acknowledged but missing (${r.attempts.join(',')})`); }
      else if (copies === 1) c.ackedOnce += 1;
      else if (copies - 1 <= uncertain) c.ackedDupExplained += 1;
      else violations.push(`${r.id}: ${copies} copies, only ${uncertain} unanswered attempt(s) (${r.attempts.join(',')})`);
    } else if (copies === 0) c.unackedAbsent += 1;
    else if (copies <= uncertain) c.unackedDelivered += 1;
    else violations.push(`${r.id}: never acknowledged, ${copies} copies, ${uncertain} unanswered attempt(s) (${r.attempts.join(',')})`);
  }
  for (const id of delivered.keys()) if (!known.has(id)) violations.push(`${id}: delivered but never sent`);
  const acked = records.filter((r) => r.acked).length;
  return {
    rows: [
      ['messages', records.length],
      ['acknowledged (250)', acked],
      ['  delivered exactly once', c.ackedOnce],
      ['  duplicates explained by an unanswered earlier attempt', c.ackedDupExplained],
      ['  MISSING', c.missing],
      ['  extra copies from Postfix redelivering one queued message after its restart', c.redelivered],
      ['not acknowledged', records.length - acked],
      ['  delivered anyway (final dot sent, reply lost)', c.unackedDelivered],
      ['  absent (client gave up)', c.unackedAbsent],
      ['messages that needed a retry', c.retried],
      ['unexplained (duplicates or deliveries)', violations.length - c.missing],
    ],
    attempts,
    violations,
    acked,
    missing: c.missing,
  };
}

export function formatAccounting(title: string, a: Accounting): string {
  const w = Math.max(...a.rows.map(([k]) => k.length));
  const lines = [title, ...a.rows.map(([k, v]) => `  ${k.padEnd(w)}  ${String(v).padStart(6)}`)];
  lines.push(`  attempts by ending: ${[...a.attempts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return lines.join('\n');
}

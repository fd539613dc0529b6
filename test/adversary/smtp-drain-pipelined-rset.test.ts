// Adversary finding: the SMTP transaction tracker (src/smtp/transaction-tracker.ts) decides
// when a drain (shutdown, SCIM deactivation, app password revoked) may write 421 and close a
// spliced submission session: "only between transactions". It opened the transaction when it
// saw MAIL go by but closed it when the reply to an earlier RSET (or to a refused MAIL) came
// back. A PIPELINING client (RFC 2920) that sends its next message as `RSET`, `MAIL FROM`,
// `RCPT TO` in one group (what a client does after a rejected recipient or between two
// messages) gets the three replies, and the tracker then takes the session as idle although
// Postfix has an open transaction: the drain ends it with 421 between RCPT and DATA, the
// very case the tracker exists to prevent. Same for `MAIL` pipelined behind a `MAIL` that
// Postfix refuses as nested (503): the refusal of the second closed the first.
// The tracker is fed as the command guard feeds it (guarded-forward.ts): commands as passed
// on, Postfix's replies in order; the replies below are Postfix 3.7's.
import t from 'tap';
import { SmtpTransactionTracker } from '../../src/smtp/transaction-tracker.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('RSET, MAIL, RCPT pipelined: the transaction opened by MAIL stays open after RSET is answered', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('RSET\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n'));
  tr.fromServer(b('250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n'));
  t.notOk(tr.idle, 'MAIL and RCPT accepted: inside a transaction, no 421 now');
  let fired = false;
  tr.whenIdle(() => { fired = true; });
  tr.fromClient(b('DATA\r\n'));
  tr.fromServer(b('354 End data with <CR><LF>.<CR><LF>\r\n'));
  tr.fromClient(b('Subject: x\r\n\r\nhello\r\n.\r\n'));
  t.notOk(fired, 'not idle before the message is answered');
  tr.fromServer(b('250 2.0.0 Ok: queued as ABC\r\n'));
  t.ok(fired, 'idle once the message is queued');
});

t.test('MAIL pipelined behind MAIL: the nested one refused (503) leaves the first transaction open', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('MAIL FROM:<alice@example.test>\r\nMAIL FROM:<alice@example.test>\r\n'));
  tr.fromServer(b('250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n'));
  t.notOk(tr.idle, 'the first MAIL opened a transaction Postfix still has');
});

t.test('a refused MAIL after RSET still leaves no transaction open', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('RSET\r\nMAIL FROM:<bad\r\n'));
  tr.fromServer(b('250 2.0.0 Ok\r\n501 5.1.7 Bad sender address syntax\r\n'));
  t.ok(tr.idle, 'RSET, then a refused MAIL: between transactions');
});

// The SMTP transaction tracker decides when shutdown may close a spliced session: only
// between transactions, never inside DATA. Fed with plain bytes, split every way.
import t from 'tap';
import { SmtpTransactionTracker } from '../../src/smtp/transaction-tracker.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function feedSplit(tr: SmtpTransactionTracker, s: string, size: number): void {
  for (let i = 0; i < s.length; i += size) tr.fromClient(b(s.slice(i, i + size)));
}

t.test('a whole transaction: busy from MAIL until the 250 after the final dot', async (t) => {
  const tr = new SmtpTransactionTracker();
  t.ok(tr.idle, 'idle after AUTH');
  tr.fromClient(b('MAIL FROM:<a@x>\r\n'));
  t.notOk(tr.idle);
  tr.fromServer(b('250 2.1.0 Ok\r\n'));
  t.notOk(tr.idle, 'MAIL accepted: inside a transaction');
  tr.fromClient(b('RCPT TO:<b@x>\r\n'));
  tr.fromServer(b('250 2.1.5 Ok\r\n'));
  tr.fromClient(b('DATA\r\n'));
  tr.fromServer(b('354 End data with <CR><LF>.<CR><LF>\r\n'));
  tr.fromClient(b('Subject: x\r\n\r\nhello\r\n'));
  t.notOk(tr.idle, 'in DATA');
  tr.fromClient(b('.\r\n'));
  t.notOk(tr.idle, 'final dot sent, reply pending');
  let fired = 0;
  tr.whenIdle(() => { fired += 1; });
  tr.fromServer(b('250 2.0.0 Ok: queued as ABC\r\n'));
  t.ok(tr.idle, 'idle after the 250');
  t.equal(fired, 1, 'whenIdle fired once');
});

t.test('the terminator split across chunks of every size, dot-stuffed lines inside', async (t) => {
  const body = 'DATA\r\nSubject: y\r\n\r\n..not the end\r\n.. \r\nlast\r\n.\r\n';
  for (let size = 1; size <= 8; size++) {
    const tr = new SmtpTransactionTracker();
    tr.fromClient(b('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n'));
    tr.fromServer(b('250 ok\r\n250 ok\r\n'));
    feedSplit(tr, body, size);
    tr.fromServer(b('354 go\r\n'));
    t.notOk(tr.idle, `size ${size}: waiting for the 250`);
    tr.fromServer(b('250 queued\r\n'));
    t.ok(tr.idle, `size ${size}: terminator found`);
  }
});

t.test('"." not at a line start does not end DATA', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n'));
  tr.fromServer(b('250 ok\r\n250 ok\r\n354 go\r\n'));
  tr.fromClient(b('text.\r\nmore .\r\n'));
  tr.fromServer(b('')); // nothing
  t.notOk(tr.idle);
});

t.test('empty body: DATA then the dot line right away', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('MAIL FROM:<a@x>\r\n'));
  tr.fromServer(b('250 ok\r\n'));
  tr.fromClient(b('DATA\r\n'));
  tr.fromServer(b('354 go\r\n'));
  tr.fromClient(b('.\r\n'));
  tr.fromServer(b('250 queued\r\n'));
  t.ok(tr.idle);
});

t.test('DATA refused (no valid recipients): no body follows, RSET ends the transaction', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('MAIL FROM:<a@x>\r\nRCPT TO:<nobody@x>\r\nDATA\r\n'));
  tr.fromServer(b('250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n'));
  t.notOk(tr.idle, 'MAIL still open');
  tr.fromClient(b('RSET\r\n'));
  tr.fromServer(b('250 2.0.0 Ok\r\n'));
  t.ok(tr.idle);
});

t.test('refused MAIL, multi-line replies, pipelined commands after the dot', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('MAIL FROM:<a@x>\r\n'));
  tr.fromServer(b('553 5.7.1 sender rejected\r\n'));
  t.ok(tr.idle, 'refused MAIL opens no transaction');
  tr.fromClient(b('EHLO x\r\n'));
  tr.fromServer(b('250-host\r\n250-PIPELINING\r\n'));
  t.notOk(tr.idle, 'multi-line reply not finished');
  tr.fromServer(b('250 SIZE 100\r\n'));
  t.ok(tr.idle);
  tr.fromClient(b('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n'));
  tr.fromServer(b('250 ok\r\n250 ok\r\n354 go\r\n'));
  tr.fromClient(b('body\r\n.\r\nNOOP\r\n'));
  tr.fromServer(b('250 queued\r\n'));
  t.notOk(tr.idle, 'NOOP unanswered');
  tr.fromServer(b('250 ok\r\n'));
  t.ok(tr.idle);
});

t.test('BDAT chunks: binary data is skipped, LAST ends the transaction', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('MAIL FROM:<a@x>\r\n'));
  tr.fromServer(b('250 ok\r\n'));
  tr.fromClient(b('BDAT 5\r\nab\r\n'));
  tr.fromClient(b('.BDAT 3 LAST\r\nxyz'));
  tr.fromServer(b('250 5 octets\r\n'));
  t.notOk(tr.idle);
  tr.fromServer(b('250 queued\r\n'));
  t.ok(tr.idle);
});

t.test('an over-long line makes the tracker give up (never idle)', async (t) => {
  const tr = new SmtpTransactionTracker();
  tr.fromClient(b('X'.repeat(70_000)));
  tr.fromClient(b('\r\n'));
  tr.fromServer(b('500 too long\r\n'));
  t.notOk(tr.idle);
});

t.test('content ended as Postfix ends it: ".\\n" and ".\\r\\r\\n" too, then the next transaction', async (t) => {
  // Postfix 3.7 (smtpd_forbid_bare_newline=no) ends the content at a "." line ending in LF,
  // CRs before it dropped; the guard passes those on, so the tracker must see the end there.
  for (const end of ['.\n', '.\r\r\n', '.\r\n']) {
    for (let size = 1; size <= 6; size++) {
      const tr = new SmtpTransactionTracker();
      feedSplit(tr, `MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nSubject: z\n\nbody\n${end}`, size);
      tr.fromServer(b('250 ok\r\n250 ok\r\n354 go\r\n'));
      tr.fromServer(b('250 queued\r\n'));
      t.ok(tr.idle, `${JSON.stringify(end)} / ${size}: idle after the 250`);
      tr.fromClient(b('MAIL FROM:<a@x>\r\n'));
      t.notOk(tr.idle, `${JSON.stringify(end)} / ${size}: MAIL after it is a command`);
    }
  }
});

// The SMTP command guard on plain bytes: what a logged-in client may pass on to Postfix,
// and what of Postfix's EHLO it sees. Every input is also fed split at every chunk size.
import t from 'tap';
import { GUARD_REPLY, SmtpCommandGuard } from '../../src/smtp/command-guard.js';
import { MAX_SPLICED_SMTP_COMMAND_BYTES as MAX_COMMAND_LINE_BYTES } from '../../src/limits.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function harness() {
  const out = { backend: '', client: '', own: '', refused: [] as string[], full: false };
  const guard = new SmtpCommandGuard({
    toBackend: (c) => { out.backend += c.toString('latin1'); },
    toClient: (c, own) => { out.client += c.toString('latin1'); if (own) out.own += c.toString('latin1'); return !out.full; },
    refused: (v) => out.refused.push(v),
  });
  const client = (s: string, size = s.length): void => {
    for (let i = 0; i < s.length; i += size) guard.fromClient(b(s.slice(i, i + size)));
  };
  const server = (s: string, size = s.length): void => {
    for (let i = 0; i < s.length; i += size) guard.fromBackend(b(s.slice(i, i + size)));
  };
  return { guard, out, client, server };
}

t.test('XCLIENT and XFORWARD are answered 550 and never reach Postfix, however they are spelt', async (t) => {
  for (const line of ['XCLIENT LOGIN=bob@example.test\r\n', 'xclient login=bob\n', ' \tXCLIENT LOGIN=bob\r\n', 'XCLIENT\tLOGIN=bob\r\r\n',
    '\x00XCLIENT LOGIN=bob\r\n', 'XFORWARD ADDR=192.0.2.1\r\n', 'XClient NAME=x\r\n']) {
    for (let size = 1; size <= line.length; size++) {
      const h = harness();
      h.client(line, size);
      t.equal(h.out.backend, '', `${JSON.stringify(line)} / ${size}: nothing to Postfix`);
      t.equal(h.out.client, GUARD_REPLY.forbidden);
    }
  }
  const h = harness();
  h.client('XCLIENT LOGIN=bob\r\n');
  t.same(h.out.refused, ['XCLIENT'], 'reported');
});

t.test('STARTTLS, AUTH and BDAT are answered by the guard; a BDAT chunk is dropped unread', async (t) => {
  const h = harness();
  h.client('STARTTLS\r\nAUTH PLAIN AGJvYgB4\r\nBDAT 19 LAST\r\nXCLIENT LOGIN=bob\r\nNOOP\r\n');
  t.equal(h.out.client, GUARD_REPLY.startTls + GUARD_REPLY.auth + GUARD_REPLY.bdat, 'the chunk (an XCLIENT line) is neither run nor passed on');
  t.equal(h.out.backend, 'NOOP\r\n', 'the command after the chunk goes on');
  const bad = harness();
  bad.client('BDAT x LAST\r\nNOOP\r\n');
  t.equal(bad.out.backend, 'NOOP\r\n', 'BDAT without a count: no chunk to drop');
});

t.test('pipelined: our refusal comes after the replies to the commands before it, in order', async (t) => {
  for (let size = 1; size <= 12; size++) {
    const h = harness();
    h.client('NOOP\r\nXCLIENT LOGIN=bob\r\nRSET\r\n', size);
    t.equal(h.out.backend, 'NOOP\r\n', 'commands after a refused one wait');
    t.ok(h.guard.holding);
    t.equal(h.out.client, '', 'no early refusal');
    h.server('250 2.0.0 Ok\r\n', size);
    t.equal(h.out.client, `250 2.0.0 Ok\r\n${GUARD_REPLY.forbidden}`);
    t.equal(h.out.backend, 'NOOP\r\nRSET\r\n');
    t.notOk(h.guard.holding);
  }
});

const ehlo = '250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-AUTH PLAIN LOGIN\r\n'
  + '250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT\r\n250-XFORWARD NAME ADDR\r\n'
  + '250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n';
const ehloSeen = '250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-AUTH PLAIN LOGIN\r\n'
  + '250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n';

t.test("Postfix's EHLO after login: no XCLIENT, XFORWARD or CHUNKING, and still a well-formed reply", async (t) => {
  for (let size = 1; size <= 20; size++) {
    const h = harness();
    h.client('EHLO client.example.test\r\nNOOP\r\n');
    h.server(`${ehlo}250 2.0.0 Ok\r\n`, size);
    t.equal(h.out.client, `${ehloSeen}250 2.0.0 Ok\r\n`, `chunks of ${size}`);
  }
  const h = harness();
  h.server('250-x\r\n250 XCLIENT LOGIN\r\n250 XCLIENT\r\n');
  t.equal(h.out.client, '250 x\r\n250 XCLIENT\r\n', 'a one-line reply is not an EHLO keyword list');
});

const message = 'Subject: x\r\n\r\nXCLIENT LOGIN=bob@example.test\r\n..\r\n. \r\n.x\r\n.\rx\r\nxx\r\n';
t.test('DATA content passes unchanged, XCLIENT lines in it included; commands resume after the final dot', async (t) => {
  for (const end of ['.\r\n', '.\n', '.\r\r\n']) {
    for (let size = 1; size <= 12; size++) {
      const h = harness();
      h.client(`MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n${message}${end}XCLIENT LOGIN=bob\r\nQUIT\r\n`, size);
      t.equal(h.out.backend, 'MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n', 'content waits for the 354');
      h.server('250 ok\r\n250 ok\r\n354 go ahead\r\n', size);
      t.equal(h.out.backend, `MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n${message}${end}`, `${JSON.stringify(end)} / ${size}: content unchanged, up to the end line`);
      t.equal(h.out.own, '', 'the XCLIENT after the content waits for the 250');
      h.server('250 2.0.0 Ok: queued as X\r\n');
      t.equal(h.out.own, GUARD_REPLY.forbidden, 'then refused');
      t.equal(h.out.backend.endsWith(`${end}QUIT\r\n`), true, 'and QUIT passed on');
    }
  }
});

t.test('DATA refused: what the client sent after it is commands, and checked as such', async (t) => {
  const h = harness();
  h.client('DATA\r\nXCLIENT LOGIN=bob\r\n.\r\n');
  h.server('554 5.5.1 Error: no valid recipients\r\n');
  t.equal(h.out.backend, 'DATA\r\n.\r\n', 'XCLIENT not passed on; "." is a command now');
  t.equal(h.out.client, `554 5.5.1 Error: no valid recipients\r\n${GUARD_REPLY.forbidden}`);
});

t.test(`command lines: ${MAX_COMMAND_LINE_BYTES} bytes pass, one more is refused whole`, async (t) => {
  const at = `NOOP ${'x'.repeat(MAX_COMMAND_LINE_BYTES - 5)}`;
  const over = `NOOP ${'x'.repeat(MAX_COMMAND_LINE_BYTES - 4)}`;
  for (const size of [1, 7, 4096]) {
    const h = harness();
    h.client(`${at}\r\n`, size);
    t.equal(h.out.backend, `${at}\r\n`, 'at the cap: passed on');
    const o = harness();
    o.client(`${over}\r\nNOOP\r\n`, size);
    t.equal(o.out.backend, 'NOOP\r\n', 'one byte over: not passed on');
    t.equal(o.out.client, GUARD_REPLY.tooLong);
    const huge = harness();
    huge.client(`${'x'.repeat(10_000)}XCLIENT LOGIN=bob\r\nNOOP\r\n`, size);
    t.equal(huge.out.backend, 'NOOP\r\n', 'a very long line is skipped to its end');
  }
});

t.test('a client with no room for our replies: the rest of its bytes wait, in order, until resume()', async (t) => {
  const h = harness();
  h.out.full = true;
  h.client('XCLIENT a\r\nXCLIENT b\r\nNOOP\r\n');
  t.equal(h.out.client, GUARD_REPLY.forbidden, 'one reply, then nothing more is read');
  t.ok(h.guard.holding);
  t.equal(h.out.backend, '');
  h.out.full = false;
  h.guard.resume();
  t.equal(h.out.client, GUARD_REPLY.forbidden.repeat(2));
  t.equal(h.out.backend, 'NOOP\r\n');
  t.notOk(h.guard.holding);
});

t.test('what one read brings goes on in one write each way: pipelined commands, the replies read together', async (t) => {
  const writes = { backend: [] as string[], client: [] as string[], order: [] as string[] };
  const guard = new SmtpCommandGuard({
    toBackend: (c) => { writes.backend.push(c.toString('latin1')); writes.order.push(`> ${c.toString('latin1')}`); },
    toClient: (c) => { writes.client.push(c.toString('latin1')); writes.order.push(`< ${c.toString('latin1')}`); return true; },
  });
  guard.fromClient(b('MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n'));
  t.same(writes.backend, ['MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n'], 'MAIL, RCPT and DATA in one write; the content waits for 354');
  guard.fromBackend(b('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n'));
  t.same(writes.client, ['250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n'], 'the three replies in one write');
  t.same(writes.backend.slice(1), ['Subject: x\r\n\r\nbody\r\n.\r\n'], 'then the content, once');
  t.same(writes.order.slice(1, 3).map((w) => w[0]), ['<', '>'], 'the 354 is handed on before the content it released');
});

t.test('a refused DATA: the refusal is handed on before the bytes it makes commands', async (t) => {
  const order: string[] = [];
  const guard = new SmtpCommandGuard({
    toBackend: (c) => { order.push(`> ${c.toString('latin1')}`); },
    toClient: (c) => { order.push(`< ${c.toString('latin1')}`); return true; },
  });
  guard.fromClient(b('MAIL FROM:<a@example.test>\r\nDATA\r\nRSET\r\n'));
  guard.fromBackend(b('250 2.1.0 Ok\r\n554 5.5.1 Error: no valid recipients\r\n'));
  t.same(order, ['> MAIL FROM:<a@example.test>\r\nDATA\r\n', '< 250 2.1.0 Ok\r\n554 5.5.1 Error: no valid recipients\r\n', '> RSET\r\n']);
});

// Hostile input, one test each: the proxy answers with a clear protocol error or closes,
// never crashes, never lets it into a log line, and keeps serving everybody else.
import t from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { RawClient, b64, xoauth2 } from '../harness/raw-imap.js';
import { startStack } from '../harness/stack.js';

const { idp, proxy, ca, alice } = await startStack(t, { proxyEnv: { PREAUTH_TIMEOUT_SECONDS: '3' } });

async function imaps(): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  return c;
}
async function stillServing(t: Pick<typeof import("tap").default, "match">): Promise<void> {
  const c = await imaps();
  const r = await c.command(`z1 AUTHENTICATE XOAUTH2 ${xoauth2(alice.email, await idp.mintToken(alice.email))}`);
  t.match(r.tagged, /^z1 OK /, 'the proxy still logs others in');
}
async function drain(c: RawClient, ms = 3000): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    try { lines.push(await c.line(ms)); } catch { return lines; }
  }
}

t.test('SMTP early talker (speaks before the greeting) is refused', async (t) => {
  const s = net.connect(proxy.submissionPort, '127.0.0.1');
  t.teardown(() => s.destroy());
  s.write('EHLO eager.test\r\n');
  let got = '';
  s.on('data', (d) => { got += d.toString(); });
  await new Promise((r) => s.once('close', r));
  t.match(got, /421 .*talk too soon/i);
});

t.test('an HTTP request on a mail port is ended at once', async (t) => {
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  c.write('GET / HTTP/1.1\r\nHost: mail.example\r\n\r\n');
  t.match(await c.line(), /^\* BYE HTTP requests/);
  await c.closedPromise;
  const s = await RawClient.connect(proxy.submissionPort);
  t.teardown(() => s.close());
  await new Promise((r) => setTimeout(r, 200)); // after smtp-server's early-talker window
  await s.line();
  s.write('POST /login HTTP/1.1\r\n');
  t.match(await s.line(), /^421 .*HTTP/);
});

t.test('an SMTP line over the limit is refused; the proxy keeps serving', async (t) => {
  const s = await RawClient.connect(proxy.submissionsPort, { implicitTls: true, ca });
  t.teardown(() => s.close());
  await s.line();
  s.write(`EHLO ${'x'.repeat(40_000)}\r\n`);
  t.match(await s.line(), /^(421|500|501) /);
  await stillServing(t);
});

t.test('endless literal chain in one command is cut by the per-command bounds', async (t) => {
  const c = await imaps();
  let chain = 'e1 ID (';
  for (let i = 0; i < 3000; i++) chain += `"k${i}" {10+}\r\n0123456789 `;
  c.write(`${chain})\r\n`);
  const lines = await drain(c, 2000);
  t.ok(lines.some((l) => /BAD|BYE/.test(l)), 'refused');
  await stillServing(t);
});

t.test('NUL and control characters in user names: refused, nothing injected into the log', async (t) => {
  const c = await imaps();
  const evil = 'alice@example.test\r\n{"level":50,"event":"forged"}';
  const r1 = await c.command(`n1 AUTHENTICATE PLAIN ${b64(`\0${evil}\0pw`)}`);
  t.match(r1.tagged, /^n1 (NO|BAD) /);
  const r2 = await c.command(`n2 AUTHENTICATE PLAIN ${b64('\0ali\u0000ce\0pw')}`);
  t.match(r2.tagged, /^n2 (NO|BAD) /);
  c.write('n3 LOGIN "ali\x07ce" pw\r\n');
  t.match((await c.until('n3')).tagged, /^n3 (NO|BAD) /);
  t.notOk(proxy.rawLogs().split('\n').some((l) => l.includes('"event":"forged"') && l.startsWith('{"level":50')), 'no forged log line');
  for (const l of proxy.rawLogs().split('\n')) t.notMatch(l, /[\x00-\x08\x0b-\x1f]/, 'no raw control character in a log line');
});

t.test('invalid base64 and invalid UTF-8 in SASL: BAD/NO, session goes on', async (t) => {
  const c = await imaps();
  t.match((await c.command('b1 AUTHENTICATE PLAIN not*base64!')).tagged, /^b1 BAD /);
  const badUtf8 = Buffer.from([0, 0xc3, 0x28, 0x40, 0x78, 0, 0x70, 0x77]).toString('base64');
  t.match((await c.command(`b2 AUTHENTICATE PLAIN ${badUtf8}`)).tagged, /^b2 (NO|BAD) /);
  c.write('b3 AUTHENTICATE OAUTHBEARER\r\n');
  await c.line();
  c.write('%%%%\r\n');
  t.match((await c.until('b3')).tagged, /^b3 BAD /);
  t.match((await c.command('b4 NOOP')).tagged, /^b4 OK/);
});

t.test('10,000 bad commands: the budget runs out, BYE, the rest is not processed', async (t) => {
  const c = await imaps();
  const started = Date.now();
  c.write(Array.from({ length: 10_000 }, (_, i) => `x${i} FROB\r\n`).join(''));
  const lines = await drain(c, 2000);
  t.match(lines.at(-1), /^\* BYE Too many invalid/);
  t.ok(lines.length <= 21, `at most the budget was answered (${lines.length} lines)`);
  t.ok(Date.now() - started < 5000);
  await stillServing(t);
});

t.test('SMTP STARTTLS with pipelined plaintext: the plaintext is discarded', async (t) => {
  const s = await RawClient.connect(proxy.submissionPort);
  t.teardown(() => s.close());
  await new Promise((r) => setTimeout(r, 200));
  await s.line();
  s.write('EHLO a.test\r\n');
  for (let l = await s.line(); !l.startsWith('250 '); l = await s.line());
  s.write('STARTTLS\r\nMAIL FROM:<evil@example.test>\r\n');
  t.match(await s.line(), /^220 /);
  const secure = tls.connect({ socket: s.socket, ca, servername: 'localhost' });
  let got = '';
  secure.on('data', (d: Buffer) => { got += d.toString(); });
  await new Promise<void>((r, j) => { secure.once('secureConnect', () => r()); secure.once('error', j); });
  secure.write('NOOP\r\n');
  await new Promise((r) => setTimeout(r, 400));
  t.match(got, /^250 /, 'the NOOP is answered');
  t.notMatch(got, /evil|503|530/, 'the injected MAIL FROM was never processed');
  secure.destroy();
});

t.test('TLS handshake garbage on 993 and 465: closed, proxy unharmed', async (t) => {
  for (const port of [proxy.imapsPort, proxy.submissionsPort]) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write(randomBytes(4096));
    await new Promise((r) => s.once('close', r));
    t.pass(`port ${port} closed the garbage connection`);
  }
  await stillServing(t);
});

t.test('slowloris (a byte at a time) is cut by the pre-login deadline, IMAP and SMTP', async (t) => {
  for (const [port, expect] of [[proxy.imapPort, /\* BYE /], [proxy.submissionPort, /421 /]] as const) {
    const s = net.connect(port, '127.0.0.1');
    t.teardown(() => s.destroy());
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    const started = Date.now();
    const drip = setInterval(() => s.write('N'), 250); // never a full line, never idle
    await new Promise((r) => s.once('close', r));
    clearInterval(drip);
    const took = Date.now() - started;
    t.ok(took >= 2900 && took < 6000, `closed after ${took} ms (deadline 3 s)`);
    t.match(got, expect, 'with a reply saying why');
  }
});

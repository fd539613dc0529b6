// deploy/fail2ban works on the lines the proxy really writes: failed logins over IMAP and
// SMTP from several addresses (one with a user name crafted to name another address) are
// run through the real fail2ban-regex, raw and wrapped as Docker's json-file log.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RawClient, b64, xoauth2 } from '../harness/raw-imap.js';
import { startStack } from '../harness/stack.js';

const run = promisify(execFile);
const filter = new URL('../../deploy/fail2ban/filter.d/oauth2-mail-proxy.conf', import.meta.url).pathname;

const { idp, proxy, ca } = await startStack(t);

async function imapFailure(from: string, user: string): Promise<void> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca, localAddress: from });
  await c.line();
  c.write(`a1 AUTHENTICATE XOAUTH2 ${xoauth2(user, 'not-a-valid-token')}\r\n`);
  await c.line();
  c.write('\r\n');
  await c.until('a1');
  c.close();
}

async function smtpFailure(from: string): Promise<void> {
  const c = await RawClient.connect(proxy.submissionsPort, { implicitTls: true, ca, localAddress: from });
  await c.line();
  c.write('EHLO client.test\r\n');
  for (let l = await c.line(); !l.startsWith('250 '); l = await c.line());
  c.write(`AUTH OAUTHBEARER ${b64('n,a=bob@example.test,\x01auth=Bearer nope\x01\x01')}\r\n`);
  await c.line();
  c.write('AQ==\r\n');
  await c.line();
  c.close();
}

async function fail2banIps(file: string): Promise<string[]> {
  const { stdout } = await run('fail2ban-regex', ['-o', 'ip', file, filter], { timeout: 30_000 });
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

t.test('the filter counts exactly the failed logins, with the real client addresses', async (t) => {
  await imapFailure('127.0.3.1', 'alice@example.test');
  await imapFailure('127.0.3.1', 'alice@example.test');
  await imapFailure('127.0.3.2', 'x","client":"127.6.6.6","event":"auth-failed",');
  await smtpFailure('127.0.3.3');
  // Noise that must not count: a good login and a session summary.
  const ok = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca, localAddress: '127.0.3.9' });
  await ok.line();
  await ok.command(`g1 AUTHENTICATE XOAUTH2 ${xoauth2('alice@example.test', await idp.mintToken('alice@example.test'))}`);
  await ok.command('g2 LOGOUT');
  ok.close();
  await new Promise((r) => setTimeout(r, 200));

  const lines = proxy.rawLogs().split('\n');
  const failures = proxy.logs().filter((l) => l.event === 'auth-failed');
  t.equal(failures.length, 4, 'the proxy logged one auth-failed line per failed login');

  const dir = mkdtempSync(join(tmpdir(), 'o2mp-f2b-'));
  const raw = join(dir, 'proxy.log');
  writeFileSync(raw, `${lines.join('\n')}\n`);
  const ips = await fail2banIps(raw);
  t.same(ips.sort(), ['127.0.3.1', '127.0.3.1', '127.0.3.2', '127.0.3.3'], 'fail2ban-regex matches each failure with its client address');
  t.notOk(ips.includes('127.6.6.6'), 'a crafted user name cannot frame another address');

  const docker = join(dir, 'docker-json.log');
  writeFileSync(docker, lines.map((l) => JSON.stringify({ log: `${l}\n`, stream: 'stdout', time: new Date().toISOString() })).join('\n') + '\n');
  t.same((await fail2banIps(docker)).sort(), ['127.0.3.1', '127.0.3.1', '127.0.3.2', '127.0.3.3'], 'the same inside Docker json-file logs');
});

t.test('the jail names the filter and the mail ports', async (t) => {
  const jail = readFileSync(new URL('../../deploy/fail2ban/jail.d/oauth2-mail-proxy.conf', import.meta.url), 'utf8');
  t.match(jail, /^\[oauth2-mail-proxy\]$/m);
  t.match(jail, /^filter\s*=\s*oauth2-mail-proxy$/m);
  t.match(jail, /^port\s*=\s*143,993,587,465$/m);
});

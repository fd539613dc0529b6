// An app password revoked while a login with it is on its way to Dovecot. The proxy decides
// (the app password matches), then logs in to DMS with the master account; a revocation that
// lands between the two used to find no session to end (the login was not spliced yet), and
// the session that came up a moment later was tracked as if nothing had happened: a revoked
// app password kept a live session for as long as the client liked. A TCP relay in front of
// Dovecot (the fault injected) holds Dovecot's answers to the master login until the test has
// revoked the app password and seen the proxy take the revocation in.
import t from 'tap';
import net from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../harness/raw-imap.js';
import { startBackendAndIdp } from '../harness/stack.js';
import { startProxy } from '../harness/proxy.js';
import { HOST } from '../harness/ports.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';

/** Forwards to `target`; once armed, the first proxy line with a login in it holds Dovecot's answers until released. */
async function startHoldingRelay(target: number) {
  let armed = false;
  let seen: () => void = () => undefined;
  let held: Array<() => void> = [];
  /** The one connection whose answers are held (the login the test races). */
  let holding: net.Socket | undefined;
  const open = new Set<net.Socket>();
  const server = net.createServer((proxySide) => {
    const dms = net.connect(target, HOST);
    for (const s of [proxySide, dms]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { open.delete(s); proxySide.destroy(); dms.destroy(); });
    }
    proxySide.on('data', (d: Buffer) => {
      if (armed && /AUTHENTICATE|LOGIN/i.test(d.toString('latin1'))) {
        armed = false;
        holding = proxySide;
        seen();
      }
      dms.write(d);
    });
    dms.on('data', (d: Buffer) => {
      if (holding === proxySide) held.push(() => proxySide.write(d));
      else proxySide.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Resolves when the proxy has sent its master login (so it has decided the client's login). */
    arm(): Promise<void> {
      armed = true;
      return new Promise((resolve) => { seen = resolve; });
    },
    release(): void {
      holding = undefined;
      for (const f of held) f();
      held = [];
    },
    async stop(): Promise<void> {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const file = join(mkdtempSync(join(tmpdir(), 'omp-app-pw-race-')), 'app-passwords.json');
const { backend } = await startBackendAndIdp(t);
const relay = await startHoldingRelay(backend.imapPort);
t.teardown(() => relay.stop());
const proxy = await startProxy({ backend, userinfoUrl: 'http://127.0.0.1:1/unused', env: { APP_PASSWORDS_FILE: file, DMS_TLS: 'none', DMS_IMAP_PORT: String(relay.port) } });
t.teardown(() => proxy.stop());
const ca = readFileSync(proxy.certs.caFile, 'utf8');
const alice = backend.users[0]!;

async function cli(...argv: string[]): Promise<string> {
  let out = '';
  const code = await appPasswordCommand(['--file', file, '--json', ...argv], { env: {}, out: (s) => { out += s; }, err: () => undefined });
  t.equal(code, 0, `app-password ${argv[0]}`);
  return out;
}

async function login(password: string): Promise<RawClient> {
  const c = await RawClient.connect(proxy.imapsPort, { implicitTls: true, ca });
  t.teardown(() => c.close());
  await c.line();
  c.write(`a LOGIN "${alice.email}" "${password}"\r\n`);
  return c;
}

t.test('revoked while its login is with Dovecot: the session that comes up is ended at once', async (t) => {
  const made = JSON.parse(await cli('create', alice.email, 'Phone')) as { id: string; secret: string };
  const decided = relay.arm();
  const phone = await login(made.secret);
  await Promise.race([decided, new Promise((_, reject) => setTimeout(() => reject(new Error('no master login within 10 s')), 10_000))]);

  await cli('revoke', alice.email, made.id);
  // A second login with it reads the file again: the proxy has taken the revocation in.
  const again = await login(made.secret);
  t.match((await again.until('a', 10_000)).tagged, /^a NO/, 'the revoked app password no longer logs in');

  relay.release();
  t.match((await phone.until('a', 10_000)).tagged, /^a OK/, 'the login decided before the revocation completes');
  phone.write('b IDLE\r\n');
  const line = await phone.lineAfterKeepalives(3000).catch((err: Error) => `(no line: ${err.message})`);
  const next = /^\+ /.test(line) ? await phone.lineAfterKeepalives(3000).catch((err: Error) => `(no line: ${err.message})`) : line;
  t.match(next, /^\* BYE App password revoked\./, 'the session of the revoked app password is ended');
  t.ok(await phone.waitClosed(7000), 'and closed');
});

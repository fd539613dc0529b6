// The root logger's censor is the safety net against a secret reaching a log line: code
// never logs credentials on purpose, but a field named like one is censored at the top level
// and in nested objects and arrays, and the caller's object is left as it was.
import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { SECRET_KEYS as CENSORED_KEYS } from '../../src/observability/censor.js';

const SECRET_KEYS = ['token', 'accessToken', 'password', 'pass', 'masterPassword', 'secret', 'authorization', 'auth'];

function capture(): { log: ReturnType<typeof createLogger>; raw: () => string; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { out.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
  return { log: createLogger('debug', sink), raw: () => out.join('\n'), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

t.test('every secret-named field is censored at the top level and one object down', async (t) => {
  const { log, raw, lines } = capture();
  const obj: Record<string, unknown> = { event: 'probe', user: 'alice@example.test' };
  const nested: Record<string, unknown> = { keep: 'visible-nested' };
  SECRET_KEYS.forEach((k, i) => { obj[k] = `SECRET-TOP-${i}`; nested[k] = `SECRET-NESTED-${i}`; });
  obj.details = nested;
  obj.headers = { authorization: 'Bearer SECRET-HEADER', accept: 'application/json' };
  obj.request = { headers: { authorization: 'Bearer SECRET-DEEP-HEADER' } };
  log.info(obj, 'probe');
  const text = raw();
  t.notMatch(text, /SECRET-/, 'no secret value in the output');
  const line = lines()[0]!;
  for (const k of SECRET_KEYS) {
    t.equal(line[k], '[redacted]', `top-level ${k}`);
    t.equal((line.details as Record<string, unknown>)[k], '[redacted]', `details.${k}`);
  }
  t.equal((line.headers as Record<string, unknown>).authorization, '[redacted]');
  t.equal((line.headers as Record<string, unknown>).accept, 'application/json', 'other header kept');
  t.equal(((line.request as Record<string, unknown>).headers as Record<string, unknown>).authorization, '[redacted]');
  t.equal(line.user, 'alice@example.test', 'non-secret fields kept');
  t.equal((line.details as Record<string, unknown>).keep, 'visible-nested');
  t.equal(obj.token, 'SECRET-TOP-0', "the caller's object is not changed");
  t.equal(nested.password, 'SECRET-NESTED-2');
});

t.test('children keep the redaction of the root', async (t) => {
  const { log, raw } = capture();
  log.child({ cid: 'c1', proto: 'imap' }).warn({ event: 'auth-failed', auth: 'SECRET-CHILD', nested: { token: 'SECRET-CHILD-NESTED' } }, 'x');
  t.notMatch(raw(), /SECRET-/);
  t.match(raw(), /"cid":"c1"/);
});

t.test('the censor knows every secret key', async (t) => {
  for (const k of SECRET_KEYS) t.ok(CENSORED_KEYS.has(k), k);
});

t.test('deeper objects, arrays and errors are censored; buffers and the rest are kept', async (t) => {
  const { log, raw, lines } = capture();
  const err = Object.assign(new Error('upstream said no'), { code: 'E_UP', token: 'SECRET-IN-ERROR' });
  const deep = { a: { b: { password: 'SECRET-THREE-DOWN', keep: 1 } } };
  const list = [{ secret: 'SECRET-IN-ARRAY' }, 'plain'];
  log.info({ event: 'probe', deep, list, err, buf: Buffer.from('abc'), n: 7, nil: null }, 'probe');
  t.notMatch(raw(), /SECRET-/, 'no secret value in the output');
  const line = lines()[0]!;
  t.same(line.deep, { a: { b: { password: '[redacted]', keep: 1 } } });
  t.same(line.list, [{ secret: '[redacted]' }, 'plain']);
  const e = line.err as Record<string, unknown>;
  t.equal(e.message, 'upstream said no', "the error's message is kept");
  t.equal(e.code, 'E_UP');
  t.equal(e.token, '[redacted]');
  t.equal(line.n, 7);
  t.equal(line.nil, null);
  t.ok(line.buf, 'buffer logged');
  t.equal(deep.a.b.password, 'SECRET-THREE-DOWN', 'caller objects unchanged');
  t.equal((list[0] as { secret: string }).secret, 'SECRET-IN-ARRAY');
  t.equal(err.token, 'SECRET-IN-ERROR');
});

t.test('an object without secrets is logged as it is, not copied', async (t) => {
  const { censor } = await import('../../src/observability/censor.js');
  const o = { event: 'login', user: 'alice@example.test', nested: { x: 1 } };
  t.equal(censor(o), o);
});

t.test('a session logger carries cid, proto and client, and knows its protocol', async (t) => {
  const { sessionLogger, protocolOf } = await import('../../src/observability/metrics.js');
  const { log, lines } = capture();
  const smtp = sessionLogger(log, 'smtp', 'cid-1', '192.0.2.1');
  const imap = sessionLogger(log, 'imap', 'cid-2', '192.0.2.2');
  t.equal(protocolOf(smtp), 'smtp');
  t.equal(protocolOf(imap), 'imap');
  smtp.info({ event: 'login' }, 'x');
  t.match(lines()[0], { cid: 'cid-1', proto: 'smtp', client: '192.0.2.1', event: 'login' });
});

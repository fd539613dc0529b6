// The root logger's redaction is the safety net against a secret reaching a log line: code
// never logs credentials on purpose, but a field named like one is censored wherever
// REDACT_PATHS says, top level and one object down, and the caller's object is left as it was.
import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, REDACT_PATHS } from '../../src/observability/logger.js';

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

t.test('the path list covers each secret key at both depths', async (t) => {
  for (const k of SECRET_KEYS) {
    t.ok(REDACT_PATHS.includes(k), `${k}`);
    t.ok(REDACT_PATHS.includes(`*.${k}`), `*.${k}`);
  }
});

// A bug in the code serving one connection ends that connection, never the process (issue
// 16). Faults are injected (a throwing IMAP command handler, a throwing step inside
// smtp-server's command dispatch and our EHLO hook) into the real proxy; each time that one
// connection is ended with the protocol's own words, the fault is counted in
// internal_errors_total, a session opened before it and a new one still work, and no
// uncaught exception or unhandled rejection reaches the process.
import t from 'tap';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection';
import { PREAUTH_COMMANDS } from '../../src/imap/commands/index.js';
import type { CommandHandler } from '../../src/imap/commands/context.js';
import { metrics } from '../../src/observability/metrics.js';
import { RawClient } from '../harness/raw-imap.js';
import { RawSmtp } from '../harness/raw-smtp.js';
import { startStack } from '../harness/stack.js';
import { recordCrashes } from './fakes/leaks.js';

const crashes = recordCrashes();
t.teardown(() => crashes.dispose());
const { proxy } = await startStack(t);
const faults = async (listener: string): Promise<number> => (await metrics.internalErrors?.get())?.values.find((v) => v.labels.listener === listener)?.value ?? 0;

// Fakes only to inject the faults.
const commands = PREAUTH_COMMANDS as Map<string, CommandHandler>;
commands.set('XCRASH', () => { throw new Error('injected: sync handler'); });
commands.set('XREJECT', async () => { throw new Error('injected: async handler'); });
t.teardown(() => { commands.delete('XCRASH'); commands.delete('XREJECT'); });
const proto = SMTPConnection.prototype as unknown as Record<string, (this: unknown, ...a: unknown[]) => unknown>;
const redact = proto._redactCredentials!;
const ehlo = proto.handler_EHLO!;
proto._redactCredentials = function (name, line) {
  if (name === 'XCRASH') throw new Error('injected: smtp-server command dispatch');
  return redact.call(this, name, line);
};
proto.handler_EHLO = function (command, callback) {
  if (String(command).includes('crash.test')) throw new Error('injected: EHLO');
  return ehlo.call(this, command, callback);
};
t.teardown(() => { proto._redactCredentials = redact; proto.handler_EHLO = ehlo; });

async function imapAnswers(c?: RawClient): Promise<boolean> {
  const client = c ?? await RawClient.connect(proxy.imapPort);
  try {
    if (!c) await client.line();
    return /^n1 OK/.test((await client.command('n1 NOOP')).tagged);
  } finally {
    if (!c) client.close();
  }
}

t.test('IMAP: a command handler that throws ends that session with BYE [SERVERBUG]', async (t) => {
  const bystander = await RawClient.connect(proxy.imapPort);
  t.teardown(() => bystander.close());
  await bystander.line();
  const before = await faults('imap');
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  c.write('a1 XCRASH\r\n');
  t.match(await c.line(), /^\* BYE \[SERVERBUG\]/);
  t.ok(await c.waitClosed(3000), 'connection closed');
  t.equal(await faults('imap'), before + 1, 'counted once');
  t.ok(await imapAnswers(bystander), 'a session opened before still answers');
  t.ok(await imapAnswers(), 'a new session answers');
  t.equal(crashes.describe(), '', 'nothing reached the process');
});

t.test('IMAP: a command whose promise rejects gets NO [SERVERBUG], then the session ends', async (t) => {
  const before = await faults('imap');
  const c = await RawClient.connect(proxy.imapPort);
  t.teardown(() => c.close());
  await c.line();
  const r = await c.command('a1 XREJECT');
  t.match(r.tagged, /^a1 NO \[SERVERBUG\]/);
  t.match(await c.line(), /^\* BYE \[SERVERBUG\]/);
  t.ok(await c.waitClosed(3000), 'connection closed');
  t.equal(await faults('imap'), before + 1);
  t.ok(await imapAnswers());
  t.equal(crashes.describe(), '');
});

t.test("SMTP: a throw inside smtp-server's command dispatch ends that connection with 421", async (t) => {
  const before = await faults('smtp');
  const c = await RawSmtp.connect(proxy.submissionPort);
  t.teardown(() => c.close());
  t.equal((await c.reply()).code, 220);
  t.equal((await c.ehlo()).code, 250);
  const r = await c.command('XCRASH now');
  t.match([r.code, r.text], [421, /^4\.3\.0/]);
  t.ok(await c.waitClosed(3000), 'connection closed');
  t.equal(await faults('smtp'), before + 1);
  t.equal(crashes.describe(), '', 'nothing reached the process');
  const d = await RawSmtp.connect(proxy.submissionPort);
  t.teardown(() => d.close());
  t.equal((await d.reply()).code, 220);
  t.equal((await d.ehlo()).code, 250, 'a new connection is served');
  t.ok(await imapAnswers(), 'IMAP still answers');
});

t.test('SMTP: a throw in our EHLO hook ends that connection with 421, not a 451 and carry on', async (t) => {
  const before = await faults('smtp');
  const c = await RawSmtp.connect(proxy.submissionPort);
  t.teardown(() => c.close());
  t.equal((await c.reply()).code, 220);
  const r = await c.ehlo('crash.test');
  t.match([r.code, r.text], [421, /^4\.3\.0/]);
  t.ok(await c.waitClosed(3000), 'connection closed');
  t.equal(await faults('smtp'), before + 1);
  t.equal(crashes.describe(), '');
});

// The splice's idle timeout (src/net/idle-sweep.ts): a session with no byte either way for
// the timeout is closed as 'idle-timeout', never sooner and at most 1/IDLE_CHECKS_PER_TIMEOUT
// of a timeout later; a byte in either direction, alone, keeps it open (IMAP IDLE: only the
// server talks; a client uploading: only the client does); a client that stopped reading
// holds the session only until the timeout.
import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectedPair, splice } from '../harness/splice.js';
import { IDLE_CHECKS_PER_TIMEOUT } from '../../src/limits.js';

const IDLE_MS = 400;
// A sweep fires late by what the event loop and the machine's load add (2 cores shared).
const LATE_MS = IDLE_MS / IDLE_CHECKS_PER_TIMEOUT + 300;

async function pair(t: Test): Promise<{ far: net.Socket; near: net.Socket }> {
  const p = await connectedPair();
  t.teardown(() => { p.far.destroy(); p.near.destroy(); });
  p.far.on('error', () => undefined);
  return p;
}

async function spliced(t: Test) {
  const c = await pair(t);
  const b = await pair(t);
  const started = Date.now();
  const s = splice(c.near, b.near, { idleTimeoutMs: IDLE_MS });
  return { client: c.far, backend: b.far, s, started };
}

t.test('quiet both ways: closed as idle-timeout after the timeout, not before', async (t) => {
  const { client, backend, s, started } = await spliced(t);
  const closed = Promise.all([once(client, 'end'), once(backend, 'end')]);
  client.resume();
  backend.resume();
  const r = await s.done;
  const after = Date.now() - started;
  t.equal(r.end, 'idle-timeout');
  t.ok(after >= IDLE_MS, `not before the timeout (${after} ms)`);
  t.ok(after <= IDLE_MS + LATE_MS, `soon after it (${after} ms)`);
  await closed; // both peers see the connection end
});

for (const [who, talks] of [['the backend alone (IDLE updates)', 'backend'], ['the client alone', 'client']] as const) {
  t.test(`bytes from ${who} keep the session open`, async (t) => {
    const sides = await spliced(t);
    const { s } = sides;
    let ended = false;
    void s.done.then(() => { ended = true; });
    sides.client.resume();
    sides.backend.resume();
    for (let i = 0; i < (3 * IDLE_MS) / 100; i++) {
      sides[talks].write('* 1 EXISTS\r\n');
      await sleep(100);
    }
    t.notOk(ended, `open after ${3 * IDLE_MS} ms of traffic one way`);
    const quietFrom = Date.now();
    const r = await s.done;
    t.equal(r.end, 'idle-timeout', 'then closed once quiet');
    t.ok(Date.now() - quietFrom >= IDLE_MS - 100, 'a full timeout after the last byte');
    t.ok(r.bytesToClient + r.bytesToBackend > 0);
  });
}

t.test('a client that stopped reading holds the session only until the timeout', async (t) => {
  const { client, backend, s } = await spliced(t);
  client.pause(); // never reads: the backend's bytes back up to it
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let paused = false;
  const writing = (async () => {
    for (let i = 0; i < 2000 && !backend.destroyed; i++) {
      if (!backend.write(chunk)) {
        paused = true;
        await new Promise((r) => { backend.once('drain', r); backend.once('close', r); });
      }
    }
  })();
  const r = await s.done;
  t.ok(paused, 'back-pressure reached the backend');
  t.equal(r.end, 'idle-timeout');
  await writing;
});

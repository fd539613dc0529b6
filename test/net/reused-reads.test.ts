// The splice reading a plaintext backend into reused buffers (src/net/reused-reads.ts): no
// byte may be lost, reordered or overwritten, whatever the mix of sessions, read sizes and
// slow clients, since one shared buffer serves every socket and a socket's own buffer is
// reused as soon as the client took the previous chunk.
import t from 'tap';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTcp } from '../../src/backend/dial.js';
import { LineReader } from '../../src/backend/line-reader.js';
import type { SpliceResult } from '../../src/net/splice.js';
import { connectedPair, splice } from '../harness/splice.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The proxy's client side: a connected client, `early` written to it, then splice() to `backend`. */
async function spliceToClient(backend: net.Socket, early: Buffer): Promise<{ client: net.Socket; s: ReturnType<typeof splice> }> {
  const front = net.createServer({ allowHalfOpen: true });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  const accepted = once(front, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port: (front.address() as net.AddressInfo).port, host: '127.0.0.1' });
  const [proxySide] = await accepted;
  front.close();
  if (early.length) proxySide.write(early);
  return { client, s: splice(proxySide, backend, { idleTimeoutMs: 60_000 }) };
}

interface Pair { client: net.Socket; done: Promise<SpliceResult>; received: Promise<Buffer>; early: number }

/**
 * A "backend" that sends `payload` in writes of `chunks` sizes after a greeting line, the
 * proxy side (connectTcp with reused reads, a LineReader for the greeting, then splice()),
 * and a client reading at `clientDelayMs` per read (0: as fast as it can).
 */
async function session(payload: Buffer, o: { chunks: number[]; clientDelayMs?: number; endAfter?: boolean }): Promise<Pair & { server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true }, async (s) => {
    s.write('* OK greeting\r\n');
    let at = 0;
    for (let i = 0; at < payload.length; i++) {
      const n = o.chunks[i % o.chunks.length]!;
      if (!s.write(payload.subarray(at, at + n))) await once(s, 'drain');
      at += n;
      if (i % 7 === 3) await sleep(1); // let small reads happen between the large ones
    }
    if (o.endAfter) s.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const backend = await connectTcp('127.0.0.1', port, 5000, { reuseReads: true });
  const reader = new LineReader(backend);
  const greeting = await reader.readLine();
  if (greeting !== '* OK greeting') throw new Error(`greeting ${greeting}`);
  const early = reader.detach();

  const { client, s } = await spliceToClient(backend, early);

  const received = (async (): Promise<Buffer> => {
    const parts: Buffer[] = [];
    let total = 0;
    for await (const chunk of client) {
      parts.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (o.clientDelayMs) await sleep(o.clientDelayMs);
      if (!o.endAfter && total >= payload.length) break;
    }
    return Buffer.concat(parts);
  })();
  return { client, done: s.done, received, server, early: early.length };
}

t.test('bulk through the own buffer, with a slow client forcing pending writes', async (t) => {
  const payload = randomBytes(6 * 1048576);
  const p = await session(payload, { chunks: [65536, 200_000, 300, 17_000], clientDelayMs: 2, endAfter: true });
  const got = await p.received;
  t.equal(got.length, payload.length, 'every byte arrived');
  t.equal(sha(got), sha(payload), 'in order, none overwritten');
  const r = await p.done;
  t.equal(r.bytesToClient, payload.length - p.early, 'counted: what the splice moved (the login reader passed on the rest)');
  t.equal(r.end, 'backend-closed', "the backend's FIN ends the session");
  p.server.close();
});

t.test('many sessions at once share the small-read buffer without mixing their bytes', async (t) => {
  const payloads = Array.from({ length: 24 }, (_, i) => randomBytes(i % 3 === 0 ? 3 * 1048576 : 40_000 + i * 997));
  const sessions = await Promise.all(payloads.map((p, i) => session(p, {
    chunks: i % 2 ? [100, 2000, 9000] : [70_000, 1, 4096],
    clientDelayMs: i % 4 === 0 ? 1 : 0,
    endAfter: true,
  })));
  const got = await Promise.all(sessions.map((s) => s.received));
  for (let i = 0; i < payloads.length; i++) t.equal(sha(got[i]!), sha(payloads[i]!), `session ${i}: ${payloads[i]!.length} bytes intact`);
  await Promise.all(sessions.map((s) => s.done));
  sessions.forEach((s) => s.server.close());
});

t.test('the client side still flows and half-closes both ways', async (t) => {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.write('* OK greeting\r\n');
    s.pipe(s);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const backend = await connectTcp('127.0.0.1', (echo.address() as net.AddressInfo).port, 5000, { reuseReads: true });
  const reader = new LineReader(backend);
  await reader.readLine();
  reader.detach();
  const { far: client, near: proxySide } = await connectedPair();
  const s = splice(proxySide, backend, { idleTimeoutMs: 60_000 });
  const up = randomBytes(2 * 1048576);
  const parts: Buffer[] = [];
  client.on('data', (d: Buffer) => parts.push(d));
  client.end(up);
  await once(client, 'end');
  t.equal(sha(Buffer.concat(parts)), sha(up), 'echoed intact; the FIN went through and came back');
  const r = await s.done;
  t.equal(r.bytesToBackend, up.length);
  t.equal(r.bytesToClient, up.length);
  echo.close();
});

// Issue 21: the line reader hands the backend socket on without stopping the handle's reads
// (pause() would: readStop, then the splice's resume() readStart, two epoll_ctl calls per
// login). What arrives between the two owners is kept, in order, for whichever comes next.
async function greetedBackend(after: (s: net.Socket) => void): Promise<{ backend: net.Socket; reader: LineReader; server: net.Server }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.write('* OK greeting\r\n');
    s.once('data', () => after(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const backend = await connectTcp('127.0.0.1', (server.address() as net.AddressInfo).port, 5000, { reuseReads: true });
  const reader = new LineReader(backend);
  if (await reader.readLine() !== '* OK greeting') throw new Error('greeting');
  return { backend, reader, server };
}

t.test('a hand-over keeps the socket reading; bytes and the FIN between owners reach the splice in order', async (t) => {
  const { backend, reader, server } = await greetedBackend((s) => s.end('one\r\ntwo\r\n'));
  const early = reader.detach();
  t.equal((backend as unknown as { _handle: { reading: boolean } })._handle.reading, true, 'the handle still reads after detach()');
  backend.write('go\r\n');
  await sleep(100); // the backend's bytes and FIN arrive with no owner
  const { client, s } = await spliceToClient(backend, early);
  const parts: Buffer[] = [];
  for await (const chunk of client) parts.push(chunk as Buffer);
  t.equal(Buffer.concat(parts).toString(), 'one\r\ntwo\r\n', 'every byte, then the FIN');
  client.destroy();
  t.match(await s.done, { end: 'backend-closed' });
  server.close();
});

t.test('a next owner reading with data events gets what was held, once resumed', async (t) => {
  const { backend, reader, server } = await greetedBackend((s) => s.end('held\r\n'));
  reader.detach();
  backend.write('go\r\n');
  await sleep(100);
  const parts: Buffer[] = [];
  backend.on('data', (c: Buffer) => parts.push(c));
  const ended = once(backend, 'end');
  backend.resume();
  await ended;
  t.equal(Buffer.concat(parts).toString(), 'held\r\n');
  backend.destroy();
  server.close();
});

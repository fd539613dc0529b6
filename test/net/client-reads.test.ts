// Reading an accepted client socket into reused buffers (src/net/client-reads.ts), plain and
// TLS: no byte lost, reordered or overwritten while its owner still holds a view of it, however
// slow the far side is; idle again after the upload, reads are copies (no buffer kept).
import t, { type Test } from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BULK_READ_BYTES, readsReusableToward, reuseClientReads } from '../../src/net/client-reads.js';
import { makeCerts } from '../harness/certs.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const certs = await makeCerts(await mkdtemp(join(tmpdir(), 'omp-client-reads-')), { prefix: 'cr-' });
const { readFileSync } = await import('node:fs');

/** An accepted socket (plain or TLS) and the client connected to it. */
async function accepted(secure: boolean): Promise<{ server: net.Socket; client: net.Socket }> {
  const front = secure
    ? tls.createServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) })
    : net.createServer();
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  const port = (front.address() as net.AddressInfo).port;
  const got = once(front, secure ? 'secureConnection' : 'connection') as Promise<[net.Socket]>;
  const client = secure ? tls.connect({ port, host: '127.0.0.1', ca: readFileSync(certs.caFile), servername: 'localhost' }) : net.connect({ port, host: '127.0.0.1' });
  const [server] = await got;
  front.close();
  return { server, client };
}

/**
 * The owner of the reads keeps every chunk's view for `holdMs` (as the SMTP guard holds bytes
 * until Postfix answers), settled only once none is kept, and checks each view's bytes when it
 * lets go against a copy made when it came: an overwritten buffer shows as a mismatch.
 */
async function upload(t: Test, secure: boolean, o: { bytes: number; holdMs: number }): Promise<{ received: Buffer; overwritten: number; adopted: boolean; chunks: Buffer[] }> {
  const { server, client } = await accepted(secure);
  const payload = randomBytes(o.bytes);
  const parts: Buffer[] = [];
  const chunks: Buffer[] = [];
  let kept: { view: Buffer; copy: Buffer }[] = [];
  let overwritten = 0;
  let adopted = false;
  const owner = { settled: () => kept.length === 0 };
  const done = new Promise<void>((resolve) => server.on('end', resolve));
  server.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    parts.push(Buffer.from(chunk));
    if (!adopted && chunk.length >= BULK_READ_BYTES) adopted = reuseClientReads(server, owner);
    if (o.holdMs === 0) return;
    kept.push({ view: chunk, copy: Buffer.from(chunk) });
    if (kept.length === 1) {
      server.pause();
      setTimeout(() => {
        for (const k of kept) if (!k.view.equals(k.copy)) overwritten += 1;
        kept = [];
        server.resume();
      }, o.holdMs);
    }
  });
  for (let at = 0; at < payload.length;) {
    const n = Math.min(payload.length - at, 1 + Math.floor(Math.random() * 200_000));
    if (!client.write(payload.subarray(at, at + n))) await once(client, 'drain');
    at += n;
  }
  client.end();
  await done;
  client.destroy();
  server.destroy();
  const received = Buffer.concat(parts);
  t.equal(sha(received), sha(payload), `${secure ? 'TLS' : 'plain'}: every byte, in order`);
  return { received, overwritten, adopted, chunks };
}

for (const secure of [false, true]) {
  t.test(`${secure ? 'TLS' : 'plain'}: an upload read as fast as it comes reuses a few buffers`, async (t) => {
    const r = await upload(t, secure, { bytes: 16 << 20, holdMs: 0 });
    t.ok(r.adopted, 'adopted on the first large read');
    const buffers = new Set(r.chunks.map((c) => c.buffer));
    t.ok(buffers.size < r.chunks.length / 4, `${buffers.size} buffers for ${r.chunks.length} reads`);
  });

  t.test(`${secure ? 'TLS' : 'plain'}: views the owner keeps are never read into`, async (t) => {
    const r = await upload(t, secure, { bytes: 8 << 20, holdMs: 3 });
    t.ok(r.adopted, 'adopted on the first large read');
    t.equal(r.overwritten, 0, 'no kept view changed under its owner');
  });
}

t.test('after the upload, from the second small read on reads are copies: no read buffer stays with the socket', async (t) => {
  const { server, client } = await accepted(false);
  const seen: Buffer[] = [];
  server.on('data', (c: Buffer) => {
    seen.push(c);
    if (c.length >= BULK_READ_BYTES) reuseClientReads(server, { settled: () => true });
  });
  client.write(randomBytes(1 << 20));
  while (seen.reduce((n, c) => n + c.length, 0) < 1 << 20) await sleep(5);
  for (let i = 0; i < 8; i++) {
    client.write(`a 10 NOOP ${i}\r\n`);
    const before = seen.length;
    while (seen.length === before) await sleep(2);
  }
  // Two small reads end the upload: every read after them is a copy, no buffer kept.
  for (const c of seen.slice(-6)) t.equal(c.buffer.byteLength, c.length, `"${c.toString().trim()}" is a copy of its own size`);
  client.destroy();
  server.destroy();
});

t.test('not adopted while bytes wait in the stream: they would come after later reads', async (t) => {
  const { server, client } = await accepted(false);
  server.pause();
  client.write(randomBytes(100_000));
  while (server.readableLength === 0) await sleep(5);
  t.notOk(reuseClientReads(server, { settled: () => true }), 'refused');
  client.destroy();
  server.destroy();
});

t.test('reads are reused toward a plain backend, not toward a TLS one (a TLS write is done a turn late)', async (t) => {
  const plain = await accepted(false);
  const secure = await accepted(true);
  t.ok(readsReusableToward(plain.client), 'plain');
  t.notOk(readsReusableToward(secure.client), 'TLS');
  for (const s of [plain.client, plain.server, secure.client, secure.server]) s.destroy();
});

// Through the splice itself: a client uploading to a backend that reads in bursts with pauses,
// then a FIN. Every byte reaches the backend in order and the session ends as usual. With the
// backend socket's default buffer the upload goes through a few reused buffers; with one that
// takes 4 MiB before write() says "full", the client is read on while writes to the backend are
// pending, and only settled() keeps their buffers from being read into.
for (const hwm of [undefined, 4 << 20]) {
  t.test(`the splice: an upload to a slow backend arrives whole (backend buffer ${hwm ? '4 MiB' : 'default'})`, async (t) => {
    const { splice, connectedPair } = await import('../harness/splice.js');
    const client = await connectedPair();
    const listener = net.createServer({ allowHalfOpen: true }).listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const far = once(listener, 'connection') as Promise<[net.Socket]>;
    const near = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true, ...(hwm ? { writableHighWaterMark: hwm } : {}) } as net.NetConnectOpts);
    await once(near, 'connect');
    const backend = { near, far: (await far)[0] };
    listener.close();
    const s = splice(client.near, backend.near, { idleTimeoutMs: 60_000 });
    const payload = randomBytes(12 << 20);
    const got: Buffer[] = [];
    let n = 0;
    backend.far.on('data', (c: Buffer) => {
      got.push(c);
      if (++n % 2 === 0) {
        backend.far.pause();
        setTimeout(() => backend.far.resume(), 10);
      }
    });
    const ended = once(backend.far, 'end');
    const seen = new Set<ArrayBufferLike>();
    let reads = 0;
    client.near.prependListener('data', (c: Buffer) => { seen.add(c.buffer); reads += 1; });
    client.far.end(payload);
    await ended;
    t.equal(sha(Buffer.concat(got)), sha(payload), 'every byte, in order');
    if (!hwm) t.ok(seen.size < reads / 2, `${seen.size} buffers for ${reads} reads`);
    backend.far.end();
    const r = await s.done;
    t.equal(r.bytesToBackend, payload.length, 'counted');
  });
}

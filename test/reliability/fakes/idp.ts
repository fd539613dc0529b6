// A userinfo endpoint with programmable misbehaviour, for the IdP fault cases the real
// OpenID provider cannot produce on demand: hang, answer late, 500/429, a body that is not
// JSON, a 10 MB body, and HTTPS with a self-signed certificate nobody trusts.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export type IdpBehaviour =
  /** 200 with {"email": ...} after `delayMs`. */
  | { readonly kind: 'ok'; readonly email: string; readonly delayMs?: number }
  /** Accepts the request, never answers. */
  | { readonly kind: 'hang' }
  /** The status given, with a small JSON body (and Retry-After for 429). */
  | { readonly kind: 'status'; readonly status: number }
  /** 200, Content-Type JSON, a body that is not JSON. */
  | { readonly kind: 'invalid-json' }
  /** 200 with a body of `bytes` bytes (streamed, no Content-Length). */
  | { readonly kind: 'huge'; readonly bytes: number };

export interface FakeIdp {
  readonly url: string;
  behaviour: IdpBehaviour;
  /** Requests received so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

const run = promisify(execFile);

export async function startFakeIdp(behaviour: IdpBehaviour, opts: { https?: boolean } = {}): Promise<FakeIdp> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state = { behaviour };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requests += 1;
    req.resume();
    const b = state.behaviour;
    res.on('error', () => undefined);
    switch (b.kind) {
      case 'ok': {
        const answer = (): void => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: 'x', email: b.email })); };
        if (!b.delayMs) return answer();
        const timer = setTimeout(() => { timers.delete(timer); answer(); }, b.delayMs);
        timers.add(timer);
        return;
      }
      case 'hang':
        return;
      case 'status':
        res.writeHead(b.status, { 'content-type': 'application/json', ...(b.status === 429 ? { 'retry-after': '30' } : {}) })
          .end(JSON.stringify({ error: b.status === 429 ? 'slow_down' : 'server_error' }));
        return;
      case 'invalid-json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"email": "alice@example.test", <html>');
        return;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let left = b.bytes;
        const pump = (): void => {
          while (left > 0 && !res.destroyed) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end();
        };
        res.write('{"email":"alice@example.test","pad":"');
        pump();
        return;
      }
    }
  };

  let dir: string | undefined;
  let server: http.Server;
  if (opts.https) {
    dir = await mkdtemp(join(tmpdir(), 'o2mp-fake-idp-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    // Self-signed, for the right name: only the trust chain is wrong.
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
    server = https.createServer({ key: await readFile(key), cert: await readFile(cert) }, handler);
  } else {
    server = http.createServer(handler);
  }
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined); // the proxy refusing our certificate is the point
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    url: `${opts.https ? 'https' : 'http'}://127.0.0.1:${port}/userinfo`,
    get behaviour() { return state.behaviour; },
    set behaviour(b: IdpBehaviour) { state.behaviour = b; },
    get requests() { return requests; },
    stop() {
      stopping ??= (async () => {
        for (const t of timers) clearTimeout(t);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        if (dir) await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

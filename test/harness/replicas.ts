// Two proxy replicas with APP_PASSWORDS_FILE on one real redis-server (SHARED_STATE_URL), as
// in a deployment with several replicas: A reaches the store directly, B only through a TCP
// forwarder the test can cut (B alone away from the store). Both share one certificate, a
// state directory (removed at teardown) and the backend and IdP; everything stops at teardown.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackendAndIdp } from './stack.js';
import type { Backend } from './backend.js';
import type { Idp } from './idp.js';
import { startProxy, type TestProxy } from './proxy.js';
import { startRedis, type TestRedis } from './redis.js';
import { startTcpCut, type TcpCut } from './tcp-cut.js';
import { RawClient } from './raw-imap.js';

export interface ReplicaPair {
  readonly backend: Backend;
  readonly idp: Idp;
  readonly redis: TestRedis;
  readonly toStoreFromB: TcpCut;
  /** The state directory (the app-password file, DMS files). */
  readonly dir: string;
  readonly a: TestProxy;
  readonly b: TestProxy;
  /** The CA of the replicas' one certificate. */
  readonly ca: string;
}

/** `aEnv(dir)`, `bEnv(dir)`: what replica A and B have besides (e.g. the SCIM service). */
export async function startReplicaPair(
  t: { teardown(fn: () => unknown): void }, dirPrefix: string,
  aEnv: (dir: string) => Record<string, string> = () => ({}), bEnv: (dir: string) => Record<string, string> = () => ({}),
): Promise<ReplicaPair> {
  const { backend, idp } = await startBackendAndIdp(t);
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const toStoreFromB = await startTcpCut(redis.port);
  t.teardown(() => toStoreFromB.stop());
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const start = async (extra: Record<string, string>): Promise<TestProxy> => {
    const p = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, env: { APP_PASSWORDS_FILE: join(dir, 'app-passwords.json'), SHARED_STATE_URL: redis.url, ...extra } });
    t.teardown(() => p.stop());
    return p;
  };
  const a = await start(aEnv(dir));
  const b = await start({ ...bEnv(dir), SHARED_STATE_URL: `redis://127.0.0.1:${toStoreFromB.port}/0`, SSL_CERT_PATH: a.certs.certFile, SSL_KEY_PATH: a.certs.keyFile });
  return { backend, idp, redis, toStoreFromB, dir, a, b, ca: readFileSync(a.certs.caFile, 'utf8') };
}

/** The replica's own view of the store: its last shared-state-up/-down event (the metric is one per process, and the replicas run in this one). */
export function storeUp(p: TestProxy): boolean {
  return p.logs().filter((l) => l.event === 'shared-state-up' || l.event === 'shared-state-down').at(-1)?.event === 'shared-state-up';
}

/** One IMAP LOGIN on a fresh implicit-TLS connection to `p`: the tagged reply. */
export async function loginOnce(p: TestProxy, ca: string, user: string, password: string, timeoutMs: number): Promise<string> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca });
  try {
    await c.line();
    return (await c.command(`a LOGIN "${user}" "${password}"`, timeoutMs)).tagged;
  } finally {
    c.close();
  }
}

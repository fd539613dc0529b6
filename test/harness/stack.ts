// The usual test set-up in one call: a DMS-like backend, the in-process IdP and the proxy
// in front, each stopped when the calling test ends (teardown registered right away).
import { readFileSync } from 'node:fs';
import { startBackend, type Backend, type BackendOptions, type MailUser } from './backend.js';
import { startIdp, type Idp } from './idp.js';
import { startProxy, type TestProxy } from './proxy.js';
import { debian13Unavailable } from './flavour.js';

export interface Stack {
  readonly backend: Backend;
  readonly idp: Idp;
  readonly proxy: TestProxy;
  /** PEM of the CA that signed the proxy's certificate. */
  readonly ca: string;
  readonly alice: MailUser;
  readonly bob: MailUser;
  /** Passwords that must never show up in a log line. */
  readonly secrets: string[];
}

/** Backend and IdP only, for tests that start proxies of their own (each with its own settings). */
export async function startBackendAndIdp(
  t: { teardown(fn: () => unknown): void },
  opts: { backend?: BackendOptions } = {},
): Promise<{ backend: Backend; idp: Idp }> {
  const backend = await startBackend(opts.backend);
  t.teardown(() => backend.stop());
  const idp = await startIdp();
  t.teardown(() => idp.stop());
  return { backend, idp };
}

export async function startStack(
  t: { teardown(fn: () => unknown): void },
  opts: { backend?: BackendOptions; proxyEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const { backend, idp } = await startBackendAndIdp(t, opts);
  const proxy = await startProxy({ backend, userinfoUrl: idp.userinfoUrl, ...(opts.proxyEnv ? { env: opts.proxyEnv } : {}) });
  t.teardown(() => proxy.stop());
  const [alice, bob] = backend.users as [MailUser, MailUser];
  return {
    backend, idp, proxy, alice, bob,
    ca: readFileSync(proxy.certs.caFile, 'utf8'),
    secrets: [alice.password, bob.password, backend.master.password],
  };
}

/**
 * A Debian 13 (Dovecot 2.4) backend and the IdP, for the tests of what DMS on Dovecot 2.4
 * does to the proxy; or, where that backend cannot run here, undefined with `t`'s plan set to
 * none and the reason. The backend listens on 127.0.0.2 while the proxy connects from
 * 127.0.0.1, as DMS in a container of its own: Dovecot counts a connection from its own
 * address as secured whatever the version, which would hide 2.4's refusals of a cleartext leg.
 */
export async function startDovecot24BackendAndIdp(
  t: { teardown(fn: () => unknown): void; plan(n: number, comment?: string): void },
  opts: { dovecotConf?: string } = {},
): Promise<{ backend: Backend; idp: Idp } | undefined> {
  const unavailable = debian13Unavailable();
  if (unavailable) {
    t.plan(0, `Dovecot 2.4 backend: ${unavailable}`);
    return undefined;
  }
  return startBackendAndIdp(t, { backend: { flavour: 'debian13', host: '127.0.0.2', ...opts } });
}

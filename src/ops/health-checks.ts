// The readiness checks of a running proxy (see health.ts for how they are cached):
//  - listeners: every configured listener is accepting;
//  - backend: a TCP connection to DMS's IMAP (and, with SMTP, POP3 or ManageSieve on, their) port opens. No
//    protocol is spoken, so the probe adds no login lines to DMS's logs for Fail2Ban;
//    `oauth2-mail-proxy doctor --user` is the deep check;
//  - idp: the token endpoint the proxy calls answers HTTP at all (a 401 to a request
//    without a token is an answer), unless `idpCachedStateUsable()` says logins can be
//    decided without it (e.g. JWTs with a cached JWKS).
import type { Config } from '../config/types.js';
import type { Listener } from '../net/listen.js';
import { connectTcp } from '../backend/dial.js';
import type { ReadinessCheck } from './health.js';
import { BACKEND_PROBE_TIMEOUT_MS, IDP_PROBE_TIMEOUT_MS } from '../limits.js';

/** The IdP HTTP client (src/auth/http.ts): the probe shares its agent, timeouts and size cap. */
export interface IdpProbe {
  probe(url: string, timeoutMs: number): Promise<number>;
}

export interface ReadinessOptions {
  readonly idp: IdpProbe;
  readonly idpCachedStateUsable?: () => boolean;
}

export function readinessChecks(config: Config, listeners: readonly Listener[], o: ReadinessOptions): ReadinessCheck[] {
  const b = config.backend;
  const ports = [
    b.imapPort,
    ...(config.listen.submission || config.listen.submissions ? [b.submissionPort] : []),
    ...(config.listen.pop3 || config.listen.pop3s ? [b.pop3Port] : []),
    ...(config.listen.managesieve ? [b.managesievePort] : []),
  ];
  const idpUrl = idpProbeUrl(config);
  return [
    {
      name: 'listeners',
      run: async () => {
        const down = listeners.filter((l) => !l.server.listening).map((l) => l.name);
        return { ok: down.length === 0, detail: down.length ? `not listening: ${down.join(', ')}` : `${listeners.length} listening` };
      },
    },
    {
      name: 'backend',
      run: async () => {
        await Promise.all(ports.map(async (port) => (await connectTcp(b.host, port, BACKEND_PROBE_TIMEOUT_MS)).destroy()));
        return { ok: true, detail: `${b.host}:${ports.join(',')} reachable` };
      },
    },
    {
      name: 'idp',
      run: async () => {
        if (!idpUrl) return { ok: true, detail: 'no IdP URL to probe' };
        try {
          const status = await o.idp.probe(idpUrl, IDP_PROBE_TIMEOUT_MS);
          if (status < 500) return { ok: true, detail: `HTTP ${status}` };
          throw new Error(`HTTP ${status}`);
        } catch (err) {
          if (o.idpCachedStateUsable?.()) return { ok: true, detail: `unreachable (${(err as Error).message}); cached state in use` };
          return { ok: false, detail: `unreachable: ${(err as Error).message}` };
        }
      },
    },
  ];
}

/** The URL whose answer shows the IdP is up: the introspection/userinfo URL, else discovery. */
export function idpProbeUrl(config: { readonly oauth2: Pick<Config['oauth2'], 'issuers'> }): string {
  const first = config.oauth2.issuers[0]?.introspectionUrl;
  if (first) return first;
  const issuer = config.oauth2.issuers.find((i) => i.issuer)?.issuer;
  return issuer ? `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration` : '';
}

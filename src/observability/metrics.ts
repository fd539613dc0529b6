// The Prometheus metrics, in one place: every other module records through the named
// metrics exported here and never imports prom-client itself. One registry per process
// (`metrics`); createMetrics() makes a fresh one for unit tests.
//
// Nothing here runs per spliced chunk: bytes are added once when a splice ends, and the
// active-session gauge asks the services for their counts at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterCells, type CounterCell } from './batched-counter.js';

/** The client-facing protocols, as metric labels and in the `proto` field of log lines. */
export const PROTOCOLS = ['imap', 'smtp', 'pop3', 'managesieve'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export type LoginResult = 'ok' | 'failed' | 'unavailable' | 'backend_unavailable';

const PREFIX = 'oauth2_mail_proxy_';
/** Seconds: IdP and backend logins are tens of milliseconds when healthy, seconds when not. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type LoginCell = CounterCell<'protocol' | 'mechanism' | 'result'>;
const LOGIN_RESULTS: readonly LoginResult[] = ['ok', 'failed', 'unavailable', 'backend_unavailable'];

export function createMetrics() {
  const registry = new Registry();
  // The per-login counters, as plain numbers by label set (batched-counter.ts): by protocol,
  // result, then mechanism; spliced bytes by protocol and direction.
  const loginCells = new CounterCells<'protocol' | 'mechanism' | 'result'>();
  const loginsBy = Object.fromEntries(PROTOCOLS.map((p) => [p, Object.fromEntries(LOGIN_RESULTS.map((r) => [r, new Map<string, LoginCell>()]))])) as Record<Protocol, Record<LoginResult, Map<string, LoginCell>>>;
  const byteCells = new CounterCells<'protocol' | 'direction'>();
  const bytesBy = Object.fromEntries(PROTOCOLS.map((protocol) => [protocol, {
    toBackend: byteCells.add({ protocol, direction: 'to_backend' }),
    toClient: byteCells.add({ protocol, direction: 'to_client' }),
  }])) as Record<Protocol, { toBackend: CounterCell<'protocol' | 'direction'>; toClient: CounterCell<'protocol' | 'direction'> }>;
  const registers = [registry];
  const sessionSources = new Set<{ protocol: Protocol; count: () => number }>();
  const certExpiry = new Map<string, number>();
  const readinessSources = new Set<() => Promise<boolean>>();
  let defaultsOn = false;
  // Token cache lookups by result, as cells like the login counter's (one a login).
  const cacheCells = new CounterCells<'result'>();
  const cacheLookups = { hit: cacheCells.add({ result: 'hit' }), miss: cacheCells.add({ result: 'miss' }), shared: cacheCells.add({ result: 'shared' }) };
  const m = {
    registry,
    sessionsActive: new Gauge({
      name: `${PREFIX}sessions_active`,
      help: 'Open client sessions (before and after login) by protocol.',
      labelNames: ['protocol'] as const,
      registers,
      collect() {
        const sums = Object.fromEntries(PROTOCOLS.map((p) => [p, 0])) as Record<Protocol, number>;
        for (const s of sessionSources) sums[s.protocol] += s.count();
        for (const [protocol, n] of Object.entries(sums)) this.set({ protocol }, n);
      },
    }),
    logins: new Counter({
      name: `${PREFIX}logins_total`,
      help: 'Login attempts by protocol, SASL mechanism and result (ok, failed, unavailable, backend_unavailable).',
      labelNames: ['protocol', 'mechanism', 'result'] as const,
      registers,
      collect() { loginCells.flush(this); },
    }),
    idpRequestSeconds: new Histogram({
      name: `${PREFIX}idp_request_duration_seconds`,
      help: 'IdP HTTP requests (userinfo, introspection, discovery, JWKS) by outcome.',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    idpErrors: new Counter({
      name: `${PREFIX}idp_request_errors_total`,
      help: 'IdP requests that got no usable answer, by error code (ERR_IDP_TIMEOUT, ERR_IDP_NETWORK, ERR_IDP_TOO_LARGE, http_5xx).',
      labelNames: ['code'] as const,
      registers,
    }),
    /** Token cache lookups: count them with countTokenCache(); read through this counter (scrape, get()). */
    tokenCache: new Counter({
      name: `${PREFIX}token_cache_lookups_total`,
      help: 'Token cache lookups by result (hit, miss; shared: a miss answered by another replica\'s decision in the shared store).',
      labelNames: ['result'] as const,
      registers,
      collect() { cacheCells.flush(this); },
    }),
    /** For the token cache (src/auth): one lookup, `'hit'`, `'miss'`, or `'shared'` (a miss here that another replica's decision answered). */
    countTokenCache(result: 'hit' | 'miss' | 'shared'): void {
      cacheLookups[result].n += 1;
    },
    backendLoginSeconds: new Histogram({
      name: `${PREFIX}backend_login_duration_seconds`,
      help: 'Time to connect and log in to DMS (Dovecot for IMAP, Postfix for SMTP) for successful logins.',
      labelNames: ['protocol'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    splicedBytes: new Counter({
      name: `${PREFIX}spliced_bytes_total`,
      help: 'Bytes moved after login, by protocol and direction (to_backend, to_client); added when a session ends.',
      labelNames: ['protocol', 'direction'] as const,
      registers,
      collect() { byteCells.flush(this); },
    }),
    connectionsRefused: new Counter({
      name: `${PREFIX}connections_refused_total`,
      help: 'Connections refused before any session state, by reason (ip-blocked: too many failed logins; total, per-ip, preauth: the connection limits).',
      labelNames: ['reason'] as const,
      registers,
    }),
    ready: new Gauge({
      name: `${PREFIX}ready`,
      help: 'Readiness as /readyz answers it: 1 ready, 0 not (shutting down, a listener down, DMS or the IdP unreachable). Checked at scrape time; check results are cached for 10 s.',
      registers,
      async collect() {
        const answers = await Promise.all([...readinessSources].map((ready) => ready()));
        this.set(answers.length > 0 && answers.every(Boolean) ? 1 : 0);
      },
    }),
    tlsReloads: new Counter({
      name: `${PREFIX}tls_reloads_total`,
      help: 'Certificate reloads by result (ok, error: the old certificate stays in use).',
      labelNames: ['result'] as const,
      registers,
    }),
    tlsCertExpiry: new Gauge({
      name: `${PREFIX}tls_certificate_expiry_timestamp_seconds`,
      help: 'notAfter of each client-facing certificate in use, by name (default or the SNI domain).',
      labelNames: ['name'] as const,
      registers,
      collect() {
        for (const [name, at] of certExpiry) this.set({ name }, at);
      },
    }),
    internalErrors: new Counter({
      name: `${PREFIX}internal_errors_total`,
      help: 'Faults in the proxy itself (a bug, not a client mistake) by where they were caught: imap, smtp, scim, http (that connection or request was ended), process (outside any connection; the process keeps running).',
      labelNames: ['listener'] as const,
      registers,
    }),
    sharedStateErrors: new Counter({
      name: `${PREFIX}shared_state_errors_total`,
      help: 'Calls to the shared store (SHARED_STATE_URL) that failed or timed out, by operation; the replica then decided with its own state.',
      labelNames: ['op'] as const,
      registers,
    }),
    sharedStateUp: new Gauge({
      name: `${PREFIX}shared_state_up`,
      help: '1 while the shared store (SHARED_STATE_URL) is reachable, 0 while this replica runs on its own state.',
      registers,
    }),
    /** One login attempt (logins_total). */
    countLogin(protocol: Protocol, mechanism: string, result: LoginResult): void {
      const cells = loginsBy[protocol][result];
      let c = cells.get(mechanism);
      if (c === undefined) cells.set(mechanism, (c = loginCells.add({ protocol, mechanism, result })));
      c.n += 1;
    },
    /** A spliced session's bytes, counted when it ends (spliced_bytes_total). */
    countSplicedBytes(protocol: Protocol, toBackend: number, toClient: number): void {
      const cells = bytesBy[protocol];
      cells.toBackend.n += toBackend;
      cells.toClient.n += toClient;
    },
    /** Registers a live session count; returns the function that unregisters it. */
    trackSessions(protocol: Protocol, count: () => number): () => void {
      const source = { protocol, count };
      sessionSources.add(source);
      return () => sessionSources.delete(source);
    },
    /** Registers the server's readiness (read at scrape time); returns the function that unregisters it. */
    trackReadiness(ready: () => Promise<boolean>): () => void {
      readinessSources.add(ready);
      return () => readinessSources.delete(ready);
    },
    setCertExpiry(name: string, notAfterMs: number): void {
      certExpiry.set(name, Math.floor(notAfterMs / 1000));
    },
    /** Node process metrics (CPU, memory, event loop lag); turned on with the HTTP listener. */
    enableDefaultMetrics(): void {
      if (defaultsOn) return;
      defaultsOn = true;
      collectDefaultMetrics({ register: registry, prefix: PREFIX });
    },
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

export const metrics: Metrics = createMetrics();

// Which protocol each per-connection logger belongs to: a symbol-keyed field on the child
// itself, not its bindings() (pino parses its serialized bindings back for that, twice per
// login) nor a WeakMap (an ephemeron entry per connection, ~1.6 µs and GC work, issue 21).
// Every child gets the field at the same point, so they keep one shape.
const PROTOCOL: unique symbol = Symbol('protocol');

// pino rebuilds a child's formatters when its parent's are the root's (ours has a log
// formatter, censor()): per connection, unless the session loggers descend from one child
// without bindings, made once per parent, whose formatters every grandchild then shares.
// Its lines are the same: a child without bindings adds nothing to them.
const sessionParents = new WeakMap<object, object>();

/** The per-connection child logger: its lines carry cid, proto and client; protocolOf() knows it. */
export function sessionLogger<L extends { child(b: Record<string, unknown>): L }>(root: L, proto: Protocol, cid: string, client: string): L {
  let parent = sessionParents.get(root) as L | undefined;
  if (parent === undefined) sessionParents.set(root, parent = root.child({}));
  const log = parent.child({ cid, proto, client }) as L & { [PROTOCOL]?: Protocol };
  log[PROTOCOL] = proto;
  return log;
}

/** The protocol a per-connection logger was made for by sessionLogger() ('imap' otherwise). */
export function protocolOf(log: object): Protocol {
  return Object.hasOwn(log, PROTOCOL) ? (log as { [PROTOCOL]: Protocol })[PROTOCOL] : 'imap';
}

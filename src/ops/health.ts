// Liveness and readiness. /healthz: the process answers (the event loop runs). /readyz: the
// proxy should get new connections: not shutting down, every listener up, the backend
// reachable, the IdP reachable (or its cached state usable without it).
//
// Checks run on demand and their results are kept for HEALTH_CHECK_CACHE_MS, so probes from
// several kubelets or a scraper never turn into a stream of connections to DMS (whose
// Fail2Ban reads the log lines a probe causes) or the IdP.
import { HEALTH_CHECK_CACHE_MS, HEALTH_CHECK_TIMEOUT_MS } from '../limits.js';

export interface CheckResult { readonly ok: boolean; readonly detail: string }

export interface ReadinessCheck {
  readonly name: string;
  run(): Promise<CheckResult>;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: ReadonlyArray<CheckResult & { readonly name: string }>;
}

export class Health {
  private shuttingDown = false;
  private readonly cache = new Map<string, { at: number; result: Promise<CheckResult> }>();

  constructor(private readonly checks: readonly ReadinessCheck[], private readonly cacheMs = HEALTH_CHECK_CACHE_MS) {}

  /** Readiness goes false for good: the load balancer stops sending new connections. */
  setShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async readiness(): Promise<Readiness> {
    if (this.shuttingDown) return { ready: false, checks: [{ name: 'shutdown', ok: false, detail: 'shutting down' }] };
    const results = await Promise.all(this.checks.map(async (c) => ({ name: c.name, ...(await this.cached(c)) })));
    return { ready: results.every((r) => r.ok), checks: results };
  }

  private cached(c: ReadinessCheck): Promise<CheckResult> {
    const hit = this.cache.get(c.name);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.result;
    const result = withTimeout(c.run(), HEALTH_CHECK_TIMEOUT_MS).catch((err: Error): CheckResult => ({ ok: false, detail: err.message }));
    this.cache.set(c.name, { at: Date.now(), result });
    return result;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

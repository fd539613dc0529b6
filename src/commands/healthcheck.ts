// `healthcheck`: the container's HEALTHCHECK. Asks this proxy's own /healthz where
// LISTEN_HTTP (from the environment, as the image sets it) puts the ops listener: 0 when it
// answers 200, 1 otherwise. With LISTEN_HTTP empty there is nothing to ask: 0, and a line
// that says so (an orchestrator restarts a container it thinks unhealthy).
import { KEYS } from '../config/keys.js';
import { parseListen } from '../config/values.js';
import { HEALTHCHECK_TIMEOUT_MS } from '../limits.js';

export interface HealthcheckIo {
  readonly env: NodeJS.ProcessEnv;
  readonly err: (s: string) => void;
}

export async function healthcheckCommand(io: HealthcheckIo): Promise<number> {
  const raw = io.env.LISTEN_HTTP ?? KEYS.find((k) => k.name === 'LISTEN_HTTP')!.default;
  const at = parseListen(raw);
  if (!at.ok) { io.err(`healthcheck: LISTEN_HTTP: ${at.error}\n`); return 1; }
  if (!at.value) { io.err('healthcheck: LISTEN_HTTP is empty: no ops listener to ask\n'); return 0; }
  // Every address: asked on the loopback of its family.
  const host = at.value.host === '0.0.0.0' ? '127.0.0.1' : at.value.host === '::' ? '::1' : at.value.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${at.value.port}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.ok) return 0;
    io.err(`healthcheck: ${url} answered ${res.status}\n`);
  } catch (err) {
    io.err(`healthcheck: ${url}: ${(err as Error).message}\n`);
  }
  return 1;
}

// Every IdP request goes through here: a total deadline, connect/header/body timeouts and
// a response size cap (undici's own defaults are 300 s and unbounded: shared REFERENCE).
import { Agent, request } from 'undici';
import { metrics } from '../observability/metrics.js';
import { IDP_KEEPALIVE_MS, IDP_MAX_CONNECTIONS } from '../limits.js';

export interface HttpLimits { timeoutMs: number; maxResponseBytes: number }

export interface HttpResponse { status: number; body: Buffer; contentType: string }

export class IdpHttpError extends Error {
  constructor(
    /** ERR_IDP_DISCOVERY: discovery or JWKS could not be used (src/auth/discovery.ts, jwks.ts). */
    readonly code: 'ERR_IDP_TIMEOUT' | 'ERR_IDP_NETWORK' | 'ERR_IDP_TOO_LARGE' | 'ERR_IDP_DISCOVERY',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class IdpHttpClient {
  private readonly agent: Agent;

  constructor(private readonly limits: HttpLimits) {
    this.agent = new Agent({
      connect: { timeout: limits.timeoutMs },
      headersTimeout: limits.timeoutMs,
      bodyTimeout: limits.timeoutMs,
      keepAliveTimeout: IDP_KEEPALIVE_MS,
      connections: IDP_MAX_CONNECTIONS,
    });
  }

  async send(url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }): Promise<HttpResponse> {
    const signal = AbortSignal.timeout(this.limits.timeoutMs);
    const endTimer = metrics.idpRequestSeconds.startTimer();
    try {
      const res = await request(url, { ...init, dispatcher: this.agent, signal, maxRedirections: 0 } as Parameters<typeof request>[1]);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.limits.maxResponseBytes) {
          res.body.destroy();
          throw new IdpHttpError('ERR_IDP_TOO_LARGE', `IdP response larger than ${this.limits.maxResponseBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      const ct = res.headers['content-type'];
      endTimer({ outcome: res.statusCode >= 500 ? 'http_5xx' : 'ok' });
      if (res.statusCode >= 500) metrics.idpErrors.inc({ code: 'http_5xx' });
      return { status: res.statusCode, body: Buffer.concat(chunks), contentType: Array.isArray(ct) ? ct[0] ?? '' : ct ?? '' };
    } catch (err) {
      const e = idpError(err, signal, this.limits.timeoutMs);
      endTimer({ outcome: 'error' });
      metrics.idpErrors.inc({ code: e.code });
      throw e;
    }
  }

  /**
   * The status of a GET without credentials, for readiness: does the IdP answer at all? The
   * same agent (connection cap), timeouts and body cap as token requests, and at most
   * `timeoutMs`. Not in the IdP request metrics: those describe logins.
   */
  async probe(url: string, timeoutMs: number): Promise<number> {
    const ms = Math.min(timeoutMs, this.limits.timeoutMs);
    const signal = AbortSignal.timeout(ms);
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.agent, signal, maxRedirections: 0 } as Parameters<typeof request>[1]);
      await res.body.dump({ limit: this.limits.maxResponseBytes, signal });
      return res.statusCode;
    } catch (err) {
      throw idpError(err, signal, ms);
    }
  }

  /**
   * Ends the client now: a request still in flight (a login waiting on a slow IdP) is
   * aborted and its login answered UNAVAILABLE. Waiting for it, as undici's close() does,
   * would hold a shutdown for up to OAUTH2_TIMEOUT_MS past its grace.
   */
  close(): Promise<void> {
    return this.agent.destroy();
  }
}

function idpError(err: unknown, signal: AbortSignal, timeoutMs: number): IdpHttpError {
  if (err instanceof IdpHttpError) return err;
  if (signal.aborted || isTimeout(err)) return new IdpHttpError('ERR_IDP_TIMEOUT', `IdP did not answer within ${timeoutMs} ms`, { cause: err });
  return new IdpHttpError('ERR_IDP_NETWORK', `IdP request failed: ${describe(err)}`, { cause: err });
}

function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return /TIMEOUT/.test(code) || (err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError';
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  return e?.cause?.code ?? e?.code ?? e?.message ?? 'unknown error';
}

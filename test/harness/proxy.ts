// Starts the real proxy in-process on free ports in front of a test backend and IdP, with
// every log line captured so tests can assert on events and on the absence of secrets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type RawConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type ProxyServer } from '../../src/server.js';
import { makeCerts, type CertSet } from './certs.js';
import type { Backend } from './backend.js';

export interface TestProxy {
  readonly server: ProxyServer;
  readonly imapPort: number;
  readonly imapsPort: number;
  readonly submissionPort: number;
  readonly submissionsPort: number;
  /** 0 unless the test set LISTEN_MANAGESIEVE. */
  readonly managesievePort: number;
  readonly certs: CertSet;
  /** Every log line so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  /** The raw log text, for secret scans. */
  rawLogs(): string;
  stop(): Promise<void>;
}

export interface ProxyTestOptions {
  backend: Pick<Backend, 'host' | 'imapPort' | 'submissionPort' | 'caFile' | 'master'> & Partial<Pick<Backend, 'pop3Port' | 'managesievePort'>>;
  userinfoUrl: string;
  env?: Record<string, string>;
  /** What a --config YAML file gives (readConfigFile), e.g. an issuers: list. */
  file?: RawConfig;
}

export async function startProxy(opts: ProxyTestOptions): Promise<TestProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'o2mp-proxy-'));
  const certs = await makeCerts(dir, { prefix: 'proxy-' });
  const env: Record<string, string> = {
    LISTEN_IMAP: '127.0.0.1:0',
    LISTEN_IMAPS: '127.0.0.1:0',
    LISTEN_SUBMISSION: '127.0.0.1:0',
    LISTEN_SUBMISSIONS: '127.0.0.1:0',
    SMTP_HOSTNAME: 'proxy.example.test',
    DMS_SUBMISSION_PORT: String(opts.backend.submissionPort),
    DMS_SUBMISSION_TLS: 'starttls',
    ...(opts.backend.managesievePort ? { DMS_MANAGESIEVE_PORT: String(opts.backend.managesievePort) } : {}),
    SSL_CERT_PATH: certs.certFile,
    SSL_KEY_PATH: certs.keyFile,
    OAUTH2_INTROSPECTION_URL: opts.userinfoUrl,
    DMS_HOST: opts.backend.host,
    DMS_IMAP_PORT: String(opts.backend.imapPort),
    DMS_TLS: 'starttls',
    DMS_TLS_CA_FILE: opts.backend.caFile,
    DMS_TLS_SERVERNAME: 'localhost',
    DMS_MASTER_USER: opts.backend.master.user,
    DMS_MASTER_PASSWORD: opts.backend.master.password,
    // POP3 listens only where a test sets LISTEN_POP3/LISTEN_POP3S; its backend is known.
    ...(opts.backend.pop3Port ? { DMS_POP3_PORT: String(opts.backend.pop3Port) } : {}),
    LOG_LEVEL: 'debug',
    LISTEN_HTTP: '127.0.0.1:0',
    // Every test client is 127.0.0.1: without this, one file's deliberate failures would
    // block the rest of it. test/e2e/abuse.test.ts sets tight limits of its own.
    AUTH_FAIL_DELAY_MS: '0',
    AUTH_FAIL_MAX_PER_IP: '100000',
    AUTH_FAIL_MAX_PER_USER: '100000',
    ...opts.env,
  };
  const config = loadConfig(env, opts.file);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const server = await startServer(config, createLogger(config.logLevel, sink));
  const portOf = (name: string): number => (server.listeners.some((l) => l.name === name) ? server.port(name) : 0);
  let stopped = false;
  return {
    server,
    imapPort: portOf('imap'),
    imapsPort: portOf('imaps'),
    submissionPort: portOf('submission'),
    submissionsPort: portOf('submissions'),
    managesievePort: portOf('managesieve'),
    certs,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    rawLogs: () => lines.join('\n'),
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a truthy value or the time is up (every wait in tests is bounded). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// `doctor` (src/doctor/run.ts) in-process against a test backend and IdP, with POP3S and
// ManageSieve configured, its own proxy certificate, checking `backend.users[0]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoctor } from '../../src/doctor/run.js';
import { makeCerts } from './certs.js';
import type { Backend } from './backend.js';
import type { Idp } from './idp.js';

export type DoctorRun = (extra?: Record<string, string>) => Promise<{ code: number; out: string }>;

/** A doctor run with the settings that reach `backend`, `extra` on top: its exit code and output. */
export async function doctorAgainst(t: { teardown(fn: () => unknown): void }, backend: Backend, idp: Idp): Promise<DoctorRun> {
  const dir = mkdtempSync(join(tmpdir(), 'omp-doctor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCerts(dir, { prefix: 'proxy-' });
  const env = {
    PATH: process.env.PATH ?? '', SSL_CERT_PATH: certs.certFile, SSL_KEY_PATH: certs.keyFile, SMTP_HOSTNAME: 'proxy.example.test',
    OAUTH2_INTROSPECTION_URL: idp.userinfoUrl, DMS_HOST: backend.host, DMS_IMAP_PORT: String(backend.imapPort),
    DMS_SUBMISSION_PORT: String(backend.submissionPort), DMS_TLS_CA_FILE: backend.caFile, DMS_TLS_SERVERNAME: 'localhost',
    DMS_MASTER_USER: backend.master.user, DMS_MASTER_PASSWORD: backend.master.password,
    LISTEN_POP3S: '127.0.0.1:0', DMS_POP3_PORT: String(backend.pop3Port),
    LISTEN_MANAGESIEVE: '127.0.0.1:0', DMS_MANAGESIEVE_PORT: String(backend.managesievePort),
  };
  return async (extra = {}) => {
    const lines: string[] = [];
    const code = await runDoctor({ env: { ...env, ...extra }, file: {}, user: backend.users[0]!.email }, (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  };
}

// `oauth2-mail-proxy doctor [--config FILE] [--user USER]`: checks an installation the way
// an operator would by hand and prints a checklist, with a fix for every failure. Exit code
// 0 when nothing failed (warnings allowed), 1 otherwise, 78 when the configuration is invalid.
import { ConfigError, loadConfig, type RawConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { checkBackendReachable, checkCertificates, checkIdp, checkMasterLogins, type CheckLine } from './checks.js';
import { backendTlsOptions } from '../backend/dial.js';

export interface DoctorOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly file: RawConfig;
  /** With a mailbox: also log in to IMAP and submission with the master account as it. */
  readonly user?: string;
}

const MARK = { ok: '[ OK ]', warn: '[WARN]', fail: '[FAIL]' } as const;

export function formatLine(l: CheckLine): string {
  const head = `${MARK[l.status]} ${l.title}: ${l.detail}`;
  return l.fix && l.status !== 'ok' ? `${head}\n       fix: ${l.fix}` : head;
}

export async function runDoctor(o: DoctorOptions, print: (line: string) => void): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(o.env, o.file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) print(formatLine({ status: 'fail', title: 'configuration', detail: p, fix: 'see the Configuration table in the README' }));
    return 78;
  }
  print(formatLine({ status: 'ok', title: 'configuration', detail: 'every key valid' }));
  let failed = false;
  const emit = (lines: CheckLine[]): void => {
    for (const l of lines) {
      if (l.status === 'fail') failed = true;
      print(formatLine(l));
    }
  };
  emit(checkCertificates(config));
  emit(await checkIdp(config));
  const reach = await checkBackendReachable(config);
  emit(reach);
  if (o.user) {
    emit(await checkMasterLogins(config, o.user, backendTlsOptions(config.backend)));
  } else {
    print(formatLine({ status: 'warn', title: 'master login', detail: 'not checked', fix: 'run doctor --user someone@your-domain to log in as a DMS account with the master user' }));
  }
  print(failed ? 'doctor: some checks failed' : 'doctor: all checks passed');
  return failed ? 1 : 0;
}

// `oauth2-mail-proxy doctor [--config FILE] [--user USER]`: checks an installation the way
// an operator would by hand and prints a checklist, with a fix for every failure. A check
// runs when the settings it needs are valid; one whose settings are not is listed as not
// run, and the others still run (a fresh machine gets as many answers as it can).
// Exit code 0 when nothing failed (warnings allowed), 1 when a check failed, 78 when a
// setting is invalid.
import type { RawConfig } from '../config/load.js';
import { readSections, SECTION_NAMES, type SectionName } from '../config/sections.js';
import { checkBackendReachable, checkCertificates, checkIdp, checkMasterLogins, checkVersion, frontsOn, type CheckLine } from './checks.js';
import { backendTlsOptions } from '../backend/dial.js';
import { readPackageInfo } from '../package-info.js';

export interface DoctorOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly file: RawConfig;
  /** With a mailbox: also log in to IMAP and submission with the master account as it. */
  readonly user?: string;
}

const MARK = { ok: '[ OK ]', warn: '[WARN]', fail: '[FAIL]', skip: '[SKIP]' } as const;

export function formatLine(l: CheckLine): string {
  const head = `${MARK[l.status]} ${l.title}: ${l.detail}`;
  return l.fix && l.status !== 'ok' ? `${head}\n       fix: ${l.fix}` : head;
}

const skipped = (title: string, invalid: readonly SectionName[]): CheckLine =>
  ({ status: 'skip', title, detail: `not run: the ${invalid.join(' and ')} settings above are invalid` });

export async function runDoctor(o: DoctorOptions, print: (line: string) => void): Promise<number> {
  let failed = false;
  const emit = (lines: CheckLine[]): void => {
    for (const l of lines) {
      if (l.status === 'fail') failed = true;
      print(formatLine(l));
    }
  };
  emit([checkVersion(readPackageInfo())]);
  const s = readSections(o.env, o.file, SECTION_NAMES);
  const invalid = SECTION_NAMES.filter((n) => !s[n].ok);
  const problems = SECTION_NAMES.flatMap((n) => { const r = s[n]; return r.ok ? [] : r.problems; });
  for (const p of problems) print(formatLine({ status: 'fail', title: 'configuration', detail: p, fix: 'see the key table in docs/configuration.md' }));
  if (!invalid.length) print(formatLine({ status: 'ok', title: 'configuration', detail: 'every key valid' }));
  const listen = s.listeners.ok ? s.listeners.value.listen : undefined;

  if (s.listeners.ok) emit(checkCertificates(s.listeners.value));
  else emit([skipped('TLS certificate', ['listeners'])]);
  if (s.tokens.ok) emit(await checkIdp(s.tokens.value));
  else emit([skipped('IdP reachable', ['tokens'])]);
  if (s.backend.ok) emit(await checkBackendReachable(s.backend.value, frontsOn(listen)));
  else emit([skipped('DMS reachable', ['backend'])]);
  if (!o.user) {
    print(formatLine({ status: 'warn', title: 'master login', detail: 'not checked', fix: 'run doctor --user someone@your-domain to log in as a DMS account with the master user' }));
  } else if (s.backend.ok && s.sessions.ok) {
    const config = { ...s.backend.value, ...s.sessions.value };
    emit(await checkMasterLogins(config, frontsOn(listen), o.user, backendTlsOptions(config.backend)));
  } else {
    emit([skipped('master login', (['backend', 'sessions'] as const).filter((n) => !s[n].ok))]);
  }
  if (invalid.length) {
    print('doctor: the configuration is invalid; the checks it allowed were run');
    return 78;
  }
  print(failed ? 'doctor: some checks failed' : 'doctor: all checks passed');
  return failed ? 1 : 0;
}

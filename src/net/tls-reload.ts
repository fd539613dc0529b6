// Client-facing certificates that follow their files: a default (SSL_CERT_PATH/SSL_KEY_PATH)
// plus more chosen by SNI (YAML `certificates:`). Every interval the files' mtime, size and
// inode are compared (robust with certbot's symlink swaps and Traefik's rewrites); when one
// changed, the pair is read and a new SecureContext built. New connections then get it;
// connections already established keep theirs. A file that does not load (half written,
// key not matching) leaves the old context in use and logs an error; it is tried again on
// the next change.
import { readFileSync, statSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { TLS_MIN_VERSION, type ServerTlsSource } from './tls-context.js';

export interface CertificateFiles { readonly certPath: string; readonly keyPath: string }

interface Entry {
  readonly name: string; // 'default' or the first SNI name
  readonly names: readonly string[];
  readonly files: CertificateFiles;
  context: tls.SecureContext;
  stamp: string;
  notAfter: Date;
}

export class CertificateLoadError extends Error {
  readonly code = 'ERR_TLS_CERT_LOAD';
}

/** Reads and checks a pair; throws CertificateLoadError with a message fit for a log line. */
export function loadCertificatePair(files: CertificateFiles): { context: tls.SecureContext; notAfter: Date; subject: string } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.certPath);
    key = readFileSync(files.keyPath);
  } catch (err) {
    throw new CertificateLoadError(`cannot read ${(err as NodeJS.ErrnoException).path ?? 'certificate'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new CertificateLoadError(`${files.certPath}: not a PEM certificate`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new CertificateLoadError(`${files.keyPath} is not the key of ${files.certPath}`);
  } catch (err) {
    if (err instanceof CertificateLoadError) throw err;
    throw new CertificateLoadError(`${files.keyPath}: not a PEM private key`);
  }
  try {
    const context = tls.createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
    return { context, notAfter: new Date(x509.validTo), subject: x509.subject.replace(/\n/g, ', ') };
  } catch (err) {
    throw new CertificateLoadError(`${files.certPath}: ${(err as Error).message}`);
  }
}

function stampOf(files: CertificateFiles): string {
  const s = (p: string) => {
    try {
      const st = statSync(p); // follows symlinks: a swapped link target counts as a change
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  return `${s(files.certPath)}|${s(files.keyPath)}`;
}

/** `*.example.com` matches `mail.example.com`, not `a.b.example.com` (RFC 6125 §6.4.3). */
export function nameMatches(pattern: string, servername: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === servername;
  const dot = servername.indexOf('.');
  return dot > 0 && servername.slice(dot + 1) === pattern.slice(2);
}

export class CertificateStore implements ServerTlsSource {
  private readonly entries: Entry[];
  private timer: NodeJS.Timeout | null = null;

  /** Loads every pair now; a broken file at start-up is an error (there is no old one to keep). */
  constructor(defaults: CertificateFiles, sni: ReadonlyArray<CertificateFiles & { readonly names: readonly string[] }>, private readonly log: Logger) {
    const make = (name: string, names: readonly string[], files: CertificateFiles): Entry => {
      const stamp = stampOf(files);
      const loaded = loadCertificatePair(files);
      metrics.setCertExpiry(name, loaded.notAfter.getTime());
      return { name, names, files, stamp, context: loaded.context, notAfter: loaded.notAfter };
    };
    this.entries = [make('default', [], defaults), ...sni.map((c) => make(c.names[0]!, c.names, c))];
  }

  get context(): tls.SecureContext {
    return this.entries[0]!.context;
  }

  readonly SNICallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.entries.find((e) => e.names.includes(name));
    const wild = exact ?? this.entries.find((e) => e.names.some((p) => nameMatches(p, name)));
    cb(null, (wild ?? this.entries[0]!).context);
  };

  /** Checks every pair once; returns how many were replaced. */
  reloadChanged(): number {
    let replaced = 0;
    for (const e of this.entries) {
      const stamp = stampOf(e.files);
      if (stamp === e.stamp) continue;
      e.stamp = stamp; // a broken file is reported once, and tried again when it changes
      try {
        const loaded = loadCertificatePair(e.files);
        e.context = loaded.context;
        e.notAfter = loaded.notAfter;
        metrics.setCertExpiry(e.name, loaded.notAfter.getTime());
        metrics.tlsReloads.inc({ result: 'ok' });
        replaced += 1;
        this.log.info({ event: 'tls-reloaded', cert: e.name, subject: loaded.subject, notAfter: loaded.notAfter.toISOString() }, 'certificate reloaded');
      } catch (err) {
        metrics.tlsReloads.inc({ result: 'error' });
        this.log.error({ event: 'tls-reload-failed', cert: e.name, err: (err as Error).message }, 'new certificate does not load; keeping the old one');
      }
    }
    return replaced;
  }

  /** Polls the files every intervalMs (0: never). The timer does not keep the process alive. */
  watch(intervalMs: number, onReload?: () => void): void {
    this.stop();
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.reloadChanged() > 0) onReload?.();
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Certificates in use with their expiry, for `doctor` and readiness details. */
  list(): Array<{ name: string; certPath: string; notAfter: Date }> {
    return this.entries.map((e) => ({ name: e.name, certPath: e.files.certPath, notAfter: e.notAfter }));
  }
}

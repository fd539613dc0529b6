// Test certificates made with the openssl CLI: a throw-away CA plus one server
// certificate signed by it. EC P-256 keys because they generate in milliseconds
// (RSA 2048 can take a noticeable fraction of a second per key).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertOptions {
  /** Extra SAN entries: IPv4 addresses become IP:, everything else DNS:. */
  names?: string[];
  days?: number;
  /** File name prefix, so one dir can hold several sets ('proxy-', 'backend-'). */
  prefix?: string;
}

export interface CertSet {
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function makeCerts(dir: string, opts: CertOptions = {}): Promise<CertSet> {
  const prefix = opts.prefix ?? '';
  const days = String(opts.days ?? 30);
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, prefix + name);
  const caFile = f('ca.crt');
  const caKey = f('ca.key');
  const certFile = f('cert.crt');
  const keyFile = f('cert.key');
  const csr = f('cert.csr');
  const ext = f('cert.ext');

  const san = ['DNS:localhost', 'IP:127.0.0.1'];
  for (const n of opts.names ?? []) {
    const entry = /^\d{1,3}(\.\d{1,3}){3}$/.test(n) ? `IP:${n}` : `DNS:${n}`;
    if (!san.includes(entry)) san.push(entry);
  }

  // Unique CA subject per set: two CAs with the same name in one trust store
  // would make chain building ambiguous.
  const tag = randomBytes(4).toString('hex');
  await run('openssl', [
    'req', '-x509', ...EC_KEY, '-keyout', caKey, '-out', caFile, '-days', days,
    '-subj', `/CN=oauth2-mail-proxy test CA ${prefix}${tag}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', ...EC_KEY, '-keyout', keyFile, '-out', csr, '-subj', '/CN=localhost']);
  await writeFile(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature', // EC key: keyEncipherment would be wrong
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${san.join(',')}`,
    '',
  ].join('\n'));
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-out', certFile,
    '-days', days, '-extfile', ext,
    // Random serial: no .srl file left behind, and no two certs share a serial.
    '-set_serial', '0x' + randomBytes(8).toString('hex'),
  ]);
  await Promise.all([rm(csr, { force: true }), rm(ext, { force: true })]);
  return { caFile, certFile, keyFile, caPem: await readFile(caFile, 'utf8') };
}

/**
 * A real certificate and its key at the paths given (the same path: one file holding both),
 * for tests of the configuration: it checks at start-up that they are usable PEM.
 */
export async function writePemPair(certPath: string, keyPath: string): Promise<void> {
  const dir = join(certPath, '..', `.pem-${randomBytes(4).toString('hex')}`);
  const set = await makeCerts(dir);
  const [cert, key] = await Promise.all([readFile(set.certFile, 'utf8'), readFile(set.keyFile, 'utf8')]);
  if (certPath === keyPath) {
    await writeFile(certPath, cert + key);
  } else {
    await writeFile(certPath, cert);
    await writeFile(keyPath, key);
  }
  await rm(dir, { recursive: true, force: true });
}

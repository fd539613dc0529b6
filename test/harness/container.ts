// The built image under test: podman detection, the build (scripts/build-image.sh), and the
// `podman run` flags derived from deploy/compose.yaml's proxy service, so the e2e test runs
// the container as compose does. Every podman call is bounded by a time-out.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);
export const root = new URL('../../', import.meta.url).pathname;
// The project's podman settings (runc, ulimits under the host's), not the machine's.
const env = { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? `${root}scripts/containers.conf` };

export async function podman(args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return run('podman', args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 });
}

/** Exit code of a podman command (no throw): for commands whose failure is the answer. */
export async function podmanCode(args: string[], timeoutMs = 30_000): Promise<number> {
  try {
    await podman(args, timeoutMs);
    return 0;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'number' ? code : -1;
  }
}

/** Why containers cannot run here, or undefined where they can (rootful podman with runc). */
export async function noEngine(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root (the build uses debootstrap and rootful podman)';
  try {
    await podman(['info', '--format', '{{.Host.OCIRuntime.Name}}'], 20_000);
  } catch (e) {
    return `podman is not usable (${(e as Error).message.split('\n')[0]}); scripts/install-container.sh installs it`;
  }
  return undefined;
}

/** Builds (or finds, cached by its inputs) the image; returns its name. */
export async function buildImage(timeoutMs: number): Promise<string> {
  const { stdout } = await run('bash', [`${root}scripts/build-image.sh`], { env, timeout: timeoutMs, maxBuffer: 16 << 20 });
  return stdout.trim().split('\n').pop()!;
}

export interface ComposeService {
  image: string;
  environment: Record<string, string>;
  ports: string[];
  volumes: string[];
  secrets: string[];
  sysctls: string[] | Record<string, string | number>;
  read_only: boolean;
  cap_drop: string[];
  security_opt: string[];
}

export function composeProxyService(): ComposeService {
  const doc = parse(readFileSync(`${root}deploy/compose.yaml`, 'utf8')) as { services: Record<string, ComposeService> };
  return doc.services['oauth2-mail-proxy']!;
}

/**
 * The isolation flags compose gives the proxy service, as podman run flags (one group per
 * setting): a read-only root, no capabilities, no-new-privileges, unprivileged ports from 0
 * (the image runs as `node`).
 */
export function isolationFlags(s: ComposeService): string[][] {
  return [
    ...(s.read_only ? [['--read-only']] : []),
    ...s.cap_drop.map((c) => ['--cap-drop', c]),
    ...s.security_opt.map((o) => ['--security-opt', o]),
    ...(Array.isArray(s.sysctls) ? s.sysctls : Object.entries(s.sysctls).map(([k, v]) => `${k}=${v}`)).map((v) => ['--sysctl', v]),
  ];
}

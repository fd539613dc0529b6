// HAProxy (the Debian package) in front of several proxy instances, as a child process
// (`haproxy -f CFG -db`, foreground, no system service): TCP mode, PROXY protocol v2 to
// every instance, health checks on each instance's /readyz, and an admin socket to read
// the servers' states.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePorts } from '../../harness/ports.js';

export interface Upstream { readonly name: string; readonly imapsPort: number; readonly submissionsPort: number; readonly httpPort: number }

export interface Haproxy {
  readonly imapsPort: number;
  readonly submissionsPort: number;
  readonly config: string;
  /** Server name → status (UP, DOWN, ...) for one backend section. */
  servers(backend: 'imaps' | 'submissions'): Promise<Map<string, string>>;
  output(): string;
  stop(): Promise<void>;
}

export async function startHaproxy(dir: string, upstreams: readonly Upstream[]): Promise<Haproxy> {
  const [imapsPort, submissionsPort] = await freePorts(2) as [number, number];
  const sock = join(dir, 'haproxy.sock');
  const servers = (port: (u: Upstream) => number) => upstreams
    .map((u) => `  server ${u.name} 127.0.0.1:${port(u)} send-proxy-v2 check port ${u.httpPort}`).join('\n');
  // A refused connect (an instance that just died) is retried on another server
  // (redispatch) before the client notices; health checks take it out within ~1 s.
  const config = `global
  maxconn 4000
  stats socket ${sock} level admin

defaults
  mode tcp
  timeout connect 2s
  timeout client 10m
  timeout server 10m
  retries 2
  option redispatch
  default-server inter 500ms fall 2 rise 2

backend imaps
  balance roundrobin
  option httpchk GET /readyz
${servers((u) => u.imapsPort)}

backend submissions
  balance roundrobin
  option httpchk GET /readyz
${servers((u) => u.submissionsPort)}

frontend imaps
  bind 127.0.0.1:${imapsPort}
  default_backend imaps

frontend submissions
  bind 127.0.0.1:${submissionsPort}
  default_backend submissions
`;
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config);
  const child = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-16_384); });
  child.stderr.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-16_384); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const admin = (cmd: string): Promise<string> => new Promise((resolve) => {
    const c = net.connect(sock);
    let text = '';
    c.setTimeout(2000, () => c.destroy());
    c.on('connect', () => c.write(`${cmd}\n`));
    c.on('data', (d) => { text += d.toString(); });
    c.on('error', () => resolve(''));
    c.on('close', () => resolve(text));
  });
  const api: Haproxy = {
    imapsPort, submissionsPort, config,
    async servers(backend) {
      const csv = await admin('show stat');
      const m = new Map<string, string>();
      for (const line of csv.split('\n')) {
        const f = line.split(',');
        if (f[0] === backend && f[1] !== 'BACKEND' && f[1] !== 'FRONTEND' && f[17]) m.set(f[1]!, f[17]);
      }
      return m;
    },
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  // Up once a listener accepts and every server passed its health checks.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = [...(await api.servers('imaps')).values(), ...(await api.servers('submissions')).values()];
    if (s.length === 2 * upstreams.length && s.every((x) => x === 'UP')) return api;
    if (Date.now() > deadline || child.exitCode !== null) {
      await api.stop();
      throw new Error(`haproxy did not come up (servers: ${s.join(',')}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

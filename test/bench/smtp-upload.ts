// Where the proxy's CPU goes when clients upload large messages (SMTP submission), proxy
// variants side by side in alternating rounds, each against direct Postfix in the same round.
//   node --import tsx test/bench/smtp-upload.ts [messages per client] [size] [rounds]
// LEG=none (default) or starttls: the proxy's leg to Postfix (direct is plaintext or STARTTLS to match).
// VARIANTS='name=cli.js|ENV=v,ENV2=v;name2=…' (default: one variant, dist/src/cli.js). PERF=1 records
// the first variant with perf (needs NODE_ARGS=--perf-basic-prof for names).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startWorld, startProxyProcess, type ProxyProcess } from './env.js';
import { messageOf, smtpSession, submitRate, type SmtpSide } from './smtp-phases.js';
import { cpuPreciseMs } from './proc.js';

const per = Number(process.argv[2] ?? 6);
const size = Number(process.argv[3] ?? 1048576);
const rounds = Number(process.argv[4] ?? 3);
const starttls = process.env.LEG === 'starttls';
const minorFaults = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[7]);
const world = await startWorld({ maxSessions: 50, mailboxBytes: 1024 });
const variants: { name: string; p: ProxyProcess; rates: number[]; cpu: number[]; faults: number[] }[] = [];
try {
  for (const spec of (process.env.VARIANTS ?? 'main=').split(';')) {
    const [name, rest = ''] = spec.split('=', 2) as [string, string?];
    const [cli, envs = ''] = rest.split('|');
    const extra = Object.fromEntries(envs.split(',').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
    const env = { DMS_SUBMISSION_TLS: starttls ? 'starttls' : 'none', DMS_SUBMISSION_PORT: String(starttls ? world.backend.submissionPort : world.backend.submissionPlainPort), ...extra };
    const p = await startProxyProcess(world, { build: 'dist', name, env, nodeArgs: (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean), ...(cli ? { cli } : {}) });
    variants.push({ name, p, rates: [], cpu: [], faults: [] });
  }
  const msg = messageOf(size);
  const directSide: SmtpSide = starttls ? 'direct' : 'direct-plain';
  const direct: number[] = [];
  const run = async (side: SmtpSide, p: ProxyProcess): Promise<number> => {
    const ws = await Promise.all(Array.from({ length: 8 }, () => smtpSession(world, p, side)));
    const r = await submitRate(ws, msg, per);
    for (const w of ws) w.socket.destroy();
    return r;
  };
  for (let round = 0; round < rounds; round++) {
    direct.push(await run(directSide, variants[0]!.p));
    for (const v of round % 2 ? [...variants].reverse() : variants) {
      let perf: ReturnType<typeof spawn> | undefined;
      if (process.env.PERF && v === variants[0] && round === rounds - 1) { perf = spawn('perf', ['record', ...(process.env.PERF_EVENT ? ['-e', process.env.PERF_EVENT] : ['-F', '2000']), '-g', '-p', String(v.p.pid), '-o', `/tmp/smtp-upload-${round}.data`], { stdio: 'ignore' }); await new Promise((r) => setTimeout(r, 1000)); }
      const c0 = cpuPreciseMs(v.p.pid); const f0 = minorFaults(v.p.pid);
      v.rates.push(await run('proxy', v.p));
      v.cpu.push((cpuPreciseMs(v.p.pid) - c0) / (8 * per)); v.faults.push((minorFaults(v.p.pid) - f0) / (8 * per));
      if (perf) { perf.kill('SIGINT'); await new Promise((r) => perf!.once('exit', r)); }
    }
    console.log(`round ${round}: direct ${direct[round]!.toFixed(1)}/s; ${variants.map((v) => `${v.name} ${v.rates[round]!.toFixed(1)}/s (${(v.rates[round]! / direct[round]!).toFixed(2)}×) CPU ${v.cpu[round]!.toFixed(2)} ms, ${v.faults[round]!.toFixed(0)} faults per message`).join('; ')}`);
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  console.log(`median: ${variants.map((v) => `${v.name} ratio ${med(v.rates.map((r, i) => r / direct[i]!)).toFixed(2)} CPU ${med(v.cpu).toFixed(2)} ms faults ${med(v.faults).toFixed(0)}`).join('; ')}`);
} finally {
  for (const v of variants) await v.p.stop();
  await world.stop();
}

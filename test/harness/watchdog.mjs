// The other half of watchdog.ts: a process of its own session that a test process, the demo or
// the bench starts with a pipe on its stdin, and that stops what they started when that pipe
// reaches EOF, which the kernel brings about however the parent ended: its own clean-up, a
// signal it handles, a second signal that kills it mid clean-up, or SIGKILL (tap's time-out,
// the bench smoke test's kill), none of which a handler inside the parent can survive.
//
// Plain JavaScript so that it starts in milliseconds without the TypeScript loader, from
// test/ and from dist/ alike. Its own session (setsid): Ctrl-C and a closed terminal, which go
// to the terminal's foreground process group, do not reach it.
//
// stdin: one JSON object a line.
//   {"id":N,"pids":[{"pid":P,"group":bool}],"pidFiles":[PATH],"dirs":[PATH]}  stop these at EOF
//   {"id":N,"release":true}                                                    the parent did it
// A pid is remembered with its start time (field 22 of /proc/PID/stat) and signalled only while
// that still matches, so a pid the kernel has handed to another process since is left alone.
// A pid file (a daemon's master: Dovecot, Postfix) is read at EOF, and again until the grace
// ends, in case a daemon the parent was starting writes it late.
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const GRACE_MS = 5000;        // SIGTERM, then this long for a clean stop, then SIGKILL
const LATE_PID_FILE_MS = 2000; // pid files are read again for this long after EOF

/** @type {Map<number, {pids: Array<{pid: number, group?: boolean, start?: string}>, pidFiles: string[], dirs: string[]}>} */
const entries = new Map();

function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' ? undefined : f[19]; // state, then starttime is the 20th field after ')'
  } catch {
    return undefined;
  }
}

/** The process group `pid` leads, if it leads one (a daemon's master does, a plain child does not). */
function leadsGroup(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pid;
  } catch {
    return false;
  }
}

function readPid(file) {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const kill = (pid, signal) => { try { process.kill(pid, signal); } catch { /* gone */ } };

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    let m;
    try { m = JSON.parse(line); } catch { continue; }
    if (m.release) { entries.delete(m.id); continue; }
    entries.set(m.id, {
      pids: (m.pids ?? []).map((p) => ({ ...p, start: startTime(p.pid) })),
      pidFiles: m.pidFiles ?? [],
      dirs: m.dirs ?? [],
    });
  }
});
// An error on stdin ends it as EOF does.
process.stdin.on('error', () => void reap());
process.stdin.on('end', () => void reap());

let reaping = false;
async function reap() {
  if (reaping) return;
  reaping = true;
  /** pid -> {start, group}: everything signalled, to wait for and to SIGKILL after the grace. */
  const targets = new Map();
  const term = (pid, start, group) => {
    if (targets.has(pid) || start === undefined) return;
    // The group only where the pid leads one; else it would be the parent's own group.
    targets.set(pid, { start, group: group && leadsGroup(pid) });
    kill(pid, 'SIGTERM');
  };
  const pidFiles = [...entries.values()].flatMap((e) => e.pidFiles);
  for (const e of entries.values()) for (const p of e.pids) if (startTime(p.pid) === p.start) term(p.pid, p.start, p.group);
  const alive = ({ start }, pid) => startTime(pid) === start;
  const eofAt = Date.now();
  for (;;) {
    for (const f of pidFiles) {
      const pid = readPid(f);
      // A daemon's master leads its process group; its children (Dovecot's imap processes)
      // can outlive it, hence the group at the end.
      if (pid !== undefined) term(pid, startTime(pid), true);
    }
    const waiting = [...targets].some(([pid, t]) => alive(t, pid));
    if (Date.now() - eofAt > GRACE_MS || (!waiting && Date.now() - eofAt > LATE_PID_FILE_MS)) break;
    await sleep(50);
  }
  for (const [pid, t] of targets) {
    if (t.group) kill(-pid, 'SIGKILL');
    if (alive(t, pid)) kill(pid, 'SIGKILL');
  }
  await sleep(100); // let the kernel close the killed processes' files before their dir goes
  for (const e of entries.values()) for (const d of e.dirs) try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  process.exit(0);
}

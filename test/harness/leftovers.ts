// For tests of what a process leaves behind when it ends: which of the processes it started
// still run, found by pid and process group from /proc, never by name (other tests run Dovecot,
// nginx and Node too).
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPid, waitPortsClosed } from './ports.js';

interface Stat { pid: number; ppid: number; pgrp: number }

/** Every live (not zombie) process's parent and process group. */
function processes(): Stat[] {
  const all: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z') all.push({ pid: Number(name), ppid: Number(f[1]), pgrp: Number(f[2]) });
    } catch { /* it ended meanwhile */ }
  }
  return all;
}

/** The processes below `pid` in the process tree now (its children, theirs, ...). */
export function descendants(pid: number): number[] {
  const all = processes();
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length;) {
    const next = all.filter((p) => frontier.includes(p.ppid)).map((p) => p.pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** Which of `pids` still run, and which processes are in a group one of `groups` leads. */
export function survivors(pids: readonly number[], groups: readonly number[] = []): number[] {
  return processes().filter((p) => pids.includes(p.pid) || groups.includes(p.pgrp)).map((p) => p.pid);
}

/** Polls until survivors() is empty or `ms` passed; returns what is left. */
export async function waitGone(pids: readonly number[], groups: readonly number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = survivors(pids, groups);
  while (left.length && Date.now() < deadline) {
    await sleep(100);
    left = survivors(pids, groups);
  }
  return left;
}

/** The Dovecot and Postfix master pids of a test backend, from its dir's pid files. */
export async function backendMasters(dir: string): Promise<number[]> {
  const pids = await Promise.all([readPid(`${dir}/dovecot/run/master.pid`), readPid(`${dir}/postfix/spool/pid/master.pid`)]);
  return pids.filter((p): p is number => p !== undefined);
}

/** True when nothing accepts connections on any of `ports` within `ms`. */
export function portsFree(ports: number[], ms: number, host?: string): Promise<boolean> {
  return waitPortsClosed(ports, Date.now() + ms, host).then(() => true, () => false);
}

/** Teardown: SIGKILL what a failed test left, so one failure does not pile up daemons. */
export function killLeft(pids: readonly number[], groups: readonly number[] = []): void {
  for (const g of groups) try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ }
  for (const p of survivors(pids)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
}

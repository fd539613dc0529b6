// Processes this process starts must not outlive it, however it ends. A handler for SIGTERM
// or SIGINT covers the polite endings only: SIGKILL (tap's time-out after SIGALRM, the bench
// smoke test's kill) runs no code, and a second signal kills the process with the default
// action half way through its clean-up. Dovecot and Postfix are daemons (own session,
// parent 1) and the bench's nginx, HAProxy and proxy processes are plain children: nothing
// takes any of them down with us.
//
// So one watchdog process per process (watchdog.mjs), in a session of its own, holds a pipe
// from us: whatever ends this process closes the pipe, and on EOF the watchdog stops what is
// still registered (SIGTERM, a grace, then SIGKILL) and removes the registered dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Watched {
  /** Processes to stop; `group`: SIGKILL the process group it leads after the grace. */
  pids?: Array<{ pid: number; group?: boolean }>;
  /** Daemon masters' pid files, read when the watchdog acts (Dovecot, Postfix). */
  pidFiles?: string[];
  /** Removed after the processes are gone. */
  dirs?: string[];
}

// From test/harness/ the script sits beside this file; from dist/test/harness/ (npm run demo)
// tsc did not copy it, so it is read from the source tree.
const SCRIPT = [join(import.meta.dirname, 'watchdog.mjs'), join(import.meta.dirname, '..', '..', '..', 'test', 'harness', 'watchdog.mjs')]
  .find((f) => existsSync(f))!;

let watchdog: ChildProcess | undefined;
let nextId = 1;

function send(message: object): void {
  if (!watchdog) {
    // Without NODE_OPTIONS: under tap it loads tap's process tracking, which the watchdog, outliving
    // the test process by design, has no business in (and it would slow its start).
    const { NODE_OPTIONS: _, ...env } = process.env;
    watchdog = spawn(process.execPath, [SCRIPT], { detached: true, env, stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.on('error', () => { /* no watchdog: the handlers in the process still run */ });
    watchdog.stdin!.on('error', () => { /* it died: nothing to tell it */ });
    // Neither it nor the pipe keeps this process alive; the pipe closes when we exit.
    watchdog.unref();
    (watchdog.stdin as unknown as { unref(): void }).unref();
  }
  watchdog.stdin!.write(`${JSON.stringify(message)}\n`);
}

/** Has the watchdog stop `what` if this process ends first; call the result once we did. */
export function watch(what: Watched): () => void {
  const id = nextId++;
  send({ id, ...what });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    send({ id, release: true });
  };
}

/** watch() for a child process, released when it exits. */
export function watchChild(child: ChildProcess, opts: { group?: boolean; dirs?: string[] } = {}): void {
  if (child.pid === undefined) return; // it did not start
  const release = watch({ pids: [{ pid: child.pid, group: opts.group ?? false }], dirs: opts.dirs ?? [] });
  child.once('exit', release);
}

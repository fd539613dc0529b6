// A process that starts a test backend, prints its daemons' master pids and waits to be
// killed: backend-signal.test.ts sends it the signal tap sends a test file that hangs.
import { join } from 'node:path';
import { startBackend } from './backend.js';
import { dovecotPaths } from './dovecot.js';
import { postfixPaths } from './postfix.js';
import { readPid } from './ports.js';

const b = await startBackend();
const pids = [await readPid(join(dovecotPaths(b.dir, b.flavour).baseDir, 'master.pid')), await readPid(join(postfixPaths(b.dir, b.flavour).queueDir, 'pid', 'master.pid'))];
console.log(JSON.stringify({ pids, ports: [b.imapPort, b.submissionPort], dir: b.dir }));
setInterval(() => undefined, 60_000);

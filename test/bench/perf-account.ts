// The proxy's CPU per login by feature, from perf call graphs (issue 21): reads the samples of
// two or more `perf-logins.ts` recordings (the proxy, LEAN=1 for the lean login) with
// `perf script`, puts each sample's stack in one bucket, and prints µs per login per bucket
// side by side, with the sample counts, so the noise is visible (at 4000 Hz and 20,000 logins
// one sample is 0.0125 µs per login; n samples have a spread of about √n).
//
// Two views of the same samples:
// - self: a partition (the columns sum to the total). A sample goes to the innermost frame that
//   a FEATURES rule matches; an `owns` rule further out takes it over (the sessionLogger's
//   pino child, the token hash's crypto, Node's Socket constructor with its stream and emitter
//   set-up); GC and compilation are never taken over. A sample with no feature frame goes to the
//   innermost MECHANISMS rule (the read path, accept, the event loop, ...). What a feature
//   calls in Node (listeners, timers, V8's runtime) is its own; socket writes, ends and
//   pause/resume are their own rows, which the lean login has as well.
// - incl: every sample with a frame of the rule anywhere on its stack (perf report --children),
//   for the feature rows and for the ENTRIES (entry points of one feature, overlapping).
//
// Usage: node --import tsx test/bench/perf-account.ts \
//   proxy=/tmp/omp-perf-X/perf.data:20000 lean=/tmp/omp-perf-Y/perf.data:20000 [--top=BUCKET|all] [--n=12] [--raw-map]
// NAME=PATH:LOGINS; PATH may also be saved `perf script -F comm,pid,tid,period,ip,sym,dso` text (.txt).
import { spawn } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface Rule {
  readonly name: string;
  /** Matched against `symbol (dso)` of one frame. */
  readonly frame: RegExp;
  /** Only when a frame further out (toward the root) matches this as well. */
  readonly within?: RegExp;
  /** Takes over a sample whose innermost feature frame is below it (not GC or compilation). */
  readonly owns?: boolean;
  /** Never taken over by an `owns` rule. */
  readonly keep?: boolean;
  /** What kind of cost, for the summary: a feature a C proxy has as well, Node/V8's own, or common to both logins. */
  readonly kind: 'product' | 'node' | 'common';
}

const dist = (files: string): RegExp => new RegExp(`/src/(?:${files})\\.js:\\d`);
const fn = (names: string, where: string): RegExp => new RegExp(`JS:[*^~+]?(?:${names}) ${where}`);

// The feature → pattern table. Order matters within a frame: the first rule that matches it names it.
const FEATURES: readonly Rule[] = [
  { name: 'GC (main thread)', kind: 'node', keep: true, frame: /v8::internal::(?:Heap::|Heap\b|Scavenger|ScavengerCollector|MarkCompactCollector|MinorMarkCompactCollector|MinorMarkSweep|ConcurrentMarking|IncrementalMarking|MarkingBarrier|MarkingVisitor|GCTracer|Sweeper|ArrayBufferSweeper|GlobalHandles|ScavengeJob|EvacuateVisitor|RecordMigratedSlotVisitor|PagedSpace|SemiSpace|NewSpace|LocalHeap::|MemoryAllocator|SafepointScope|IsolateSafepoint)|cppgc::|v8::internal::\w*(?:Scaveng|Evacuat|Sweep|Marking)|BaseObject::DeleteMe|node::.*WeakCallback/ },
  { name: 'V8 compile / deopt (main thread)', kind: 'node', keep: true, frame: /v8::internal::(?:compiler::|maglev::|baseline::|Compiler::|Deoptimizer|OptimizingCompileDispatcher|Parser|ParseInfo|BytecodeGenerator|interpreter::BytecodeGenerator)|Runtime_CompileLazy|Runtime_CompileOptimized|Runtime_InstallBaselineCode|Runtime_NotifyDeoptimized|Runtime_CompileBaseline|Runtime_HealOptimizedCodeSlot|Builtins_CompileLazy/ },
  // Logging: the per-connection child logger, then pino's lines (login, session end) and our formatters.
  { name: 'logging: sessionLogger (pino child)', kind: 'product', owns: true, frame: fn('sessionLogger', '.*/src/observability/metrics\\.js') },
  { name: 'logging: pino lines', kind: 'product', frame: /node_modules\/(?:pino|sonic-boom|pino-std-serializers|fast-redact|quick-format-unescaped|safe-stable-stringify|fast-safe-stringify|on-exit-leak-free|thread-stream|atomic-sleep)\/|\/src\/observability\/(?:logger|censor|timestamp|events)\.js:\d/ },
  { name: 'metrics (prom-client, counters)', kind: 'product', frame: /node_modules\/prom-client\/|\/src\/observability\/(?:metrics|batched-counter)\.js:\d/ },
  { name: 'token key hash (SHA-256)', kind: 'product', owns: true, frame: fn('tokenKey', '.*/src/auth/cache\\.js') },
  { name: 'token decision (cache, authenticator)', kind: 'product', frame: dist('auth/(?:cache|token-check|authenticator|claims|disabled-users|token-result|issuers|policy|singleflight|master-login)|state/(?:shared-tokens|in-process|shared-disabled)') },
  { name: 'admission, connection limits', kind: 'product', frame: dist('session/admission|net/(?:connection-limits|client-key|trusted-networks)') },
  { name: 'failure guard', kind: 'product', frame: dist('auth/(?:login-guard|failure-limiter|address)|state/shared-guard') },
  { name: 'session registry, revocation', kind: 'product', frame: dist('session/(?:registry|revocation)') },
  { name: 'pre-login deadline queue', kind: 'product', frame: dist('session/deadlines') },
  { name: 'idle sweep', kind: 'product', frame: dist('net/idle-sweep') },
  { name: 'session id (newSessionId)', kind: 'product', frame: fn('newSessionId', '') },
  { name: 'client address (peerOf, getpeername/getsockname)', kind: 'common', frame: /JS:[*^~+]?(?:peerOf|plainAddress|unmapIpv4) |JS:[*^~+]?(?:_getpeername|_getsockname|get remoteAddress|get remotePort|get localAddress|get localPort|remoteAddress|remotePort|localAddress|localPort) node:net|TCPWrap::GetPeerName|TCPWrap::GetSockName|GetPeerName|GetSockName|__sys_getpeername|__sys_getsockname/ },
  { name: 'IMAP framer', kind: 'product', frame: dist('imap/framer|net/(?:literal-framer|byte-queue|literal)') },
  { name: 'IMAP parser, commands', kind: 'product', frame: dist('imap/(?:parser|capabilities|quote|replies|commands/\\w+)|session/http-probe|ascii') },
  { name: 'SASL decoding', kind: 'product', frame: dist('auth/sasl/\\w+|session/sasl-exchange') },
  { name: 'backend: ID line, credentials', kind: 'product', frame: /\/src\/backend\/(?:imap-id|credentials|client-address|xtext)\.js:\d|JS:[*^~+]?(?:imapIdLine|saslPlainFor|credentialsFor) / },
  { name: 'backend: login dialogue, timer', kind: 'common', frame: dist('backend/(?:imap-plain-login|imap-reply|login-timer|dial|host-lookup|targets|login-result|imap-login)') },
  { name: 'backend reads (reused buffers)', kind: 'product', frame: dist('net/reused-reads') },
  { name: 'splice (set-up, forwarding, end)', kind: 'common', frame: /\/src\/(?:net\/splice|session\/spliced|session\/handover|session\/drain)\.js:\d|JS:[*^~+]?(?:Readable\.pipe|pipeOnDrain|ondata|ondrain|unpipe|pipeOnDrainFunctionResult) node:internal\/streams\/readable/ },
  { name: 'login flow (session/login)', kind: 'product', frame: dist('session/(?:login|login-outcome|provision)|auth/backend-verdict') },
  { name: 'session core (connection, command loop, listener)', kind: 'product', frame: dist('session/(?:connection|framed-connection|line-service|parts|waits)|imap/(?:session|service)|net/(?:listen|peer|proxy-reader)|observability/faults|limits') },
  { name: 'lean login code', kind: 'common', frame: /test\/bench\/lean-login\.ts:\d/ },
  { name: 'net.Socket constructor (accepted)', kind: 'node', owns: true, frame: /JS:[*^~+]?Socket node:net:\d/, within: /JS:[*^~+]?onconnection node:net/ },
  { name: 'net.Socket constructor (dialled)', kind: 'node', owns: true, frame: /JS:[*^~+]?Socket node:net:\d/ },
  { name: 'dial: connect() (lookup, connect syscall)', kind: 'common', frame: /JS:[*^~+]?(?:connect|Socket\.connect|internalConnect|lookupAndConnect|lookupAndConnectMultiple|normalizeArgs|emitLookup|isIP|isIPv4|isIPv6) node:(?:net|internal\/net)|TCPWrap::Connect|__sys_connect|inet_stream_connect|tcp_v4_connect/ },
  { name: 'socket writes (stream, writev, kernel send)', kind: 'common', frame: /JS:[*^~+]?(?:Writable\.write|_write|writeOrBuffer|Socket\._writeGeneric|Socket\._writev|Socket\._write|writeGeneric|writevGeneric|handleWriteReq|afterWriteDispatched|Writable\.cork|Writable\.uncork|clearBuffer|doWrite|onwrite|afterWrite|afterWriteTick) node:|StreamBase::Write|StreamBase::Writev|StreamBase::WriteString|LibuvStreamWrap::DoTryWrite|LibuvStreamWrap::DoWrite|uv_try_write|uv__try_write|uv__write|__sys_sendto|sock_write_iter|tcp_sendmsg|do_writev|__x64_sys_writev|__x64_sys_write\b/ },
  { name: 'socket end, destroy, close', kind: 'common', frame: /JS:[*^~+]?(?:Writable\.end|Socket\.end|Socket\.destroy|Socket\._destroy|destroy|_destroy|Socket\._final|finishMaybe|prefinish|callFinal|finish|emitCloseNT|emitErrorCloseNT|closeSocketHandle|Socket\.destroySoon|onReadableStreamEnd|emitReadable_?|endReadableNT|endWritableNT) node:|HandleWrap::Close|HandleWrap::OnClose|TCPWrap::Close|ShutdownWrap|LibuvStreamWrap::DoShutdown|uv_close|uv_shutdown|uv__stream_destroy|__x64_sys_close|__x64_sys_shutdown|tcp_close|tcp_shutdown|__fput/ },
  // Not ReadStart()'s lambdas: they are libuv's alloc and read callbacks, the read path itself
  // (until 2026-12-05 every read dispatched from them was counted here).
  { name: 'socket pause / resume (readStart, readStop)', kind: 'common', frame: /JS:[*^~+]?(?:Socket\.pause|Socket\.resume|Readable\.pause|Readable\.resume|tryReadStart|Socket\._read) node:|LibuvStreamWrap::ReadStart\(\)(?!::\{lambda)|LibuvStreamWrap::ReadStop|uv_read_start|uv_read_stop/ },
  { name: 'timers, immediates (set/clear)', kind: 'common', frame: /JS:[*^~+]?(?:setTimeout|clearTimeout|setImmediate|clearImmediate|setInterval|Timeout|Immediate|insert|insertGuarded|unenroll|initAsyncResource|ImmediateList\.append|ImmediateList\.remove|unref|Timeout\.unref|TimersList) node:(?:timers|internal\/timers)/ },
];

// Where a sample with no feature frame goes: the innermost match.
const MECHANISMS: readonly Rule[] = [
  { name: '(read path: onStreamRead, push, emit data)', kind: 'common', frame: /onStreamRead|LibuvStreamWrap::OnUvRead|LibuvStreamWrap::ReadStart\(\)::\{lambda|EmitToJSStreamListener|uv__read|readableAddChunk|addChunk|Readable\.push|__sys_recvfrom|sock_read_iter|tcp_recvmsg|__x64_sys_read\b/ },
  { name: '(accept: onconnection, accept4)', kind: 'common', frame: /onconnection node:net|ConnectionWrap.*OnConnection|uv__server_io|accept4|__sys_accept4|do_accept/ },
  { name: '(EventEmitter)', kind: 'common', frame: /node:events:\d/ },
  { name: '(streams, other)', kind: 'common', frame: /node:internal\/streams\// },
  { name: '(nextTick, microtasks, immediates, callbacks)', kind: 'common', frame: /processTicksAndRejections|processImmediate|RunMicrotasks|MicrotaskQueue|runNextTicks|InternalCallbackScope|CallbackScope|MakeCallback|AsyncWrap::MakeCallback|InternalMakeCallback|CheckImmediate|node:internal\/process\/task_queues|node:internal\/async_hooks/ },
  { name: '(timers processing)', kind: 'common', frame: /processTimers|listOnTimeout|RunTimers|uv__run_timers/ },
  { name: '(event loop: epoll)', kind: 'common', frame: /uv__io_poll|epoll_wait|do_epoll|uv_run|uv__io_cb|uv__async/ },
  { name: '(V8 runtime, builtins, other)', kind: 'node', frame: /v8::|Builtins_|Runtime_|Builtin:|BytecodeHandler:|Stub:/ },
  { name: '(other Node JS)', kind: 'common', frame: /JS:.* node:/ },
  { name: '(kernel, other)', kind: 'common', frame: /\(\[kernel\.kallsyms\]\)/ },
];

// Entry points, counted inclusive only (they overlap the rows above).
const ENTRIES: readonly Rule[] = [
  { name: 'entry: sessionLogger()', kind: 'product', frame: fn('sessionLogger', '') },
  { name: 'entry: logLogin() (login line + counters)', kind: 'product', frame: fn('logLogin', '') },
  { name: 'entry: LoggedSplice.ended() (session-end line)', kind: 'product', frame: fn('ended|LoggedSplice\\.ended', '.*/src/session/handover\\.js') },
  { name: 'entry: login bookkeeping (setImmediate after OK)', kind: 'product', frame: /JS:[*^~+]?\S* .*\/src\/session\/login\.js:\d+/, within: /processImmediate/ },
  { name: 'entry: admit()', kind: 'product', frame: fn('admit', '') },
  { name: 'entry: ImapSession constructor', kind: 'product', frame: fn('ImapSession', '') },
  { name: 'entry: SessionLogin / LoginRun', kind: 'product', frame: fn('SessionLogin|LoginRun|newLogin', '') },
  { name: 'entry: guard check()/succeeded()', kind: 'product', frame: fn('check|succeeded|blocked|succeed', '.*/src/auth/(?:login-guard|failure-limiter)\\.js') },
  { name: 'entry: decideNow()', kind: 'product', frame: fn('decideNow|Authenticator\\.decideNow', '') },
  { name: 'entry: tokenKey() (crypto.hash)', kind: 'product', frame: fn('tokenKey', '') },
  { name: 'entry: readSaslCredentials()', kind: 'product', frame: fn('readSaslCredentials', '') },
  { name: 'entry: parseCommand()', kind: 'product', frame: fn('parseCommand', '') },
  { name: 'entry: imapIdLine()', kind: 'product', frame: fn('imapIdLine', '') },
  { name: 'entry: ImapPlainLogin (constructor)', kind: 'common', frame: fn('ImapPlainLogin', '') },
  { name: 'entry: dialTcp()', kind: 'common', frame: fn('dialTcp', '') },
  { name: 'entry: spliceLoggedIn()', kind: 'product', frame: fn('spliceLoggedIn|FramedConnection\\.spliceLoggedIn', '') },
  { name: 'entry: Splice constructor', kind: 'common', frame: fn('Splice|LoggedSplice|SplicedSession', '.*/src/(?:net/splice|session/handover|session/spliced)\\.js') },
  { name: 'entry: stream.pipe() (lean)', kind: 'common', frame: fn('Readable\\.pipe', 'node:') },
  { name: 'entry: onconnection (accept → handler)', kind: 'common', frame: fn('onconnection', 'node:net') },
  { name: 'entry: new Socket, accepted', kind: 'node', frame: /JS:[*^~+]?Socket node:net:\d/, within: /JS:[*^~+]?onconnection node:net/ },
  { name: 'entry: new Socket, dialled', kind: 'node', frame: /JS:[*^~+]?Socket node:net:\d/, within: /JS:[*^~+]?(?:connect|createConnection) node:net/ },
];

const WORKER_GC = /v8::internal::(?:Heap|Scaveng|ConcurrentMarking|MarkCompact|Sweeper|Evacuat|Marking|ArrayBufferSweeper|PointersUpdating|MinorMarkCompact|MinorMarkSweep|ParallelScaveng|PageEvacuation|YoungGeneration)|cppgc::|v8::internal::\w*(?:Scaveng|Evacuat|Sweep|Marking|Job)/;
const WORKER_COMPILE = /v8::internal::(?:compiler::|maglev::|baseline::|OptimizingCompileDispatcher|Compiler|Parser|BackgroundCompile|turboshaft)/;

interface Profile {
  readonly name: string;
  readonly path: string;
  readonly logins: number;
  samples: number;
  ns: number;
  readonly self: Map<string, { n: number; ns: number }>;
  readonly incl: Map<string, { n: number; ns: number }>;
  /** Leaf symbols per self bucket, for --top. */
  readonly leaves: Map<string, Map<string, number>>;
}

const args = process.argv.slice(2);
const flags = new Map(args.filter((a) => a.startsWith('--')).map((a) => [a.slice(2).split('=')[0]!, a.includes('=') ? a.slice(a.indexOf('=') + 1) : 'true']));
const specs = args.filter((a) => !a.startsWith('--'));
if (specs.length === 0) throw new Error('usage: perf-account.ts NAME=PERF_DATA:LOGINS [NAME=PERF_DATA:LOGINS ...] [--top=BUCKET|all]');

function add(m: Map<string, { n: number; ns: number }>, k: string, ns: number): void {
  const e = m.get(k);
  if (e) { e.n += 1; e.ns += ns; } else m.set(k, { n: 1, ns });
}

function matches(r: Rule, frames: readonly string[], i: number): boolean {
  if (!r.frame.test(frames[i]!)) return false;
  if (!r.within) return true;
  for (let j = i + 1; j < frames.length; j++) if (r.within.test(frames[j]!)) return true;
  return false;
}

/** The rule naming frame i, if any (the first of `rules` that matches). */
function ruleAt(rules: readonly Rule[], frames: readonly string[], i: number): Rule | null {
  for (const r of rules) if (matches(r, frames, i)) return r;
  return null;
}

/** The self bucket of one main-thread stack (frames leaf first). */
function bucketOf(frames: readonly string[]): string {
  let inner: Rule | null = null;
  let at = -1;
  for (let i = 0; i < frames.length && !inner; i++) {
    inner = ruleAt(FEATURES, frames, i);
    at = i;
  }
  if (inner) {
    if (inner.keep) return inner.name;
    let owner: Rule | null = null;
    for (let i = at + 1; i < frames.length; i++) {
      const r = ruleAt(FEATURES, frames, i);
      if (r?.owns) owner = r; // the outermost owner
    }
    return (owner ?? inner).name;
  }
  for (let i = 0; i < frames.length; i++) {
    const r = ruleAt(MECHANISMS, frames, i);
    if (r) return r.name;
  }
  return '(unknown)';
}

function account(p: Profile, pid: number, tid: number, period: number, frames: string[]): void {
  p.samples += 1;
  p.ns += period;
  let bucket: string;
  if (tid !== pid) {
    const any = (re: RegExp): boolean => frames.some((f) => re.test(f));
    bucket = any(WORKER_GC) ? 'GC (V8 worker threads)' : any(WORKER_COMPILE) ? 'V8 compile (worker threads)' : 'other threads (libuv pool, platform)';
  } else {
    bucket = bucketOf(frames);
    const seen = new Set<string>();
    for (const rules of [FEATURES, ENTRIES]) {
      for (const r of rules) {
        if (seen.has(r.name)) continue;
        for (let i = 0; i < frames.length; i++) {
          if (matches(r, frames, i)) { seen.add(r.name); add(p.incl, r.name, period); break; }
        }
      }
    }
  }
  add(p.self, bucket, period);
  let leaves = p.leaves.get(bucket);
  if (!leaves) p.leaves.set(bucket, (leaves = new Map()));
  const leaf = (frames[0] ?? '(none)').replace(/^[0-9a-f]+\s+/, '');
  leaves.set(leaf, (leaves.get(leaf) ?? 0) + 1);
}

/**
 * V8 reuses the addresses of code it freed (start-up code, replaced baseline code) and
 * --perf-basic-prof only appends to /tmp/perf-PID.map, so perf names a steady-state frame
 * after whichever entry for that address it finds (measured: `Eval:~ …/yaml/…` frames under
 * onStreamRead). The map is rewritten with the latest entry for every address (the samples
 * come after the warm-up); the original is kept as .orig and always read from there.
 */
function latestEntriesOnly(pid: number): void {
  const map = `/tmp/perf-${pid}.map`;
  const orig = `${map}.orig`;
  if (!existsSync(map)) return;
  if (!existsSync(orig)) copyFileSync(map, orig);
  const entries = readFileSync(orig, 'latin1').split('\n').filter(Boolean).map((l) => {
    const [a, z] = l.split(' ', 2) as [string, string];
    return { start: parseInt(a, 16), end: parseInt(a, 16) + parseInt(z, 16), line: l };
  });
  const starts: number[] = [];
  const kept: Array<{ start: number; end: number; line: string }> = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    let lo = 0, hi = starts.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (starts[mid]! < e.start) lo = mid + 1; else hi = mid; }
    if (lo > 0 && kept[lo - 1]!.end > e.start) continue; // a later entry covers its start
    if (lo < kept.length && kept[lo]!.start < e.end) continue; // or part of it
    starts.splice(lo, 0, e.start);
    kept.splice(lo, 0, e);
  }
  writeFileSync(map, kept.map((e) => e.line).join('\n') + '\n');
  console.log(`${map}: ${entries.length} entries, ${kept.length} kept (latest per address)`);
}

async function pidOf(path: string): Promise<number> {
  const child = spawn('perf', ['script', '-i', path, '-F', 'pid'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
  let pid = 0;
  for await (const line of lines) { pid = Number(line.trim()); break; }
  child.kill();
  return pid;
}

async function read(name: string, path: string, logins: number): Promise<Profile> {
  const p: Profile = { name, path, logins, samples: 0, ns: 0, self: new Map(), incl: new Map(), leaves: new Map() };
  const fromPerf = !path.endsWith('.txt');
  if (fromPerf && !flags.has('raw-map')) latestEntriesOnly(await pidOf(path));
  const child = fromPerf ? spawn('perf', ['script', '-i', path, '--no-inline', '-F', 'comm,pid,tid,period,ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] }) : null;
  const input = child ? child.stdout! : createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let head: { pid: number; tid: number; period: number } | null = null;
  let frames: string[] = [];
  const flush = (): void => {
    if (head) account(p, head.pid, head.tid, head.period, frames);
    head = null;
    frames = [];
  };
  for await (const line of lines) {
    if (line.trim() === '') { flush(); continue; }
    if (/^\s/.test(line)) {
      // "\t  7f12ab sym (dso)": the address dropped, the symbol and its object kept.
      const m = /^\s+[0-9a-f]+\s+(.*)$/.exec(line);
      if (m) frames.push(m[1]!);
      continue;
    }
    flush();
    const h = /^(.*?)\s+(\d+)\/(\d+)\s+(\d+)/.exec(line);
    if (h) head = { pid: Number(h[2]), tid: Number(h[3]), period: Number(h[4]) };
  }
  flush();
  if (child) {
    const code = await new Promise<number | null>((r) => child.once('close', r));
    if (code !== 0 && p.samples === 0) throw new Error(`perf script -i ${path} exited with ${code}`);
  }
  return p;
}

const profiles: Profile[] = [];
for (const s of specs) {
  const m = /^([^=]+)=(.+):(\d+)$/.exec(s);
  if (!m) throw new Error(`not NAME=PATH:LOGINS: ${s}`);
  profiles.push(await read(m[1]!, m[2]!, Number(m[3])));
}

const us = (p: Profile, ns: number): number => ns / 1000 / p.logins;
const kindOf = new Map<string, Rule['kind']>([...FEATURES, ...MECHANISMS, ...ENTRIES].map((r) => [r.name, r.kind]));
kindOf.set('GC (V8 worker threads)', 'node').set('V8 compile (worker threads)', 'node').set('other threads (libuv pool, platform)', 'common').set('(unknown)', 'common');
const order = [...FEATURES.map((r) => r.name), 'GC (V8 worker threads)', 'V8 compile (worker threads)', 'other threads (libuv pool, platform)', ...MECHANISMS.map((r) => r.name), '(unknown)'];
const w = Math.max(...order.map((n) => n.length), ...ENTRIES.map((r) => r.name.length));
const cell = (v: string, n = 16): string => v.padStart(n);
const head = (extra: string): string => `${'bucket'.padEnd(w)} kind    ${profiles.map((p) => cell(`${p.name} µs (n)`)).join('')}${profiles.length === 2 ? cell(`${profiles[0]!.name}−${profiles[1]!.name}`, 12) : ''} ${extra}`;
const row = (name: string, get: (p: Profile) => { n: number; ns: number } | undefined): string => {
  const vals = profiles.map((p) => get(p) ?? { n: 0, ns: 0 });
  const diff = profiles.length === 2 ? cell((us(profiles[0]!, vals[0]!.ns) - us(profiles[1]!, vals[1]!.ns)).toFixed(2), 12) : '';
  return `${name.padEnd(w)} ${(kindOf.get(name) ?? '').padEnd(7)} ${vals.map((v, i) => cell(`${us(profiles[i]!, v.ns).toFixed(2)} (${v.n})`)).join('')}${diff}`;
};

for (const p of profiles) console.log(`${p.name}: ${p.path}, ${p.logins} logins, ${p.samples} samples, ${us(p, p.ns).toFixed(1)} µs per login sampled`);
console.log(`\nself (a partition; µs per login, samples in brackets)\n${head('')}`);
for (const name of order) if (profiles.some((p) => p.self.has(name))) console.log(row(name, (p) => p.self.get(name)));
console.log(row('total', (p) => ({ n: p.samples, ns: p.ns })));
const byKind = (k: Rule['kind']) => (p: Profile): { n: number; ns: number } => {
  let n = 0, ns = 0;
  for (const [b, v] of p.self) if ((kindOf.get(b) ?? 'common') === k) { n += v.n; ns += v.ns; }
  return { n, ns };
};
console.log(`\nself, by kind (product: a feature a C proxy pays as well; node: Node/V8's own; common: the job both logins do)`);
for (const k of ['product', 'node', 'common'] as const) console.log(row(`  ${k}`, byKind(k)));
console.log(`\nincl (any frame on the stack, main thread; overlapping)\n${head('')}`);
for (const r of [...FEATURES, ...ENTRIES]) if (profiles.some((p) => p.incl.has(r.name))) console.log(row(r.name, (p) => p.incl.get(r.name)));

const top = flags.get('top');
if (top) {
  for (const p of profiles) {
    for (const [bucket, leaves] of p.leaves) {
      if (top !== 'all' && !bucket.includes(top)) continue;
      console.log(`\n${p.name}: top leaf frames in ${bucket}`);
      for (const [leaf, n] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, Number(flags.get('n') ?? 12))) console.log(`${String(n).padStart(7)}  ${leaf.slice(0, 160)}`);
    }
  }
}

// Where one login's time goes, phase by phase, without touching the proxy's code: the client
// stamps connect, greeting and OK; a timestamping relay between the proxy (or nginx) and Dovecot
// stamps backend connect, Dovecot's greeting, each command and Dovecot's tagged OK; a second
// relay in front of the IdP stamps the userinfo request; nginx's auth_http server stamps its
// requests. Logins run one at a time, the targets taking turns, and the table shows each
// phase's median.
import { Wire } from './wire.js';
import { wallMs, type TapEvent, type TapRelay } from './tap-relay.js';
import { median } from './table.js';
import type { LoginTarget } from './imap-phases.js';

export interface PhaseTarget {
  readonly name: string;
  readonly target: LoginTarget;
  /** The relay in front of Dovecot this target's backend leg goes through. */
  readonly backendTap?: TapRelay;
  /** The relay in front of the IdP (fresh tokens). */
  readonly idpTap?: TapRelay;
  /** nginx: the auth_http server's request times since the last call. */
  readonly authTimings?: () => Promise<Array<{ at: number; done: number }>>;
}

/** The phases, in the order of the table; a target has a value where the phase applies. */
const PHASES = [
  ['connect', 'TCP connect (client)'],
  ['greeting', 'connect → greeting received (client)'],
  ['authToOk', 'AUTHENTICATE sent → tagged OK received (client)'],
  ['toBackend', 'AUTHENTICATE sent → backend connection accepted (read, decide, dial)'],
  ['idp', '  of which IdP userinfo: request → response (IdP relay)'],
  ['authHttpReach', '  of which AUTHENTICATE sent → request at auth_http'],
  ['authHttp', '  of which auth_http server: request → answer'],
  ['backendGreeting', 'backend accepted → Dovecot greeting (relay)'],
  ['firstCommand', 'Dovecot greeting → first command to Dovecot'],
  ['toLoginCommand', 'first command → login command (ID round trip)'],
  ['credentials', 'login command → credentials complete (literal round trips)'],
  ['backendOk', 'credentials complete → Dovecot tagged OK (Dovecot auth + imap start)'],
  ['toClient', 'Dovecot tagged OK at relay → client OK received'],
  ['total', 'Total: connect → tagged OK received'],
] as const;
type Phase = typeof PHASES[number][0];
type Sample = Partial<Record<Phase, number>>;

interface ClientMarks { start: number; connected: number; greeting: number; authSent: number; ok: number }

async function markedLogin(t: LoginTarget, i: number): Promise<ClientMarks> {
  const start = wallMs();
  const w = await Wire.connect(t.ep);
  try {
    const connected = wallMs();
    await w.line('* ');
    const greeting = wallMs();
    w.write(`a AUTHENTICATE ${t.auth(i)}\r\n`);
    const authSent = wallMs();
    const got = await w.line('a ');
    const ok = wallMs();
    if (!got.slice(got.lastIndexOf('a ')).startsWith('a OK')) throw new Error(`login refused: ${got.slice(-200).trim()}`);
    await w.command('z', 'LOGOUT');
    return { start, connected, greeting, authSent, ok };
  } finally {
    w.close();
  }
}

/** The tag of the first line in `head` that is an IMAP login command (AUTHENTICATE or LOGIN). */
const loginTag = (head: string): string | undefined => /(?:^|\r\n)(\S+) (?:AUTHENTICATE|LOGIN)\b/i.exec(head)?.[1];

/**
 * The backend leg's exchange in short: tags and verbs of commands, tags and status of replies,
 * never arguments or literals (they hold the master login and tokens).
 */
function transcript(ev: readonly TapEvent[]): string {
  const short = (l: string): string => /^(\S{1,12}) (ID|AUTHENTICATE|LOGIN|LOGOUT|CAPABILITY|STARTTLS|OK|NO|BAD|BYE)\b/.exec(l)?.slice(1, 3).join(' ') ?? `(${l.length} bytes)`;
  return ev.map((e) => `${e.dir === 'up' ? '>' : '<'}${e.head.split('\r\n').filter(Boolean).map(short).join('|')}`).join('  ');
}

function backendPhases(m: ClientMarks, tap: TapRelay, s: Sample, shape?: (t: string) => void): void {
  const acc = tap.accepts.find((a) => a.t >= m.start);
  if (!acc) return;
  const ev = tap.events.filter((e) => e.conn === acc.conn);
  const greet = ev.find((e) => e.dir === 'down');
  const firstUp = ev.find((e) => e.dir === 'up');
  const loginUp = ev.find((e) => e.dir === 'up' && loginTag(e.head) !== undefined);
  if (!greet || !firstUp || !loginUp) return;
  const tag = loginTag(loginUp.head)!;
  shape?.(transcript(ev.filter((e) => e.t <= m.ok)));
  const okDown = ev.find((e) => e.dir === 'down' && e.t >= loginUp.t && new RegExp(`(?:^|\\r\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} OK`).test(e.head));
  if (!okDown) return;
  const lastUp = ev.filter((e: TapEvent) => e.dir === 'up' && e.t <= okDown.t).at(-1)!;
  s.backendGreeting = greet.t - acc.t;
  s.backendOk = okDown.t - lastUp.t;
  s.toClient = m.ok - okDown.t;
  // Only where the proxy dials after the client's AUTHENTICATE (a relay in front of
  // Dovecot for a direct login is accepted before it, and the client sends the commands).
  if (acc.t >= m.authSent) {
    s.toBackend = acc.t - m.authSent;
    s.firstCommand = firstUp.t - greet.t;
    s.toLoginCommand = loginUp.t - firstUp.t;
    s.credentials = lastUp.t - loginUp.t;
  }
}

function idpPhase(m: ClientMarks, tap: TapRelay, s: Sample): void {
  const inLogin = tap.events.filter((e) => e.t >= m.authSent && e.t <= m.ok);
  const req = inLogin.find((e) => e.dir === 'up');
  const res = inLogin.filter((e) => e.dir === 'down').at(-1);
  if (req && res) s.idp = res.t - req.t;
}

async function onePhaseSample(p: PhaseTarget, i: number, shape?: (t: string) => void): Promise<Sample> {
  p.backendTap?.clear();
  p.idpTap?.clear();
  await p.authTimings?.(); // forget earlier requests
  const m = await markedLogin(p.target, i);
  const s: Sample = {
    connect: m.connected - m.start, greeting: m.greeting - m.connected,
    authToOk: m.ok - m.authSent, total: m.ok - m.start,
  };
  if (p.backendTap) backendPhases(m, p.backendTap, s, shape);
  if (p.idpTap) idpPhase(m, p.idpTap, s);
  const auth = (await p.authTimings?.())?.find((a) => a.at >= m.authSent);
  if (auth) {
    s.authHttpReach = auth.at - m.authSent;
    s.authHttp = auth.done - auth.at;
  }
  return s;
}

export interface PhaseTable { readonly n: number; readonly names: string[]; readonly medians: Array<Partial<Record<Phase, number>>> }

/** `rounds` logins per target, the targets taking turns (the order rotating each round). */
export async function loginPhases(targets: readonly PhaseTarget[], rounds: number, say?: (s: string) => void): Promise<PhaseTable> {
  const samples = targets.map(() => [] as Sample[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < targets.length; k++) {
      const j = (r + k) % targets.length;
      const shape = r === 0 && say ? (t: string): void => say(`${targets[j]!.name}, backend leg chunks: ${t}`) : undefined;
      samples[j]!.push(await onePhaseSample(targets[j]!, r, shape));
    }
  }
  const medians = samples.map((ss) => {
    const out: Partial<Record<Phase, number>> = {};
    for (const [key] of PHASES) {
      const xs = ss.map((s) => s[key]).filter((x): x is number => x !== undefined);
      // A phase seen in fewer than half the logins (a relay missed it) is not shown.
      if (xs.length * 2 >= ss.length && xs.length) out[key] = median(xs);
    }
    return out;
  });
  return { n: rounds, names: targets.map((t) => t.name), medians };
}

export function formatPhaseTable(t: PhaseTable): string {
  const lines = [
    `| Login phase (median of ${t.n} logins, ms) | ${t.names.join(' | ')} |`,
    `|---|${t.names.map(() => '--:').join('|')}|`,
  ];
  for (const [key, label] of PHASES) {
    if (t.medians.every((m) => m[key] === undefined)) continue;
    lines.push(`| ${label} | ${t.medians.map((m) => (m[key] === undefined ? '–' : m[key].toFixed(3))).join(' | ')} |`);
  }
  return lines.join('\n');
}

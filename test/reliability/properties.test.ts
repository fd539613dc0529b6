// Property tests that complete the existing ones (test/imap/*, test/auth/sasl/properties,
// test/net/proxy-protocol): the config loader never throws anything but ConfigError for
// any environment; IMAP commands built from generated arguments parse back to the same
// arguments (directly and through the framer, literals included), ManageSieve commands too;
// the POP3 line framer keeps lines under any chunking; PROXY v1 and v2 headers
// round-trip any address. FUZZ_RUNS scales the number of cases (default: CI-sized).
import t from 'tap';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { KEYS } from '../../src/config/keys.js';
import { ImapFramer } from '../../src/imap/framer.js';
import { parseCommand, type ImapArg, type ImapCommand } from '../../src/imap/parser.js';
import { encodeProxyV2, parseProxyHeader } from '../../src/net/proxy-protocol.js';
import { decodeLoginStep, decodeSaslResponse, SaslError } from '../../src/auth/sasl/index.js';
import { parseCommand as parseSieveCommand, parseResponse as parseSieveResponse, SieveParseError, type SieveArg } from '../../src/managesieve/parser.js';
import { Pop3Lines } from '../../src/pop3/lines.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const runs = (factor = 1) => ({ numRuns: Math.max(1, Math.round(RUNS * factor)) });

// ---- config loader ---------------------------------------------------------------------------

const KEY_NAMES = KEYS.map((k) => k.name);
const configValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: -5, max: 200_000 }).map(String),
  fc.constantFrom('', ' ', '0', '1', 'yes', 'no', 'auth', 'post', 'local', 'auto', 'starttls', 'none', 'implicit', 'xclient',
    '127.0.0.1:0', '[::1]:993', ':143', '0.0.0.0:99999', 'http://idp.example/userinfo', 'https://[::1]:8443/x', 'ftp://x', '/dev/null',
    '/nonexistent/file', '10.0.0.0/8 192.168.0.0/16', '10.0.0.0/33', 'RS256 HS256', 'none', 'at+jwt JWT', 'debug', 'nonsense', '\0', '${HOME}'),
);
const envMap = fc.dictionary(fc.oneof(fc.constantFrom(...KEY_NAMES), fc.string({ maxLength: 12 })), configValue, { maxKeys: 25 });

t.test('config: any environment gives a Config or a ConfigError, nothing else', async (t) => {
  let valid = 0;
  fc.assert(fc.property(envMap, fc.boolean(), (env, withBasics) => {
    const full = withBasics
      ? { OAUTH2_INTROSPECTION_URL: 'https://idp.example/userinfo', DMS_MASTER_USER: 'proxy', DMS_MASTER_PASSWORD: 'pw', ALLOW_PLAINTEXT_AUTH: '1', LISTEN_IMAPS: '', LISTEN_SUBMISSIONS: '', ...env }
      : env;
    try {
      loadConfig(full);
      valid += 1;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (err.problems.length === 0) throw new Error('ConfigError without a problem');
    }
  }), runs(2));
  t.ok(valid > 0, `some generated environments were valid (${valid})`);
});

// ---- IMAP parser round trip ------------------------------------------------------------------

const ATOM_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&\'+,-./:;<=>?@[^_`|~]'];
const atomArg = fc.string({ unit: fc.constantFrom(...ATOM_CHARS), minLength: 1, maxLength: 12 })
  .filter((s) => s.toUpperCase() !== 'NIL')
  .map((value): ImapArg => ({ type: 'atom', value }));
// Quoted strings: any byte but NUL, CR, LF (RFC 9051 §9 with 8-bit passed through).
const quotedArg = fc.uint8Array({ maxLength: 20 })
  .map((a) => Buffer.from(a.filter((b) => b !== 0 && b !== 0x0d && b !== 0x0a)))
  .map((value): ImapArg => ({ type: 'string', value, literal: false }));
const literalArg = fc.uint8Array({ maxLength: 40 }).map((a): ImapArg => ({ type: 'string', value: Buffer.from(a), literal: true }));
const nilArg = fc.constant<ImapArg>({ type: 'nil' });
const { arg } = fc.letrec<{ arg: ImapArg; list: ImapArg }>((tie) => ({
  arg: fc.oneof({ depthSize: 'small', withCrossShrink: true }, atomArg, quotedArg, literalArg, nilArg, tie('list')),
  list: fc.array(tie('arg'), { maxLength: 4 }).map((items): ImapArg => ({ type: 'list', items })),
}));
const TAG_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_'];
const command = fc.record({
  tag: fc.string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 1, maxLength: 8 }),
  name: fc.constantFrom('LOGIN', 'ID', 'AUTHENTICATE', 'CAPABILITY', 'NOOP', 'X-FOO'),
  args: fc.array(arg, { maxLength: 5 }),
});

/** Serializes to framer segments: text parts ending in {n+} alternate with literal bodies. */
function segmentsOf(cmd: ImapCommand): Buffer[] {
  const segments: Buffer[] = [];
  let text = `${cmd.tag} ${cmd.name}`;
  const put = (a: ImapArg): void => {
    switch (a.type) {
      case 'atom': text += a.value; return;
      case 'nil': text += 'NIL'; return;
      case 'list':
        text += '(';
        a.items.forEach((item, i) => { if (i) text += ' '; put(item); });
        text += ')';
        return;
      case 'string':
        if (a.literal) {
          segments.push(Buffer.from(`${text}{${a.value.length}+}`, 'latin1'), a.value);
          text = '';
          return;
        }
        segments.push(Buffer.from(text, 'latin1'));
        text = '';
        segments.push(...[Buffer.concat([Buffer.from('"'), Buffer.from(a.value.toString('latin1').replace(/[\\"]/g, '\\$&'), 'latin1'), Buffer.from('"')])]);
        // Merge the quoted string back into the text part it belongs to.
        text = Buffer.concat(segments.splice(-2)).toString('latin1');
        return;
    }
  };
  for (const a of cmd.args) { text += ' '; put(a); }
  segments.push(Buffer.from(text, 'latin1'));
  return segments;
}

/** The wire form: literals as {n+}\r\n<body>, CRLF at the end. */
const wireOf = (cmd: ImapCommand): Buffer => {
  const segs = segmentsOf(cmd);
  const parts: Buffer[] = [];
  segs.forEach((s, i) => parts.push(s, Buffer.from(i % 2 === 0 && i < segs.length - 1 ? '\r\n' : '')));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
};

t.test('IMAP: commands built from generated arguments parse back equal', async (t) => {
  fc.assert(fc.property(command, (cmd) => {
    const parsed = parseCommand(segmentsOf(cmd));
    t.same(parsed, { ...cmd, name: cmd.name.toUpperCase() });
  }), runs());
});

t.test('IMAP: the same through the framer, with random chunking and pipelining', async (t) => {
  fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 30 }), (cmds, cuts) => {
    const wire = Buffer.concat(cmds.map(wireOf));
    const framer = new ImapFramer({ maxLineBytes: 65536, maxLiteralBytes: 65536 });
    const got: ImapCommand[] = [];
    const drain = (): void => {
      for (let e = framer.next(); e; e = framer.next()) {
        if (e.type === 'command') got.push(parseCommand(e.segments));
        else if (e.type === 'error') throw new Error(`framer error ${e.code}`);
      }
    };
    let at = 0;
    for (const n of cuts) {
      if (at >= wire.length) break;
      framer.push(wire.subarray(at, at + n));
      at += n;
      drain();
    }
    if (at < wire.length) framer.push(wire.subarray(at));
    drain();
    t.same(got, cmds.map((c) => ({ ...c, name: c.name.toUpperCase() })));
  }), runs(0.5));
});

// ---- ManageSieve: strings and literals round-trip; any bytes are a SieveParseError at worst ------

const sieveString = fc.oneof(
  quotedArg.map((a) => a as SieveArg),
  literalArg.map((a) => a as SieveArg),
);
const sieveCommand = fc.record({
  name: fc.constantFrom('AUTHENTICATE', 'NOOP', 'CAPABILITY', 'X-FOO'),
  args: fc.array(fc.oneof(sieveString, atomArg.filter((a) => a.type === 'atom' && !a.value.includes('{') && !a.value.includes('"')).map((a) => a as SieveArg)), { maxLength: 4 }),
});

/** Framer segments of a ManageSieve command (RFC 5804 §4): text parts ending in {n+} alternate with literal bodies. */
function sieveSegments(cmd: { name: string; args: readonly SieveArg[] }): Buffer[] {
  const segments: Buffer[] = [];
  let text = Buffer.from(cmd.name, 'latin1');
  for (const a of cmd.args) {
    if (a.type === 'string' && a.literal) {
      segments.push(Buffer.concat([text, Buffer.from(` {${a.value.length}+}`)]), a.value);
      text = Buffer.alloc(0);
      continue;
    }
    const word = a.type === 'atom' ? Buffer.from(a.value, 'latin1') : Buffer.concat([Buffer.from('"'), Buffer.from(a.value.toString('latin1').replace(/[\\"]/g, '\\$&'), 'latin1'), Buffer.from('"')]);
    text = Buffer.concat([text, Buffer.from(' '), word]);
  }
  segments.push(text);
  return segments;
}

t.test('ManageSieve: commands built from generated strings, literals and atoms parse back equal', async (t) => {
  fc.assert(fc.property(sieveCommand, (cmd) => {
    t.same(parseSieveCommand(sieveSegments(cmd)), cmd);
  }), runs());
});

t.test('ManageSieve: the parser throws only SieveParseError, on any segments', async (t) => {
  const bytes = fc.oneof(fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
    fc.array(fc.constantFrom(' ', '"', '\\', '{', '}', '+', '0', '5', 'A', 'NOOP', '\0', '\r', '\n', '\xff'), { maxLength: 30 }).map((a) => Buffer.from(a.join(''), 'latin1')));
  fc.assert(fc.property(fc.array(bytes, { minLength: 1, maxLength: 5 }), (segments) => {
    for (const f of [() => parseSieveCommand(segments), () => parseSieveResponse(segments)]) {
      try { f(); } catch (err) { if (!(err instanceof SieveParseError)) throw err; }
    }
  }), runs(3));
  t.pass();
});

// ---- POP3 lines: any chunking gives the same lines; a line over the cap is refused, never held ---

t.test('POP3: lines through the framer with random chunking; over the cap is too-long, and nothing more is held', async (t) => {
  const MAX = 64;
  const line = fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a.filter((b) => b !== 0x0a && b !== 0x0d)));
  fc.assert(fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), fc.boolean(), (lines, cuts, bareLf) => {
    const wire = Buffer.concat(lines.flatMap((l) => [l, Buffer.from(bareLf ? '\n' : '\r\n')]));
    const framer = new Pop3Lines(MAX);
    const got: Array<string | 'too-long'> = [];
    const drain = (): void => {
      for (let e = framer.next(); e; e = framer.next()) got.push(e.type === 'line' ? e.line.toString('latin1') : 'too-long');
    };
    let at = 0;
    for (const n of [...cuts, wire.length]) {
      if (at >= wire.length) break;
      framer.push(wire.subarray(at, at + n));
      at += n;
      drain();
    }
    // Up to the first line over the cap every line comes out as sent; then one too-long, then nothing.
    const over = lines.findIndex((l) => l.length > MAX);
    const want = over < 0 ? lines.map((l) => l.toString('latin1')) : [...lines.slice(0, over).map((l) => l.toString('latin1')), 'too-long'];
    t.same(got, want);
    if (over >= 0) t.equal(framer.takeRemaining().length, 0, 'nothing held after too-long');
  }), runs());
});

// ---- SASL: multi-step LOGIN never throws anything but SaslError ------------------------------

t.test('SASL: decoders of every mechanism throw only SaslError on any bytes', async (t) => {
  fc.assert(fc.property(fc.constantFrom('PLAIN', 'XOAUTH2', 'OAUTHBEARER') as fc.Arbitrary<'PLAIN' | 'XOAUTH2' | 'OAUTHBEARER'>, fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 60 }), (mech, a, b) => {
    for (const f of [() => decodeSaslResponse(mech, a), () => decodeLoginStep(a, b)]) {
      try { f(); } catch (err) { if (!(err instanceof SaslError)) throw err; }
    }
  }), runs(3));
  t.pass();
});

// ---- PROXY protocol round trips ----------------------------------------------------------------

const canonical6 = (a: string): string => new URL(`http://[${a}]/`).hostname.slice(1, -1);
/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is handed on as the plain IPv4 address; undefined for any other. */
const mapped4 = (a: string): string | undefined => {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical6(a));
  if (!m) return undefined;
  const [hi, lo] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
};
const port = fc.integer({ min: 0, max: 65535 });

t.test('PROXY v2: any IPv4/IPv6 pair and ports round-trip, with what follows left alone', async (t) => {
  fc.assert(fc.property(fc.boolean(), fc.ipV4(), fc.ipV4(), fc.ipV6(), fc.ipV6(), port, port, fc.boolean(), fc.uint8Array({ maxLength: 20 }),
    (v6, s4, d4, s6, d6, sp, dp, tls, rest) => {
      const [src, dst] = v6 ? [s6, d6] : [s4, d4];
      const header = encodeProxyV2({ address: src, port: sp }, { address: dst, port: dp }, { tls });
      const r = parseProxyHeader(Buffer.concat([header, rest]));
      if (r.status !== 'ok') throw new Error(`not parsed: ${JSON.stringify(r)}`);
      const got = (a: string) => (v6 && a.includes(':') ? canonical6(a) : a);
      const want = (a: string) => (v6 ? mapped4(a) ?? canonical6(a) : a);
      t.same([r.length, r.header.local, got(r.header.source!.address), r.header.source!.port, got(r.header.destination!.address), r.header.destination!.port],
        [header.length, false, want(src), sp, want(dst), dp]);
    }), runs());
});

t.test('PROXY v1: any TCP4/TCP6 line round-trips; a corrupted one is an error or incomplete, never a throw', async (t) => {
  fc.assert(fc.property(fc.boolean(), fc.ipV4(), fc.ipV4(), fc.ipV6(), fc.ipV6(), port, port, fc.nat(60), fc.integer({ min: 0, max: 255 }),
    (v6, s4, d4, s6, d6, sp, dp, at, byte) => {
      const [src, dst] = v6 ? [s6, d6] : [s4, d4];
      const line = Buffer.from(`PROXY ${v6 ? 'TCP6' : 'TCP4'} ${src} ${dst} ${sp} ${dp}\r\n`);
      if (line.length > 107) return; // v1's own limit: long IPv6 text forms do not fit
      const r = parseProxyHeader(line);
      if (r.status !== 'ok') throw new Error(`not parsed: ${line.toString()}`);
      // One text per address (RFC 5952 for IPv6, the plain IPv4 of a mapped one): what v2 gives
      // for the same addresses, the same address as sent.
      const v2 = parseProxyHeader(encodeProxyV2({ address: src, port: sp }, { address: dst, port: dp }));
      if (v2.status !== 'ok') throw new Error('v2 did not parse');
      t.same([r.length, r.header.source?.address, r.header.source?.port, r.header.destination?.address, r.header.destination?.port],
        [line.length, v2.header.source?.address, sp, v2.header.destination?.address, dp], 'v1 gives the text v2 gives');
      const same = (a: string) => (v6 && a.includes(':') ? canonical6(a) : a);
      t.same([same(r.header.source!.address), same(r.header.destination!.address)], [v6 ? mapped4(src) ?? canonical6(src) : src, v6 ? mapped4(dst) ?? canonical6(dst) : dst], 'the addresses sent');
      const bad = Buffer.from(line);
      bad[at % bad.length] = byte;
      const m = parseProxyHeader(bad);
      if (m.status === 'ok' && m.length > bad.length) throw new Error('claims more bytes than given');
    }), runs());
});

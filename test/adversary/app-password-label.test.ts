// The label of an app password is typed by the user (the portal's form, the CLI) and shown to
// the admin by `app-password list` in a terminal and to the user in the portal. C0 controls
// were dropped, but C1 controls (U+0080-U+009F: U+009B is CSI, U+009D OSC, which terminals
// act on as ESC [ and ESC ]) and Unicode format characters (bidi overrides U+202E, isolates
// U+2066-U+2069, zero-width characters) went through, and JSON.stringify in the CLI's list
// escapes neither: a user could write escape sequences into the admin's terminal or make a
// label read backwards. The cut to MAX_APP_PASSWORD_LABEL_CHARS counted UTF-16 units, so it
// could split a character in two and store half a surrogate pair.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanLabel } from '../../src/auth/app-passwords.js';
import { AppPasswordFile } from '../../src/state/app-password-file.js';
import { appPasswordCommand } from '../../src/commands/app-password.js';
import { MAX_APP_PASSWORD_LABEL_CHARS } from '../../src/limits.js';

const dir = mkdtempSync(join(tmpdir(), 'omp-app-pw-label-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'app-passwords.json');

/** Characters a terminal or a bidi renderer acts on, rather than shows. */
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]/u;
/** Half a surrogate pair (matched by UTF-16 unit, hence no `u` flag). */
const HALF = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A text as it may go into tap's own output (whose stream those characters would break too). */
const shown = (s: string): string => s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

t.test('no C1 control, bidi or zero-width character, no half character, reaches the store or the CLI', async (t) => {
  const store = await AppPasswordFile.open(file);
  t.teardown(() => store.close());
  const hostile = [
    'Phone\u009b2J\u009d52;c;aGk=\u009c', // CSI clear screen, OSC 52 clipboard write (8-bit forms)
    '\u202egnp.exe', // right-to-left override
    'Lap\u2066top\u2069\u200b\ufeff', // isolate, zero-width space, BOM
    'line\u2028break\u0085next', // line separator, NEL
    `${'a'.repeat(MAX_APP_PASSWORD_LABEL_CHARS - 1)}\u{1F4F1}`, // the cap falls inside a surrogate pair
  ];
  for (const label of hostile) await store.create('alice@example.test', label);
  let out = '';
  t.equal(await appPasswordCommand(['--file', file, 'list', 'alice@example.test'], { env: {}, out: (s) => { out += s; }, err: () => undefined }), 0);
  t.notOk(ACTIVE.test(out.replace(/\n/g, '')), `the CLI's list prints no active character: ${shown(out)}`);
  for (const r of await store.list('alice@example.test')) {
    t.notOk(ACTIVE.test(r.label), `stored label ${shown(r.label)}: no active character`);
    t.notOk(HALF.test(r.label), `stored label ${shown(r.label)}: well-formed (no half surrogate pair)`);
    t.ok([...r.label].length <= MAX_APP_PASSWORD_LABEL_CHARS, 'within the cap');
  }
});

t.test('a label written into the file by hand reaches the admin\'s terminal cleaned', async (t) => {
  const handWritten = join(dir, 'by-hand.json');
  const record = { id: 'a1', user: 'bob@example.test', label: 'x\u009b2J\u202ey', createdAt: 0, hash: 'scrypt$4096$8$1$AA==$AA==' };
  writeFileSync(handWritten, JSON.stringify({ version: 1, passwords: [record] }), { mode: 0o600 });
  let out = '';
  t.equal(await appPasswordCommand(['--file', handWritten, 'list', 'bob@example.test'], { env: {}, out: (s) => { out += s; }, err: () => undefined }), 0);
  t.notOk(ACTIVE.test(out.replace(/\n/g, '')), `printed: ${shown(out)}`);
  t.match(out, /"x2Jy"/, 'the visible characters, in order');
});

t.test('ordinary labels stay as typed: letters of any script, emoji, inner spaces', async (t) => {
  for (const label of ['Phone', 'Téléphone de Zoë', 'Телефон', '電話', 'حاسوب', 'Phone \u{1F4F1}', 'a  b', 'گوشی\u200cام', 'Dev \u{1F469}\u200d\u{1F4BB}']) t.ok(cleanLabel(label) === label, `${shown(label)} (joiners too: Persian, emoji sequences)`);
  t.equal(cleanLabel('  padded  '), 'padded');
  t.ok(cleanLabel('\u202e\u0085') === 'App password', 'nothing left: the default');
  // Joiners are kept inside a label, but a label of joiners (and spaces) alone shows blank.
  for (const blank of ['\u200d', '\u200c', ' \u200d \u200c ', '\u200d\u200d']) t.ok(cleanLabel(blank) === 'App password', `${shown(blank)}: nothing visible, the default`);
  t.equal(cleanLabel('x'.repeat(MAX_APP_PASSWORD_LABEL_CHARS + 1)).length, MAX_APP_PASSWORD_LABEL_CHARS, 'cut at the cap');
});

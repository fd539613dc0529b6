// README.md and every page under docs/: each relative link names an existing file and each
// #anchor a heading of its target (GitHub's slugs), so moving a section cannot strand a link.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anchors, brokenLinks, links, slug } from './markdown-links.js';

const ROOT = join(import.meta.dirname, '..', '..');

function markdownPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
  return [join(ROOT, 'README.md'), ...docs.sort()];
}

t.test('every relative link and anchor resolves', async (t) => {
  const pages = markdownPages();
  t.ok(pages.length >= 10, `README.md and the docs/ pages (${pages.length})`);
  for (const page of pages) t.same(brokenLinks(page, ROOT), [], page.slice(ROOT.length + 1));
});

t.test('slugs follow GitHub', async (t) => {
  t.equal(slug('Shutdown, upgrades, certificates'), 'shutdown-upgrades-certificates');
  t.equal(slug('User provisioning (SCIM)'), 'user-provisioning-scim');
  t.equal(slug('Compose: drop-in next to an existing DMS'), 'compose-drop-in-next-to-an-existing-dms');
  t.equal(slug('`doctor` and check_token'), 'doctor-and-check_token');
  t.equal(slug('SMTP submission (587 STARTTLS, 465 implicit TLS)'), 'smtp-submission-587-starttls-465-implicit-tls');
  t.same([...anchors('# A\n## A\n```\n# not a heading\n```\n### A\n')], ['a', 'a-1', 'a-2']);
  t.same(links('[x](a.md#b) `[y](no.md)`\n```\n[z](no.md)\n```\n[ref]: c.md\n').map((l) => l.target), ['a.md#b', 'c.md']);
});

t.test('a broken link or anchor is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'links-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'b.md'), '# Only heading\n');
  writeFileSync(join(dir, 'a.md'), [
    '# Top', '', '[ok](b.md#only-heading) [ok](#top) [web](https://example.com/x.md)',
    '[gone](missing.md)', '[bad anchor](b.md#nope)', '[bad here](#nowhere)', '',
  ].join('\n'));
  const problems = brokenLinks(join(dir, 'a.md'), dir);
  t.equal(problems.length, 3, problems.join('\n'));
  t.match(problems[0], /a\.md:4: missing\.md: no such file/);
  t.match(problems[1], /a\.md:5: b\.md#nope: no heading/);
  t.match(problems[2], /a\.md:6: #nowhere: no heading/);
});

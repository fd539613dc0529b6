// Relative links and #anchors of the project's Markdown pages, checked the way GitHub renders
// them: a link resolves against the linking file's folder (a leading `/` against the repository
// root), and an anchor must be the slug of a heading of the target page.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** GitHub's heading slug: lower case, punctuation dropped (except `-` and `_`), each space a `-`. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or image shows its text
    .replace(/`([^`]*)`/g, '$1') // inline code shows its content
    .replace(/<[^>]+>/g, '') // inline HTML shows nothing of its tags
    .replace(/\*+/g, ''); // emphasis markers
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** Lines outside fenced code blocks, with their 1-based line numbers. */
function proseLines(markdown: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const open = /^\s{0,3}(`{3,}|~{3,})/.exec(text);
    if (fence) {
      if (open && open[1]![0] === fence[0] && open[1]!.length >= fence.length && text.trim() === open[1]) fence = undefined;
      return;
    }
    if (open) { fence = open[1]; return; }
    out.push({ line: i + 1, text });
  });
  return out;
}

/** Every anchor a page offers: its headings' slugs, a repeated one with -1, -2, ... */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

export interface Link { readonly line: number; readonly target: string }

/** Link targets in prose (inline code spans and fenced blocks are not links). */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  for (const { line, text } of proseLines(markdown)) {
    const prose = text.replace(/(`+)(?:(?!\1).)+?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line, target: m[1]! });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose);
    if (def) out.push({ line, target: def[1]! });
  }
  return out;
}

const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/** Problems of one page, as `file:line: message`; empty when every relative link resolves. */
export function brokenLinks(file: string, root: string): string[] {
  const markdown = readFileSync(file, 'utf8');
  const problems: string[] = [];
  const where = (line: number): string => `${relative(root, file)}:${line}`;
  for (const { line, target } of links(markdown)) {
    if (EXTERNAL.test(target)) continue;
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const dest = pathPart === '' ? file : pathPart.startsWith('/') ? join(root, pathPart) : resolve(dirname(file), pathPart);
    if (!existsSync(dest)) { problems.push(`${where(line)}: ${target}: no such file`); continue; }
    if (anchor === undefined) continue;
    if (!statSync(dest).isFile() || !dest.endsWith('.md')) { problems.push(`${where(line)}: ${target}: an anchor into a non-Markdown target`); continue; }
    if (!anchors(readFileSync(dest, 'utf8')).has(anchor)) problems.push(`${where(line)}: ${target}: no heading with that anchor in ${relative(root, dest)}`);
  }
  return problems;
}

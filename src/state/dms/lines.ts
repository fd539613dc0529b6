// DMS config files as lines of bytes. Text is handled as latin1 (one char per byte), so a
// line the proxy did not write comes back out byte for byte, whatever its encoding.

export const toText = (b: Buffer | null): string => (b ? b.toString('latin1') : '');
export const toBytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The lines with their terminators; the last one may lack its \n. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** A line's content: without \n, \r\n and surrounding blanks. */
export const content = (line: string): string => line.replace(/\r?\n$/, '').trim();

export const isComment = (line: string): boolean => {
  const c = content(line);
  return c === '' || c.startsWith('#');
};

/** Appends a line, first ending an unterminated last line (the only change to a foreign line). */
export function appendLine(text: string, line: string): string {
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}${line}\n`;
}

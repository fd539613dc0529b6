// SMTP replies from the backend: one or more lines "250-..." ending with "250 ..." (RFC 5321 §4.2.1).
import { BackendError } from './dial.js';
import type { LineReader } from './line-reader.js';
import { MAX_BACKEND_REPLY_LINES } from '../limits.js';

export interface SmtpReply { readonly code: number; readonly lines: readonly string[] }

export async function readReply(reader: LineReader): Promise<SmtpReply> {
  const lines: string[] = [];
  for (;;) {
    const line = await reader.readLine();
    const m = /^(\d{3})([ -])(.*)$/.exec(line) ?? /^(\d{3})()$/.exec(line);
    if (!m) throw new BackendError('ERR_BACKEND_PROTOCOL', `malformed SMTP reply from the backend: ${line.slice(0, 100)}`);
    lines.push(m[3] ?? '');
    if (lines.length > MAX_BACKEND_REPLY_LINES) throw new BackendError('ERR_BACKEND_PROTOCOL', 'over-long SMTP reply from the backend');
    if (m[2] !== '-') return { code: Number(m[1]), lines };
  }
}

export function replyText(r: SmtpReply): string {
  return `${r.code} ${r.lines.join(' / ')}`.slice(0, 300);
}

/** EHLO keywords, upper-cased, with their parameters: SIZE → "10240000". */
export function ehloFeatures(r: SmtpReply): Map<string, string> {
  const features = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const [keyword, ...params] = line.trim().split(/\s+/);
    if (keyword) features.set(keyword.toUpperCase(), params.join(' '));
  }
  return features;
}

// Client-side steps the reliability tests repeat: a TLS IMAP or SMTP connection to a test
// proxy, read past the greeting, and a token login. Every wait is bounded.
import { readFileSync } from 'node:fs';
import { RawClient, oauthbearer } from '../../harness/raw-imap.js';
import { RawSmtp, xoauth2Ir } from '../../harness/raw-smtp.js';
import type { TestProxy } from '../../harness/proxy.js';

export const caOf = (p: TestProxy): string => readFileSync(p.certs.caFile, 'utf8');

/** IMAPS connection with the greeting read. */
export async function imaps(p: TestProxy): Promise<RawClient> {
  const c = await RawClient.connect(p.imapsPort, { implicitTls: true, ca: caOf(p) });
  await c.line();
  return c;
}

/** SMTPS connection with greeting and EHLO read. */
export async function smtps(p: TestProxy): Promise<RawSmtp> {
  const s = await RawSmtp.connect(p.submissionsPort, { implicitTls: true, ca: caOf(p) });
  await s.reply();
  await s.ehlo();
  return s;
}

/** AUTHENTICATE OAUTHBEARER with SASL-IR; answers an error challenge with AQ==. Returns the tagged line. */
export async function imapTokenLogin(c: RawClient, user: string, token: string, timeoutMs = 8000): Promise<string> {
  c.write(`a1 AUTHENTICATE OAUTHBEARER ${oauthbearer(user, token)}\r\n`);
  const first = await c.line(timeoutMs);
  if (!first.startsWith('+')) return first;
  c.write('AQ==\r\n');
  return (await c.until('a1', timeoutMs)).tagged;
}

/** AUTH XOAUTH2 with an initial response; answers an error challenge with an empty line. Returns the final reply code and text. */
export async function smtpTokenLogin(s: RawSmtp, user: string, token: string, timeoutMs = 8000): Promise<{ code: number; text: string }> {
  let r = await s.command(`AUTH XOAUTH2 ${xoauth2Ir(user, token)}`, timeoutMs);
  if (r.code === 334) r = await s.command('', timeoutMs);
  return { code: r.code, text: r.text };
}

/** A fresh random opaque token (so no case reuses another's cached decision). */
export const opaqueToken = (): string => `opaque-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

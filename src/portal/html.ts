// The portal's pages: server-rendered HTML that works without JavaScript (there is none).
// Every value from outside (labels, user names, addresses) goes through escapeHtml. The one
// stylesheet is inline and allowed by its hash in the CSP (headers.ts), so the policy needs
// no 'unsafe-inline' and no second request.
import { createHash } from 'node:crypto';
import type { AppPasswordRecord } from '../auth/app-passwords.js';
import { MAX_APP_PASSWORD_LABEL_CHARS } from '../limits.js';

const CSS = `body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd;vertical-align:top}
.secret{font:1.4rem monospace;background:#ffd;padding:.6rem;border:1px solid #cc9;display:inline-block;user-select:all}
form.inline{display:inline}header{display:flex;justify-content:space-between;align-items:center}
button,input{font:inherit}.muted{color:#666}`;

/** CSP source for the inline stylesheet (CSP Level 3 §8.3 hash-source). */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>${body}</body></html>
`;
}

const when = (ms: number | undefined): string => (ms ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'never');

export function signInPage(): string {
  return page('App passwords', `<h1>App passwords</h1>
<p>Mail clients that cannot sign in with your identity provider (most phone clients, Apple Mail)
use an app password instead. Sign in to make or revoke yours.</p>
<p><a href="/login" id="sign-in">Sign in</a></p>`);
}

export function messagePage(title: string, text: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p><p><a href="/">Back</a></p>`);
}

export interface ListView {
  readonly user: string;
  readonly csrf: string;
  readonly records: readonly AppPasswordRecord[];
  /** Just made: its secret is on this one page and nowhere else, ever. */
  readonly created?: { readonly label: string; readonly secret: string };
  readonly error?: string;
}

export function listPage(v: ListView): string {
  const csrf = `<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">`;
  const rows = v.records.map((r) => `<tr data-id="${escapeHtml(r.id)}"><td class="label">${escapeHtml(r.label)}</td><td>${when(r.createdAt)}</td>
<td>${when(r.lastUsedAt)}${r.lastUsedAt ? `<br><span class="muted">${escapeHtml(r.lastAddress ?? '')} (${escapeHtml(r.lastProtocol ?? '')})</span>` : ''}</td>
<td><form class="inline" method="post" action="/revoke">${csrf}<input type="hidden" name="id" value="${escapeHtml(r.id)}"><button type="submit">Revoke</button></form></td></tr>`).join('\n');
  const created = v.created ? `<section id="created"><h2>New app password for ${escapeHtml(v.created.label)}</h2>
<p>Enter it in your mail client now as the password of <strong>${escapeHtml(v.user)}</strong>. It is shown this once and never again.</p>
<p><code class="secret" id="secret">${escapeHtml(v.created.secret)}</code></p></section>` : '';
  const error = v.error ? `<p role="alert" id="error">${escapeHtml(v.error)}</p>` : '';
  return page('App passwords', `<header><h1>App passwords</h1>
<form method="post" action="/logout">${csrf}<span class="muted" id="user">${escapeHtml(v.user)}</span> <button type="submit" id="sign-out">Sign out</button></form></header>
${error}${created}
<table><thead><tr><th>Label</th><th>Created</th><th>Last used</th><th></th></tr></thead>
<tbody>${rows || '<tr><td colspan="4" class="muted">No app passwords yet.</td></tr>'}</tbody></table>
<h2>New app password</h2>
<form method="post" action="/create">${csrf}<label>Label <input name="label" maxlength="${MAX_APP_PASSWORD_LABEL_CHARS}" required placeholder="Phone"></label>
<button type="submit" id="create">Create</button></form>`);
}

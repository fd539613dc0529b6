// Adversary: `check-token` promises to validate a token "exactly as a login would". A token
// pasted with a line break inside (a terminal that wrapped it, an email that folded it) or
// with any character outside RFC 6750's b64token is refused by a login before any IdP is
// asked (NO [AUTHENTICATIONFAILED], parseBearerAuth). check-token sent it to the IdP instead:
// the HTTP client refused the header, and the operator read "unavailable: userinfo: IdP
// request failed: UND_ERR_INVALID_ARG", exit 2: the IdP looked down while the token was
// what was wrong, and a token with a space went to the IdP as is. Expected: rejected, exit
// 1, and no request to the IdP.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkTokenCommand } from '../../src/commands/check-token.js';

let requests = 0;
const idp = http.createServer((_req, res) => { requests += 1; res.writeHead(401).end(); });
await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => idp.close(() => r())));
const env = { OAUTH2_INTROSPECTION_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/userinfo` };

async function check(args: string[], stdin = ''): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await checkTokenCommand(args, { env, stdin: async () => stdin, out: (s) => { out += s; }, err: (s) => { out += s; } });
  return { code, out };
}

for (const [what, args, stdin] of [
  ['a line break inside (stdin)', ['--json', '-'], 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJh\nIn0.c2lnbmF0dXJl\n'],
  ['a blank inside', ['--json', '--', 'abc def'], ''],
  ['a control character', ['--json', '--', 'abc\u0001def'], ''],
] as const) {
  t.test(`${what}: rejected as a login would (exit 1), the IdP not asked`, async (t) => {
    const before = requests;
    const r = await check([...args], stdin);
    t.equal(r.code, 1, r.out);
    t.match(JSON.parse(r.out), { decision: 'rejected' });
    t.equal(requests, before, 'no IdP request');
  });
}

t.test('control: a well-formed token the IdP refuses is rejected after asking it', async (t) => {
  const before = requests;
  const r = await check(['--json', '--', 'well-formed.opaque_token~+/=']);
  t.equal(r.code, 1, r.out);
  t.equal(requests, before + 1);
});

// Which validator sees a token (issue 16, items 7 and 8), with plain values: fake validators
// record every call. A JWT made to look opaque (padding, blanks, a trailing dot) still goes
// to its own issuer's strict checks; where an audience is configured no path accepts a token
// without one; an opaque token goes to the one issuer configured to receive it, or nowhere.
import t from 'tap';
import { base64url } from 'jose';
import { Issuer, IssuerRouter } from '../../src/auth/issuers.js';
import { peekJwt } from '../../src/auth/jwt-peek.js';
import type { Claims, TokenResult, TokenValidator } from '../../src/auth/token-result.js';
import type { IssuerConfig } from '../../src/config/types.js';

const A = 'https://idp-a.example';
const B = 'https://idp-b.example';
const jwt = (claims: Claims, header: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt' }) =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}.${base64url.encode('signature-bytes!')}`;
const ALICE = { email: 'alice@example.test', sub: 'u1' };

function config(name: string, over: Partial<IssuerConfig> = {}): IssuerConfig {
  return {
    name, mode: 'post', introspectionUrl: `${name}/introspect`, issuer: '', jwksUrl: '', audiences: [], algorithms: ['RS256'], jwtTypes: [],
    clockToleranceSeconds: 30, client: { id: 'proxy', secret: 's', auth: 'basic' }, usernameAttribute: 'email', defaultDomain: '',
    requiredScopes: [], requiredGroups: [], groupsClaim: 'groups', allowedDomains: [], requireEmailVerified: false, opaqueTokens: 'all', ...over,
  };
}

class Fake implements TokenValidator {
  readonly seen: string[] = [];
  constructor(readonly mode: string, private readonly answer: (token: string) => TokenResult) {}
  async validate(token: string): Promise<TokenResult> {
    this.seen.push(token);
    return this.answer(token);
  }
  close(): Promise<void> { return Promise.resolve(); }
}
const valid = (claims: Claims) => (): TokenResult => ({ status: 'valid', claims });
const strictJws = (token: string): TokenResult =>
  (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token) ? { status: 'valid', claims: { ...ALICE, aud: 'mail-proxy' } } : { status: 'invalid', reason: 'JWS malformed' });

t.test('peek: a JWT is recognised however it is padded or spaced', async (t) => {
  const tok = jwt({ iss: A, ...ALICE });
  const [h, p, s] = tok.split('.') as [string, string, string];
  for (const [form, what] of [
    [tok, 'compact JWS'],
    [`${tok}=`, '"=" appended'],
    [`${h}==.${p}=.${s}==`, 'every part padded'],
    [`${tok}.`, 'a trailing dot'],
    [`${h}.\n${p}. ${s}`, 'blanks and a line break'],
    [`${h.replace(/-/g, '+').replace(/_/g, '/')}.${p}.${s}`, 'base64 alphabet'],
  ] as const) t.equal(peekJwt(form)?.iss, A, what);
  t.equal(peekJwt('ya29.a0AfH6SMBx-opaque'), undefined, 'Google opaque token');
  t.equal(peekJwt('authelia_at_abc.def'), undefined);
  t.equal(peekJwt(base64url.encode('{"alg":"none"}')), undefined, 'a header alone is no JWT');
  t.match(peekJwt(`${base64url.encode(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }))}.k.iv.ct.tag`), { encrypted: true, iss: undefined }, 'JWE');
});

t.test('auto with an audience: a mangled JWT goes to the strict local check, never to introspection', async (t) => {
  const local = new Fake('local', strictJws);
  const remote = new Fake('post', valid({ active: true, ...ALICE })); // an IdP that would say yes
  const router = new IssuerRouter([new Issuer(config('a', { mode: 'auto', issuer: A, audiences: ['mail-proxy'] }), local, remote)]);
  const tok = jwt({ iss: A, ...ALICE, aud: 'other' });
  for (const form of [`${tok}=`, `${tok}.`, `${tok}==`]) {
    t.match(await router.check(form), { status: 'invalid', mode: 'local' }, JSON.stringify(form.slice(-3)));
  }
  t.same(remote.seen, [], 'introspection never saw them');
  t.equal(local.seen.length, 3);
});

t.test('an audience is required: introspection and tokeninfo answers must prove it', async (t) => {
  for (const mode of ['auto', 'post', 'get'] as const) {
    const answer = { current: {} as Claims };
    const remote = new Fake(mode === 'auto' ? 'post' : mode, () => ({ status: 'valid', claims: answer.current }));
    const router = new IssuerRouter([new Issuer(config('a', { mode, issuer: mode === 'get' ? '' : A, audiences: ['mail-proxy'] }), mode === 'auto' ? new Fake('local', strictJws) : undefined, remote)]);
    answer.current = { active: true, ...ALICE };
    t.match(await router.check('opaque-1'), { status: 'invalid', reason: /audience \(none\) not accepted/ }, `${mode}: no aud in the answer`);
    answer.current = { active: true, ...ALICE, aud: 'roundcube' };
    t.match(await router.check('opaque-2'), { status: 'invalid', reason: /audience/ }, `${mode}: another aud`);
    answer.current = { active: true, ...ALICE, aud: ['roundcube', 'mail-proxy'] };
    t.match(await router.check('opaque-3'), { status: /^valid$/, user: ALICE.email }, `${mode}: ours`);
  }
});

t.test('opaque tokens go to the one issuer configured for them, or to none', async (t) => {
  const issuer = (name: string, opaqueTokens: IssuerConfig['opaqueTokens'], iss = '') => {
    const remote = new Fake('post', valid({ active: true, ...ALICE }));
    return { remote, issuer: new Issuer(config(name, { issuer: iss, opaqueTokens }), undefined, remote) };
  };

  const a = issuer('a', 'none', A);
  const b = issuer('b', 'all', B);
  const router = new IssuerRouter([a.issuer, b.issuer]);
  t.match(await router.check('opaque-of-b'), { status: /^valid$/, issuer: 'b' });
  t.same(a.remote.seen, [], 'the first issuer in the list never saw it');
  t.match(await router.check(jwt({ iss: A, ...ALICE })), { status: /^valid$/, issuer: 'a' }, "a JWT of A goes to A's endpoint");
  t.equal(b.remote.seen.length, 1, 'and not to B');

  const none = [issuer('a', 'none'), issuer('b', 'none')];
  t.match(await new IssuerRouter(none.map((x) => x.issuer)).check('opaque'), { status: 'invalid', reason: /no issuer is configured to receive such tokens/ });
  t.same(none.flatMap((x) => x.remote.seen), [], 'sent nowhere');

  const google = issuer('google', { prefixes: ['ya29.'] });
  const other = issuer('other', 'all');
  const mixed = new IssuerRouter([other.issuer, google.issuer]);
  t.match(await mixed.check('ya29.a0AfH6'), { issuer: 'google' }, 'a prefix wins over the catch-all');
  t.match(await mixed.check('authelia_at_x'), { issuer: 'other' });
  t.same([google.remote.seen, other.remote.seen], [['ya29.a0AfH6'], ['authelia_at_x']], 'each token seen by one IdP');
  const onlyGoogle = new IssuerRouter([issuer('a', 'none', A).issuer, google.issuer]);
  t.match(await onlyGoogle.check('authelia_at_y'), { status: 'invalid' }, 'no prefix matches, no catch-all: refused');
  t.equal(google.remote.seen.length, 1);
});

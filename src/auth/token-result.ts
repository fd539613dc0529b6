// What a token validator decides. 'invalid' is a bad credential (AUTHENTICATIONFAILED);
// 'unavailable' means we could not find out (IdP down, slow, misconfigured): the client
// should retry later, and must not be told its token is bad.
export type Claims = Record<string, unknown>;

export type TokenResult =
  | { readonly status: 'valid'; readonly claims: Claims }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'unavailable'; readonly reason: string };

export interface TokenValidator {
  readonly mode: string;
  validate(token: string): Promise<TokenResult>;
  close(): Promise<void>;
}

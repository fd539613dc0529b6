// Shared types for the SASL decoders. Code under src/auth/ never touches a
// socket: the IMAP and SMTP sessions hand us decoded bytes, we hand back
// credentials or throw a SaslError, which the session turns into a reply.

export type SaslMechanism = 'OAUTHBEARER' | 'XOAUTH2' | 'PLAIN' | 'LOGIN';

/** Mechanisms whose whole credential arrives in one client response. */
export type OneStepMechanism = Exclude<SaslMechanism, 'LOGIN'>;

export type SaslCredentials =
  | {
      kind: 'token';
      mechanism: 'OAUTHBEARER' | 'XOAUTH2';
      /** OAUTHBEARER `a=` (or legacy `user=`), XOAUTH2 `user=`: only checked against the token's identity. */
      authzid: string | undefined;
      token: string;
      host?: string;
      port?: number;
    }
  | {
      kind: 'password';
      mechanism: 'PLAIN' | 'LOGIN';
      authzid: string | undefined;
      username: string;
      password: string;
    };

export interface SaslDecodeOptions {
  /** Cap on user names and passwords, in UTF-8 bytes (default 255, RFC 4616 §2). Tokens are bounded by the response limit instead. */
  maxFieldBytes?: number;
}

export type SaslErrorCode =
  | 'ERR_SASL_BASE64' // not canonical base64 (RFC 4648 §4)
  | 'ERR_SASL_UTF8' // a text field is not valid UTF-8
  | 'ERR_SASL_SYNTAX' // message does not follow the mechanism's grammar
  | 'ERR_SASL_TOO_LONG' // response or field over its byte limit
  | 'ERR_SASL_NUL' // NUL where the mechanism forbids it
  | 'ERR_SASL_CONTROL' // control / line-breaking character in a name
  | 'ERR_SASL_EMPTY' // a required field is empty
  | 'ERR_SASL_NO_AUTH' // no `auth` value: lone kvsep or `auth=` (RFC 7628 §3.1)
  | 'ERR_SASL_TOKEN' // auth scheme is not Bearer, or the token is not a b64token
  | 'ERR_SASL_CHANNEL_BINDING'; // GS2 `p=`: we offer no -PLUS mechanism (RFC 5801 §5)

/**
 * A client sent something we cannot accept. The message is fixed text (plus
 * byte counts): it never quotes client input, so it can carry no token or
 * password and cannot inject into a log line.
 */
export class SaslError extends Error {
  readonly code: SaslErrorCode;

  constructor(code: SaslErrorCode, message: string) {
    super(message);
    this.name = 'SaslError';
    this.code = code;
  }
}

// AUTH on the submission port: OAUTHBEARER, XOAUTH2, PLAIN, LOGIN (RFC 4954), with the
// same SASL decoders and Authenticator as IMAP. The client gets 235 only after Postfix has
// accepted our login for it; then the connection is spliced to Postfix.
import type { Authenticator } from '../auth/authenticator.js';
import type { LoginGuard } from '../auth/login-guard.js';
import {
  decodeBase64Response, decodeLoginStep, decodeSaslResponse, LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT,
  parseSaslMechanism, SaslError, type SaslCredentials,
} from '../auth/sasl/index.js';
import { oauthbearerFailure, xoauth2Failure } from '../auth/sasl/challenge.js';
import type { SmtpLoginRequest, SmtpLoginResult } from '../backend/smtp-login.js';
import { handOver } from '../net/handover.js';
import type { Logger } from '../observability/logger.js';
import { logAuthFailed, logAuthUnavailable, logBackendUnavailable, logLogin } from '../observability/events.js';
import { sessionLogger } from '../observability/metrics.js';
import type { SmtpClient } from './smtp-server-adapter.js';
import { REPLY } from './replies.js';
import { trackSplicedSmtp, type SplicedSmtp } from './drain.js';

export interface SmtpAuthDeps {
  readonly authenticator: Authenticator;
  readonly backendLogin: (req: SmtpLoginRequest) => Promise<SmtpLoginResult>;
  readonly master: { readonly user: string; readonly password: string };
  readonly allowPlaintextAuth: boolean;
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  readonly guard?: LoginGuard;
  /** Registers a spliced session of `user` (shutdown, revocation); returns the function that unregisters it. */
  readonly onSpliced?: (session: SplicedSmtp, user: string) => () => void;
}

const MAX_AUTH_FAILURES = 3;

export function createAuthHandler(deps: SmtpAuthDeps) {
  return (client: SmtpClient, command: string): void => {
    const log = sessionLogger(deps.log, 'smtp', client.id, client.remoteAddress);
    authenticate(client, command, deps, log).catch((err: Error) => {
      log.error({ event: 'internal-error', err: err.message }, 'AUTH failed');
      if (!client.gone) {
        client.reply(...REPLY.unavailable);
        client.done();
      }
    });
  };
}

async function authenticate(client: SmtpClient, command: string, deps: SmtpAuthDeps, log: Logger): Promise<void> {
  const startedAt = Date.now();
  const [, rawMech = '', ir, ...extra] = command.trim().split(/ +/);
  const answer = (r: readonly [number, string]): void => {
    client.reply(...r);
    client.done();
  };
  if (!client.secure && !deps.allowPlaintextAuth) return answer(REPLY.startTlsFirst);
  const mech = parseSaslMechanism(rawMech);
  if (!rawMech || extra.length) return answer(REPLY.syntax);
  if (!mech) return answer(REPLY.unknownMechanism);

  const fail = async (reason: string, user?: string): Promise<void> => {
    logAuthFailed(log, { mech, user, reason });
    await deps.guard?.failed(client.remoteAddress, user); // growing delay before the reply
    if (client.gone) return;
    client.state.authFailures += 1;
    if (client.state.authFailures >= MAX_AUTH_FAILURES) {
      client.reply(...REPLY.authFailed);
      client.reply(...REPLY.tooManyFailures);
      return client.close();
    }
    answer(REPLY.authFailed);
  };

  let creds: SaslCredentials | null;
  try {
    creds = await readCredentials(client, mech, ir);
  } catch (err) {
    if (!(err instanceof SaslError)) throw err;
    if (err.code === 'ERR_SASL_BASE64' || err.code === 'ERR_SASL_TOO_LONG') return answer(REPLY.badBase64);
    return fail(`malformed ${mech} response (${err.code})`);
  }
  if (creds === null) return answer(REPLY.aborted);

  const named = creds.kind === 'password' ? creds.username : creds.authzid;
  const verdict = deps.guard?.blocked(client.remoteAddress, named);
  if (verdict?.blocked) {
    // Credentials of a blocked IP or user are not even tried.
    logAuthFailed(log, { mech, user: named, reason: `${verdict.scope} blocked after repeated failures` });
    client.reply(...REPLY.blocked);
    return client.close();
  }
  const decision = await deps.authenticator.decide(creds);
  if (client.gone) return;
  if (decision.outcome === 'unavailable') {
    logAuthUnavailable(log, { mech, user: decision.user, reason: decision.reason });
    return answer(REPLY.unavailable);
  }
  if (decision.outcome === 'rejected') {
    if (creds.kind === 'token') {
      // RFC 7628 §3.2.2 / XOAUTH2: an error challenge first; the client's reply (AQ==,
      // an empty line or *) only ends the exchange.
      await client.continuation(creds.mechanism === 'XOAUTH2' ? xoauth2Failure({}) : oauthbearerFailure({}));
      if (client.gone) return;
    }
    return fail(decision.reason, decision.user);
  }

  const user = decision.user;
  const result = await deps.backendLogin({
    credentials: decision.outcome === 'token'
      ? { kind: 'master', user, masterUser: deps.master.user, masterPassword: deps.master.password }
      : { kind: 'password', authzid: decision.authzid, username: user, password: decision.password },
    client: { address: client.remoteAddress, port: client.remotePort, localAddress: client.localAddress, localPort: client.localPort, tls: client.secure, helo: client.helo },
  });
  if (client.gone) {
    if (result.ok) result.socket.destroy();
    return;
  }
  if (!result.ok && result.kind === 'unavailable') {
    logBackendUnavailable(log, user, result.reason, mech);
    return answer(REPLY.unavailable);
  }
  if (!result.ok) {
    return fail(decision.outcome === 'token' ? `backend refused the master login for ${user} (no such DMS account, or wrong master credentials?): ${result.reason}` : result.reason, user);
  }
  logLogin(log, { user, mech, via: decision.outcome, backendMs: result.loginMs });
  deps.guard?.succeeded(client.remoteAddress);
  client.state.loggedIn?.();
  client.reply(...REPLY.authOk);
  const { socket, early } = client.takeOver();
  let unregister: (() => void) | undefined;
  const s = handOver(socket, result.socket, {
    fromBackend: result.leftover,
    fromClient: early,
    idleTimeoutMs: deps.idleTimeoutMs,
    log,
    user,
    mech,
    startedAt,
    onEnd: () => unregister?.(),
  });
  unregister = deps.onSpliced?.(trackSplicedSmtp(socket, result.socket, s, early), user);
}

async function readCredentials(client: SmtpClient, mech: NonNullable<ReturnType<typeof parseSaslMechanism>>, ir: string | undefined): Promise<SaslCredentials | null> {
  const next = async (prompt: string): Promise<Buffer | null> => {
    const line = await client.continuation(prompt);
    return line.trim() === '*' ? null : decodeBase64Response(line); // RFC 4954 §4: "*" cancels
  };
  const first = ir !== undefined ? decodeBase64Response(ir) : await next(mech === 'LOGIN' ? LOGIN_USERNAME_PROMPT : '');
  if (first === null) return null;
  if (mech !== 'LOGIN') return decodeSaslResponse(mech, first);
  const password = await next(LOGIN_PASSWORD_PROMPT);
  return password === null ? null : decodeLoginStep(first, password);
}

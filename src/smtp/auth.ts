// AUTH on the submission port: OAUTHBEARER, XOAUTH2, PLAIN, LOGIN (RFC 4954), with the
// same SASL decoders and Authenticator as IMAP. The client gets 235 only after Postfix has
// accepted our login for it; then the connection is spliced to Postfix.
import type { Authenticator } from '../auth/authenticator.js';
import { attemptOf, type Attempt, type LoginGuard } from '../auth/login-guard.js';
import { backendVerdict } from '../auth/backend-verdict.js';
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
import { reportFault } from '../observability/faults.js';
import type { SmtpClient } from './smtp-server-adapter.js';
import { REPLY } from './replies.js';
import { trackSplicedSmtp, type SplicedSmtp } from './drain.js';
import { guardedForward } from './guarded-forward.js';
import { SmtpTransactionTracker } from './transaction-tracker.js';

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
    authenticate(client, command, deps, log).catch((err: unknown) => {
      // A bug in AUTH (not an IdP or backend failure: those are answered inside): this
      // connection ends, with a temporary error the client may retry (RFC 5321 §4.2.1).
      try {
        reportFault(log, 'smtp', 'AUTH', err);
        if (client.gone) return;
        client.reply(...REPLY.internalError);
        client.close();
      } catch {
        client.abort();
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

  const fail = async (reason: string, attempt?: Attempt): Promise<void> => {
    // Logged and counted also when the client has left meanwhile: the attempt was made.
    logAuthFailed(log, { mech, user: attempt?.user, reason });
    const delay = deps.guard?.failed(client.remoteAddress, attempt);
    if (client.gone) return;
    await delay; // growing delay before the reply
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

  const attempt = attemptOf(creds);
  const verdict = deps.guard?.blocked(client.remoteAddress, attempt);
  if (verdict?.blocked) {
    // Credentials of a blocked client (or a password for a blocked user) are not even tried.
    logAuthFailed(log, { mech, user: attempt.user, reason: `${verdict.scope} blocked after repeated failures` });
    client.reply(...REPLY.blocked);
    return client.close();
  }
  const decision = await deps.authenticator.decide(creds);
  if (decision.outcome === 'unavailable') {
    if (client.gone) return;
    logAuthUnavailable(log, { mech, user: decision.user, reason: decision.reason });
    return answer(REPLY.unavailable);
  }
  if (decision.outcome === 'rejected') {
    if (creds.kind === 'token' && !client.gone) {
      // RFC 7628 §3.2.2 / XOAUTH2: an error challenge first; the client's reply (AQ==,
      // an empty line or *) only ends the exchange.
      await client.continuation(creds.mechanism === 'XOAUTH2' ? xoauth2Failure({}) : oauthbearerFailure({}));
    }
    return fail(decision.reason, { ...attempt, user: decision.user });
  }
  if (client.gone) return;

  const user = decision.user;
  const result = await deps.backendLogin({
    credentials: decision.outcome === 'token'
      ? { kind: 'master', user, masterUser: deps.master.user, masterPassword: deps.master.password }
      : { kind: 'password', authzid: decision.authzid, username: decision.username, password: decision.password },
    client: { address: client.remoteAddress, port: client.remotePort, localAddress: client.localAddress, localPort: client.localPort, tls: client.secure, helo: client.helo },
  });
  if (!result.ok) {
    const v = backendVerdict(decision.outcome, user, result, deps.guard?.recentFailures(client.remoteAddress) ?? 0);
    if (v.kind === 'failed') return fail(v.reason, { ...attempt, user });
    if (client.gone) return;
    logBackendUnavailable(log, user, v.reason, mech);
    return answer(REPLY.unavailable);
  }
  if (client.gone) return void result.socket.destroy();
  logLogin(log, { user, mech, via: decision.outcome, backendMs: result.loginMs });
  deps.guard?.succeeded(client.remoteAddress, user);
  client.state.loggedIn?.();
  client.reply(...REPLY.authOk);
  const { socket, early } = client.takeOver();
  let unregister: (() => void) | undefined;
  const tracker = new SmtpTransactionTracker();
  const refused = (command: string): void => log.warn({ event: 'command-refused', user, command }, 'client command refused after login');
  const s = handOver(socket, result.socket, {
    fromBackend: result.leftover,
    fromClient: Buffer.alloc(0), // `early` goes through the command guard, like every later byte
    idleTimeoutMs: deps.idleTimeoutMs,
    log,
    user,
    mech,
    startedAt,
    onEnd: () => unregister?.(),
    forward: guardedForward(tracker, refused, (err) => reportFault(log, 'smtp', 'command guard', err), early),
  });
  unregister = deps.onSpliced?.(trackSplicedSmtp(socket, result.socket, s, tracker), user);
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

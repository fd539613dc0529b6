// AUTH on the submission port: OAUTHBEARER, XOAUTH2, PLAIN, LOGIN (RFC 4954), on the shared
// login flow (session/login.ts). The client gets 235 only after Postfix has accepted our
// login for it; then the connection is spliced to Postfix through the command guard.
import { parseSaslMechanism } from '../auth/sasl/index.js';
import type { Logger } from '../observability/logger.js';
import { sessionLogger } from '../observability/metrics.js';
import { reportFault } from '../observability/faults.js';
import { SessionLogin, type LoginParts } from '../session/login.js';
import type { LoginOutcome } from '../session/login-outcome.js';
import type { SaslWire } from '../session/sasl-exchange.js';
import type { SmtpClient } from './smtp-server-adapter.js';
import { REPLY } from './replies.js';
import type { SplicedSmtp } from './drain.js';
import { spliceSmtp } from './spliced.js';

export type SmtpBackend = { readonly features: Map<string, string> };

export interface SmtpAuthDeps {
  /** The shared login flow's parts: authenticator, failure guard, and Postfix (master credentials bound in). */
  readonly login: LoginParts<SmtpBackend>;
  readonly allowPlaintextAuth: boolean;
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  /** Registers a spliced session of `user` (shutdown, revocation); returns the function that unregisters it. */
  readonly onSpliced?: (session: SplicedSmtp, user: string, appPassword?: string) => () => void;
}

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

  const logins = new SessionLogin(deps.login, {
    log,
    backendClient: () => ({
      address: client.remoteAddress, port: client.remotePort, localAddress: client.localAddress, localPort: client.localPort,
      tls: client.secure, helo: client.helo,
    }),
    gone: () => client.gone,
    loggedIn: client.state.loggedIn,
  }, client.state);
  const wire: SaslWire = {
    challenge: async (b64) => {
      const line = await client.continuation(b64);
      return line.trim() === '*' ? null : line; // RFC 4954 §4: "*" cancels
    },
  };
  const o = await logins.authenticate(mech, ir, wire);
  switch (o.kind) {
    case 'ok': return spliceTo(client, o, deps, log, startedAt);
    case 'rejected':
      if (!o.last) return answer(REPLY.authFailed);
      client.reply(...REPLY.authFailed);
      client.reply(...REPLY.tooManyFailures);
      return client.close();
    case 'blocked':
      client.reply(...REPLY.blocked);
      return client.close();
    case 'unavailable':
    case 'backend-unavailable': return answer(REPLY.unavailable);
    case 'malformed': return answer(REPLY.badBase64);
    case 'cancelled': return answer(REPLY.aborted);
    case 'gone': return;
  }
}

function spliceTo(client: SmtpClient, o: Extract<LoginOutcome<SmtpBackend>, { kind: 'ok' }>, deps: SmtpAuthDeps, log: Logger, startedAt: number): void {
  client.reply(...REPLY.authOk);
  client.takeOver((socket, early) => {
    // Gone while a long pipeline was still being parsed: as a client that left during the login.
    if (socket.destroyed) return void o.backend.socket.destroy();
    let unregister: (() => void) | undefined;
    const spliced = spliceSmtp(socket, o.backend, early, {
      idleTimeoutMs: deps.idleTimeoutMs, log, user: o.user, mech: o.mech, startedAt, onEnd: () => unregister?.(),
    });
    unregister = deps.onSpliced?.(spliced, o.user, o.appPassword);
  });
}

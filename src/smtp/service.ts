// The submission listeners (587 STARTTLS, 465 implicit TLS) on smtp-server, with our AUTH
// and the hand-over to DMS's Postfix.
import type net from 'node:net';
import type { Service, SharedParts } from '../session/parts.js';
import { listen, listenAll, type Listener } from '../net/listen.js';
import type { Peer } from '../net/peer.js';
import { admit } from '../session/admission.js';
import { startServerTls } from '../net/tls-context.js';
import { createAuthHandler } from './auth.js';
import { DMS_DEFAULT_FEATURES, ehloOptions, probeFeatures } from './features.js';
import { createSmtpFront, type SmtpFront } from './smtp-server-adapter.js';
import { APP_PASSWORD_REVOKED_REPLY, REVOKED_REPLY, SHUTDOWN_REPLY, type SplicedSmtp } from './drain.js';
import { SessionRegistry } from '../session/registry.js';
import { REFUSAL_CLOSE_MS } from '../limits.js';
import { metrics } from '../observability/metrics.js';
import { bounded, until } from '../session/waits.js';
import { contained, reportFault } from '../observability/faults.js';

/** Graceful shutdown: stop accepting, 421 to sessions before login, spliced sessions closed between transactions by `deadline`. */
export type SmtpService = Service;


export async function startSmtp(p: SharedParts): Promise<SmtpService> {
  const { config, log } = p;
  if (!config.listen.submission && !config.listen.submissions) return { listeners: [], close: async () => undefined, drain: async () => undefined };
  // Spliced sessions (before login, smtp-server keeps its own connections). A user disabled
  // over SCIM: each open session ends at its next point between transactions (a message
  // being sent is finished first), or is cut at the deadline.
  const spliced = new SessionRegistry<SplicedSmtp>('smtp', p, log, (s, deadline, cause) => s.drain(deadline, cause === 'disabled' ? REVOKED_REPLY : APP_PASSWORD_REVOKED_REPLY, 'revoked'));
  const handshaking = new Set<net.Socket>(); // 465 connections before their TLS handshake is done
  let draining = false;
  const fronts: SmtpFront[] = [];
  const updateFeatures = (features: ReadonlyMap<string, string>): void => {
    const o = ehloOptions(features);
    for (const f of fronts) f.setOptions(o);
  };
  // A user the SCIM client deleted must not keep sending through XCLIENT for the cache's
  // five minutes on a token that is still valid: its 'exists' answer goes with the account.
  p.disabled?.onDisabled((user) => p.backend.accounts.forget(user));
  const onAuth = createAuthHandler({
    login: {
      authenticator: p.authenticator,
      guard: p.guard,
      provision: p.provision,
      backend: async (who, client) => {
        const r = await p.backend.submission(who, client);
        if (r.ok) updateFeatures(r.features); // keep EHLO in step with the backend
        return r;
      },
    },
    allowPlaintextAuth: config.allowPlaintextAuth,
    idleTimeoutMs: config.sessions.idleTimeoutMs,
    log,
    onSpliced: (session, user, appPassword) => {
      spliced.add(session);
      spliced.spliced(session, session, user, appPassword);
      return () => spliced.ended(session);
    },
  });
  const make = (implicitTls: boolean): SmtpFront => {
    const front = createSmtpFront({
      implicitTls,
      tlsContext: p.tlsContext,
      allowPlaintextAuth: config.allowPlaintextAuth,
      onAuth,
      onFault: (err, where) => reportFault(log, 'smtp', where, err),
      serverOptions: {
        name: config.smtp.hostname,
        banner: 'oauth2-mail-proxy',
        authMethods: ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'LOGIN'],
        allowInsecureAuth: config.allowPlaintextAuth,
        maxCommandLength: config.smtp.maxLineBytes,
        socketTimeout: config.sessions.preauthTimeoutMs,
        disableReverseLookup: true,
        hideSTARTTLS: p.tlsContext === null,
        ...ehloOptions(DMS_DEFAULT_FEATURES),
      },
    });
    fronts.push(front);
    return front;
  };

  const listenOpts = { proxy: p.proxyIn, faults: { log, site: 'smtp' as const } };
  const submission = config.listen.submission;
  const submissions = config.listen.submissions;
  const plain = submission && (() => {
    const front = make(false);
    return listen('submission', submission, (socket, peer) => {
      const a = admit(p, socket, peer);
      if (typeof a === 'string') {
        socket.end(`421 4.7.0 ${a}\r\n`);
        setTimeout(() => socket.destroy(), REFUSAL_CLOSE_MS).unref();
        return;
      }
      front.accept(socket, peer, a.loggedIn, config.sessions.preauthTimeoutMs);
    }, listenOpts);
  });
  const implicit = submissions && (() => {
    const front = make(true);
    const ctx = p.tlsContext!;
    return listen('submissions', submissions, (socket: net.Socket, peer: Peer) => {
      const a = admit(p, socket, peer);
      if (typeof a === 'string') return void socket.destroy(); // no TLS handshake spent on a refused client
      const secure = startServerTls(socket, ctx);
      const timer = setTimeout(() => secure.destroy(), config.sessions.preauthTimeoutMs);
      secure.once('close', () => clearTimeout(timer)); // a client gone mid-handshake, without an error
      handshaking.add(secure);
      secure.once('close', () => handshaking.delete(secure));
      // A client gone during the handshake (half-open listener sockets) must not wait for the timer.
      secure.once('end', () => { if (handshaking.has(secure)) secure.destroy(); });
      secure.once('secure', contained(() => {
        clearTimeout(timer);
        handshaking.delete(secure);
        // Done after the drain sent its 421s: it would be greeted by a replica going away and
        // hold the drain to its deadline (test/adversary/smtps-handshake-during-drain.test.ts).
        if (draining) {
          secure.end(SHUTDOWN_REPLY);
          setTimeout(() => secure.destroy(), REFUSAL_CLOSE_MS).unref();
          return;
        }
        front.accept(secure, peer, a.loggedIn, config.sessions.preauthTimeoutMs);
      }, (err) => {
        reportFault(log, 'smtp', 'submissions accept', err);
        secure.destroy();
      }));
      secure.on('error', (err) => {
        clearTimeout(timer);
        log.debug({ event: 'tls-error', listener: 'submissions', client: peer.address, err: (err as NodeJS.ErrnoException).code ?? err.message }, 'TLS handshake failed');
        secure.destroy();
      });
    }, listenOpts);
  });
  let listeners: Listener[];
  try {
    listeners = await listenAll([plain || undefined, implicit || undefined]);
  } catch (err) {
    spliced.close();
    throw err;
  }
  void probeFeatures(p.backend.submissionEndpoint, log).then((f) => f && updateFeatures(f)).catch((err: unknown) => reportFault(log, 'smtp', 'feature probe', err));
  const untrack = metrics.trackSessions('smtp', () => spliced.size + fronts.reduce((n, f) => n + f.server.connections.size, 0));

  const service: SmtpService = {
    listeners,
    async close() {
      untrack();
      spliced.close();
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const f of fronts) {
        f.server.close(() => undefined);
        f.closeAll(); // smtp-server's own close would wait for its closeTimeout
      }
      for (const s of spliced.all()) s.close();
      for (const s of handshaking) s.destroy();
      for (const l of listeners) l.destroyConnections(); // clients that did not close after their 421
      await bounded(closing);
    },
    async drain(deadline) {
      draining = true;
      const closing = Promise.all(listeners.map((l) => l.close())); // stop accepting
      for (const f of fronts) f.closeAll(); // before login: no transaction can be open
      for (const s of spliced.all()) s.drain(deadline);
      await until(() => spliced.size === 0 && fronts.every((f) => f.server.connections.size === 0), deadline);
      await service.close();
      await closing;
    },
  };
  return service;
}

// The submission listeners (587 STARTTLS, 465 implicit TLS) on smtp-server, with our AUTH
// and the hand-over to DMS's Postfix.
import type net from 'node:net';
import type { SharedParts } from '../server-parts.js';
import { smtpBackendLogin, type SmtpBackendTarget } from '../backend/smtp-login.js';
import { listen, type Listener } from '../net/listen.js';
import { startServerTls } from '../net/tls-context.js';
import { createAuthHandler } from './auth.js';
import { DMS_DEFAULT_FEATURES, ehloOptions, probeFeatures } from './features.js';
import { createSmtpFront, type SmtpFront } from './smtp-server-adapter.js';

export interface SmtpService {
  readonly listeners: Listener[];
  close(): Promise<void>;
}


export async function startSmtp(p: SharedParts): Promise<SmtpService> {
  const { config, log } = p;
  const b = config.backend;
  if (!config.listen.submission && !config.listen.submissions) return { listeners: [], close: async () => undefined };
  const target: SmtpBackendTarget = {
    host: b.host,
    port: b.submissionPort,
    tls: b.submissionTls,
    tlsOptions: p.backendTls,
    timeoutMs: b.timeoutMs,
    heloName: config.smtp.hostname,
    login: b.submissionLogin,
  };
  const spliced = new Set<() => void>();
  const fronts: SmtpFront[] = [];
  const updateFeatures = (features: ReadonlyMap<string, string>): void => {
    const o = ehloOptions(features);
    for (const f of fronts) f.setOptions(o);
  };
  const onAuth = createAuthHandler({
    authenticator: p.authenticator,
    backendLogin: async (req) => {
      const r = await smtpBackendLogin(target, req);
      if (r.ok) updateFeatures(r.features); // keep EHLO in step with the backend
      return r;
    },
    master: { user: b.masterUser, password: b.masterPassword },
    allowPlaintextAuth: config.allowPlaintextAuth,
    idleTimeoutMs: config.imap.idleTimeoutMs,
    log,
    onSpliced: (close) => {
      spliced.add(close);
      return () => spliced.delete(close);
    },
  });
  const make = (implicitTls: boolean): SmtpFront => {
    const front = createSmtpFront({
      implicitTls,
      tlsContext: p.tlsContext,
      allowPlaintextAuth: config.allowPlaintextAuth,
      onAuth,
      serverOptions: {
        name: config.smtp.hostname,
        banner: 'oauth2-mail-proxy',
        authMethods: ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'LOGIN'],
        allowInsecureAuth: config.allowPlaintextAuth,
        maxCommandLength: config.smtp.maxLineBytes,
        socketTimeout: config.imap.preauthTimeoutMs,
        disableReverseLookup: true,
        hideSTARTTLS: p.tlsContext === null,
        ...ehloOptions(DMS_DEFAULT_FEATURES),
      },
    });
    fronts.push(front);
    return front;
  };

  const listeners: Listener[] = [];
  if (config.listen.submission) {
    const front = make(false);
    listeners.push(await listen('submission', config.listen.submission, (socket) => front.accept(socket)));
  }
  if (config.listen.submissions) {
    const front = make(true);
    const ctx = p.tlsContext!;
    listeners.push(await listen('submissions', config.listen.submissions, (socket: net.Socket) => {
      const secure = startServerTls(socket, ctx);
      const timer = setTimeout(() => secure.destroy(), config.imap.preauthTimeoutMs);
      secure.once('secure', () => {
        clearTimeout(timer);
        front.accept(secure);
      });
      secure.on('error', () => {
        clearTimeout(timer);
        secure.destroy();
      });
    }));
  }
  void probeFeatures(target, log).then((f) => f && updateFeatures(f));

  return {
    listeners,
    async close() {
      const closing = Promise.all(listeners.map((l) => l.close()));
      for (const f of fronts) f.server.close(() => undefined);
      for (const close of spliced) close();
      await closing;
    },
  };
}

// Logs in to DMS's Postfix submission service on behalf of a client, then hands back the
// raw socket for the splice.
//
//   greeting → EHLO → [STARTTLS → EHLO] → either
//     master:  AUTH PLAIN authzid=<user> authcid=<master>   (Postfix asks Dovecot SASL)
//     xclient: XCLIENT ADDR PORT LOGIN → EHLO               (needs smtpd_authorized_xclient_hosts)
//   password users: AUTH PLAIN with their own credentials (after XCLIENT ADDR in xclient mode)
import type net from 'node:net';
import { isIPv6 } from 'node:net';
import { BackendError, connectTcp, startClientTls, type BackendTlsOptions } from './dial.js';
import { saslPlain, type BackendCredentials } from './credentials.js';
import { proxyHeaderFor, type ClientAddress } from './client-address.js';
import { LineReader } from './line-reader.js';
import { ehloFeatures, readReply, replyText, type SmtpReply } from './smtp-reply.js';
import { xtext } from './xtext.js';
import { LoginTimer } from './login-timer.js';
import type { BackendLoginResult } from './login-result.js';

export interface SmtpBackendTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
  readonly tlsOptions: BackendTlsOptions;
  readonly timeoutMs: number;
  /** Our name in EHLO to the backend. */
  readonly heloName: string;
  readonly login: 'master' | 'xclient';
  /** Send a PROXY v2 header first (Postfix smtpd_upstream_proxy_protocol = haproxy). */
  readonly proxyProtocol?: boolean;
}

export interface SmtpLoginRequest {
  readonly credentials: BackendCredentials;
  readonly client: ClientAddress & { readonly helo: string | undefined };
}

export type SmtpLoginResult = BackendLoginResult<{ readonly features: Map<string, string> }>;

/** A connected, greeted and EHLO'd backend session (TLS done), used by login and by the feature probe. */
export interface SmtpBackendSession { socket: net.Socket; reader: LineReader; features: Map<string, string> }

export async function openSmtpBackend(target: SmtpBackendTarget, client?: ClientAddress): Promise<SmtpBackendSession> {
  let socket = await connectTcp(target.host, target.port, target.timeoutMs);
  let reader: LineReader | null = null;
  // The whole opening dialogue is bounded: a backend that accepts but never greets (or
  // stalls in EHLO/STARTTLS) must not hold the login, or the start-up probe, forever.
  const timer = setTimeout(() => {
    reader?.fail(new BackendError('ERR_BACKEND_TIMEOUT', `backend greeting and EHLO took longer than ${target.timeoutMs} ms`));
    socket.destroy();
  }, target.timeoutMs);
  try {
    if (target.proxyProtocol) {
      // The feature probe has no client: LOCAL-equivalent, our own address as the source.
      socket.write(proxyHeaderFor(client ?? { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0, localAddress: socket.remoteAddress ?? '127.0.0.1', localPort: socket.remotePort ?? 0, tls: false }));
    }
    if (target.tls === 'implicit') socket = await startClientTls(socket, target.tlsOptions, target.timeoutMs);
    reader = new LineReader(socket);
    expect(await readReply(reader), 220, 'greeting');
    let features = ehloFeatures(expect(await send(reader, socket, `EHLO ${target.heloName}`), 250, 'EHLO'));
    if (target.tls === 'starttls') {
      expect(await send(reader, socket, 'STARTTLS'), 220, 'STARTTLS');
      reader.detach();
      socket = await startClientTls(socket, target.tlsOptions, target.timeoutMs);
      reader = new LineReader(socket);
      // RFC 3207 §4.2: everything learnt before TLS is void; EHLO again.
      features = ehloFeatures(expect(await send(reader, socket, `EHLO ${target.heloName}`), 250, 'EHLO'));
    }
    return { socket, reader, features };
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export async function smtpBackendLogin(target: SmtpBackendTarget, req: SmtpLoginRequest): Promise<SmtpLoginResult> {
  const started = performance.now();
  let session: SmtpBackendSession | null = null;
  let timedOut = false;
  const timer = new LoginTimer(target.timeoutMs, () => {
    timedOut = true;
    session?.reader.fail(timer.expired());
    session?.socket.destroy();
  });
  try {
    session = await openSmtpBackend(target, req.client);
    if (timedOut) throw new BackendError('ERR_BACKEND_TIMEOUT', `backend login took longer than ${target.timeoutMs} ms`);
    const { socket, reader } = session;
    const c = req.credentials;
    let final: SmtpReply;
    if (target.login === 'xclient') {
      // One XCLIENT command with every attribute. Postfix 3.7 takes XCLIENT again later on
      // the same connection (it trusts our address, not the session): after the hand-over
      // the client's commands pass smtp/command-guard.ts, which never lets one through.
      const attrs = [`ADDR=${isIPv6(req.client.address) ? `IPV6:${req.client.address}` : req.client.address}`, `PORT=${req.client.port}`];
      if (c.kind === 'master') attrs.push(`LOGIN=${xtext(c.user)}`);
      if (req.client.helo) attrs.push(`HELO=${xtext(req.client.helo)}`);
      const x = await send(reader, socket, `XCLIENT ${attrs.join(' ')}`);
      if (x.code !== 220) throw new BackendError('ERR_BACKEND_PROTOCOL', `backend refused XCLIENT (is the proxy in smtpd_authorized_xclient_hosts?): ${replyText(x)}`);
      final = expect(await send(reader, socket, `EHLO ${target.heloName}`), 250, 'EHLO after XCLIENT');
      session.features = ehloFeatures(final);
      if (c.kind === 'password') {
        timer.authenticating();
        final = await send(reader, socket, `AUTH PLAIN ${saslPlain(c)}`);
      }
    } else {
      timer.authenticating(); // Postfix asks Dovecot: its auth penalty applies
      final = await send(reader, socket, `AUTH PLAIN ${saslPlain(c)}`);
    }
    if (final.code !== 235 && final.code !== 250) {
      socket.destroy();
      timer.clear();
      // 535: credentials refused (e.g. the token's user has no DMS account); 4xx: try later.
      // Postfix gives up on Dovecot's auth server after 10 s ("454 4.7.0 Temporary authentication
      // failure: Connection lost to authentication server"), e.g. during Dovecot's auth penalty.
      const reason = `backend answered ${replyText(final)}`;
      if (final.code >= 500) return { ok: false, kind: 'rejected', reason };
      return timer.authSent ? { ok: false, kind: 'unavailable', reason, undecided: true } : { ok: false, kind: 'unavailable', reason };
    }
    const leftover = reader.detach();
    timer.clear();
    return { ok: true, socket, features: session.features, leftover, loginMs: performance.now() - started };
  } catch (err) {
    session?.socket.destroy();
    return timer.failure(err);
  }
}

async function send(reader: LineReader, socket: net.Socket, line: string): Promise<SmtpReply> {
  socket.write(`${line}\r\n`);
  return readReply(reader);
}

function expect(r: SmtpReply, code: number, what: string): SmtpReply {
  if (r.code !== code) throw new BackendError('ERR_BACKEND_PROTOCOL', `unexpected backend reply to ${what}: ${replyText(r)}`);
  return r;
}

// Builds the running proxy from a validated config: one shared TLS context, one token
// validator, the IMAP and SMTP services. close() stops listening and ends every session.
import { ConnectionLimiter } from './net/connection-limits.js';
import type { Config } from './config/types.js';
import type { Logger } from './observability/logger.js';
import { CertificateStore } from './net/tls-reload.js';
import { Health } from './ops/health.js';
import { readinessChecks } from './ops/health-checks.js';
import { startOpsHttp, type HttpListener } from './ops/http.js';
import { metrics } from './observability/metrics.js';
import type { Listener } from './net/listen.js';
import { createAuthenticator, createIdpHttpClient } from './auth/factory.js';
import { startImap, type ImapService } from './imap/service.js';
import { startSmtp, type SmtpService } from './smtp/service.js';
import { startManageSieve } from './managesieve/service.js';
import { startPop3 } from './pop3/service.js';
import type { Service, SharedParts } from './session/parts.js';
import { openScim } from './scim/service.js';
import { DmsConfigDir } from './state/dms/config-dir.js';
import { LoginProvisioner } from './session/provision.js';
import { refusalLog } from './session/admission.js';
import type { ScimListener } from './scim/server.js';
import { backendTlsOptions } from './backend/dial.js';
import { backendTargets } from './backend/targets.js';
import { openAppPasswords } from './state/app-password-store.js';
import { bounded, sessionDeadline } from './shutdown.js';
import { blockListOf } from './net/trusted-networks.js';
import { openSharedState } from './state/index.js';
import { sharedTokenDecisions } from './state/shared-tokens.js';
import { sharedStateCheck } from './ops/shared-state-check.js';
import { startPortal } from './portal/service.js';
import type { PortalListener } from './portal/server.js';

export interface ProxyServer {
  readonly listeners: readonly Listener[];
  /** The bound port of a listener by name ('imap', 'imaps', 'submission', 'submissions', 'pop3', 'pop3s', 'managesieve', 'http', 'scim', 'portal'). */
  port(name: string): number;
  readonly health: Health;
  /** The client-facing certificates (null without TLS). */
  readonly certificates: CertificateStore | null;
  /** Immediate: listeners and every session closed now. */
  close(): Promise<void>;
  /** Graceful (SIGTERM): see src/shutdown.ts. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<ProxyServer> {
  // One writer of DMS_CONFIG_DIR for SCIM and first-login accounts (issue 19): their edits of
  // postfix-accounts.cf queue behind each other instead of overwriting each other's lines.
  const dmsDir = config.scim?.dmsConfigDir ?? config.provision?.dmsConfigDir;
  const dmsFiles = dmsDir ? new DmsConfigDir(dmsDir) : undefined;
  // SCIM (issue 8): deactivated users must be known before the first login.
  const scim = config.scim ? await openScim(config.scim, log, dmsFiles) : null;
  // Issue 20: counters, blocks and deactivations shared by replicas (in process without SHARED_STATE_URL).
  const shared = openSharedState(config, log, scim?.disabled);
  const idpHttp = createIdpHttpClient(config.oauth2);
  const appPasswords = await openAppPasswords(config.appPasswordsFile, config.sharedState, log.child({ component: 'app-passwords' }));
  // A user the SCIM client deleted loses their app passwords (a deactivated one keeps them,
  // refused while deactivated, like their tokens); not again when a deletion is replayed.
  scim?.disabled.onDisabled((user, _reason, removed, origin) => {
    if (appPasswords && removed && origin !== 'replayed') {
      appPasswords.revoke(user, 'all').catch((err: unknown) => log.error({ event: 'internal-error', where: 'app-password revoke', err: (err as Error).message }, 'could not revoke a deleted user\'s app passwords'));
    }
  });
  const backend = backendTargets(config, backendTlsOptions(config.backend));
  const provision = config.provision && dmsFiles
    ? new LoginProvisioner(dmsFiles, backend.accounts, config.provision.waitMs, log.child({ component: 'provision' }), shared.disabled)
    : undefined;
  const parts: SharedParts = {
    config,
    log,
    tlsContext: config.tls ? new CertificateStore(config.tls, config.sniCertificates, log) : null,
    authenticator: createAuthenticator(config, log, { disabled: shared.disabled, http: idpHttp, appPasswords, sharedTokens: sharedTokenDecisions(shared.store) }),
    backend,
    guard: shared.guard,
    connections: new ConnectionLimiter({ maxTotal: config.limits.maxConnections, maxPerIp: config.limits.maxConnectionsPerIp, maxPreauth: config.limits.maxPreauthSessions, ipv6PrefixBits: config.limits.ipv6ClientPrefix }),
    refusals: refusalLog(),
    proxyIn: proxyProtocolIn(config.proxyProtocol, log),
    ...(shared.disabled ? { disabled: shared.disabled } : {}),
    ...(provision ? { provision } : {}),
    ...(appPasswords ? { appPasswords } : {}),
  };
  const services: Array<ImapService | SmtpService | Service> = [];
  let health: Health | undefined;
  let untrackReadiness: (() => void) | undefined;
  let ops: HttpListener | null = null;
  let scimListener: ScimListener | null = null;
  let portal: PortalListener | null = null;
  const certificates = parts.tlsContext as CertificateStore | null;
  // One way down, for close() and for a start that fails half way (a port taken, say): a
  // listener left open would keep the process alive after it reported the failure.
  const stopAll = async (): Promise<void> => {
    health?.setShuttingDown();
    untrackReadiness?.();
    certificates?.stop();
    await Promise.all(services.map((s) => s.close()));
    await portal?.close();
    await parts.authenticator.close();
    await appPasswords?.close();
    await ops?.close();
    await scim?.close();
    await shared.close();
  };
  try {
    services.push(await startImap(parts));
    services.push(await startSmtp(parts));
    services.push(await startManageSieve(parts));
    services.push(await startPop3(parts));
    for (const l of services.flatMap((s) => s.listeners)) {
      const a = l.address();
      log.info({ event: 'listening', listener: l.name, address: a.address, port: a.port }, `listening for ${l.name}`);
    }
    certificates?.watch(config.ops.tlsReloadIntervalMs);
    const checks = readinessChecks(config, services.flatMap((s) => s.listeners), { idp: idpHttp, idpCachedStateUsable: () => parts.authenticator.hasCachedState() });
    const ready = new Health(config.sharedState ? [...checks, sharedStateCheck(shared.store)] : checks);
    health = ready;
    untrackReadiness = metrics.trackReadiness(async () => (await ready.readiness()).ready);
    if (config.ops.listenHttp) {
      ops = await startOpsHttp(config.ops.listenHttp, { health: ready, metrics, log });
      const a = ops.address();
      log.info({ event: 'listening', listener: 'http', address: a.address, port: a.port }, 'listening for http (metrics, health)');
    }
    if (scim) {
      scimListener = await scim.start();
      const a = scimListener.address();
      log.info({ event: 'listening', listener: 'scim', address: a.address, port: a.port }, 'listening for scim (user provisioning)');
    }
    portal = await startPortal(parts, appPasswords);
    if (portal) {
      const a = portal.address();
      // The redirect URI to register at the IdP, as the portal sends it (PORTAL_URL normalised).
      log.info({ event: 'listening', listener: 'portal', address: a.address, port: a.port, redirectUri: config.portal!.redirectUri }, 'listening for portal (app passwords)');
    }
  } catch (err) {
    await stopAll().catch(() => { /* the start's own error is the one to report */ });
    throw err;
  }
  const listeners = services.flatMap((s) => s.listeners);
  const ready = health!;
  let closed: Promise<void> | undefined;
  const server: ProxyServer = {
    listeners,
    health: ready,
    certificates,
    port(name) {
      if (name === 'http' && ops) return ops.address().port;
      if (name === 'scim' && scimListener) return scimListener.address().port;
      if (name === 'portal' && portal) return portal.address().port;
      const l = listeners.find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name}`);
      return l.address().port;
    },
    close() {
      closed ??= stopAll();
      return closed;
    },
    async shutdown(graceMs) {
      ready.setShuttingDown(); // readiness first: the load balancer stops sending new clients
      const end = Date.now() + graceMs;
      await Promise.all(services.map((s) => s.drain(sessionDeadline(end, graceMs))));
      await bounded(server.close(), end - Date.now());
    },
  };
  return server;
}

function proxyProtocolIn(pp: Config['proxyProtocol'], log: Logger): SharedParts['proxyIn'] {
  return pp.trustedNetworks.length ? { trusted: blockListOf(pp.trustedNetworks), timeoutMs: pp.timeoutMs, log } : null;
}

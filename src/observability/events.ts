// The small fixed set of log events, shared by IMAP and SMTP so each is worded once.
// auth-failed is the line Fail2Ban reads: stable fields, never a credential.
import type { Logger } from './logger.js';
import { metrics, protocolOf } from './metrics.js';

export interface AuthFailure { readonly mech: string; readonly user: string | undefined; readonly reason: string }

export function logAuthFailed(log: Logger, f: AuthFailure): void {
  metrics.countLogin(protocolOf(log), f.mech, 'failed');
  log.warn({ event: 'auth-failed', mech: f.mech, user: f.user ?? null, reason: f.reason }, 'authentication failed');
}

export function logAuthUnavailable(log: Logger, f: AuthFailure): void {
  metrics.countLogin(protocolOf(log), f.mech, 'unavailable');
  log.warn({ event: 'auth-unavailable', mech: f.mech, user: f.user ?? null, reason: f.reason }, 'cannot validate credentials now');
}

export function logBackendUnavailable(log: Logger, user: string, reason: string, mech = 'unknown'): void {
  metrics.countLogin(protocolOf(log), mech, 'backend_unavailable');
  log.error({ event: 'backend-unavailable', user, reason }, 'backend login failed');
}

export function logLogin(log: Logger, l: { user: string; mech: string; via: string; backendMs: number }): void {
  const protocol = protocolOf(log);
  metrics.countLogin(protocol, l.mech, 'ok');
  metrics.backendLoginSeconds.observe({ protocol }, l.backendMs / 1000);
  log.info({ event: 'login', user: l.user, mech: l.mech, via: l.via, backendMs: Math.round(l.backendMs) }, 'logged in');
}

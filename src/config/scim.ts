// The SCIM keys (issue 8), validated together: a SCIM listener needs a token and a DMS
// config directory the proxy can write in. Off (null) when LISTEN_SCIM is empty.
import { checkDmsConfigDir } from './dms-config-dir.js';
import { secretOrFile } from './values.js';
import type { KeyValues } from './keys.js';
import type { ScimConfig } from './types.js';

const MIN_TOKEN_CHARS = 16;
const DAY_MS = 86_400_000;

export function loadScim(v: Pick<KeyValues, 'LISTEN_SCIM' | 'SCIM_TOKEN' | 'SCIM_TOKEN_FILE' | 'DMS_CONFIG_DIR' | 'SCIM_DEACTIVATED_REMOVE_AFTER_DAYS'>, problems: string[]): ScimConfig | null {
  const listen = v.LISTEN_SCIM;
  const tokenValue = v.SCIM_TOKEN;
  const tokenFile = v.SCIM_TOKEN_FILE;
  const days = v.SCIM_DEACTIVATED_REMOVE_AFTER_DAYS;
  if (!listen) return null;
  const token = secretOrFile(tokenValue, tokenFile, (e) => problems.push(`SCIM_TOKEN_FILE: ${e}`));
  if (!token) problems.push('SCIM_TOKEN or SCIM_TOKEN_FILE: required with LISTEN_SCIM');
  else if (token.length < MIN_TOKEN_CHARS || /\s/.test(token)) problems.push(`SCIM_TOKEN: must be at least ${MIN_TOKEN_CHARS} characters without blanks (e.g. openssl rand -hex 32)`);
  const dir = checkDmsConfigDir(v.DMS_CONFIG_DIR, 'LISTEN_SCIM', problems);
  return { listen, token, dmsConfigDir: dir, removeDeactivatedAfterMs: days * DAY_MS };
}

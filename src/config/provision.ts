// PROVISION_ON_LOGIN (issue 19): the first valid token login of a user without a DMS account
// creates it in DMS_CONFIG_DIR. Off (null) by default; on, the directory must be usable at
// start-up (the same check as SCIM's), not at the first login.
import { checkDmsConfigDir } from './dms-config-dir.js';
import type { KeyValues } from './keys.js';
import type { ProvisionConfig } from './types.js';

export function loadProvision(v: Pick<KeyValues, 'PROVISION_ON_LOGIN' | 'PROVISION_WAIT_MS' | 'DMS_CONFIG_DIR'>, problems: string[]): ProvisionConfig | null {
  const waitMs = v.PROVISION_WAIT_MS; // read (and so checked) also while off, like every key
  if (!v.PROVISION_ON_LOGIN) return null;
  return { dmsConfigDir: checkDmsConfigDir(v.DMS_CONFIG_DIR, 'PROVISION_ON_LOGIN=1', problems), waitMs };
}

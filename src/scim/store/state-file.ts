// The proxy's own record of the users it manages, next to the DMS files: the stable SCIM
// id (a UUID), the SCIM attributes DMS has no place for, and which account and alias
// lines the proxy wrote (only those are ever removed).
import { readBytes, writeAtomic } from '../../state/atomic-file.js';

export const STATE_FILE = 'oauth2-mail-proxy-scim.json';
const VERSION = 1;

export interface EmailValue { readonly value: string; readonly type?: string; readonly primary?: boolean; readonly display?: string }
export type NameValue = Readonly<Record<string, string>>;

/** What a SCIM client sets: the writable attributes of a User. */
export interface UserInput {
  readonly userName: string;
  readonly externalId?: string;
  readonly displayName?: string;
  readonly name?: NameValue;
  readonly emails: readonly EmailValue[];
  readonly active: boolean;
}

export interface UserRecord extends UserInput {
  readonly id: string;
  /** Lower-cased userName: the account address in postfix-accounts.cf. */
  readonly mailbox: string;
  readonly created: string;
  readonly lastModified: string;
  /** When active last became false (grace removal counts from here). */
  readonly deactivatedAt?: string;
  /** The account line exists because the proxy wrote it (false: adopted, never removed). */
  readonly ownsAccount: boolean;
  /** The account line was removed after the deactivation grace. */
  readonly accountRemoved?: boolean;
  /** Aliases whose `alias mailbox` line the proxy wrote into postfix-virtual.cf. */
  readonly aliases: readonly string[];
}

/**
 * What the state file holds: the managed users, and the mailboxes SCIM deleted together with
 * their account line. Those stay refused (and are never provisioned on login again) until
 * SCIM creates them anew: the identity provider owns the account, so only it ends the ban.
 * (`deleted` is optional: a file from before it reads as none.)
 */
export interface ScimState { readonly users: UserRecord[]; readonly deleted: string[] }

interface StateDoc { version: number; users: UserRecord[]; deleted?: string[] }

export class StateFileError extends Error {
  readonly code = 'ERR_SCIM_STATE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export async function loadState(path: string): Promise<ScimState> {
  const bytes = await readBytes(path);
  if (!bytes) return { users: [], deleted: [] };
  let doc: StateDoc;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as StateDoc;
  } catch (err) {
    throw new StateFileError(`${path}: not JSON`, { cause: err });
  }
  if (doc?.version !== VERSION || !Array.isArray(doc.users)) throw new StateFileError(`${path}: unknown format (version ${String(doc?.version)})`);
  const deleted = doc.deleted ?? [];
  if (!Array.isArray(deleted) || !deleted.every((d) => typeof d === 'string')) throw new StateFileError(`${path}: deleted is not a list of addresses`);
  return { users: doc.users, deleted };
}

export async function saveState(path: string, users: Iterable<UserRecord>, deleted: Iterable<string>): Promise<void> {
  const doc: StateDoc = { version: VERSION, users: [...users], deleted: [...deleted] };
  // 0600: it names every managed user; nothing in it is secret, but nobody else needs it.
  await writeAtomic(path, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8'), 0o600);
}

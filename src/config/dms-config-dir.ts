// DMS_CONFIG_DIR, checked once at start-up for everything that writes in it (the SCIM
// service, accounts created on first login): it must be a directory the proxy may write in.
import { accessSync, constants, statSync } from 'node:fs';

/** The trimmed directory, after adding what is wrong with it to `problems`; `needer` names the key that needs it. */
export function checkDmsConfigDir(raw: string, needer: string, problems: string[]): string {
  const dir = raw.trim();
  if (!dir) {
    problems.push(`DMS_CONFIG_DIR: required with ${needer}`);
    return dir;
  }
  try {
    if (!statSync(dir).isDirectory()) problems.push(`DMS_CONFIG_DIR: ${dir} is not a directory`);
    else accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(`DMS_CONFIG_DIR: ${dir} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not writable' : code ?? 'unusable'}`);
  }
  return dir;
}

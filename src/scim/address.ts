// Mail addresses as DMS stores them: lower-case ASCII `local@domain` (see auth/address.ts).
import { asciiTrim, canonicalAddress } from '../auth/address.js';

/** The canonical (lower-cased) address, or null when `raw` is not one DMS can hold. */
export function mailAddress(raw: string): string | null {
  return canonicalAddress(asciiTrim(raw));
}

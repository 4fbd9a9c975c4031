/** Passwords the operator makes: from the CSPRNG only, never logged or put in status. */
import { randomBytes } from 'node:crypto';

/** 32 bytes from the CSPRNG, as URL-safe base64 (no quoting needed in URIs or conf files). */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

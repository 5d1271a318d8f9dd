import { createHash } from 'node:crypto';

/**
 * The device id for a certificate: a name-based UUID (RFC 9562 version 8, SHA-256 of the
 * thumbprint). Deriving the id from the certificate makes the thumbprint lookup the same
 * single point read as the id lookup, keeps one pairing in one entity (so storing it is
 * atomic), and makes registration idempotent per certificate by construction.
 */
export function deviceIdFor(thumbprint: string): string {
  const hash = createHash('sha256').update(`cmg-token-auth/device/${thumbprint}`, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x80; // version 8
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

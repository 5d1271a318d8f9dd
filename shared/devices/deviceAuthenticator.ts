import type { JWTPayload } from 'jose';
import { ServiceError } from '../errors.js';
import type { ProofVerifier } from '../proof/proofVerifier.js';
import { tokenTypes } from '../tokens/jws.js';
import type { TokenVerifier } from '../tokens/verifier.js';
import type { RegistrationPath } from './deviceStore.js';
import type { RevocationList } from './revocationList.js';

/** The claims of a verified device token. */
export interface DeviceClaims {
  deviceId: string;
  thumbprint: string;
  registration: RegistrationPath;
  bulkTokenId: string | undefined;
  issuedAt: number;
  expiresAt: number;
}

/**
 * Checks a device request: the device token (signature by a published key, typ, iss, aud,
 * time), the proof of possession by the key the token is bound to, and revocation, which
 * shows on every instance at once. Costs no Key Vault call (public keys are cached) and,
 * per request, a share of two Table requests that concurrent requests have in common: the
 * replay-cache insert (group commit) and the revocation list's change marker (FreshRead).
 *
 * The device's pairing itself is not read: for a token that verifies, revocation is the
 * only change of the pairing that can matter. A token is issued only to an active pairing,
 * an active one never becomes pending again, and the purge removes a pairing only after its
 * last token has expired.
 */
export class DeviceAuthenticator {
  constructor(
    private readonly tokens: TokenVerifier,
    private readonly proofs: ProofVerifier,
    private readonly revocations: RevocationList,
  ) {}

  async authenticate(token: string, proof: string, request: { method: string; url: string }): Promise<DeviceClaims> {
    const claims = deviceClaims(await this.tokens.verify(token, tokenTypes.device, 'device token'));
    // Both round trips at once; a bad proof is reported before a revocation, whichever ends first.
    const [proofCheck, revoked] = await Promise.allSettled([
      this.proofs.verify(proof, { ...request, bearerToken: token, boundThumbprint: claims.thumbprint }),
      this.revocations.isRevoked(claims.deviceId),
    ]);
    if (proofCheck.status === 'rejected') throw proofCheck.reason;
    if (revoked.status === 'rejected') throw revoked.reason;
    if (revoked.value) throw new ServiceError('device_revoked', 'this device has been revoked by an administrator');
    return claims;
  }
}

function deviceClaims(payload: JWTPayload): DeviceClaims {
  const cnf = payload.cnf as { 'x5t#S256'?: unknown } | undefined;
  const thumbprint = cnf?.['x5t#S256'];
  const registration = payload.reg;
  if (typeof payload.sub !== 'string' || typeof thumbprint !== 'string' || (registration !== 'internal' && registration !== 'bulk')) {
    // Our own signature is on it, so this is a token of an older or foreign format.
    throw new ServiceError('invalid_token', 'the device token lacks sub, cnf.x5t#S256 or reg');
  }
  return {
    deviceId: payload.sub,
    thumbprint,
    registration,
    bulkTokenId: typeof payload.brt === 'string' ? payload.brt : undefined,
    issuedAt: payload.iat ?? 0,
    expiresAt: payload.exp ?? 0,
  };
}

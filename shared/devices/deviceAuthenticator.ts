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
    const verified = await this.tokens.verifyToken(token, tokenTypes.device, 'device token');
    const claims = deviceClaims(verified.payload);
    // Both round trips at once; a bad proof is reported before a revocation, whichever ends first.
    const revoked = this.revocations.isRevoked(claims.deviceId);
    try {
      await this.proofs.verify(proof, {
        method: request.method,
        url: request.url,
        bearerToken: token,
        boundThumbprint: claims.thumbprint,
        bearerTokenSha256: verified.sha256,
      });
    } catch (error) {
      // Its outcome no longer matters; only keep its failure from going unhandled.
      revoked.catch(ignore);
      throw error;
    }
    if (await revoked) throw new ServiceError('device_revoked', 'this device has been revoked by an administrator');
    return claims;
  }
}

function ignore(): void {}

/** The claims of each remembered token's payload, made once: the payload is frozen and shared. */
const claimsOf = new WeakMap<Readonly<JWTPayload>, DeviceClaims>();

function deviceClaims(payload: Readonly<JWTPayload>): DeviceClaims {
  let claims = claimsOf.get(payload);
  if (!claims) {
    claims = Object.freeze(readDeviceClaims(payload));
    claimsOf.set(payload, claims);
  }
  return claims;
}

function readDeviceClaims(payload: Readonly<JWTPayload>): DeviceClaims {
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

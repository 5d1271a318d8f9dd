import type { JWTPayload } from 'jose';
import { ServiceError } from '../errors.js';
import type { ProofVerifier } from '../proof/proofVerifier.js';
import type { Versioned } from '../storage/versioned.js';
import { tokenTypes } from '../tokens/jws.js';
import type { TokenVerifier } from '../tokens/verifier.js';
import type { DeviceRecord, DeviceStore, RegistrationPath } from './deviceStore.js';

/** The claims of a verified device token. */
export interface DeviceClaims {
  deviceId: string;
  thumbprint: string;
  registration: RegistrationPath;
  bulkTokenId: string | undefined;
  issuedAt: number;
  expiresAt: number;
}

export interface AuthenticatedDevice {
  claims: DeviceClaims;
  record: Versioned<DeviceRecord>;
}

/**
 * Checks a device request: the device token (signature by a published key, typ, iss, aud,
 * time), the proof of possession by the key the token is bound to, and the pairing's
 * current state, which is where revocation shows, on every instance at once. Costs no Key
 * Vault call (public keys are cached) and one Table point read plus the replay-cache insert.
 */
export class DeviceAuthenticator {
  constructor(
    private readonly tokens: TokenVerifier,
    private readonly proofs: ProofVerifier,
    private readonly devices: DeviceStore,
  ) {}

  async authenticate(token: string, proof: string, request: { method: string; url: string }): Promise<AuthenticatedDevice> {
    const claims = deviceClaims(await this.tokens.verify(token, tokenTypes.device, 'device token'));
    await this.proofs.verify(proof, { ...request, bearerToken: token, boundThumbprint: claims.thumbprint });
    const record = await this.devices.get(claims.deviceId);
    if (!record || record.value.thumbprint !== claims.thumbprint) {
      throw new ServiceError('invalid_token', 'the device is no longer registered (its pairing was removed); register again');
    }
    if (record.value.status === 'revoked') {
      throw new ServiceError('device_revoked', 'this device has been revoked by an administrator');
    }
    if (record.value.status !== 'active') {
      throw new ServiceError('invalid_token', 'the device is not approved');
    }
    return { claims, record };
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

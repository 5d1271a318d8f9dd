import { randomUUID } from 'node:crypto';
import { isoTime, type Clock } from '../clock.js';
import type { TokenSigner } from '../signing/signer.js';
import { signJwt, tokenTypes } from '../tokens/jws.js';
import type { RegistrationPath } from './deviceStore.js';

export const deviceTokenLifetimeSeconds = 90 * 24 * 3600;
export const renewAfterSeconds = 30 * 24 * 3600;

export interface IssuedDeviceToken {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

/** What a device is told when it gets a token. */
export interface DeviceTokenAnswer {
  deviceId: string;
  token: string;
  expiresAt: string;
  renewAfter: string;
}

/** Signs device tokens: 90 days, bound to the certificate by `cnf.x5t#S256` (RFC 8705). */
export class DeviceTokenIssuer {
  constructor(
    private readonly signer: TokenSigner,
    private readonly clock: Clock,
    private readonly claims: { issuer: string; audience: string },
  ) {}

  async issue(device: { deviceId: string; thumbprint: string; registration: RegistrationPath; bulkTokenId?: string | undefined }): Promise<IssuedDeviceToken> {
    const issuedAt = this.clock.now();
    const expiresAt = issuedAt + deviceTokenLifetimeSeconds;
    const token = await signJwt(this.signer, tokenTypes.device, {
      iss: this.claims.issuer,
      aud: this.claims.audience,
      jti: randomUUID(),
      sub: device.deviceId,
      iat: issuedAt,
      nbf: issuedAt,
      exp: expiresAt,
      cnf: { 'x5t#S256': device.thumbprint },
      reg: device.registration,
      ...(device.registration === 'bulk' && device.bulkTokenId !== undefined ? { brt: device.bulkTokenId } : {}),
    });
    return { token, issuedAt, expiresAt };
  }
}

export function deviceTokenAnswer(deviceId: string, issued: IssuedDeviceToken): DeviceTokenAnswer {
  return {
    deviceId,
    token: issued.token,
    expiresAt: isoTime(issued.expiresAt),
    renewAfter: isoTime(issued.issuedAt + renewAfterSeconds),
  };
}

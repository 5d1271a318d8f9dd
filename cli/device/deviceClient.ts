import { CliError, callService } from '../serviceClient.js';
import { signProof, type DeviceIdentity } from './identity.js';

export interface TokenAnswer {
  deviceId: string;
  token: string;
  expiresAt: string;
  renewAfter: string;
}

/** What the device says about itself (the service shows it to administrators as the device's claim). */
export interface DeviceDescription {
  name?: string;
  os?: string;
  clientVersion?: string;
}

export type RegisterAnswer = { kind: 'issued'; answer: TokenAnswer } | { kind: 'pending'; deviceId: string };

export interface AuthenticateAnswer {
  deviceId: string;
  expiresAt: string;
  renewAfter: string;
  registration: 'internal' | 'bulk';
}

/** The device side of the protocol: every call carries a fresh proof signed by the device key. */
export class DeviceClient {
  private readonly apiUrl: string;

  constructor(
    baseUrl: string,
    private readonly identity: DeviceIdentity,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.apiUrl = new URL('api/', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  }

  async registerWithBulkToken(bulkToken: string, device?: DeviceDescription): Promise<TokenAnswer> {
    return (await this.call<TokenAnswer>('register', bulkToken, device)).body;
  }

  async registerInternal(device?: DeviceDescription): Promise<RegisterAnswer> {
    const { status, body } = await this.call<TokenAnswer & { status?: string }>('register/internal', undefined, device);
    return status === 202 ? { kind: 'pending', deviceId: body.deviceId } : { kind: 'issued', answer: body };
  }

  async renew(deviceToken: string, device?: DeviceDescription): Promise<TokenAnswer> {
    return (await this.call<TokenAnswer>('renew', deviceToken, device)).body;
  }

  async authenticate(deviceToken: string): Promise<AuthenticateAnswer> {
    return (await this.call<AuthenticateAnswer>('authenticate', deviceToken, undefined)).body;
  }

  private async call<T>(path: string, bearer: string | undefined, device: DeviceDescription | undefined): Promise<{ status: number; body: T }> {
    const url = new URL(path, this.apiUrl).toString();
    const proof = await signProof(this.identity, { method: 'POST', url, ...(bearer === undefined ? {} : { bearerToken: bearer }) });
    const described = device !== undefined && Object.keys(device).length > 0;
    try {
      return await callService<T>(this.apiUrl, { method: 'POST', path, ...(bearer === undefined ? {} : { bearer }), body: described ? { proof, device } : { proof } }, this.fetchImpl);
    } catch (error) {
      // A service older than the device description refuses the unknown field (400, nothing
      // stored, no bulk-token use taken): the device still registers and renews, undescribed.
      if (described && error instanceof CliError && error.status === 400 && /(unrecognized key|unknown field).*\bdevice\b/i.test(error.message)) {
        return this.call<T>(path, bearer, undefined);
      }
      throw error;
    }
  }
}

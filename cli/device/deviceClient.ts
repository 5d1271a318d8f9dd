import { callService } from '../serviceClient.js';
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

  private async call<T>(path: string, bearer: string | undefined, device: DeviceDescription | undefined) {
    const url = new URL(path, this.apiUrl).toString();
    const proof = await signProof(this.identity, { method: 'POST', url, ...(bearer === undefined ? {} : { bearerToken: bearer }) });
    const body = device === undefined || Object.keys(device).length === 0 ? { proof } : { proof, device };
    return callService<T>(this.apiUrl, { method: 'POST', path, ...(bearer === undefined ? {} : { bearer }), body }, this.fetchImpl);
  }
}

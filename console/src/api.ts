/** The admin API as the console uses it: JSON in and out, RFC 9457 problems as ApiError. */

export interface BulkToken {
  id: string;
  issuedAt: string;
  expiresAt: string;
  lifetimeMinutes: number;
  /** `used-up`: uses reached maxUses (the fleet contract; older services said `active`). */
  status: 'active' | 'expired' | 'blocked' | 'used-up';
  uses: number;
  maxUses: number | null;
  description: string | null;
}

export interface IssuedBulkToken {
  id: string;
  token: string;
  issuedAt: string;
  expiresAt: string;
  lifetimeMinutes: number;
}

export type DeviceStatus = 'pending' | 'active' | 'revoked';

export interface Device {
  deviceId: string;
  status: DeviceStatus;
  registration: string;
  thumbprint: string;
  registeredAt: string;
  expiresAt: string;
  /** The bulk token a `bulk` registration used (README, "The audit trail"). */
  bulkTokenId?: string;
  /** What the device says about itself (docs/protocol.md, fleet operations): its own claims. */
  name?: string | null;
  os?: string | null;
  clientVersion?: string | null;
  /** The latest register, renew or authenticate, to the service's granularity (an hour by default). */
  lastSeenAt?: string;
  /** SHA-1 of the certificate, upper-case hex: the thumbprint Windows shows. */
  thumbprintSha1?: string;
}

export interface Page<T> {
  items: T[];
  continuation?: string;
}

export interface AuditEntry {
  id: string;
  schemaVersion: number;
  time: string;
  action: string;
  outcome: 'succeeded' | 'refused' | 'failed' | 'pending';
  status?: number;
  code?: string;
  actor: { kind: 'entra' | 'admin-key' | 'device' | 'anonymous'; id?: string; name?: string };
  callerAddress?: string;
  target?: { kind: string; id: string };
  details?: Record<string, unknown>;
  invocationId?: string;
}

export const auditActions = [
  'bulk-token.create',
  'bulk-token.block',
  'bulk-token.unblock',
  'device.register',
  'device.approve',
  'device.revoke',
  'admin.refused',
] as const;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly code: string | undefined,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
  }
}

/** Gives the bearer credential for each call: the admin key, or a fresh Entra access token. */
export type CredentialSource = () => Promise<string>;

export class Api {
  constructor(
    private readonly credential: CredentialSource,
    private readonly onUnauthorized: (error: ApiError) => void = () => undefined,
  ) {}

  listBulkTokens(): Promise<Page<BulkToken>> {
    return this.call('GET', '/api/bulk-tokens');
  }

  createBulkToken(input: { lifetimeMinutes: number; maxUses?: number; description?: string }): Promise<IssuedBulkToken> {
    return this.call('POST', '/api/bulk-tokens', input);
  }

  setBulkTokenBlocked(id: string, blocked: boolean): Promise<unknown> {
    return this.call('POST', `/api/bulk-tokens/${encodeURIComponent(id)}/${blocked ? 'block' : 'unblock'}`);
  }

  listDevices(query: { status?: DeviceStatus; name?: string; limit: number; continuation?: string }): Promise<Page<Device>> {
    return this.call('GET', `/api/devices${queryString(query)}`);
  }

  /** One device by its id or its certificate thumbprint (base64url SHA-256, or SHA-1 hex). */
  findDevice(idOrThumbprint: string): Promise<Device> {
    return this.call('GET', `/api/devices/${encodeURIComponent(idOrThumbprint)}`);
  }

  approveDevice(id: string): Promise<unknown> {
    return this.call('POST', `/api/devices/${encodeURIComponent(id)}/approve`);
  }

  revokeDevice(id: string): Promise<unknown> {
    return this.call('POST', `/api/devices/${encodeURIComponent(id)}/revoke`);
  }

  listAudit(query: { from?: string; to?: string; action?: string; limit: number; continuation?: string }): Promise<Page<AuditEntry>> {
    return this.call('GET', `/api/audit${queryString(query)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${await this.credential()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        cache: 'no-store',
        credentials: 'omit',
        // The API answers JSON; a redirect would be a misconfiguration, never followed with the credential.
        redirect: 'error',
      });
    } catch (error) {
      // The browser's own words ("Failed to fetch") say nothing an administrator can act on.
      throw new ApiError(0, 'The service could not be reached', 'Check that the service is running and this computer is online, then try again.', undefined);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) {
      const problem = (parsed ?? {}) as { title?: unknown; detail?: unknown; code?: unknown };
      const error = new ApiError(
        response.status,
        typeof problem.title === 'string' ? problem.title : `HTTP ${response.status} ${response.statusText}`,
        typeof problem.detail === 'string' ? problem.detail : '',
        typeof problem.code === 'string' ? problem.code : undefined,
      );
      if (response.status === 401) this.onUnauthorized(error);
      throw error;
    }
    return parsed as T;
  }
}

function queryString(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

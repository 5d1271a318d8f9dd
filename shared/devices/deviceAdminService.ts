import { isoTime, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { ConcurrentUpdateError } from '../storage/versioned.js';
import { deviceIdFor } from './deviceId.js';
import type { DeviceFilter, DeviceRecord, DeviceStatus, DeviceStore } from './deviceStore.js';
import type { RevocationList } from './revocationList.js';
import { pendingApprovalSeconds } from './registrationService.js';

export interface DeviceView {
  deviceId: string;
  status: DeviceStatus;
  registration: string;
  /** The bulk token the device first registered with (bulk registrations only). */
  bulkTokenId?: string;
  thumbprint: string;
  registeredAt: string;
  expiresAt: string;
  /** The device's own claims (deviceDescription.ts), null when it made none. */
  name: string | null;
  os: string | null;
  clientVersion: string | null;
  /** The latest register, renew or authenticate written down, to LAST_SEEN_GRANULARITY_MINUTES. */
  lastSeenAt: string;
  /** Upper-case hex SHA-1 of the certificate; null only for pairings stored before it was recorded and not renewed since. */
  thumbprintSha1: string | null;
}

const maxWriteAttempts = 10;

/** What administrators do with devices: list, approve, revoke. */
export class DeviceAdminService {
  constructor(
    private readonly devices: DeviceStore,
    private readonly revocations: RevocationList,
    private readonly clock: Clock,
    private readonly policy: { pendingApprovalDays: number },
  ) {}

  /** Newest registration first, narrowed to a status and a case-insensitive name prefix. */
  async list(filter: DeviceFilter, pageSize: number, continuation: string | undefined) {
    const page = await this.devices.list(filter, pageSize, continuation);
    return { items: page.items.map(view), ...(page.continuation === undefined ? {} : { continuation: page.continuation }) };
  }

  /**
   * One device by its id, its certificate's thumbprint, or that certificate's SHA-1 (the
   * thumbprint Windows shows). The id is derived from the thumbprint (decision 0002), so both
   * are the same point read; a thumbprint lookup also checks the stored thumbprint, so it
   * never answers with another certificate's device. The SHA-1 goes through its index row
   * (deviceFindIndex.ts), and the pairing found must carry the same SHA-1.
   */
  async get(key: { deviceId: string } | { thumbprint: string } | { thumbprintSha1: string }): Promise<DeviceView | undefined> {
    if ('thumbprintSha1' in key) {
      const bySha1 = await this.devices.findBySha1(key.thumbprintSha1);
      return bySha1 && view(bySha1.value);
    }
    const deviceId = 'deviceId' in key ? key.deviceId : deviceIdFor(key.thumbprint);
    const found = await this.devices.get(deviceId);
    if (!found || ('thumbprint' in key && found.value.thumbprint !== key.thumbprint)) return undefined;
    return view(found.value);
  }

  /**
   * Approves a pending device; the device's next registration call gets its token. Until
   * then the pairing lapses after the pending-approval period, as a pending one would.
   */
  async approve(deviceId: string): Promise<{ deviceId: string; status: 'active' }> {
    await this.change(deviceId, (current, now) => {
      if (current.status === 'revoked') throw new ServiceError('conflict', 'a revoked device cannot be approved; it must register with a new certificate');
      if (current.status === 'active') return undefined;
      return { ...current, status: 'active', approvedAt: now, expiresAt: now + pendingApprovalSeconds(this.policy.pendingApprovalDays) };
    });
    return { deviceId, status: 'active' };
  }

  /**
   * Revokes a device's certificate: renew, authenticate and both registration paths refuse
   * it from then on, on every instance, until the certificate expires (revocationList.ts).
   * The revocation list (what authenticate and registration read) is written first, then the
   * pairing (what renewal reads, and what the device list shows). Both writes are
   * idempotent, so an administrator who got an error just revokes again.
   */
  async revoke(deviceId: string): Promise<{ deviceId: string; status: 'revoked' }> {
    const pairing = await this.devices.get(deviceId);
    if (!pairing) throw new ServiceError('not_found', `no device has the id ${deviceId}`);
    const { thumbprint, certificateNotAfter } = pairing.value;
    await this.revocations.add({ deviceId, thumbprint, revokedAt: this.clock.now(), certificateNotAfter });
    await this.change(deviceId, (current, now) =>
      current.status === 'revoked' ? undefined : { ...current, status: 'revoked', revokedAt: now },
    );
    return { deviceId, status: 'revoked' };
  }

  /** Read, change, write under the ETag; `change` returning undefined means nothing to do. */
  private async change(deviceId: string, change: (current: DeviceRecord, now: number) => DeviceRecord | undefined): Promise<void> {
    for (let attempt = 0; attempt < maxWriteAttempts; attempt++) {
      const current = await this.devices.get(deviceId);
      if (!current) throw new ServiceError('not_found', `no device has the id ${deviceId}`);
      const next = change(current.value, this.clock.now());
      if (!next) return;
      try {
        await this.devices.replace(next, current);
        return;
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError)) throw error;
      }
    }
    throw new ServiceError('unavailable', 'the device record is being changed by many requests at once; retry', { retryAfterSeconds: 1 });
  }
}

function view(record: DeviceRecord): DeviceView {
  return {
    deviceId: record.deviceId,
    status: record.status,
    registration: record.registration,
    ...(record.bulkTokenId === undefined ? {} : { bulkTokenId: record.bulkTokenId }),
    thumbprint: record.thumbprint,
    registeredAt: isoTime(record.registeredAt),
    expiresAt: isoTime(record.expiresAt),
    name: record.name ?? null,
    os: record.os ?? null,
    clientVersion: record.clientVersion ?? null,
    // A pairing stored before last-seen was recorded was at least seen when it registered.
    lastSeenAt: isoTime(Math.max(record.lastSeenAt ?? 0, record.registeredAt)),
    thumbprintSha1: record.thumbprintSha1 ?? null,
  };
}

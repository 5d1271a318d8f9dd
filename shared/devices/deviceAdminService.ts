import { isoTime, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { ConcurrentUpdateError } from '../storage/versioned.js';
import { deviceIdFor } from './deviceId.js';
import type { DeviceRecord, DeviceStatus, DeviceStore } from './deviceStore.js';
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

  async list(status: DeviceStatus | undefined, pageSize: number, continuation: string | undefined) {
    const page = await this.devices.list(status, pageSize, continuation);
    return { items: page.items.map(view), ...(page.continuation === undefined ? {} : { continuation: page.continuation }) };
  }

  /**
   * One device by its id or its certificate's thumbprint. The id is derived from the
   * thumbprint (decision 0002), so both are the same point read; a thumbprint lookup also
   * checks the stored thumbprint, so it never answers with another certificate's device.
   */
  async get(key: { deviceId: string } | { thumbprint: string }): Promise<DeviceView | undefined> {
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
   * Revokes a device: renew and authenticate fail from then on, on every instance. The
   * revocation list (what authenticate reads) is written first, then the pairing (what
   * registration and renewal read, and what the device list shows). Both writes are
   * idempotent, so an administrator who got an error just revokes again.
   */
  async revoke(deviceId: string): Promise<{ deviceId: string; status: 'revoked' }> {
    if (!(await this.devices.get(deviceId))) throw new ServiceError('not_found', `no device has the id ${deviceId}`);
    await this.revocations.add(deviceId, this.clock.now());
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
  };
}

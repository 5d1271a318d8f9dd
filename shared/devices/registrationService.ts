import type { BulkTokenService } from '../bulkTokens/bulkTokenService.js';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import type { DeviceCertificate } from '../proof/certificate.js';
import { AlreadyExistsError, ConcurrentUpdateError, type Versioned } from '../storage/versioned.js';
import { deviceIdFor } from './deviceId.js';
import type { DeviceClaims } from './deviceAuthenticator.js';
import { deviceDescription, type DeviceDescription, type DeviceInput } from './deviceDescription.js';
import type { LastSeenRecorder } from './lastSeen.js';
import type { TokenPacing } from './tokenPacing.js';
import type { DeviceRecord, DeviceStore, RegistrationPath } from './deviceStore.js';
import type { RevocationList } from './revocationList.js';
import { deviceTokenAnswer, type DeviceTokenAnswer, type DeviceTokenIssuer } from './deviceTokens.js';

export const pendingApprovalSeconds = (days: number) => days * 24 * 3600;

export type RegistrationResult =
  | { kind: 'issued'; answer: DeviceTokenAnswer }
  // `first`: this request recorded the pending pairing (not a device polling while it waits).
  | { kind: 'pending'; deviceId: string; first: boolean };

/** Conditional writes of one pairing race only with the same device's own requests. */
const maxWriteAttempts = 10;

/** What registration and renewal know of the certificate the device proved it holds. */
export interface CertificateFacts {
  thumbprint: string;
  /** Unknown only for a renewal's pairing stored before it was recorded. */
  notAfter: number | undefined;
  thumbprintSha1: string;
  commonName: string | undefined;
}

/**
 * Registers devices (docs/protocol.md section 1). The order of the steps is what keeps failures
 * clean: every check first, then the bulk token's use (idempotent per device), then the
 * signature, and the pairing is stored before the token is returned. A failure at any step
 * returns no token; a retry by the device completes the same registration.
 */
export class RegistrationService {
  constructor(
    private readonly devices: DeviceStore,
    private readonly bulkTokens: BulkTokenService,
    private readonly tokens: DeviceTokenIssuer,
    private readonly clock: Clock,
    private readonly policy: { approvalMode: 'auto' | 'manual'; pendingApprovalDays: number },
    private readonly revocations: RevocationList,
    private readonly pacing: TokenPacing,
    private readonly lastSeen: LastSeenRecorder,
  ) {}

  /**
   * Issues for one device run one at a time on this instance, so that a burst of the same
   * device's requests is paced against what the earlier ones stored, rather than all of
   * them reading the same pairing and each spending a signature that the ETag then refuses.
   */
  private readonly issuing = new Map<string, Promise<unknown>>();

  /** Internet registration with a verified bulk token (its `jti` is `bulkTokenId`). */
  async registerWithBulkToken(bulkTokenId: string, certificate: DeviceCertificate, device?: DeviceInput): Promise<RegistrationResult> {
    const deviceId = deviceIdFor(certificate.thumbprint);
    // Before the bulk token's use: a revoked certificate, or a device past its pacing, spends none.
    const existing = await this.unrevokedPairing(deviceId);
    this.pacing.check(existing?.value.tokenIssues, this.clock.now());
    await this.bulkTokens.admitDevice(bulkTokenId, deviceId);
    return this.issue(deviceId, certificate, device, 'bulk', bulkTokenId, existing);
  }

  /** Registration from an internal network, under the approval policy. */
  async registerInternal(certificate: DeviceCertificate, device?: DeviceInput): Promise<RegistrationResult> {
    const deviceId = deviceIdFor(certificate.thumbprint);
    const existing = await this.unrevokedPairing(deviceId);
    const approved = existing?.value.status === 'active' || this.policy.approvalMode === 'auto';
    if (!approved) {
      const first = !existing && (await this.recordPending(deviceId, certificate, device));
      // A device asking again while it waits is seen, as an authenticate is.
      if (existing) this.lastSeen.seen(deviceId);
      return { kind: 'pending', deviceId, first };
    }
    return this.issue(deviceId, certificate, device, 'internal', undefined, existing);
  }

  /**
   * The device's pairing, if any, after making sure its certificate is not revoked. The
   * pairing says so while it exists; the revocation list says so after the purge removed it,
   * until the certificate expires. Both are read at once.
   */
  private async unrevokedPairing(deviceId: string): Promise<Versioned<DeviceRecord> | undefined> {
    const [existing, revoked] = await Promise.all([this.devices.get(deviceId), this.revocations.isRevoked(deviceId)]);
    if (revoked) throw revokedError();
    refuseRevoked(existing?.value);
    return existing;
  }

  /**
   * Renews an authenticated device's token: a fresh 90-day token for the same device and
   * certificate, with the pairing's expiry moved to match before the token is returned.
   */
  async renew(claims: DeviceClaims, certificate: CertificateFacts, device: DeviceInput | undefined): Promise<DeviceTokenAnswer> {
    const record = await this.devices.get(claims.deviceId);
    if (!record || record.value.thumbprint !== claims.thumbprint) {
      throw new ServiceError('invalid_token', 'the device is no longer registered (its pairing was removed); register again');
    }
    if (record.value.status === 'revoked') {
      throw new ServiceError('device_revoked', 'this device has been revoked by an administrator');
    }
    if (record.value.status !== 'active') throw new ServiceError('invalid_token', 'the device is not approved');
    const facts = { ...certificate, notAfter: certificate.notAfter ?? record.value.certificateNotAfter };
    const result = await this.issue(claims.deviceId, facts, device, claims.registration, claims.bulkTokenId, record);
    if (result.kind !== 'issued') throw new Error('renewal never waits for approval');
    return result.answer;
  }

  /** False when the same device's concurrent request recorded it first. */
  private async recordPending(deviceId: string, certificate: DeviceCertificate, device: DeviceInput | undefined): Promise<boolean> {
    const now = this.clock.now();
    try {
      await this.devices.insert({
        deviceId,
        thumbprint: certificate.thumbprint,
        registration: 'internal',
        bulkTokenId: undefined,
        status: 'pending',
        registeredAt: now,
        expiresAt: now + pendingApprovalSeconds(this.policy.pendingApprovalDays),
        approvedAt: undefined,
        revokedAt: undefined,
        certificateNotAfter: certificate.notAfter,
        ...deviceDescription(device, certificate.commonName),
        thumbprintSha1: certificate.thumbprintSha1,
        lastSeenAt: now,
      });
      this.lastSeen.noteWritten(deviceId, now);
      return true;
    } catch (error) {
      // The same device's concurrent request recorded it first: the outcome is the same.
      if (!(error instanceof AlreadyExistsError)) throw error;
      return false;
    }
  }

  /**
   * Signs a token, then stores the pairing (new, or with its expiry moved); returns the token
   * last. Pacing is checked against the pairing before the signature, and again on every
   * write attempt, so that a device past its burst gets a 429 and never a token.
   */
  private async issue(
    deviceId: string,
    certificate: CertificateFacts,
    device: DeviceInput | undefined,
    registration: RegistrationPath,
    bulkTokenId: string | undefined,
    known: Versioned<DeviceRecord> | undefined,
  ): Promise<RegistrationResult> {
    return this.oneAtATime(deviceId, async (waited) => {
      // Another issue for this device ran while this one waited: what it stored counts.
      const current = waited ? await this.devices.get(deviceId) : known;
      refuseRevoked(current?.value);
      this.pacing.check(current?.value.tokenIssues, this.clock.now());
      const { thumbprint } = certificate;
      const issued = await this.tokens.issue({ deviceId, thumbprint, registration, bulkTokenId });
      await this.storeActive(deviceId, current, (stored, attempt) => {
        // The first write attempt was paced above; a retry has read what a request on
        // another instance stored meanwhile, and is paced against it.
        if (attempt > 0) this.pacing.check(stored?.tokenIssues, issued.issuedAt);
        return {
          deviceId,
          thumbprint,
          // The pairing remembers how the device first registered; the token says how this one was got.
          registration: stored?.registration ?? registration,
          bulkTokenId: stored ? stored.bulkTokenId : bulkTokenId,
          status: 'active',
          registeredAt: stored?.registeredAt ?? issued.issuedAt,
          expiresAt: Math.max(issued.expiresAt, stored?.expiresAt ?? 0),
          approvedAt: stored?.approvedAt,
          revokedAt: undefined,
          // What a revocation of this certificate must outlive (revocationList.ts).
          certificateNotAfter: certificate.notAfter ?? stored?.certificateNotAfter,
          ...described(stored, device, certificate.commonName),
          thumbprintSha1: certificate.thumbprintSha1,
          lastSeenAt: issued.issuedAt,
          tokenIssues: this.pacing.record(stored?.tokenIssues, issued.issuedAt),
        };
      });
      this.lastSeen.noteWritten(deviceId, issued.issuedAt);
      return { kind: 'issued', answer: deviceTokenAnswer(deviceId, issued) };
    });
  }

  private async oneAtATime<T>(deviceId: string, work: (waited: boolean) => Promise<T>): Promise<T> {
    const before = this.issuing.get(deviceId);
    const run = (before ?? Promise.resolve()).then(
      () => work(before !== undefined),
      () => work(true),
    );
    this.issuing.set(deviceId, run);
    try {
      return await run;
    } finally {
      if (this.issuing.get(deviceId) === run) this.issuing.delete(deviceId);
    }
  }

  /**
   * Writes the pairing from `build(current)`: insert if absent, else replace under the ETag
   * read; on a race with the same device's other request, read again and retry. `known` is
   * the read the caller already made, used for the first attempt.
   */
  private async storeActive(
    deviceId: string,
    known: Versioned<DeviceRecord> | undefined,
    build: (current: DeviceRecord | undefined, attempt: number) => DeviceRecord,
  ): Promise<void> {
    let current = known;
    for (let attempt = 0; attempt < maxWriteAttempts; attempt++) {
      if (attempt > 0) current = await this.devices.get(deviceId);
      refuseRevoked(current?.value);
      try {
        if (current) await this.devices.replace(build(current.value, attempt), current);
        else await this.devices.insert(build(undefined, attempt));
        return;
      } catch (error) {
        if (!(error instanceof AlreadyExistsError) && !(error instanceof ConcurrentUpdateError)) throw error;
      }
    }
    throw new ServiceError('unavailable', 'the device record is being changed by many requests at once; retry', { retryAfterSeconds: 1 });
  }
}

/**
 * The description to store: what the device sent now (a new `device` replaces the old one
 * whole), else what was stored, else - a first registration without one - the name from the
 * certificate's CN.
 */
function described(stored: DeviceRecord | undefined, device: DeviceInput | undefined, commonName: string | undefined): DeviceDescription {
  if (device !== undefined || stored === undefined) return deviceDescription(device, commonName);
  return { name: stored.name, os: stored.os, clientVersion: stored.clientVersion };
}

function refuseRevoked(record: DeviceRecord | undefined): void {
  if (record?.status === 'revoked') throw revokedError();
}

function revokedError(): ServiceError {
  return new ServiceError('device_revoked', 'this device has been revoked by an administrator; it cannot register with the same certificate');
}

import type { Versioned } from '../storage/versioned.js';

export type DeviceStatus = 'pending' | 'active' | 'revoked';
export type RegistrationPath = 'internal' | 'bulk';

/** A device pairing: the device id, the certificate it is bound to, and its state. */
export interface DeviceRecord {
  deviceId: string;
  /** base64url SHA-256 of the certificate's DER. */
  thumbprint: string;
  registration: RegistrationPath;
  /** The bulk token the device first registered with, for `registration: 'bulk'`. */
  bulkTokenId: string | undefined;
  status: DeviceStatus;
  registeredAt: number;
  /**
   * When the pairing lapses: the expiry of the newest token issued to the device, or, while
   * no token has been issued (pending approval), when the request is abandoned.
   */
  expiresAt: number;
  approvedAt: number | undefined;
  revokedAt: number | undefined;
  /**
   * The end of the certificate's validity period, which a revocation must outlive. Unset in
   * pairings stored before it was recorded (a revocation of such a device is kept for good).
   */
  certificateNotAfter?: number | undefined;
  /** What the device says it is (deviceDescription.ts); its own claims. */
  name?: string | undefined;
  os?: string | undefined;
  clientVersion?: string | undefined;
  /** Upper-case hex SHA-1 of the certificate's DER. Unset in pairings stored before it was recorded. */
  thumbprintSha1?: string | undefined;
  /** The latest register, renew or authenticate that was written down (lastSeen.ts). */
  lastSeenAt?: number | undefined;
  /** When the latest tokens were issued to the device, oldest first, at most the burst (tokenPacing.ts). */
  tokenIssues?: readonly number[] | undefined;
}

/** What the device list may be narrowed to. */
export interface DeviceFilter {
  status: DeviceStatus | undefined;
  /** A case-insensitive prefix of the device's name. */
  namePrefix: string | undefined;
}

export interface DevicePage {
  items: DeviceRecord[];
  continuation: string | undefined;
}

/** The pairings port. Lookups by device id are point reads. */
export interface DeviceStore {
  get(deviceId: string): Promise<Versioned<DeviceRecord> | undefined>;
  /** Inserts a new pairing; throws AlreadyExistsError if the device id is taken. */
  insert(record: DeviceRecord): Promise<void>;
  /**
   * Replaces the pairing if it is still the version `current` was read at (its ETag); else
   * throws ConcurrentUpdateError. The previous value tells the store which expiry-index row
   * the new one supersedes.
   */
  replace(record: DeviceRecord, current: Versioned<DeviceRecord>): Promise<void>;
  /** Newest registration first. */
  list(filter: DeviceFilter, pageSize: number, continuation: string | undefined): Promise<DevicePage>;
  /** The device whose certificate has this SHA-1 (upper-case hex), if any. */
  findBySha1(thumbprintSha1: string): Promise<Versioned<DeviceRecord> | undefined>;
  /**
   * Writes `lastSeenAt` alone, without an ETag and without reading: the one write an
   * authenticate may cause. False when the pairing no longer exists.
   */
  touch(deviceId: string, lastSeenAt: number): Promise<boolean>;
}

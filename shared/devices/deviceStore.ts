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
  list(status: DeviceStatus | undefined, pageSize: number, continuation: string | undefined): Promise<DevicePage>;
}

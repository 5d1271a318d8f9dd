import type { Clock } from '../clock.js';
import { BoundedCache } from '../cache/boundedCache.js';
import type { DeviceStore } from './deviceStore.js';

/** Devices whose last written time one instance remembers: 16 bytes or so each. */
const rememberedDevices = 100_000;
/** Writes in flight at once; past it a sighting is dropped (the next one tries again). */
const maxWritesInFlight = 32;

/**
 * Writes down when a device was last seen, at most once per `granularitySeconds` per device
 * per instance (docs/decisions/0016-last-seen-without-a-write-per-request.md). Authenticate
 * does not read the pairing (decision 0007), so this instance's memory of what it last wrote
 * decides; a device seen again inside the window costs nothing. The write is one Merge of
 * `lastSeenAt` into the pairing, started and not waited for: authenticate never waits for it
 * and never fails because of it. A write that fails is forgotten, so the next sighting
 * tries again.
 */
export class LastSeenRecorder {
  private readonly written = new BoundedCache<string, number>(rememberedDevices);
  private readonly inFlight = new Set<Promise<void>>();
  /** Failed writes, for the health of the feature (tests, logs); never raised to a caller. */
  failures = 0;

  constructor(
    private readonly devices: Pick<DeviceStore, 'touch'>,
    private readonly clock: Clock,
    private readonly granularitySeconds: number,
  ) {}

  /** A device was seen now (authenticate, or a pending device asking again); returns at once. */
  seen(deviceId: string): void {
    const now = this.clock.now();
    const last = this.written.get(deviceId);
    if (last !== undefined && now - last < this.granularitySeconds) return;
    if (this.inFlight.size >= maxWritesInFlight) return;
    // Noted before the write ends, so that the device's concurrent requests start no second one.
    this.written.set(deviceId, now);
    const write: Promise<void> = this.devices
      .touch(deviceId, now)
      .then(
        () => undefined,
        () => {
          this.failures++;
          if (this.written.get(deviceId) === now) this.written.delete(deviceId);
        },
      )
      .finally(() => this.inFlight.delete(write));
    this.inFlight.add(write);
  }

  /** The pairing write of a registration or renewal set `lastSeenAt` to `at`. */
  noteWritten(deviceId: string, at: number): void {
    this.written.set(deviceId, at);
  }

  /** Resolves once the writes started so far are done (tests and the bench wait on this, not on time). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

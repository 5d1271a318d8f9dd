import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { isoTime, maxClockSkewSeconds } from '../clock.js';
import { deviceTokenLifetimeSeconds } from './deviceTokens.js';
import { FreshRead } from '../storage/freshRead.js';
import { LeanTable } from '../storage/leanTable.js';
import { storageCall } from '../storage/tableService.js';

/**
 * A revoked certificate. The device id is derived from the certificate's thumbprint
 * (docs/decisions/0002), so a revocation recorded under it is a revocation of that
 * certificate: the same certificate always comes back under the same id.
 */
export interface Revocation {
  deviceId: string;
  thumbprint: string;
  revokedAt: number;
  /** The certificate's notAfter, if known; unknown means the revocation is kept for good. */
  certificateNotAfter: number | undefined;
}

/** The revocations port, read on every device request and before every registration. */
export interface RevocationList {
  /** Whether `deviceId` was revoked, as of some moment after this call began. */
  isRevoked(deviceId: string): Promise<boolean>;
  /** Records a revocation; once this returns, `isRevoked` says so on every instance. */
  add(revocation: Revocation): Promise<void>;
}

const what = 'Table Storage (revocations)';
const revokedPartition = 'revoked';
const epochRow = 'epoch';
/**
 * Copies of the change marker, each in a partition of its own: every instance reads one
 * (chosen at random) about once per round trip while it serves devices, and Table Storage
 * serves a partition up to ~2,000 entities/s, so copies spread that load. A revocation
 * writes them all.
 */
export const epochCopies = 4;
/**
 * A revocation must outlive every token the device may hold: the newest was issued at most
 * 90 days before it (or by a renewal racing it), plus the clock skew verifiers allow. A day
 * covers the skew and any renewal that was in flight.
 */
const tokenKeepSeconds = deviceTokenLifetimeSeconds + 86_400;
/** For a certificate whose notAfter is not known (a pairing stored before it was recorded). */
const forever = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;

/**
 * Until when a revocation is kept: until the certificate cannot be used anywhere any more -
 * its notAfter plus the skew the certificate check allows, after which every path refuses it
 * as expired - and never less than the device's tokens live. Dropping it sooner would let the
 * same certificate register again (with any bulk token, or from inside) once the purge has
 * removed its pairing.
 */
export function revocationKeptUntil(revokedAt: number, certificateNotAfter: number | undefined): number {
  if (certificateNotAfter === undefined) return forever;
  return Math.max(revokedAt + tokenKeepSeconds, certificateNotAfter + maxClockSkewSeconds);
}

type RevocationEntity = { partitionKey: string; rowKey: string; thumbprint: string; revokedAt: string; keepUntil: string };

/**
 * Revoked device ids in table `revocations`, so that authenticate needs no read of the
 * device's own pairing. A device request must see every revocation that completed before it
 * arrived, on every instance; reading the whole list per request would cost a query each,
 * so each instance keeps the list in memory and, per request, only checks that it is still
 * current: it reads a change marker (`epoch-<n>`), which every revocation rewrites after
 * adding its row, and reloads the list when the marker's ETag differs from the one it loaded
 * under. Those marker reads are shared by concurrent requests (FreshRead), never older than
 * the request. The list is small - revocations are rare, a row is a few dozen bytes in
 * memory, and each is dropped once its certificate has expired - so a reload is one query.
 */
export class TableRevocationList implements RevocationList {
  static readonly tableName = 'revocations';
  private known: { etag: string; revoked: ReadonlySet<string> } | undefined;
  private readonly current = new FreshRead(() => this.refresh());
  private readonly copy = `epoch-${Math.floor(Math.random() * epochCopies)}`;

  private readonly markerFilter = `PartitionKey eq '${this.copy}' and RowKey eq '${epochRow}'`;

  /**
   * `tables` opens a table by name: the service's TableService, or the purge's metered
   * clients. Where it offers `hotTable` (the TableService), the per-request marker query
   * goes through the lean client (docs/decisions/0017).
   */
  constructor(private readonly tables: { table(name: string): Promise<TableClient>; hotTable?(name: string): Promise<LeanTable | TableClient> }) {}

  async isRevoked(deviceId: string): Promise<boolean> {
    return (await this.current.get()).has(deviceId);
  }

  async add({ deviceId, thumbprint, revokedAt, certificateNotAfter }: Revocation): Promise<void> {
    const client = await this.client();
    const row: RevocationEntity = {
      partitionKey: revokedPartition,
      rowKey: deviceId,
      thumbprint,
      revokedAt: isoTime(revokedAt),
      keepUntil: isoTime(revocationKeptUntil(revokedAt, certificateNotAfter)),
    };
    // The row first, the markers after: a reader that sees a new marker finds the row.
    await storageCall(what, () => client.upsertEntity(row, 'Replace'));
    await this.markChanged(client);
  }

  /**
   * The revocations whose certificate has expired (and every token with it), as a filter
   * over this table: the purge deletes them with its own helpers, then calls `announceChange`.
   */
  static expiredFilter(now: number): string {
    // ISO times in one format compare as strings.
    return `PartitionKey eq '${revokedPartition}' and keepUntil lt '${isoTime(now)}'`;
  }

  /**
   * Rewrites the change markers, so that every instance reloads the list at its next check.
   * After a drop this is not needed for safety (a dropped row's certificate has expired, and
   * every path refuses it), but it lets instances shed the ids.
   */
  async announceChange(): Promise<void> {
    await this.markChanged(await this.client());
  }

  private async refresh(): Promise<ReadonlySet<string>> {
    const etag = await this.markerEtag();
    if (this.known?.etag === etag) return this.known.revoked;
    const client = await this.client();
    const revoked = new Set<string>();
    await storageCall(what, async () => {
      const rows = client.listEntities({ queryOptions: { filter: `PartitionKey eq '${revokedPartition}'`, select: ['RowKey'] } });
      for await (const row of rows) revoked.add(row.rowKey as string);
    });
    // Tagged with the marker read before the query: any revocation not in `revoked` changed
    // the marker after that read, and the next check reloads.
    this.known = { etag, revoked };
    return revoked;
  }

  private async markerEtag(): Promise<string> {
    // A query, not a point read: before the first revocation there is no marker, and a
    // point read would answer 404, which the SDK turns into an exception on every request.
    const client = this.tables.hotTable ? await this.tables.hotTable(TableRevocationList.tableName) : await this.client();
    if (client instanceof LeanTable) {
      const marker = await storageCall(what, () => client.queryFirst(this.markerFilter, ['RowKey']));
      return marker?.etag ?? 'none';
    }
    const page = await storageCall(what, () =>
      client
        .listEntities({ queryOptions: { filter: this.markerFilter, select: ['RowKey'] } })
        .byPage({ maxPageSize: 1 })
        .next(),
    );
    const marker = page.done ? undefined : page.value[0];
    return marker?.etag ?? 'none';
  }

  private async markChanged(client: TableClient): Promise<void> {
    const change = randomBytes(8).toString('hex');
    await Promise.all(
      Array.from({ length: epochCopies }, (_, n) =>
        storageCall(what, () => client.upsertEntity({ partitionKey: `epoch-${n}`, rowKey: epochRow, change }, 'Replace')),
      ),
    );
  }

  private client(): Promise<TableClient> {
    return this.tables.table(TableRevocationList.tableName);
  }
}

import { randomUUID } from 'node:crypto';
import { RestError, type TableClient, type TransactionAction } from '@azure/data-tables';
import { InvocationContext } from '@azure/functions';
import { purgeExpired } from '../functions/purgeExpired.js';
import { auditPartition, TableAuditStore } from '../shared/audit/tableAuditStore.js';
import { TableBulkTokenStore } from '../shared/bulkTokens/tableBulkTokenStore.js';
import { isoTime } from '../shared/clock.js';
import type { DeviceIndexEntity } from '../shared/devices/deviceExpiryIndex.js';
import type { DeviceRecord, DeviceStatus } from '../shared/devices/deviceStore.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { TableRevocationList } from '../shared/devices/revocationList.js';
import { PurgeMeter } from '../shared/purge/meteredTables.js';
import { deviceCheck, type PassCounts } from '../shared/purge/passes.js';
import { describePurge, type PurgeSummary } from '../shared/purge/purgeSummary.js';
import { expiryBucket } from '../shared/storage/expiryBucket.js';
import { TableService } from '../shared/storage/tableService.js';
import { PurgeService } from '../shared/purge/purgeService.js';
import { azuriteConnectionString } from '../host/azurite.js';
import { startLocalHost } from './support/localHost.js';
import { installTestServices, uniqueTablePrefix, type TestServices } from './support/services.js';

const hour = 3_600;
const day = 86_400;
/** The defaults: DEVICE_RETENTION_DAYS 7, BULK_TOKEN_RETENTION_DAYS 30. */
const deviceRetention = 7 * day;
const bulkRetention = 30 * day;

let services: TestServices;
let store: TableDeviceStore;
/** Half past an hour, so "an hour later" is always in the next expiry bucket. */
let t0: number;

// Each test gets its own tables: purge runs see exactly what the test stored.
beforeEach(async () => {
  services = await installTestServices();
  t0 = Math.floor(services.clock.now() / hour) * hour + hour / 2;
  services.clock.seconds = t0;
  store = new TableDeviceStore(services.tables);
});

function pairing(status: DeviceStatus, expiresAt: number, deviceId = randomUUID()): DeviceRecord {
  return {
    deviceId,
    thumbprint: `thumb-${deviceId}`,
    registration: 'internal',
    bulkTokenId: undefined,
    status,
    registeredAt: t0,
    expiresAt,
    approvedAt: undefined,
    revokedAt: status === 'revoked' ? t0 : undefined,
  };
}

async function stored(status: DeviceStatus, expiresAt: number): Promise<DeviceRecord> {
  const record = pairing(status, expiresAt);
  await store.insert(record);
  return record;
}

async function rows(table: string, filter?: string): Promise<Array<{ partitionKey: string; rowKey: string }>> {
  const client = await services.tables.table(table);
  const found: Array<{ partitionKey: string; rowKey: string }> = [];
  const entities = client.listEntities(filter === undefined ? {} : { queryOptions: { filter } });
  for await (const entity of entities) found.push({ partitionKey: entity.partitionKey ?? '', rowKey: entity.rowKey ?? '' });
  return found;
}

const indexRowsOf = async (deviceId: string) => (await rows(TableDeviceStore.expiryIndexName)).filter((row) => row.rowKey === deviceId);

async function purge(overrides: { timeBudgetSeconds?: number } = {}): Promise<PurgeSummary> {
  return services.purge.run(overrides);
}

const nothingRemoved = { devices: 0, pendingApprovals: 0, bulkTokens: 0, bulkTokenUses: 0, replayEntries: 0, revocations: 0, auditEntries: 0, staleIndexRows: 0 };

/** The device's index rows as stored: keys, and the snapshot of the pairing when there is one. */
async function indexEntitiesOf(deviceId: string): Promise<DeviceIndexEntity[]> {
  const client = await services.tables.table(TableDeviceStore.expiryIndexName);
  const found: DeviceIndexEntity[] = [];
  for await (const entity of client.listEntities<DeviceIndexEntity>({ queryOptions: { filter: `RowKey eq '${deviceId}'` } })) {
    const row: DeviceIndexEntity = { partitionKey: entity.partitionKey ?? '', rowKey: entity.rowKey ?? '' };
    if (entity.pairingEtag !== undefined) row.pairingEtag = entity.pairingEtag;
    if (entity.status !== undefined) row.status = entity.status;
    if (entity.expiresAt !== undefined) row.expiresAt = entity.expiresAt;
    found.push(row);
  }
  return found;
}

/** Writes index rows back as they were: what a crash between a pairing write and its index steps leaves. */
async function putBack(...entities: DeviceIndexEntity[]): Promise<void> {
  const index = await services.tables.table(TableDeviceStore.expiryIndexName);
  for (const entity of entities) await index.upsertEntity(entity, 'Replace');
}

async function change(deviceId: string, update: (record: DeviceRecord) => DeviceRecord): Promise<void> {
  const current = await store.get(deviceId);
  if (!current) throw new Error(`set-up: no pairing ${deviceId}`);
  await store.replace(update(current.value), current);
}

const renewal = (record: DeviceRecord): DeviceRecord => ({ ...record, expiresAt: t0 + 90 * day });

/** A TableDeviceStore on the test's tables, with `method` of table `table`'s client replaced. */
function storeWith<K extends 'createEntity' | 'upsertEntity'>(table: string, method: K, replacement: (client: TableClient) => TableClient[K]): TableDeviceStore {
  class Intercepted extends TableService {
    override async table(name: string): Promise<TableClient> {
      const client = await super.table(name);
      if (name !== table) return client;
      return new Proxy(client, {
        get: (target, property, receiver) => (property === method ? replacement(target) : (Reflect.get(target, property, receiver) as unknown)),
      });
    }
  }
  return new TableDeviceStore(new Intercepted(services.config.storageConnection, services.config.tablePrefix));
}

describe('TableDeviceStore: the index row carries the ETag of the pairing write it follows', () => {
  it('after an insert, a change within the hour and a move to a later hour, the only row is at the pairing\'s hour with its current ETag, status and expiry', async () => {
    const record = await stored('pending', t0 + hour);
    const inserted = await store.get(record.deviceId);
    expect(await indexEntitiesOf(record.deviceId)).toEqual([
      { partitionKey: expiryBucket(t0 + hour), rowKey: record.deviceId, pairingEtag: inserted!.etag, status: 'pending', expiresAt: isoTime(t0 + hour) },
    ]);

    await change(record.deviceId, (value) => ({ ...value, status: 'revoked', revokedAt: t0 }));
    const revoked = await store.get(record.deviceId);
    expect(revoked!.etag).not.toBe(inserted!.etag);
    expect(await indexEntitiesOf(record.deviceId)).toEqual([
      { partitionKey: expiryBucket(t0 + hour), rowKey: record.deviceId, pairingEtag: revoked!.etag, status: 'revoked', expiresAt: isoTime(t0 + hour) },
    ]);

    await change(record.deviceId, renewal);
    const renewed = await store.get(record.deviceId);
    expect(await indexEntitiesOf(record.deviceId)).toEqual([
      { partitionKey: expiryBucket(t0 + 90 * day), rowKey: record.deviceId, pairingEtag: renewed!.etag, status: 'revoked', expiresAt: isoTime(t0 + 90 * day) },
    ]);
  });

  it('a store that stops answering after the pairing write still reports the write done; its bare index row makes the purge read the pairing', async () => {
    // Every index write that would record an ETag fails, as when the store goes down right after the pairing write.
    const failing = storeWith(TableDeviceStore.expiryIndexName, 'upsertEntity', (index) => (entity, mode) =>
      'pairingEtag' in entity ? Promise.reject(new RestError('the store went away', { statusCode: 503 })) : index.upsertEntity(entity, mode),
    );
    const record = pairing('active', t0 + hour);
    await failing.insert(record);
    expect((await store.get(record.deviceId))?.value).toEqual(record);
    expect(await indexEntitiesOf(record.deviceId)).toEqual([{ partitionKey: expiryBucket(t0 + hour), rowKey: record.deviceId }]);

    services.clock.seconds = t0 + hour + deviceRetention + hour;
    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, devices: 1 });
    expect(summary.read.devices).toBe(1);
    expect(await store.get(record.deviceId)).toBeUndefined();
    expect(await indexRowsOf(record.deviceId)).toEqual([]);
  });

  it('an index row that a purge dropped between its first write and the pairing write comes back, with the ETag', async () => {
    const record = pairing('active', t0 + hour);
    // What a purge run does if it lists the bare row before the pairing exists: reads nothing, drops the row.
    const racing = storeWith(TableDeviceStore.tableName, 'createEntity', (devices) => async (entity, options) => {
      const index = await services.tables.table(TableDeviceStore.expiryIndexName);
      await index.deleteEntity(expiryBucket(record.expiresAt), record.deviceId);
      return devices.createEntity(entity, options);
    });
    await racing.insert(record);
    const stored = await store.get(record.deviceId);
    expect(await indexEntitiesOf(record.deviceId)).toEqual([
      { partitionKey: expiryBucket(t0 + hour), rowKey: record.deviceId, pairingEtag: stored!.etag, status: 'active', expiresAt: isoTime(t0 + hour) },
    ]);
  });
});

describe('purge: device pairings', () => {
  it('a renewed device survives a run past its first expiry; an unrenewed one and its index row are gone, with no pairing read; a second run removes nothing', async () => {
    const renewed = await stored('active', t0 + hour);
    const lapsed = await stored('active', t0 + hour);
    await change(renewed.deviceId, renewal);
    // The renewal deleted the row of its old hour itself.
    expect(await indexRowsOf(renewed.deviceId)).toEqual([{ partitionKey: expiryBucket(t0 + 90 * day), rowKey: renewed.deviceId }]);

    services.clock.seconds = t0 + hour + deviceRetention + hour;
    const first = await purge();

    expect(first.removed).toEqual({ ...nothingRemoved, devices: 1 });
    expect(first.complete).toBe(true);
    expect(first.read.devices).toBe(0);
    expect(await store.get(lapsed.deviceId)).toBeUndefined();
    expect(await indexRowsOf(lapsed.deviceId)).toEqual([]);
    expect((await store.get(renewed.deviceId))?.value.expiresAt).toBe(t0 + 90 * day);
    expect(await indexRowsOf(renewed.deviceId)).toEqual([{ partitionKey: expiryBucket(t0 + 90 * day), rowKey: renewed.deviceId }]);

    const second = await purge();
    expect(second.removed).toEqual(nothingRemoved);
    expect(second.entitiesDeleted).toBe(0);
    expect(second.read).toMatchObject({ indexRows: 0, devices: 0 });
  });

  it('a renewed device whose old index row survived (a crash before the renewal deleted it) survives too: the row\'s ETag no longer matches, the pairing is read, the row is stale', async () => {
    const renewed = await stored('active', t0 + hour);
    const lapsed = await stored('active', t0 + hour);
    const beforeRenewal = await indexEntitiesOf(renewed.deviceId);
    await change(renewed.deviceId, renewal);
    await putBack(...beforeRenewal);
    expect(await indexRowsOf(renewed.deviceId)).toHaveLength(2);

    services.clock.seconds = t0 + hour + deviceRetention + hour;
    const first = await purge();

    expect(first.removed).toEqual({ ...nothingRemoved, devices: 1, staleIndexRows: 1 });
    // Only the stale row's pairing was read; the lapsed one was deleted on its row's word.
    expect(first.read.devices).toBe(1);
    expect(first.changedMeanwhile).toBe(0);
    expect(await store.get(lapsed.deviceId)).toBeUndefined();
    expect((await store.get(renewed.deviceId))?.value.expiresAt).toBe(t0 + 90 * day);
    expect(await indexRowsOf(renewed.deviceId)).toEqual([{ partitionKey: expiryBucket(t0 + 90 * day), rowKey: renewed.deviceId }]);

    const second = await purge();
    expect(second.removed).toEqual(nothingRemoved);
    expect(second.entitiesDeleted).toBe(0);
  });

  it('keeps an active or revoked pairing until DEVICE_RETENTION_DAYS after it lapsed', async () => {
    const active = await stored('active', t0 + hour);
    const revoked = await stored('revoked', t0 + hour);

    services.clock.seconds = t0 + hour + deviceRetention - hour;
    expect((await purge()).removed).toEqual(nothingRemoved);
    expect(await store.get(active.deviceId)).toBeDefined();
    expect(await store.get(revoked.deviceId)).toBeDefined();

    services.clock.seconds = t0 + hour + deviceRetention + hour;
    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, devices: 2 });
    expect(summary.read.devices).toBe(0);
    expect(await store.get(active.deviceId)).toBeUndefined();
    expect(await store.get(revoked.deviceId)).toBeUndefined();
  });

  it('purges a pending device at its abandonment time (registeredAt + PENDING_APPROVAL_DAYS), while lapsed active ones wait for their retention', async () => {
    const abandonedAt = t0 + 30 * day;
    const pending = await stored('pending', abandonedAt);
    const active = await stored('active', abandonedAt);

    services.clock.seconds = abandonedAt - hour;
    expect((await purge()).removed).toEqual(nothingRemoved);
    expect(await store.get(pending.deviceId)).toBeDefined();

    services.clock.seconds = abandonedAt + hour;
    const atAbandonment = await purge();
    expect(atAbandonment.removed).toEqual({ ...nothingRemoved, pendingApprovals: 1 });
    expect(atAbandonment.read.devices).toBe(0);
    expect(await store.get(pending.deviceId)).toBeUndefined();
    expect(await indexRowsOf(pending.deviceId)).toEqual([]);
    expect(await store.get(active.deviceId)).toBeDefined();

    // The hours already checked for pending devices are not read again every hour.
    services.clock.seconds = abandonedAt + 2 * hour;
    const next = await purge();
    expect(next.read.indexRows).toBe(0);
    expect(next.read.devices).toBe(0);

    services.clock.seconds = abandonedAt + deviceRetention + hour;
    expect((await purge()).removed).toEqual({ ...nothingRemoved, devices: 1 });
    expect(await store.get(active.deviceId)).toBeUndefined();
  });

  it('drops index rows left by a run or a write that died halfway (pairing already gone, or never stored)', async () => {
    const deleted = await stored('active', t0 + hour);
    const devices = await services.tables.table(TableDeviceStore.tableName);
    await devices.deleteEntity(deleted.deviceId, 'pairing');
    const index = await services.tables.table(TableDeviceStore.expiryIndexName);
    const neverStored = randomUUID();
    await index.upsertEntity({ partitionKey: expiryBucket(t0 + hour), rowKey: neverStored });

    services.clock.seconds = t0 + hour + deviceRetention + hour;
    const summary = await purge();
    // The gone pairing's row carries an ETag: its delete answers 404 (already purged, so
    // not counted again), and the find row it names goes. The bare row makes the purge read,
    // find nothing, and call it stale.
    expect(summary.removed).toEqual({ ...nothingRemoved, staleIndexRows: 1 });
    expect(summary.read.devices).toBe(0);
    expect(summary.entitiesDeleted).toBe(3);
    expect(await rows(TableDeviceStore.findIndexName)).toEqual([]);
    expect(await rows(TableDeviceStore.expiryIndexName)).toEqual([]);
  });

  it('a lapsed pairing whose index row has no ETag (written by older code) is read, then purged', async () => {
    const lapsed = await stored('active', t0 + hour);
    await putBack({ partitionKey: expiryBucket(t0 + hour), rowKey: lapsed.deviceId });

    services.clock.seconds = t0 + hour + deviceRetention + hour;
    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, devices: 1 });
    expect(summary.read.devices).toBe(1);
    expect(await store.get(lapsed.deviceId)).toBeUndefined();
    expect(await indexRowsOf(lapsed.deviceId)).toEqual([]);
  });

  it('a pairing changed within its hour after its index row was written (revoked; approved) is judged by what it is now, not by the row', async () => {
    const abandonedAt = t0 + 30 * day;
    const approved = await stored('pending', abandonedAt);
    const revoked = await stored('active', t0 + hour);
    const rowsBefore = [...(await indexEntitiesOf(approved.deviceId)), ...(await indexEntitiesOf(revoked.deviceId))];
    // Approval at t0 keeps the expiry (now + PENDING_APPROVAL_DAYS), so its hour does not move.
    await services.deviceAdmin.approve(approved.deviceId);
    await change(revoked.deviceId, (value) => ({ ...value, status: 'revoked', revokedAt: t0 }));
    await putBack(...rowsBefore);

    // The approved device's row still says "pending": if the row were trusted, it would go now.
    services.clock.seconds = abandonedAt + hour;
    const atAbandonment = await purge();
    expect((await store.get(approved.deviceId))?.value.status).toBe('active');
    expect(await indexRowsOf(approved.deviceId)).toEqual([{ partitionKey: expiryBucket(abandonedAt), rowKey: approved.deviceId }]);
    // The revoked one, long past its retention, goes all the same: under the ETag of a fresh read.
    expect(await store.get(revoked.deviceId)).toBeUndefined();
    expect(atAbandonment.removed).toEqual({ ...nothingRemoved, devices: 1 });
    expect(atAbandonment.read.devices).toBe(2);
    expect(atAbandonment.changedMeanwhile).toBe(0);
  });

  it('approvals and revocations made through the service keep their rows exact: the purge reads no pairing', async () => {
    const abandonedAt = t0 + 30 * day;
    const approved = await stored('pending', abandonedAt);
    const abandoned = await stored('pending', abandonedAt);
    const revoked = await stored('active', t0 + hour);
    await services.deviceAdmin.approve(approved.deviceId);
    await services.deviceAdmin.revoke(revoked.deviceId);

    services.clock.seconds = abandonedAt + hour;
    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, devices: 1, pendingApprovals: 1 });
    expect(summary.read.devices).toBe(0);
    expect(await store.get(abandoned.deviceId)).toBeUndefined();
    expect(await store.get(revoked.deviceId)).toBeUndefined();
    expect((await store.get(approved.deviceId))?.value.status).toBe('active');
  });

  it('a renewal that lands between the purge listing an index row and deleting the pairing wins (the delete is conditional on the row\'s ETag)', async () => {
    const racing = await stored('active', t0 + hour);
    const [listed] = await indexEntitiesOf(racing.deviceId);
    await change(racing.deviceId, renewal);
    const counts: PassCounts = { ...nothingRemoved, changedMeanwhile: 0 };
    const meter = new PurgeMeter();
    const check = deviceCheck(await services.tables.table(TableDeviceStore.tableName), await services.tables.table(TableDeviceStore.findIndexName), meter, counts, () => true);

    expect(await check({ partitionKey: listed!.partitionKey, rowKey: listed!.rowKey, values: listed! })).toBe('stale');
    expect(meter.read.devices).toBe(1);
    expect(counts.devices).toBe(0);
    expect((await store.get(racing.deviceId))?.value.expiresAt).toBe(t0 + 90 * day);
  });

  it('a renewal that lands between the purge reading a pairing and deleting it wins (the delete is conditional on the ETag read)', async () => {
    const racing = await stored('active', t0 + hour);
    const devices = await services.tables.table(TableDeviceStore.tableName);
    // The renewal happens right after the purge's read returns.
    const raced = new Proxy(devices, {
      get(target, property, receiver) {
        if (property !== 'getEntity') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<TableClient['getEntity']>) => {
          const read = await target.getEntity(...args);
          await change(racing.deviceId, renewal);
          return read;
        };
      },
    });
    const counts: PassCounts = { ...nothingRemoved, changedMeanwhile: 0 };
    const check = deviceCheck(raced, await services.tables.table(TableDeviceStore.findIndexName), new PurgeMeter(), counts, () => true);

    // A bare row: the purge reads the pairing first.
    expect(await check({ partitionKey: expiryBucket(t0 + hour), rowKey: racing.deviceId, values: {} })).toBe('keep');
    expect(counts.changedMeanwhile).toBe(1);
    expect((await store.get(racing.deviceId))?.value.expiresAt).toBe(t0 + 90 * day);
  });
});

describe('purge: cost follows what expired, not what is stored', () => {
  /** `live` pairings that have not lapsed (some in the current hour) and 6 lapsed past retention. */
  async function scenario(live: number): Promise<PurgeSummary> {
    services = await installTestServices();
    services.clock.seconds = t0;
    store = new TableDeviceStore(services.tables);
    const lapsedAt = [1, 1, 2, 5, 5, 5].map((hours) => t0 - deviceRetention - hours * hour);
    const expiries = [...lapsedAt, ...Array.from({ length: live }, (_, i) => (i % 4 === 0 ? t0 + 60 : t0 + (i + 1) * hour))];
    // Stored 16 at a time: set-up, not what is measured, and a loaded machine must not time it out.
    for (let start = 0; start < expiries.length; start += 16) {
      await Promise.all(expiries.slice(start, start + 16).map((expiresAt) => stored('active', expiresAt)));
    }
    return purge();
  }

  it('reads exactly the lapsed entries - no index partition at or after the cut-off - and makes the same requests whatever the live count', async () => {
    const few = await scenario(4);
    const many = await scenario(80);
    for (const summary of [few, many]) {
      expect(summary.removed.devices).toBe(6);
      expect(summary.read.indexRows).toBe(6);
      // Every row carries its pairing's ETag: nothing is read but the index.
      expect(summary.read.devices).toBe(0);
      expect(summary.readBefore.devices).toBe(expiryBucket(t0 - deviceRetention - 300));
    }
    expect(many.requests).toBe(few.requests);
    expect(many.entitiesRead).toBe(few.entitiesRead);
    // Each lapsed device: its pairing, its expiry row and its find row.
    expect(many.entitiesDeleted).toBe(18);
    const liveRows = await rows(TableDeviceStore.expiryIndexName);
    expect(liveRows).toHaveLength(80);
    expect(liveRows.every((row) => row.partitionKey >= expiryBucket(t0))).toBe(true);
  });
});

describe('purge: bulk tokens', () => {
  async function addUses(id: string, count: number): Promise<void> {
    const client = await services.tables.table(TableBulkTokenStore.tableName);
    const actions: TransactionAction[] = Array.from({ length: count }, () => {
      const deviceId = randomUUID();
      return ['create', { partitionKey: 'bulk-token', rowKey: `use:${id}:${deviceId}`, deviceId, usedAt: isoTime(t0) }];
    });
    for (let i = 0; i < actions.length; i += 100) await client.submitTransaction(actions.slice(i, i + 100));
  }

  it('removes an expired record and all its use rows only after BULK_TOKEN_RETENTION_DAYS', async () => {
    const expiring = await services.bulkTokens.create({ lifetimeMinutes: 60 });
    const longer = await services.bulkTokens.create({ lifetimeMinutes: 10_080 });
    await services.bulkTokens.admitDevice(expiring.id, randomUUID());
    await addUses(expiring.id, 130);
    await services.bulkTokens.admitDevice(longer.id, randomUUID());
    const usesOf = async (id: string) =>
      (await rows(TableBulkTokenStore.tableName, `PartitionKey eq 'bulk-token' and RowKey ge 'use:${id}:' and RowKey lt 'use:${id};'`)).length;

    services.clock.seconds = t0 + hour + bulkRetention - hour;
    expect((await purge()).removed).toEqual(nothingRemoved);
    expect((await services.bulkTokens.list()).map((token) => token.id).sort()).toEqual([expiring.id, longer.id].sort());

    services.clock.seconds = t0 + hour + bulkRetention + hour;
    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, bulkTokens: 1, bulkTokenUses: 131 });
    expect((await services.bulkTokens.list()).map((token) => token.id)).toEqual([longer.id]);
    expect(await usesOf(expiring.id)).toBe(0);
    expect(await usesOf(longer.id)).toBe(1);
    expect((await rows(TableBulkTokenStore.expiryIndexName)).map((row) => row.rowKey)).toEqual([longer.id]);
  });
});

describe('purge: replay cache', () => {
  it.each([1, 16])('drops the partitions of past hours whole across every shard (%i) and keeps the current hour', async (shards) => {
    const cache = new TableReplayCache(services.tables, { shards, clock: services.clock });
    await Promise.all(Array.from({ length: 150 }, (_, i) => cache.claim(`old-proof-${shards}-${i}-padding`, t0 - 3 * hour)));
    await cache.claim(`last-hour-proof-padding-${shards}`, t0 - hour);
    await cache.claim(`earlier-this-hour-proof-${shards}`, t0 - 600);
    await cache.claim(`current-proof-padding-${shards}`, t0 + 300);
    const before = new Set((await rows(TableReplayCache.tableName)).map((row) => row.partitionKey));
    expect(before.size).toBeGreaterThanOrEqual(shards === 1 ? 3 : 16);

    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, replayEntries: 151 });
    expect((await rows(TableReplayCache.tableName)).map((row) => row.partitionKey.slice(0, 13))).toEqual([expiryBucket(t0), expiryBucket(t0)]);
    // The current hour's rows stay; the next run of this test starts from an empty table.
    const table = await services.tables.table(TableReplayCache.tableName);
    for (const row of await rows(TableReplayCache.tableName)) await table.deleteEntity(row.partitionKey, row.rowKey);
  });
});

describe('purge: revocations', () => {
  const revocation = (deviceId: string, revokedAt: number, certificateNotAfter: number | undefined) => ({
    deviceId,
    thumbprint: `thumbprint-of-${deviceId}`,
    revokedAt,
    certificateNotAfter,
  });

  it('drops a revocation of an expired certificate 91 days after it was made, when every token the device could hold has expired, and keeps younger ones', async () => {
    const list = new TableRevocationList(services.tables);
    const [old, young] = ['11111111-2222-8333-8444-555555555555', '66666666-7777-8888-8999-aaaaaaaaaaaa'];
    // Certificates that expired long ago: the token lifetime is what keeps these.
    await list.add(revocation(old, t0 - 91 * day - 1, t0 - 200 * day));
    await list.add(revocation(young, t0 - 90 * day, t0 - 200 * day));
    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, revocations: 1 });
    expect(describePurge(summary)).toContain('1 expired revocations');
    expect(await new TableRevocationList(services.tables).isRevoked(old)).toBe(false);
    expect(await new TableRevocationList(services.tables).isRevoked(young)).toBe(true);
    expect((await purge()).removed).toEqual(nothingRemoved);
  });

  it("keeps a revocation until its certificate's notAfter + 300 s when that is later, and for good when the notAfter is unknown", async () => {
    const list = new TableRevocationList(services.tables);
    const [lapsed, live, unknown] = ['21111111-2222-8333-8444-555555555555', '31111111-2222-8333-8444-555555555555', '41111111-2222-8333-8444-555555555555'];
    // Revoked a year ago: the token lifetime has long passed; only the certificates' validity counts.
    await list.add(revocation(lapsed, t0 - 365 * day, t0 - 301));
    await list.add(revocation(live, t0 - 365 * day, t0 - 299));
    await list.add(revocation(unknown, t0 - 3650 * day, undefined));
    expect((await purge()).removed).toEqual({ ...nothingRemoved, revocations: 1 });
    const fresh = new TableRevocationList(services.tables);
    expect([await fresh.isRevoked(lapsed), await fresh.isRevoked(live), await fresh.isRevoked(unknown)]).toEqual([false, true, true]);
  });
});

describe('purge: audit trail', () => {
  const quiet = { info: () => undefined, error: () => undefined };

  /** `count` entries at `at` (service clock seconds), as a registration would record them. */
  async function auditAt(at: number, count = 1): Promise<void> {
    const now = services.clock.seconds;
    services.clock.seconds = at;
    const call = { actor: { kind: 'device' as const, name: 'd' }, callerAddress: undefined, invocationId: 'purge-test', log: quiet };
    for (let i = 0; i < count; i++) await services.audit.registration(call, { outcome: 'succeeded', status: 201, details: { registration: 'internal' } });
    services.clock.seconds = now;
  }

  const partitions = async () => [...new Set((await rows(TableAuditStore.tableName)).map((row) => row.partitionKey))].sort();

  it('drops whole UTC days older than AUDIT_RETENTION_DAYS (365), keeping the cut-off day itself, and meters it', async () => {
    const today = Math.floor(t0 / day) * day;
    await auditAt(today - 400 * day, 120);
    await auditAt(today - 365 * day - 1);
    await auditAt(today - 365 * day);
    await auditAt(t0 - day);

    const summary = await purge();
    expect(summary.removed).toEqual({ ...nothingRemoved, auditEntries: 121 });
    expect(summary.read.auditEntries).toBe(121);
    expect(summary.readBefore.audit).toBe(auditPartition((today - 365 * day) * 1000));
    expect(describePurge(summary)).toContain('121 audit entries');
    expect(await partitions()).toEqual([auditPartition((today - 365 * day) * 1000), auditPartition((t0 - day) * 1000)]);
    expect((await purge()).removed).toEqual(nothingRemoved);

    services.clock.seconds = t0 + day;
    expect((await purge()).removed).toEqual({ ...nothingRemoved, auditEntries: 1 });
    expect(await partitions()).toEqual([auditPartition((t0 - day) * 1000)]);
  });

  it('follows AUDIT_RETENTION_DAYS', async () => {
    services = await installTestServices({ env: { AUDIT_RETENTION_DAYS: '30' } });
    services.clock.seconds = t0;
    await auditAt(t0 - 32 * day);
    await auditAt(t0 - 29 * day);
    expect((await purge()).removed).toEqual({ ...nothingRemoved, auditEntries: 1 });
    expect(await partitions()).toEqual([auditPartition((t0 - 29 * day) * 1000)]);
  });
});

describe('purge: time budget', () => {
  it('a run whose budget is spent stops between batches and says so; the next run finishes', async () => {
    // Stored 16 at a time: set-up, not what is measured, and a loaded machine must not time it out.
    for (let start = 0; start < 160; start += 16) {
      await Promise.all(Array.from({ length: 16 }, (_, i) => stored('active', t0 - deviceRetention - (1 + ((start + i) % 3)) * hour)));
    }

    const first = await purge({ timeBudgetSeconds: 0 });
    expect(first.complete).toBe(false);
    expect(first.removed.devices).toBe(100);
    expect(describePurge(first)).toMatch(/stopped early: the time budget of 0 s was spent, the next run continues/);
    // Stopped cleanly: every pairing deleted so far has lost its index row too.
    expect(await rows(TableDeviceStore.expiryIndexName)).toHaveLength(60);

    const second = await purge();
    expect(second.complete).toBe(true);
    expect(second.removed).toEqual({ ...nothingRemoved, devices: 60 });
    expect(describePurge(second)).toMatch(/purge removed 60 device pairings.*complete$/);
    expect((await purge()).removed).toEqual(nothingRemoved);
  });
});

describe('purge: storage failures', () => {
  it('a store that does not answer fails the run as unavailable (nothing half-done is lost: the next run starts over)', async () => {
    const unreachable = azuriteConnectionString('127.0.0.1', 9); // the discard port: nothing listens
    const purge = new PurgeService({
      tables: new TableService(unreachable, uniqueTablePrefix()),
      clock: services.clock,
      storageConnection: unreachable,
      tablePrefix: uniqueTablePrefix(),
      timeBudgetSeconds: 60,
      deviceRetentionDays: 7,
      bulkTokenRetentionDays: 30,
    });
    await expect(purge.run()).rejects.toMatchObject({ code: 'unavailable' });
  });
});

describe('the purgeExpired timer function', () => {
  it('logs what it removed per kind and how long it took; a past-due run says so and runs anyway', async () => {
    await stored('active', t0 - deviceRetention - 2 * hour);
    const logs: string[] = [];
    const context = new InvocationContext({
      invocationId: 'purge-test',
      functionName: 'purgeExpired',
      logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
    });
    const schedule = { last: isoTime(t0 - 2 * hour), next: isoTime(t0), lastUpdated: isoTime(t0 - 2 * hour) };
    await purgeExpired({ isPastDue: true, schedule: { adjustForDST: true }, scheduleStatus: schedule }, context);
    expect(logs[0]).toMatch(/^warning: purge timer is past due/);
    expect(logs[1]).toMatch(
      /^information: purge removed 1 device pairings, 0 abandoned pending approvals, 0 bulk-token records with 0 use rows, 0 replay-cache entries, 0 expired revocations, 0 audit entries, 0 stale index rows in \d+\.\d\d s \(\d+ entities read, 3 deleted, \d+ Table requests\); complete$/,
    );
  });
});

describe('POST /admin/functions/purgeExpired on the local host', () => {
  it('runs the timer function at once and answers 202', async () => {
    const connection = process.env.TEST_STORAGE_CONNECTION ?? '';
    const prefix = uniqueTablePrefix();
    const now = Math.floor(Date.now() / 1000);
    const lapsed = pairing('active', now - deviceRetention - day);
    await new TableDeviceStore(new TableService(connection, prefix)).insert(lapsed);

    const host = await startLocalHost({ STORAGE_CONNECTION: connection, TABLE_PREFIX: prefix, LOG_LEVEL: 'information' });
    try {
      const response = await fetch(`${host.url}/admin/functions/purgeExpired`, { method: 'POST' });
      expect(response.status).toBe(202);
      expect(host.output()).toMatch(/\[purgeExpired\] information: purge removed 1 device pairings/);
    } finally {
      await host.stop();
    }
    expect(await new TableDeviceStore(new TableService(connection, prefix)).get(lapsed.deviceId)).toBeUndefined();
  });
});

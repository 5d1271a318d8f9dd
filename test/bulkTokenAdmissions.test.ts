import { randomUUID } from 'node:crypto';
import { BulkTokenService } from '../shared/bulkTokens/bulkTokenService.js';
import type { BulkTokenRecord } from '../shared/bulkTokens/bulkTokenStore.js';
import { TableBulkTokenStore } from '../shared/bulkTokens/tableBulkTokenStore.js';
import { ServiceError } from '../shared/errors.js';
import { installTestServices, type TestServices } from './support/services.js';

let services: TestServices;
const claims = { issuer: 'https://cmg.test', audience: 'cmg-test', tenantId: '00000000-0000-0000-0000-000000000000' };

beforeAll(async () => {
  services = await installTestServices();
});

/** A service instance of its own on the same tables (as a second Functions instance would be), counting its use writes. */
function instance(): { service: BulkTokenService; writes: () => number } {
  const store = new TableBulkTokenStore(services.tables);
  let writes = 0;
  const recordUses = store.recordUses.bind(store);
  store.recordUses = (record: BulkTokenRecord, etag: string, deviceIds: readonly string[], usedAt: number) => {
    writes++;
    return recordUses(record, etag, deviceIds, usedAt);
  };
  return { service: new BulkTokenService(store, services.signer, services.clock, claims), writes: () => writes };
}

async function outcome(admission: Promise<void>): Promise<string> {
  try {
    await admission;
    return 'admitted';
  } catch (error) {
    if (error instanceof ServiceError) return error.code;
    throw error;
  }
}

async function usesOf(id: string): Promise<{ uses: number; rows: number }> {
  const client = await services.tables.table(TableBulkTokenStore.tableName);
  let rows = 0;
  for await (const _ of client.listEntities({ queryOptions: { filter: `PartitionKey eq 'bulk-token' and RowKey ge 'use:${id}:' and RowKey lt 'use:${id};'` } })) rows++;
  const record = await client.getEntity<{ uses: number }>('bulk-token', `token:${id}`);
  return { uses: record.uses, rows };
}

const count = (outcomes: string[], what: string) => outcomes.filter((value) => value === what).length;

describe('bulk-token admissions (against Azurite)', () => {
  it('60 devices at once on one token: all admitted, uses = use rows = 60, in at most half as many writes', async () => {
    const { service, writes } = instance();
    const { id } = await service.create({});
    const outcomes = await Promise.all(Array.from({ length: 60 }, () => outcome(service.admitDevice(id, randomUUID()))));
    expect(count(outcomes, 'admitted')).toBe(60);
    expect(await usesOf(id)).toEqual({ uses: 60, rows: 60 });
    // One write per device, plus retries after every ETag collision, before; here 16. Each
    // device's own use check comes first, so devices join the queue over a few round trips.
    expect(writes()).toBeLessThanOrEqual(30);
  });

  it('maxUses 5 with 30 devices at once: exactly 5 admitted, 25 token_used_up', async () => {
    const { service } = instance();
    const { id } = await service.create({ maxUses: 5 });
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => outcome(service.admitDevice(id, randomUUID()))));
    expect(count(outcomes, 'admitted')).toBe(5);
    expect(count(outcomes, 'token_used_up')).toBe(25);
    expect(await usesOf(id)).toEqual({ uses: 5, rows: 5 });
  });

  it('one device asking twice at once takes one use; asking again later takes none', async () => {
    const { service } = instance();
    const { id } = await service.create({ maxUses: 2 });
    const device = randomUUID();
    const first = service.admitDevice(id, randomUUID());
    expect(await Promise.all([outcome(service.admitDevice(id, device)), outcome(service.admitDevice(id, device))])).toEqual(['admitted', 'admitted']);
    await first;
    expect(await outcome(service.admitDevice(id, device))).toBe('admitted');
    expect(await usesOf(id)).toEqual({ uses: 2, rows: 2 });
  });

  it('three instances racing on one token with maxUses 20: the ETag decides, exactly 20 admitted in all, uses = rows = 20', async () => {
    const instances = [instance(), instance(), instance()];
    const { id } = await instances[0]!.service.create({ maxUses: 20 });
    const outcomes = await Promise.all(
      Array.from({ length: 45 }, (_, i) => outcome(instances[i % 3]!.service.admitDevice(id, randomUUID()))),
    );
    expect(count(outcomes, 'admitted')).toBe(20);
    expect(count(outcomes, 'token_used_up')).toBe(25);
    expect(await usesOf(id)).toEqual({ uses: 20, rows: 20 });
  });

  it("a device whose use another instance recorded meanwhile is admitted without a second use, and the others of its batch still go in", async () => {
    const a = instance();
    const b = instance();
    const { id } = await a.service.create({});
    const shared = randomUUID();
    // Instance a is busy with one device; the shared device and two more queue behind it.
    const busy = a.service.admitDevice(id, randomUUID());
    const queued = [shared, randomUUID(), randomUUID()].map((device) => outcome(a.service.admitDevice(id, device)));
    // Meanwhile instance b records the shared device's use (its repeat arrived there).
    await b.service.admitDevice(id, shared);
    await busy;
    expect(await Promise.all(queued)).toEqual(['admitted', 'admitted', 'admitted']);
    expect(await usesOf(id)).toEqual({ uses: 4, rows: 4 });
  });

  it('a blocked token refuses every device of a batch', async () => {
    const { service } = instance();
    const { id } = await service.create({});
    await service.setBlocked(id, true);
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => outcome(service.admitDevice(id, randomUUID()))));
    expect(outcomes).toEqual(Array(5).fill('token_blocked'));
    expect(await usesOf(id)).toEqual({ uses: 0, rows: 0 });
  });
});

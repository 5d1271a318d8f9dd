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

/**
 * A service instance of its own on the same tables (as a second Functions instance would be),
 * counting its use writes. `holdFirstWrite` keeps the first write waiting until it resolves, so
 * a test decides by state, not by timing, which devices queue behind it; `checked()` resolves
 * once `n` devices have passed their own use check and joined the queue.
 */
function instance(options: { holdFirstWrite?: Promise<void> } = {}): {
  service: BulkTokenService;
  writes: () => number;
  checked: (n: number) => Promise<void>;
} {
  const store = new TableBulkTokenStore(services.tables);
  let writes = 0;
  const recordUses = store.recordUses.bind(store);
  store.recordUses = async (record: BulkTokenRecord, etag: string, deviceIds: readonly string[], usedAt: number) => {
    writes++;
    if (writes === 1 && options.holdFirstWrite) await options.holdFirstWrite;
    return recordUses(record, etag, deviceIds, usedAt);
  };
  let checks = 0;
  const waiters: Array<{ n: number; done: () => void }> = [];
  const hasUse = store.hasUse.bind(store);
  store.hasUse = async (id: string, deviceId: string) => {
    const used = await hasUse(id, deviceId);
    checks++;
    // setImmediate: after the caller's continuation (its microtask) has put it in the queue.
    for (const waiter of waiters.filter((w) => checks >= w.n)) setImmediate(waiter.done);
    return used;
  };
  const checked = (n: number) => new Promise<void>((done) => (checks >= n ? setImmediate(done) : waiters.push({ n, done })));
  return { service: new BulkTokenService(store, services.signer, services.clock, claims), writes: () => writes, checked };
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
  it('60 devices at once on one token: all admitted, uses = use rows = 60, in two writes', async () => {
    let release: () => void = () => undefined;
    const { service, writes, checked } = instance({ holdFirstWrite: new Promise<void>((done) => (release = done)) });
    const { id } = await service.create({});
    const admissions = Array.from({ length: 60 }, () => outcome(service.admitDevice(id, randomUUID())));
    // The first device's write is under way (held); the other 59 queue behind it meanwhile
    // and go in together: one write each would be 60, and retries after ETag collisions more.
    await checked(60);
    release();
    const outcomes = await Promise.all(admissions);
    expect(count(outcomes, 'admitted')).toBe(60);
    expect(await usesOf(id)).toEqual({ uses: 60, rows: 60 });
    expect(writes()).toBeLessThanOrEqual(30);
    expect(writes()).toBe(2);
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
    let release: () => void = () => undefined;
    const a = instance({ holdFirstWrite: new Promise<void>((done) => (release = done)) });
    const b = instance();
    const { id } = await a.service.create({});
    const shared = randomUUID();
    // Instance a is busy with one device (its write held); the shared device and two more
    // queue behind it, each having found no use of its own yet.
    const busy = a.service.admitDevice(id, randomUUID());
    const queued = [shared, randomUUID(), randomUUID()].map((device) => outcome(a.service.admitDevice(id, device)));
    await a.checked(4);
    // Meanwhile instance b records the shared device's use (its repeat arrived there).
    await b.service.admitDevice(id, shared);
    release();
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

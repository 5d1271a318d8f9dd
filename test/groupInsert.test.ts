import { RestError, type TableClient } from '@azure/data-tables';
import { GroupInserter } from '../shared/storage/groupInsert.js';
import { TableService } from '../shared/storage/tableService.js';
import { uniqueTablePrefix } from './support/services.js';

/** A real table client (the test Azurite) whose write calls are counted. */
async function countedTable(): Promise<{ client: TableClient; calls: { single: number; transactions: number; sizes: number[] } }> {
  const tables = new TableService(process.env.TEST_STORAGE_CONNECTION ?? '', uniqueTablePrefix());
  const client = await tables.table('replay');
  const calls = { single: 0, transactions: 0, sizes: [] as number[] };
  const createEntity = client.createEntity.bind(client);
  const submitTransaction = client.submitTransaction.bind(client);
  client.createEntity = (entity, options) => {
    calls.single++;
    return createEntity(entity, options);
  };
  client.submitTransaction = (actions, options) => {
    calls.transactions++;
    calls.sizes.push(actions.length);
    return submitTransaction(actions, options);
  };
  return { client, calls };
}

async function rowKeys(client: TableClient, partition: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entity of client.listEntities({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) keys.push(entity.rowKey ?? '');
  return keys.sort();
}

const keys = (count: number, prefix = 'k') => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

describe('GroupInserter (against Azurite)', () => {
  it('inserts 60 concurrent entities of one partition in far fewer requests, all stored', async () => {
    const { client, calls } = await countedTable();
    const inserter = new GroupInserter(async () => client, 'test table');
    const outcomes = await Promise.all(keys(60).map((rowKey) => inserter.insert({ partitionKey: 'p', rowKey, expiresAt: 1 })));
    expect(outcomes).toEqual(Array(60).fill('inserted'));
    expect(await rowKeys(client, 'p')).toEqual(keys(60));
    // The first goes alone (nothing was in flight); the 59 that queued behind it share one transaction.
    expect(calls.single + calls.transactions).toBeLessThanOrEqual(3);
    expect(Math.max(...calls.sizes)).toBeGreaterThan(1);
  });

  it('answers exists for a key already stored, and still stores the others of its transaction', async () => {
    const { client } = await countedTable();
    await client.createEntity({ partitionKey: 'p', rowKey: 'k0003' });
    const inserter = new GroupInserter(async () => client, 'test table');
    // One in flight first, so the rest form a transaction that contains the stored key.
    const first = inserter.insert({ partitionKey: 'p', rowKey: 'a' });
    const rest = keys(8).map((rowKey) => inserter.insert({ partitionKey: 'p', rowKey }));
    expect(await first).toBe('inserted');
    const outcomes = await Promise.all(rest);
    expect(outcomes.filter((outcome) => outcome === 'exists')).toHaveLength(1);
    expect(outcomes[3]).toBe('exists');
    expect(await rowKeys(client, 'p')).toEqual(['a', ...keys(8)]);
  });

  it('answers exists at once to the second of two concurrent inserts of one key', async () => {
    const { client } = await countedTable();
    const inserter = new GroupInserter(async () => client, 'test table');
    const outcomes = await Promise.all([inserter.insert({ partitionKey: 'p', rowKey: 'same' }), inserter.insert({ partitionKey: 'p', rowKey: 'same' })]);
    expect(outcomes).toEqual(['inserted', 'exists']);
  });

  it('counts a transaction that was applied but answered as lost (and retried) as inserted, not as a replay', async () => {
    const { client } = await countedTable();
    const submit = client.submitTransaction.bind(client);
    // The first attempt reaches the store; its answer is "lost", and the retry meets its own rows.
    let lostOnce = false;
    client.submitTransaction = async (actions, options) => {
      if (!lostOnce) {
        lostOnce = true;
        await submit(actions, options);
      }
      return submit(actions, options);
    };
    const inserter = new GroupInserter(async () => client, 'test table');
    const first = inserter.insert({ partitionKey: 'p', rowKey: 'first' });
    const batch = keys(5).map((rowKey) => inserter.insert({ partitionKey: 'p', rowKey }));
    expect(await first).toBe('inserted');
    expect(await Promise.all(batch)).toEqual(Array(5).fill('inserted'));
    expect(lostOnce).toBe(true);
  });

  it('fails every insert of a batch the store cannot take, as unavailable, and stores none of it', async () => {
    const { client } = await countedTable();
    const submit = client.submitTransaction.bind(client);
    client.submitTransaction = async () => {
      throw new RestError('service unavailable', { statusCode: 503 });
    };
    const inserter = new GroupInserter(async () => client, 'test table');
    const first = inserter.insert({ partitionKey: 'p', rowKey: 'first' });
    const batch = keys(4).map((rowKey) => inserter.insert({ partitionKey: 'p', rowKey }).catch((error: unknown) => error));
    expect(await first).toBe('inserted');
    for (const outcome of await Promise.all(batch)) expect(outcome).toMatchObject({ code: 'unavailable', status: 503 });
    expect(await rowKeys(client, 'p')).toEqual(['first']);
    // The store is back: the same keys go in.
    client.submitTransaction = submit;
    expect(await Promise.all(keys(4).map((rowKey) => inserter.insert({ partitionKey: 'p', rowKey })))).toEqual(Array(4).fill('inserted'));
  });
});

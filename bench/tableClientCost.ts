/**
 * `node dist/bench/tableClientCost.js`: what one hot-path Table call costs the caller's
 * thread through each client: the SDK as the service configures it, the SDK with the
 * policies the service does not need removed, and the lean node:http client
 * (docs/decisions/0017). Calls go one at a time to the bench's Azurite in a worker thread,
 * so the main thread's CPU (/proc schedstat) is the client's alone; the clients take turns
 * in rounds so that anything else on the machine falls on all of them alike.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TransactionAction } from '@azure/data-tables';
import { LeanTable, leanAuthFor, type LeanAuth } from '../shared/storage/leanTable.js';
import { TableClient } from '@azure/data-tables';
import { createTableClient } from '../shared/storage/tableService.js';
import { startBenchAzurite } from './azuriteWorker.js';
import { table, whole } from './format.js';


interface Calls {
  insert(rowKey: string): Promise<unknown>;
  batch(rowKeys: string[]): Promise<unknown>;
  marker(): Promise<unknown>;
}

const partition = 'p';
const filter = "PartitionKey eq 'epoch-1' and RowKey eq 'epoch'";

function sdkCalls(client: TableClient): Calls {
  return {
    insert: (rowKey) => client.createEntity({ partitionKey: partition, rowKey, expiresAt: 1, writtenBy: 'abcdef0123456789' }),
    batch: (rowKeys) =>
      client.submitTransaction(rowKeys.map((rowKey): TransactionAction => ['create', { partitionKey: partition, rowKey, expiresAt: 1, writtenBy: 'abcdef0123456789' }])),
    marker: () => client.listEntities({ queryOptions: { filter, select: ['RowKey'] } }).byPage({ maxPageSize: 1 }).next(),
  };
}

function leanCalls(client: LeanTable): Calls {
  return {
    insert: (rowKey) => client.createEntity({ partitionKey: partition, rowKey, expiresAt: 1, writtenBy: 'abcdef0123456789' }),
    batch: (rowKeys) =>
      client.submitTransaction(rowKeys.map((rowKey): TransactionAction => ['create', { partitionKey: partition, rowKey, expiresAt: 1, writtenBy: 'abcdef0123456789' }])),
    marker: () => client.queryFirst(filter, ['RowKey']),
  };
}

function threadCpuMicros(): number {
  return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

async function main(): Promise<void> {
  const rounds = 8;
  const perRound = Number(process.argv[2] ?? 150);
  const batchSize = Number(process.argv[3] ?? 16);
  const azurite = await startBenchAzurite();
  try {
    const prefix = `tc${randomBytes(3).toString('hex')}`;
    const variants: Array<{ name: string; calls: Calls }> = [];
    // The SDK's defaults (with the service's retry options), and as createTableClient trims it.
    const sdk = TableClient.fromConnectionString(azurite.connectionString, `${prefix}sdk`, {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 1000 },
    });
    const trimmed = createTableClient(azurite.connectionString, `${prefix}trim`);
    const leanSetup = createTableClient(azurite.connectionString, `${prefix}lean`);
    for (const client of [sdk, trimmed, leanSetup]) {
      await client.createTable();
      await client.upsertEntity({ partitionKey: 'epoch-1', rowKey: 'epoch' });
    }
    const lean = new LeanTable(`${leanSetup.url}/${prefix}lean`, leanAuthFor(azurite.connectionString, () => undefined as never) as LeanAuth);
    variants.push({ name: 'SDK with its default pipeline', calls: sdkCalls(sdk) });
    variants.push({ name: 'SDK as createTableClient trims it', calls: sdkCalls(trimmed) });
    variants.push({ name: 'lean node:http client', calls: leanCalls(lean) });
    const kinds = ['insert', 'batch', 'marker'] as const;
    const totals = new Map<string, { cpu: number; n: number }>();
    let key = 0;
    for (let round = 0; round <= rounds; round++) {
      for (const variant of variants) {
        for (const kind of kinds) {
          const started = threadCpuMicros();
          for (let i = 0; i < perRound; i++) {
            if (kind === 'insert') await variant.calls.insert(`k${key++}`);
            else if (kind === 'batch') await variant.calls.batch(Array.from({ length: batchSize }, () => `k${key++}`));
            else await variant.calls.marker();
          }
          // Round 0 warms the JIT up and is not counted.
          if (round === 0) continue;
          const total = totals.get(`${variant.name}|${kind}`) ?? { cpu: 0, n: 0 };
          total.cpu += threadCpuMicros() - started;
          total.n += perRound;
          totals.set(`${variant.name}|${kind}`, total);
        }
      }
    }
    const cell = (name: string, kind: string) => {
      const total = totals.get(`${name}|${kind}`);
      return total ? whole(total.cpu / total.n) : '–';
    };
    console.log(`\nclient CPU per call, µs (this thread; ${rounds} rounds of ${perRound} calls each, one at a time; transactions of ${batchSize} inserts)\n`);
    console.log(
      table(
        ['client', 'insert (createEntity)', `transaction of ${batchSize}`, 'marker query ($top=1)'],
        variants.map((variant) => [variant.name, ...kinds.map((kind) => cell(variant.name, kind))]),
      ),
    );
  } finally {
    await azurite.close();
  }
}

await main();

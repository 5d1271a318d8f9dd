import { TableClient } from '@azure/data-tables';
import { createTableClient } from '../shared/storage/tableService.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { createBulkToken, deviceRequest, JtiSource, seededDevices, type BenchDevice } from './devices.js';
import { describeErrors, ms, percent, table, whole, type PartReport } from './format.js';
import { processCpuSeconds, startHost, type HostProcess } from './hostProcess.js';
import { runLoad, runOperations, type LoadRequest, type LoadResult, type OperationResult } from './loadGenerator.js';
import type { SeededRandom } from './random.js';

export interface RegistrationOptions {
  /** Devices registered in each of the two runs. */
  registrations: number;
  concurrency: number;
  azurite: BenchAzurite;
  tablePrefix: string;
}

/** Far longer than a run should take; only a guard against a run that never ends. */
const maxRunMs = 600_000;

/**
 * Part (b): POST /api/register with a bulk token, each request a new device with its own key
 * (so every one is a real first registration), against the host child pointed at the bench's
 * Azurite, and the raw Azurite insert rate at the same concurrency against the same Azurite.
 */
export async function registrationBench(options: RegistrationOptions, random: SeededRandom): Promise<PartReport> {
  const { concurrency, registrations } = options;
  const jtis = new JtiSource(random.fork('jti'));
  const keys = random.fork('devices');
  const host = await startHost({ env: { STORAGE_CONNECTION: options.azurite.connectionString, TABLE_PREFIX: options.tablePrefix } });
  const rows: string[][] = [];
  const notes: string[] = [];
  let ok = true;
  try {
    // Device keys and proofs are made before each run and are not part of its time.
    const warmupToken = await createBulkToken(host.origin, host.adminKey, 'bench warm-up');
    const warmupDevices = await seededDevices(keys, 'reg-warmup', 4 * concurrency, 'ec');
    await register(host, queues(warmupDevices, concurrency, () => warmupToken, host, jtis), concurrency);

    const sharedToken = await createBulkToken(host.origin, host.adminKey, 'bench: one token for every device');
    const shared = await register(host, queues(await seededDevices(keys, 'reg-shared', registrations, 'ec'), concurrency, () => sharedToken, host, jtis), concurrency);

    const ownTokens: string[] = [];
    for (let worker = 0; worker < concurrency; worker++) ownTokens.push(await createBulkToken(host.origin, host.adminKey, `bench: connection ${worker}`));
    const perConnection = await register(
      host,
      queues(await seededDevices(keys, 'reg-own', registrations, 'ec'), concurrency, (worker) => ownTokens[worker] as string, host, jtis),
      concurrency,
    );

    const raw = await rawInserts(options, random.fork('raw'));
    for (const [label, run] of [
      ['register, one bulk token shared by all', shared],
      [`register, one bulk token per connection (${concurrency} tokens)`, perConnection],
    ] as const) {
      if (run.errors > 0) {
        ok = false;
        notes.push(`${label}: unexpected answers: ${describeErrors(run.unexpected)}; ${run.samples.join(' | ')}`);
      }
      rows.push([
        label,
        whole(run.completed),
        whole(run.rps),
        ms(run.latency.percentileMs(0.5)),
        ms(run.latency.percentileMs(0.99)),
        run.hostCpuSeconds === undefined ? '–' : ms((run.hostCpuSeconds * 1000) / run.completed),
        String(run.errors),
        percent(run.rps / raw.rps),
      ]);
    }
    if (raw.errors > 0) {
      ok = false;
      notes.push(`raw inserts: ${raw.errors} failed; ${raw.samples.join(' | ')}`);
    }
    rows.push([
      'raw Azurite createEntity (bench process, no host)',
      whole(raw.completed),
      whole(raw.rps),
      ms(raw.latency.percentileMs(0.5)),
      ms(raw.latency.percentileMs(0.99)),
      '–',
      String(raw.errors),
      '100%',
    ]);
    notes.push(
      'a first registration makes 8 Table requests (device read, bulk-token use check, bulk-token read, ' +
        "the use transaction under the token's ETag - one for all the devices of a token admitted together -, expiry-index upsert, device insert, " +
        "expiry-index upsert with the device's ETag, the audit entry), more when instances race for the token's ETag, " +
        'and signs one RS256 device token with the local key',
    );
  } finally {
    await host.stop();
  }
  return {
    title: `(b) POST /api/register (bulk token, a new EC P-256 device per request) at concurrency ${concurrency}, host child on the bench's Azurite (worker thread)`,
    table: table(['run', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'host CPU ms / req', 'errors', 'vs raw insert'], rows),
    notes,
    ok,
  };
}

/** One queue of pre-signed registrations per connection; device i goes to connection i % concurrency. */
function queues(devices: BenchDevice[], concurrency: number, tokenFor: (worker: number) => string, host: HostProcess, jtis: JtiSource): LoadRequest[][] {
  const byWorker: LoadRequest[][] = Array.from({ length: concurrency }, () => []);
  devices.forEach((device, index) => {
    const worker = index % concurrency;
    byWorker[worker]?.push(deviceRequest(host.origin, 'register', device, tokenFor(worker), jtis));
  });
  return byWorker;
}

async function register(host: HostProcess, byWorker: LoadRequest[][], concurrency: number): Promise<LoadResult & { hostCpuSeconds: number | undefined }> {
  const cursors = byWorker.map(() => 0);
  const next = (worker: number) => {
    const request = byWorker[worker]?.[cursors[worker] ?? 0];
    cursors[worker] = (cursors[worker] ?? 0) + 1;
    return request;
  };
  const before = processCpuSeconds(host.child.pid);
  const result = await runLoad({
    origin: host.origin,
    concurrency,
    next,
    durationMs: maxRunMs,
    expectStatus: 201,
  });
  const after = processCpuSeconds(host.child.pid);
  return { ...result, hostCpuSeconds: before === undefined || after === undefined ? undefined : after - before };
}

/** TableClient.createEntity of device-like entities, `registrations` of them, at the same concurrency. */
async function rawInserts(options: RegistrationOptions, random: SeededRandom): Promise<OperationResult> {
  const client: TableClient = createTableClient(options.azurite.connectionString, `${options.tablePrefix}raw`);
  await client.createTable();
  const now = new Date().toISOString();
  const salt = random.bytes(8).toString('hex');
  const thumbprint = random.bytes(32).toString('base64url');
  const entity = (index: number) => ({
    partitionKey: `${salt}-${index}`,
    rowKey: 'pairing',
    thumbprint,
    registration: 'bulk',
    status: 'active',
    registeredAt: now,
    expiresAt: now,
  });
  await runOperations({ concurrency: options.concurrency, count: 4 * options.concurrency, durationMs: maxRunMs, operation: (i) => client.createEntity(entity(-1 - i)) });
  return runOperations({ concurrency: options.concurrency, count: options.registrations, durationMs: maxRunMs, operation: (i) => client.createEntity(entity(i)) });
}

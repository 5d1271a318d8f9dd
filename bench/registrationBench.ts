import type { TableClient } from '@azure/data-tables';
import { createTableClient } from '../shared/storage/tableService.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { CountingTables, perTable, type Counted } from './countingTables.js';
import { athOf, createBulkToken, deviceRequest, fastProof, JtiSource, seededDevices, type BenchDevice } from './devices.js';
import { describeErrors, ms, percent, table, whole, type PartReport } from './format.js';
import { processCpuSeconds, startHost, type HostProcess } from './hostProcess.js';
import { runLoad, runOperations, type LoadRequest, type LoadResult, type OperationResult } from './loadGenerator.js';
import { callFunction, withServices } from './inProcess.js';
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
    await register(
      host,
      queues(warmupDevices, concurrency, () => warmupToken, host, jtis),
      concurrency,
    );

    const sharedToken = await createBulkToken(host.origin, host.adminKey, 'bench: one token for every device');
    const shared = await register(
      host,
      queues(await seededDevices(keys, 'reg-shared', registrations, 'ec'), concurrency, () => sharedToken, host, jtis),
      concurrency,
    );

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
    const counted = await countedRegistrations(options, keys, jtis);
    const each = counted.steady.total / counted.registrations;
    notes.push(
      `Table requests per first registration, counted (a pass of its own in this process: the same register function on the bench's Azurite, ` +
        `${counted.registrations} devices registered one after another with one bulk token, every request through a counting pipeline policy, ` +
        `bench/countingTables.ts): ${each.toFixed(2)} each, by table: ${perTable(counted.steady, counted.registrations)}; ` +
        `the instance's first registration made ${counted.first.total} (${perTable(counted.first, 1)}: what it reads once per instance). ` +
        "Devices of one token admitted together share its use transaction, and instances racing for the token's ETag add requests, " +
        'so under load the host makes somewhat fewer or more; each registration also signs one RS256 device token with the local key',
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
  await runOperations({
    concurrency: options.concurrency,
    count: 4 * options.concurrency,
    durationMs: maxRunMs,
    operation: (i) => client.createEntity(entity(-1 - i)),
  });
  return runOperations({
    concurrency: options.concurrency,
    count: options.registrations,
    durationMs: maxRunMs,
    operation: (i) => client.createEntity(entity(i)),
  });
}

/** Registrations in the counted pass, at most: the count per registration is the same for each. */
const maxCounted = 20;

/**
 * Table requests per first registration, counted in this process (bench/countingTables.ts):
 * the instance's first registration apart (it creates the tables, which is not counted, and
 * reads what an instance reads once), then the others one after another.
 */
async function countedRegistrations(
  options: RegistrationOptions,
  keys: SeededRandom,
  jtis: JtiSource,
): Promise<{ registrations: number; first: Counted; steady: Counted }> {
  let tables: CountingTables | undefined;
  return withServices(
    options.azurite,
    `${options.tablePrefix}n`,
    (config) => ({ tables: (tables = new CountingTables({ connection: config.storageConnection, prefix: config.tablePrefix })) }),
    async (services) => {
      const counting = tables as CountingTables;
      const { registerDevice } = await import('../functions/registerDevice.js');
      const devices = await seededDevices(keys, 'reg-counted', 1 + Math.min(maxCounted, options.registrations), 'ec');
      const bulk = await services.bulkTokens.create({ lifetimeMinutes: 60 });
      const registerOne = async (device: BenchDevice) => {
        const proof = fastProof(device, {
          htm: 'POST',
          htu: 'http://127.0.0.1/api/register',
          iat: Math.floor(Date.now() / 1000),
          jti: jtis.next(),
          ath: athOf(bulk.token),
        });
        await callFunction(registerDevice, 'register', bulk.token, { proof }, 201);
      };
      const [firstDevice, ...others] = devices as [BenchDevice, ...BenchDevice[]];
      const first = await counting.count(() => registerOne(firstDevice));
      const steady = await counting.count(async () => {
        for (const device of others) await registerOne(device);
      });
      return { registrations: others.length, first, steady };
    },
  );
}

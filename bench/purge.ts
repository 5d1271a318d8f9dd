/**
 * Benchmark of the purge timer: does its cost follow what has expired (M) rather than what is
 * stored (N)? For each N it seeds N live and M lapsed device pairings with their expiry-index
 * rows in a fresh in-memory Azurite, runs the purge, then seeds the same M again and deletes
 * them with a bare loop that already knows the keys (the baseline), and prints one table.
 *
 *   npm run bench:purge -- [--live 10000,100000] [--expired 10000] [--seed 1] [--concurrency 32]
 *                          [--rounds 3] [--inline-azurite]
 *
 * Each round seeds the M lapsed pairings again and times both the purge and the baseline,
 * alternating which goes first; the table shows the median and every round's time, because
 * a shared machine is noisy. Azurite runs in a worker thread by default, so that the storage
 * service and the client do not share one event loop (as they would not in Azure);
 * --inline-azurite runs it in-process.
 */
import { TableClient, type TransactionAction } from '@azure/data-tables';
import { startAzurite } from '../host/azurite.js';
import { isoTime } from '../shared/clock.js';
import { description } from '../shared/devices/deviceExpiryIndex.js';
import type { DeviceStatus } from '../shared/devices/deviceStore.js';
import { deviceIdFor } from '../shared/devices/deviceId.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import { Limiter } from '../shared/purge/limiter.js';
import { MeteredTables } from '../shared/purge/meteredTables.js';
import { defaultPurgeConcurrency, PurgeService } from '../shared/purge/purgeService.js';
import type { PurgeSummary } from '../shared/purge/purgeSummary.js';
import { expiryBucket } from '../shared/storage/expiryBucket.js';
import { TableService } from '../shared/storage/tableService.js';
import { startBenchAzurite, type BenchAzurite } from './azuriteWorker.js';
import { median, table, whole } from './format.js';
import { cpuSecondsSince } from './machine.js';
import { integerOption, UsageError } from './options.js';
import { SeededRandom } from './random.js';

const hour = 3_600;
const day = 86_400;
const deviceRetentionDays = 7;
/** A fixed "now" (half past an hour), so that a seed gives the same layout on every machine. */
const now = Date.UTC(2027, 0, 15, 12, 30) / 1000;

interface Options {
  live: number[];
  expired: number;
  seed: number;
  concurrency: number;
  rounds: number;
  inlineAzurite: boolean;
}

interface Pairing {
  deviceId: string;
  status: DeviceStatus;
  expiresAt: number;
}

interface Measured {
  entitiesRead: number;
  entitiesDeleted: number;
  requests: number;
  seconds: number;
  /** CPU time of this process - client and Azurite's thread together - during the run. */
  cpuSeconds: number;
}

interface Rounds {
  entitiesRead: number;
  entitiesDeleted: number;
  requests: number;
  seconds: number[];
  cpuSeconds: number[];
}

const usage = `npm run bench:purge -- [options]

Seeds N live and M lapsed device pairings in a fresh Azurite, runs the purge, and compares it
with a bare delete loop that already knows the M keys; prints one table.

  --live LIST        the N values (live pairings), comma-separated; default 10000,100000
  --expired M        lapsed pairings the purge must remove; default 10000
  --seed S           seed of the pairings' layout; default 1
  --concurrency C    the purge's (and the baseline's) concurrent requests; default ${defaultPurgeConcurrency}
  --rounds R         rounds per N (median and every round shown); default 3
  --inline-azurite   run Azurite in this process instead of a worker thread
  -h, --help         this help

Exit codes: 0 done, 1 a run failed, 2 bad usage.`;

try {
  const options = parseArgs(process.argv.slice(2));
  if (options === 'help') console.log(usage);
  else await main(options);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`bench:purge: ${error.message}; run npm run bench:purge -- --help`);
  process.exitCode = 2;
}

async function main(options: Options): Promise<void> {
  const rows: string[][] = [];
  for (const live of options.live) {
    const azurite = await openAzurite(options.inlineAzurite);
    try {
      const result = await measure(azurite.connectionString, live, options);
      const ratio = (median(result.purge.seconds) / median(result.baseline.seconds)).toFixed(2);
      const cpuRatio = (median(result.purge.cpuSeconds) / median(result.baseline.cpuSeconds)).toFixed(2);
      const requestRatio = (result.purge.requests / result.baseline.requests).toFixed(2);
      rows.push(row(live, options.expired, 'purge', result.purge, `${ratio}x time, ${cpuRatio}x CPU, ${requestRatio}x requests`));
      rows.push(row(live, options.expired, 'baseline', result.baseline, ''));
    } finally {
      await azurite.close();
    }
  }
  console.log(
    `\npurge benchmark: seed ${options.seed}, concurrency ${options.concurrency}, ${options.rounds} rounds, ` +
      `Azurite ${options.inlineAzurite ? 'in-process' : 'in a worker thread'}, node ${process.version}\n`,
  );
  console.log(
    table(['N live', 'M expired', 'run', 'entities read', 'entities deleted', 'Table requests', 'seconds (median)', 'each round', 'CPU s (median)', 'purge / baseline'], rows),
  );
}

async function measure(connection: string, live: number, options: Options): Promise<{ purge: Rounds; baseline: Rounds }> {
  const prefix = 'bench';
  const tables = new TableService(connection, prefix);
  // Separate streams, so the lapsed pairings are the same whatever N is.
  const lapsedRandom = new SeededRandom(options.seed).fork('lapsed');
  const liveRandom = new SeededRandom(options.seed).fork('live');
  const expired = Array.from({ length: options.expired }, () => lapsedPairing(lapsedRandom));
  const livePairings = Array.from({ length: live }, () => livePairing(liveRandom));
  const purge = purgeService(tables, connection, prefix, options.concurrency);
  const seeding = await seedClients(tables, connection, prefix);
  // A first run on the empty tables opens the purge's clients, as a long-running instance has.
  await purge.run();
  await warmUp(connection, options.concurrency);

  const started = performance.now();
  await seed(seeding, livePairings);
  progress(`N=${live}: seeded ${live} live pairings with their index rows in ${seconds(started)} s`);

  const purges: Measured[] = [];
  const baselines: Measured[] = [];
  const runPurge = async () => {
    await seed(seeding, expired);
    const cpu = process.cpuUsage();
    const summary = await purge.run();
    check(summary, expired.length);
    purges.push({ ...summary, cpuSeconds: cpuSecondsSince(cpu) });
  };
  const runBaseline = async () => {
    await seed(seeding, expired);
    baselines.push(await bareDeletes(new MeteredTables(tables, connection, prefix), expired, options.concurrency));
  };
  for (let round = 0; round < options.rounds; round++) {
    // Alternating the order, so that drift on a shared machine does not favour one side.
    if (round % 2 === 0) await runPurge().then(runBaseline);
    else await runBaseline().then(runPurge);
    const [p, b] = [purges.at(-1), baselines.at(-1)];
    progress(`N=${live} round ${round + 1}: purge ${p?.seconds} s (CPU ${p?.cpuSeconds} s), baseline ${b?.seconds} s (CPU ${b?.cpuSeconds} s)`);
  }
  return { purge: rounds(purges), baseline: rounds(baselines) };
}

/** The counts are the same in every round (the same M, the same layout); only times vary. */
function rounds(measured: Measured[]): Rounds {
  const first = measured[0]!;
  for (const other of measured) {
    if (other.requests !== first.requests || other.entitiesRead !== first.entitiesRead || other.entitiesDeleted !== first.entitiesDeleted) {
      throw new Error(`counts differ between rounds: ${JSON.stringify(measured)}`);
    }
  }
  return {
    entitiesRead: first.entitiesRead,
    entitiesDeleted: first.entitiesDeleted,
    requests: first.requests,
    seconds: measured.map((m) => m.seconds),
    cpuSeconds: measured.map((m) => m.cpuSeconds),
  };
}

function purgeService(tables: TableService, connection: string, prefix: string, concurrency: number): PurgeService {
  return new PurgeService({
    tables,
    clock: { now: () => now },
    storageConnection: connection,
    tablePrefix: prefix,
    timeBudgetSeconds: 3_600,
    deviceRetentionDays,
    bulkTokenRetentionDays: 30,
    concurrency,
  });
}

/** One small round of both, in tables of their own, so that neither measured run pays for JIT compilation or connection set-up. */
async function warmUp(connection: string, concurrency: number): Promise<void> {
  const prefix = 'warmup';
  const tables = new TableService(connection, prefix);
  const random = new SeededRandom(7);
  const pairings = Array.from({ length: 1_000 }, () => lapsedPairing(random));
  const seeding = await seedClients(tables, connection, prefix);
  await seed(seeding, pairings);
  const purge = purgeService(tables, connection, prefix, concurrency);
  check(await purge.run(), pairings.length);
  await seed(seeding, pairings);
  await bareDeletes(new MeteredTables(tables, connection, prefix), pairings, concurrency);
}

function check(summary: PurgeSummary, expired: number): void {
  const removed = summary.removed.devices + summary.removed.pendingApprovals;
  if (!summary.complete || removed !== expired || summary.removed.staleIndexRows !== 0) {
    throw new Error(`the purge did not remove exactly the ${expired} lapsed pairings: ${JSON.stringify(summary)}`);
  }
}

/**
 * The least any purge must do: delete each pairing (one request each: every pairing is its
 * own partition) at the purge's concurrency, and the index rows in transactions of up to 100
 * per partition - with no reads, because the keys are known.
 */
async function bareDeletes(metered: MeteredTables, pairings: readonly Pairing[], concurrency: number): Promise<Measured> {
  const devices = await metered.table(TableDeviceStore.tableName);
  const index = await metered.table(TableDeviceStore.expiryIndexName);
  const meter = metered.startMeter();
  const limiter = new Limiter(concurrency);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deletes = pairings.map((pairing) =>
    limiter.run(async () => {
      await devices.deleteEntity(pairing.deviceId, 'pairing');
      meter.entitiesDeleted++;
    }),
  );
  const batches = transactionsOf(pairings.map((pairing) => ({ partitionKey: expiryBucket(pairing.expiresAt), rowKey: pairing.deviceId })), 'delete');
  const transactions = batches.map((actions) =>
    limiter.run(async () => {
      await index.submitTransaction(actions);
      meter.entitiesDeleted += actions.length;
    }),
  );
  await Promise.all([...deletes, ...transactions]);
  return { entitiesRead: 0, entitiesDeleted: meter.entitiesDeleted, requests: meter.requests, seconds: seconds(started), cpuSeconds: cpuSecondsSince(cpu) };
}

interface SeedClients {
  devices: TableClient;
  index: TableClient;
}

/**
 * Plain clients for seeding, without the service's 3 s per-attempt timeout: seeding is not
 * what is measured, and a saturated Azurite can hold a transaction of 100 longer than that.
 */
async function seedClients(tables: TableService, connection: string, prefix: string): Promise<SeedClients> {
  const open = async (name: string) => {
    await tables.table(name);
    return TableClient.fromConnectionString(connection, `${prefix}${name}`, { allowInsecureConnection: true });
  };
  return { devices: await open(TableDeviceStore.tableName), index: await open(TableDeviceStore.expiryIndexName) };
}

/**
 * The layout TableDeviceStore writes (same entity fields; index partition = expiry hour,
 * row = device id, with the pairing's ETag, status and expiry), stored quickly: the pairings
 * one request each, as they are separate partitions, then - with the ETags those writes
 * returned - the index rows in transactions of up to 100.
 */
async function seed(clients: SeedClients, pairings: readonly Pairing[]): Promise<void> {
  const { devices, index } = clients;
  const limiter = new Limiter(32);
  const rows = await Promise.all(
    pairings.map((pairing) =>
      limiter.run(async () => {
        const { etag } = await devices.upsertEntity(deviceEntity(pairing), 'Replace');
        if (etag === undefined) throw new Error('seeding: the store returned no ETag');
        return description({ ...pairing, registeredAt: now - 120 * day }, etag);
      }),
    ),
  );
  await Promise.all(transactionsOf(rows, 'upsert').map((actions) => limiter.run(() => index.submitTransaction(actions))));
}

function deviceEntity(pairing: Pairing) {
  return {
    partitionKey: pairing.deviceId,
    rowKey: 'pairing',
    thumbprint: `bench-${pairing.deviceId}`,
    registration: 'internal',
    status: pairing.status,
    registeredAt: isoTime(now - 120 * day),
    expiresAt: isoTime(pairing.expiresAt),
    ...(pairing.status === 'revoked' ? { revokedAt: isoTime(now - 100 * day) } : {}),
  };
}

function transactionsOf<T extends { partitionKey: string; rowKey: string }>(keys: T[], action: 'delete' | 'upsert'): TransactionAction[][] {
  const byPartition = new Map<string, T[]>();
  for (const key of keys) {
    const list = byPartition.get(key.partitionKey) ?? [];
    list.push(key);
    byPartition.set(key.partitionKey, list);
  }
  const batches: TransactionAction[][] = [];
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += 100) {
      batches.push(list.slice(i, i + 100).map((key): TransactionAction => (action === 'delete' ? ['delete', key] : ['upsert', key, 'Replace'])));
    }
  }
  return batches;
}

/** Live: lapses within 90 days (pending ones within 30); never in the current hour or before. */
function livePairing(random: SeededRandom): Pairing {
  const roll = random.fraction();
  const status: DeviceStatus = roll < 0.9 ? 'active' : roll < 0.95 ? 'revoked' : 'pending';
  const span = status === 'pending' ? 30 * day : 90 * day;
  return { deviceId: deviceId(random), status, expiresAt: now + hour + random.below(span) };
}

/** Lapsed: over DEVICE_RETENTION_DAYS ago, spread over the 30 days before that. */
function lapsedPairing(random: SeededRandom): Pairing {
  const roll = random.fraction();
  const status: DeviceStatus = roll < 0.8 ? 'active' : roll < 0.9 ? 'revoked' : 'pending';
  return { deviceId: deviceId(random), status, expiresAt: now - deviceRetentionDays * day - hour - random.below(30 * day) };
}

function deviceId(random: SeededRandom): string {
  return deviceIdFor(random.bytes(32).toString('base64url'));
}

/** Azurite in a worker thread (bench/azuriteWorker.ts), or in this process. */
async function openAzurite(inline: boolean): Promise<BenchAzurite> {
  return inline ? startAzurite({ port: 0 }) : startBenchAzurite();
}

function parseArgs(args: string[]): Options | 'help' {
  const options: Options = { live: [10_000, 100_000], expired: 10_000, seed: 1, concurrency: defaultPurgeConcurrency, rounds: 3, inlineAzurite: false };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] ?? '';
    if (flag === '--help' || flag === '-h') return 'help';
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    // 100_000 reads as 100000.
    const count = (text: string, min: number, max: number) => integerOption(flag, text.replace(/_/g, ''), min, max);
    if (flag === '--live') options.live = value().split(/[, ]+/).filter(Boolean).map((part) => count(part, 0, 10_000_000));
    else if (flag === '--expired') options.expired = count(value(), 0, 10_000_000);
    else if (flag === '--seed') options.seed = count(value(), 0, 2 ** 32 - 1);
    else if (flag === '--concurrency') options.concurrency = count(value(), 1, 1024);
    else if (flag === '--rounds') options.rounds = count(value(), 1, 100);
    else if (flag === '--inline-azurite') options.inlineAzurite = true;
    else throw new UsageError(`unknown option ${flag}`);
  }
  return options;
}

function row(live: number, expired: number, run: string, measured: Rounds, ratio: string): string[] {
  return [
    whole(live),
    whole(expired),
    run,
    whole(measured.entitiesRead),
    whole(measured.entitiesDeleted),
    whole(measured.requests),
    median(measured.seconds).toFixed(2),
    measured.seconds.map((value) => value.toFixed(1)).join(' / '),
    median(measured.cpuSeconds).toFixed(2),
    ratio,
  ];
}

function seconds(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

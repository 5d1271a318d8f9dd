import { createPublicKey, verify, X509Certificate, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { importJWK, jwtVerify } from 'jose';
import { azuriteConnectionString } from '../host/azurite.js';
import { validate } from '../shared/http/body.js';
import { proofRequest } from '../shared/proof/proofRequest.js';
import { LeanTable, leanAuthFor, type LeanAuth } from '../shared/storage/leanTable.js';
import { createTableClient } from '../shared/storage/tableService.js';
import type { BenchAzurite } from './azuriteWorker.js';
import {
  authenticateRequests,
  checkProofSigner,
  enrolDevices,
  JtiSource,
  seededDevice,
  seededDevices,
  type BenchDevice,
  type BenchKeyType,
  keyTypeNames,
} from './devices.js';
import { describeErrors, ms, table, whole, type PartReport } from './format.js';
import { callHost, processCpuSeconds, startHost, type HostProcess } from './hostProcess.js';
import { runLoad, type LoadRequest, type LoadResult } from './loadGenerator.js';
import type { SeededRandom } from './random.js';
import { dropReplayRows, replayTable } from './replayRows.js';

export interface AuthenticateOptions {
  concurrency: number[];
  durationSeconds: number;
  warmupSeconds: number;
  devices: number;
  deviceKey: BenchKeyType;
  /**
   * `worker`: the bench's in-memory Azurite in a worker thread, reached over loopback HTTP
   * like a remote store (the default: the host's CPU is then the host's alone, and a floor
   * can be computed); `embedded`: the host's own Azurite, as `npm start` runs, whose work
   * lands in the host's CPU (no floor). One host per mode.
   */
  storage: Array<'embedded' | 'worker'>;
  azurite: BenchAzurite | undefined;
  tablePrefix: string;
  /** Folder for CPU profiles of the host: each taken in a run of its own after the measured one. */
  cpuProfileDir: string | undefined;
}

/** Requests signed ahead of one timed run: what the warm-up rate says it needs, with room. */
const maxPresigned = 60_000;
/**
 * A host's first timed level gets this many times --warmup of load first, over the no-op, the
 * hit and the miss path (the default, 4 s, gives 10 s): long enough that V8 has compiled the
 * request path before anything is timed. The JIT column checks it: CPU per request in the
 * second half of a timed run against the first.
 */
const firstWarmupFactor = 2.5;
/** Fresh devices per second of a cache-miss row (at least 4 per connection), and per second of the first warm-up. */
const missDevicesPerSecond = 40;
const missWarmupDevicesPerSecond = 10;
/** Presigning rate assumed when a warm-up too short to answer anything gives none. */
const fallbackRate = 200;
/**
 * The floor's parts and the verification ceiling use their full sample counts at
 * --duration 5 (the default) or more, and proportionally fewer below (a smoke run).
 */
const fullSampleSeconds = 5;
/** A timed run whose halves differ by more than this in CPU per request still had JIT (or noise) in it. */
const jitTolerance = 0.1;
/** The requirement of this part: host CPU per authenticate against the floor and the no-op. */
const floorLimit = 1.6;
const noopLimit = 3;

interface Measured extends LoadResult {
  /** CPU seconds the host process used during the run (all its threads). */
  hostCpuSeconds: number | undefined;
  /** Host CPU per request in the second half of the run over the first half's. */
  halves: number | undefined;
}

interface StorageCounts {
  insert: number;
  batch: number;
  query: number;
  read: number;
  entitiesInBatches: number;
}

/** What the floor is made of, each measured in this run (µs of CPU). */
interface FloorParts {
  verifyUs: number;
  parseUs: number;
  insertUs: number;
  /** A transaction's cost as fixed + per entity. */
  batchFixedUs: number;
  batchPerEntityUs: number;
  queryUs: number;
}

/**
 * Part (a): /api/authenticate against the local host in a child process, at each concurrency,
 * beside a no-op function behind the same host that reads its body alike, and a floor made
 * of measured parts: what the request cannot cost less than.
 */
export async function authenticateBench(options: AuthenticateOptions, random: SeededRandom): Promise<PartReport> {
  const jtis = new JtiSource(random.fork('jti'));
  const devices = await seededDevices(random.fork('devices'), 'auth', options.devices, options.deviceKey);
  await checkProofSigner(devices[0] as BenchDevice);
  const order = random.fork('order');
  const sampleScale = Math.min(1, options.durationSeconds / fullSampleSeconds);
  const firstWarmupSeconds = firstWarmupFactor * options.warmupSeconds;
  const missRandom = random.fork('miss');
  const rows: string[][] = [];
  const notes: string[] = [];
  const targets: string[] = [];
  let ok = true;
  let floorParts: FloorParts | undefined;
  let ceiling: { proofVerify: number; missPath: number } | undefined;
  let missSerial = 0;
  const missBatch = async (count: number): Promise<BenchDevice[]> => {
    const made: BenchDevice[] = [];
    for (let i = 0; i < count; i++) {
      const base = devices[i % devices.length] as BenchDevice;
      const key = base.identity.privateKey.export({ format: 'jwk' });
      made.push(await seededDevice(missRandom, `miss-${missSerial++}`, options.deviceKey, key));
    }
    return made;
  };

  for (const storage of options.storage) {
    if (storage === 'worker' && !options.azurite) throw new Error('the worker mode needs the bench Azurite');
    const host = await startHost({
      env: {
        TABLE_PREFIX: options.tablePrefix,
        ...(storage === 'worker' && options.azurite ? { STORAGE_CONNECTION: options.azurite.connectionString } : {}),
      },
    });
    try {
      const connection = storage === 'worker' && options.azurite ? options.azurite.connectionString : embeddedAzurite(host);
      const replay = replayTable(connection, options.tablePrefix);
      await enrolDevices(host.origin, host.adminKey, devices, jtis);
      // While the host is idle, in this process: the parts of the floor and the verification ceiling.
      if (storage === 'worker') floorParts ??= await measureFloorParts(connection, `${options.tablePrefix}fl`, devices, order, jtis, host.origin, sampleScale);
      ceiling ??= await verificationCeiling(host, devices, order, jtis, options.durationSeconds / 2, sampleScale);

      // The no-op gets the same headers and body as authenticate, so the host's share is equal.
      const noopBodies = authenticateRequests(host.origin, devices, 64, order, jtis).map((request) => ({ ...request, path: '/api/bench/noop' }));
      let cursor = 0;
      const noopNext = () => noopBodies[cursor++ % noopBodies.length];

      // JIT out of the timed window: a long first warm-up of both paths, hit and miss.
      await runLoad({ origin: host.origin, concurrency: 16, next: noopNext, durationMs: firstWarmupSeconds * 500, expectStatus: 200 });
      await dropReplayRows(replay);
      await authenticateRun(host, devices, 16, 400 * firstWarmupSeconds, firstWarmupSeconds, order, jtis);
      const warmMiss = await missBatch(Math.round(missWarmupDevicesPerSecond * firstWarmupSeconds));
      if (warmMiss.length > 0) {
        await enrolDevices(host.origin, host.adminKey, warmMiss, jtis);
        await runRequests(host, authenticateRequests(host.origin, warmMiss, warmMiss.length, order, jtis), 16, firstWarmupSeconds);
      }

      for (const concurrency of options.concurrency) {
        const warmup = options.warmupSeconds;
        await runLoad({ origin: host.origin, concurrency, next: noopNext, durationMs: warmup * 1000, expectStatus: 200 });
        const noopLoad = loadAt(host.origin, concurrency, noopNext, options.durationSeconds);
        const noop = await measured(host, noopLoad, options.durationSeconds);

        // Every timed run starts with an empty replay partition (see bench/replayRows.ts).
        await dropReplayRows(replay);
        const warm = await authenticateRun(host, devices, concurrency, 300 + 40 * concurrency, warmup, order, jtis);
        // Twice what the warm-up rate asks for: the rate still rises after a short warm-up at low concurrency.
        const warmRate = warm.completed > 0 ? warm.rps : fallbackRate;
        const wanted = Math.ceil(warmRate * options.durationSeconds * 2) + 8 * concurrency + 100;
        const requests = authenticateRequests(host.origin, devices, Math.min(wanted, maxPresigned), order, jtis);
        await dropReplayRows(replay);
        const callsBefore = storage === 'worker' ? await storageCalls(host) : undefined;
        const auth = await measured(host, requestsLoad(host.origin, requests, concurrency, options.durationSeconds), options.durationSeconds);
        const callsAfter = storage === 'worker' ? await storageCalls(host) : undefined;
        const load = loadavg()[0] ?? 0;

        if (options.cpuProfileDir) {
          // Outside the measured window: a run of its own, profiled, whose figures are not reported.
          const profile = `${options.cpuProfileDir}/authenticate-${storage}-c${concurrency}.cpuprofile`;
          const extra = authenticateRequests(host.origin, devices, Math.min(Math.ceil(wanted / 2), maxPresigned), order, jtis);
          await callHost(host.origin, 'POST', 'bench/profile/start', { expect: 204 });
          await runRequests(host, extra, concurrency, options.durationSeconds / 2);
          const cpuProfile = await callHost<unknown>(host.origin, 'POST', 'bench/profile/stop');
          await mkdir(options.cpuProfileDir, { recursive: true });
          await writeFile(profile, JSON.stringify(cpuProfile));
          notes.push(`host CPU profile (${storage}, concurrency ${concurrency}), a run of its own after the measured one: ${profile}`);
        }

        // A fresh device per request: the token and the certificate are verified afresh.
        const fresh = await missBatch(Math.max(concurrency * 4, Math.round(missDevicesPerSecond * options.durationSeconds)));
        await enrolDevices(host.origin, host.adminKey, fresh, jtis);
        await dropReplayRows(replay);
        const miss = await measured(host, requestsLoad(host.origin, authenticateRequests(host.origin, fresh, fresh.length, order, jtis), concurrency, options.durationSeconds * 4), options.durationSeconds);

        const errors = auth.errors + noop.errors + warm.errors + miss.errors;
        if (errors > 0) {
          ok = false;
          notes.push(
            `${storage}, concurrency ${concurrency}: unexpected answers: ` +
              `${describeErrors(new Map([...auth.unexpected, ...noop.unexpected, ...warm.unexpected, ...miss.unexpected]))}; ${auth.samples.concat(noop.samples, miss.samples).join(' | ')}`,
          );
        }
        if (auth.elapsedMs < options.durationSeconds * 900) {
          notes.push(`${storage}, concurrency ${concurrency}: the pre-signed proofs ran out after ${(auth.elapsedMs / 1000).toFixed(1)} s (${auth.completed} requests)`);
        }
        const noopUs = cpuMicros(noop);
        const floor = floorParts && callsBefore && callsAfter && noopUs !== undefined ? floorOf(floorParts, noopUs, callsBefore, callsAfter, auth.completed) : undefined;
        for (const [label, run] of [
          ['hit', auth],
          ['miss', miss],
        ] as const) {
          const authUs = cpuMicros(run);
          rows.push([
            String(concurrency),
            storage,
            label,
            whole(run.rps),
            ms(run.latency.percentileMs(0.5)),
            ms(run.latency.percentileMs(0.99)),
            whole(noop.rps),
            micros(authUs),
            micros(noopUs),
            label === 'hit' && floor ? whole(floor.total) : '–',
            label === 'hit' && floor && authUs !== undefined ? ratio(authUs / floor.total) : '–',
            authUs !== undefined && noopUs !== undefined ? ratio(authUs / noopUs) : '–',
            run.halves === undefined ? '–' : `${ratio(run.halves)}${Math.abs(run.halves - 1) > jitTolerance ? ' !' : ''}`,
            load.toFixed(1),
            String(run === auth ? errors : miss.errors),
          ]);
        }
        if (floor) {
          notes.push(
            `floor at concurrency ${concurrency} (${storage}), µs of host CPU: no-op ${whole(noopUs ?? 0)} + one proof verify ${whole(floorParts?.verifyUs ?? 0)} + body parse ${whole(floorParts?.parseUs ?? 0)} ` +
              `+ replay write share ${whole(floor.replayUs)} (${floor.describeReplay}) + marker read share ${whole(floor.markerUs)} (${floor.describeMarker}) = ${whole(floor.total)}`,
          );
        }
        const authUs = cpuMicros(auth);
        if ((concurrency === 16 || concurrency === 64) && authUs !== undefined && noopUs !== undefined) {
          if (floor) {
            const f = authUs / floor.total;
            targets.push(`requirement (${storage}, concurrency ${concurrency}): host CPU per authenticate <= ${floorLimit}x the floor: ${ratio(f)} -> ${f <= floorLimit ? 'MET' : 'NOT MET'}`);
          }
          const n = authUs / noopUs;
          targets.push(`requirement (${storage}, concurrency ${concurrency}): host CPU per authenticate <= ${noopLimit}x the no-op's: ${ratio(n)} -> ${n <= noopLimit ? 'MET' : 'NOT MET'}`);
        }
        for (const [label, run] of [
          ['no-op', noop],
          ['authenticate', auth],
          ['authenticate (miss)', miss],
        ] as const) {
          if (run.halves !== undefined && Math.abs(run.halves - 1) > jitTolerance) {
            notes.push(
              `${storage}, concurrency ${concurrency}, ${label}: CPU per request in the second half of the run was ${ratio(run.halves)} of the first half's: ` +
                `JIT or other load inside the timed window (marked !)`,
            );
          }
        }
      }
    } finally {
      await host.stop();
    }
  }
  if (floorParts) {
    notes.push(
      `floor parts, measured in this process before the runs (µs of this thread's CPU; storage calls ${floorParallel} in flight): proof verify (${keyTypeNames[options.deviceKey]}) ${whole(floorParts.verifyUs)}; ` +
        `body parse (UTF-8, JSON, zod) ${whole(floorParts.parseUs)}; lean client: replay insert ${whole(floorParts.insertUs)}, transaction ${whole(floorParts.batchFixedUs)} + ${whole(floorParts.batchPerEntityUs)} per entity, ` +
        `marker query ${whole(floorParts.queryUs)}`,
    );
  }
  if (ceiling) {
    notes.push(
      `verification ceiling, this process, no HTTP, no storage: one proof verify per request (the device token and certificate remembered, as the service does) ` +
        `${whole(ceiling.proofVerify)}/s; a cache miss (jose jwtVerify of the token, X.509 parse and self-signature, the proof's verify) ${whole(ceiling.missPath)}/s`,
    );
  }
  notes.push(
    'columns: host CPU = the host process\'s user+system time (all threads, /proc) over the requests answered: in embedded rows it includes ' +
      "Azurite's work for those requests (Azurite runs inside the host process), in worker rows it does not (Azurite is in the bench's process); " +
      'floor = no-op CPU at this concurrency + one proof ' +
      'verify + body parse + the replay write and marker read shares (lean client CPU per call with 16 calls in flight x calls per request in this run); JIT = CPU per request in the second half ' +
      "of the timed run / the first half's (1.00 = steady); load = /proc/loadavg's 1-minute figure after the run",
  );
  return {
    title: `(a) POST /api/authenticate vs a no-op function on the same local host (child process), ${options.devices} devices with ${keyTypeNames[options.deviceKey]} keys, a fresh proof per request`,
    table: table(
      [
        'concurrency',
        'storage',
        'caches',
        'auth req/s',
        'auth p50 ms',
        'auth p99 ms',
        'no-op req/s',
        'host CPU µs / auth (embedded: + Azurite)',
        'host CPU µs / no-op',
        'floor µs',
        'auth / floor',
        'auth / no-op',
        'JIT (2nd / 1st half)',
        'load',
        'errors',
      ],
      rows,
    ),
    notes: [...targets, ...notes],
    ok,
  };
}

function floorOf(
  parts: FloorParts,
  noopUs: number,
  before: StorageCounts,
  after: StorageCounts,
  requests: number,
): { total: number; replayUs: number; markerUs: number; describeReplay: string; describeMarker: string } {
  const n = Math.max(1, requests);
  const inserts = after.insert - before.insert;
  const batches = after.batch - before.batch;
  const entities = after.entitiesInBatches - before.entitiesInBatches;
  const queries = after.query - before.query;
  const replayUs = (inserts * parts.insertUs + batches * parts.batchFixedUs + entities * parts.batchPerEntityUs) / n;
  const markerUs = (queries * parts.queryUs) / n;
  return {
    total: noopUs + parts.verifyUs + parts.parseUs + replayUs + markerUs,
    replayUs,
    markerUs,
    describeReplay: `${inserts} inserts and ${batches} transactions of ${batches > 0 ? (entities / batches).toFixed(1) : '0'} for ${requests} requests`,
    describeMarker: `${queries} queries, one per ${queries > 0 ? (requests / queries).toFixed(1) : '–'} requests`,
  };
}

/** The host's lean Table client counts (bench/functions/benchStorageCalls.ts). */
function storageCalls(host: HostProcess): Promise<StorageCounts> {
  return callHost<StorageCounts>(host.origin, 'POST', 'bench/storage-calls');
}

function threadCpuMicros(): number {
  return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

/**
 * CPU µs per call of `operation` on this thread, after `warm` untimed calls, with
 * `parallel` callers at once: a busy host has many calls in flight, and the wake-ups of one
 * call at a time would put an idle process's overhead into the floor.
 */
async function cpuPerCall(count: number, warm: number, operation: (i: number) => unknown, parallel = 1): Promise<number> {
  const run = async (from: number, n: number) => {
    let next = from;
    const end = from + n;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < end) await operation(next++);
      }),
    );
  };
  await run(0, warm);
  const started = threadCpuMicros();
  await run(warm, count);
  return (threadCpuMicros() - started) / count;
}

/** Callers in flight when the floor's storage parts are measured: as many as the host has at concurrency 16. */
const floorParallel = 16;

/**
 * The parts of the floor, on this thread while the host is idle: a proof's verify and a
 * body's parse (the service's own code), and the lean client's CPU per replay insert,
 * per transaction (two sizes, for a fixed and a per-entity share) and per marker query,
 * one call at a time against the bench's Azurite in its worker thread.
 */
async function measureFloorParts(
  connection: string,
  tablePrefix: string,
  devices: BenchDevice[],
  random: SeededRandom,
  jtis: JtiSource,
  origin: string,
  scale: number,
): Promise<FloorParts> {
  // At least as many as are in flight at once, so every count stays a whole round of callers.
  const scaled = (count: number) => Math.max(floorParallel, Math.ceil(count * scale));
  const samples = authenticateRequests(origin, devices, scaled(256), random, jtis).map((request) => {
    const { body, input, signature, device } = signedParts(request, devices);
    return { body, input, signature, key: createPublicKey(device.identity.privateKey) };
  });
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const pick = (i: number) => samples[i % samples.length] as (typeof samples)[number];
  const verifyUs = await cpuPerCall(scaled(4000), scaled(1000), (i) => {
    const s = pick(i);
    if (!verify('sha256', s.input, { key: s.key, dsaEncoding: 'ieee-p1363' }, s.signature)) throw new Error('a proof failed to verify');
  });
  const parseUs = await cpuPerCall(scaled(20_000), scaled(5000), (i) => validate(proofRequest, JSON.parse(utf8.decode(pick(i).body))));

  const name = `${tablePrefix}lean`;
  const setup = createTableClient(connection, name);
  await setup.createTable();
  await setup.upsertEntity({ partitionKey: 'epoch-1', rowKey: 'epoch' });
  const lean = new LeanTable(`${setup.url}/${name}`, leanAuthFor(connection, () => undefined as never) as LeanAuth);
  let key = 0;
  // Each call in a partition of its own, as the shards spread the replay claims.
  const entity = (call: number) => ({ partitionKey: `p${call % floorParallel}`, rowKey: `k${key++}`, expiresAt: 1_765_000_000, writtenBy: '0123456789abcdef' });
  const insertUs = await cpuPerCall(scaled(1600), scaled(400), (i) => lean.createEntity(entity(i)), floorParallel);
  const batchOf = (size: number) => (i: number) => lean.submitTransaction(Array.from({ length: size }, () => ['create', entity(i)] as ['create', ReturnType<typeof entity>]));
  const small = await cpuPerCall(scaled(640), scaled(160), batchOf(4), floorParallel);
  const large = await cpuPerCall(scaled(320), scaled(80), batchOf(32), floorParallel);
  const queryUs = await cpuPerCall(scaled(1600), scaled(400), () => lean.queryFirst("PartitionKey eq 'epoch-1' and RowKey eq 'epoch'", ['RowKey']), floorParallel);
  await setup.deleteTable();
  const batchPerEntityUs = Math.max(0, (large - small) / 28);
  return { verifyUs, parseUs, insertUs, batchFixedUs: Math.max(0, small - 4 * batchPerEntityUs), batchPerEntityUs, queryUs };
}

/** The connection string of the Azurite a host started for itself, from its banner. */
function embeddedAzurite(host: HostProcess): string {
  const port = /embedded Azurite on port (\d+)/.exec(host.output())?.[1];
  if (port === undefined) throw new Error(`the host's banner names no embedded Azurite port:\n${host.output()}`);
  return azuriteConnectionString('127.0.0.1', Number(port));
}

type Load = (onSend: () => void) => Promise<LoadResult>;

function loadAt(origin: string, concurrency: number, next: () => LoadRequest | undefined, seconds: number): Load {
  return (onSend) =>
    runLoad({
      origin,
      concurrency,
      next: () => {
        onSend();
        return next();
      },
      durationMs: seconds * 1000,
      expectStatus: 200,
    });
}

function requestsLoad(origin: string, requests: LoadRequest[], concurrency: number, seconds: number): Load {
  let cursor = 0;
  return loadAt(origin, concurrency, () => requests[cursor++], seconds);
}

/**
 * Runs `load`, noting the host's CPU time over the run and over each half of it (split at
 * half the planned duration), so that a run still paying for JIT shows.
 */
async function measured(host: HostProcess, load: Load, seconds: number): Promise<Measured> {
  let sent = 0;
  let half: { cpu: number | undefined; sent: number } | undefined;
  const before = processCpuSeconds(host.child.pid);
  const timer = setTimeout(() => (half = { cpu: processCpuSeconds(host.child.pid), sent }), (seconds * 1000) / 2);
  const result = await load(() => sent++);
  clearTimeout(timer);
  const after = processCpuSeconds(host.child.pid);
  let halves: number | undefined;
  if (half?.cpu !== undefined && before !== undefined && after !== undefined && half.sent > 0 && sent > half.sent) {
    halves = (after - half.cpu) / (sent - half.sent) / ((half.cpu - before) / half.sent);
  }
  return { ...result, hostCpuSeconds: before === undefined || after === undefined ? undefined : after - before, halves };
}

function cpuMicros(run: Measured): number | undefined {
  return run.hostCpuSeconds === undefined ? undefined : (run.hostCpuSeconds * 1e6) / Math.max(1, run.completed);
}

function micros(value: number | undefined): string {
  return value === undefined ? '–' : whole(value);
}

function ratio(value: number): string {
  return value.toFixed(2);
}

/** Pre-signs `count` requests (not timed), then runs them for at most `seconds`. */
async function authenticateRun(
  host: HostProcess,
  devices: BenchDevice[],
  concurrency: number,
  count: number,
  seconds: number,
  random: SeededRandom,
  jtis: JtiSource,
): Promise<LoadResult> {
  return runRequests(host, authenticateRequests(host.origin, devices, count, random, jtis), concurrency, seconds);
}

function runRequests(host: HostProcess, requests: LoadRequest[], concurrency: number, seconds: number): Promise<LoadResult> {
  let cursor = 0;
  return runLoad({
    origin: host.origin,
    concurrency,
    next: () => requests[cursor++],
    durationMs: seconds * 1000,
    expectStatus: 200,
  });
}

/**
 * Requests per second one process verifies: with the service's caches warm, one proof
 * signature (node:crypto, the device's key) per request - the device token and the
 * certificate are remembered; and on a miss, the token's jose verification, the
 * certificate's parse and self-signature check, and the proof's signature.
 */
async function verificationCeiling(
  host: HostProcess,
  devices: BenchDevice[],
  random: SeededRandom,
  jtis: JtiSource,
  seconds: number,
  scale: number,
): Promise<{ proofVerify: number; missPath: number }> {
  const { keys } = await callHost<{ keys: Array<JsonWebKey & { alg: string }> }>(host.origin, 'GET', '.well-known/jwks.json');
  const jwk = keys[0];
  if (!jwk) throw new Error('the host publishes no key');
  const joseKey = await importJWK(jwk, jwk.alg);

  const samples = authenticateRequests(host.origin, devices, Math.max(16, Math.ceil(512 * scale)), random, jtis).map((request) => {
    const { token, input, signature, device } = signedParts(request, devices);
    return { token, input, signature, der: device.identity.certificateDer, deviceKey: createPublicKey(device.identity.privateKey) };
  });

  const loop = async (check: (sample: (typeof samples)[number]) => boolean | Promise<boolean>) => {
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    let done = 0;
    // Bounded by time, checked every pass over the samples.
    while (performance.now() < deadline) {
      for (const sample of samples) {
        if (!(await check(sample))) throw new Error('a signature failed to verify in the ceiling loop');
        done++;
      }
    }
    return done / ((performance.now() - started) / 1000);
  };

  const proofVerify = await loop((s) => verify('sha256', s.input, { key: s.deviceKey, dsaEncoding: 'ieee-p1363' }, s.signature));
  const missPath = await loop(async (s) => {
    await jwtVerify(s.token, joseKey, { typ: 'device+jwt' });
    const certificate = new X509Certificate(s.der);
    return certificate.verify(certificate.publicKey) && verify('sha256', s.input, { key: certificate.publicKey, dsaEncoding: 'ieee-p1363' }, s.signature);
  });
  return { proofVerify, missPath };
}

/** A pre-signed authenticate request taken apart: its body, bearer token, the proof's signing input and signature, and its device. */
function signedParts(request: LoadRequest, devices: BenchDevice[]) {
  const body = request.body as Buffer;
  const proof = (JSON.parse(body.toString('utf8')) as { proof: string }).proof;
  const token = (request.headers.authorization ?? '').slice('Bearer '.length);
  const device = devices.find((candidate) => candidate.token === token) as BenchDevice;
  const last = proof.lastIndexOf('.');
  return { body, token, input: Buffer.from(proof.slice(0, last), 'ascii'), signature: Buffer.from(proof.slice(last + 1), 'base64url'), device };
}

import { createHash, createPublicKey, verify, X509Certificate, type JsonWebKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import { azuriteConnectionString } from '../host/azurite.js';
import { TableRevocationList } from '../shared/devices/revocationList.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { expiryBucket } from '../shared/storage/expiryBucket.js';
import { TableService } from '../shared/storage/tableService.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { authenticateRequests, checkProofSigner, enrolDevices, JtiSource, seededDevices, type BenchDevice, type BenchKeyType, keyTypeNames } from './devices.js';
import { describeErrors, ms, percent, table, whole, type PartReport } from './format.js';
import { LatencyHistogram } from './histogram.js';
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
   * `embedded`: the host's own Azurite, as `npm start` runs (Azurite then shares the host's
   * event loop); `worker`: the bench's in-memory Azurite in a worker thread, reached over
   * loopback HTTP like a remote store. One host per mode.
   */
  storage: Array<'embedded' | 'worker'>;
  azurite: BenchAzurite | undefined;
  tablePrefix: string;
  /** Folder for CPU profiles of the host during each timed authenticate run, if wanted. */
  cpuProfileDir: string | undefined;
}

/** Requests signed ahead of one timed run: what the warm-up rate says it needs, with room. */
const maxPresigned = 60_000;

interface Measured extends LoadResult {
  /** CPU seconds the host process used during the run (all its threads). */
  hostCpuSeconds: number | undefined;
}

/**
 * Part (a): /api/authenticate against the local host in a child process, at each concurrency,
 * beside a no-op function behind the same host, and the signature-verification ceiling.
 */
export async function authenticateBench(options: AuthenticateOptions, random: SeededRandom): Promise<PartReport> {
  const jtis = new JtiSource(random.fork('jti'));
  const devices = await seededDevices(random.fork('devices'), 'auth', options.devices, options.deviceKey);
  await checkProofSigner(devices[0] as BenchDevice);
  const order = random.fork('order');
  const rows: string[][] = [];
  const notes: string[] = [];
  const targets: string[] = [];
  let ok = true;
  let ceiling: Ceilings | undefined;

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
      // While the host is idle: the ceiling is measured in this process, not the host's.
      ceiling ??= await verificationCeilings(host, devices, order, jtis, Math.max(2, options.durationSeconds / 2));

      // The no-op gets the same headers and body as authenticate, so the host's share is equal.
      const noopBodies = authenticateRequests(host.origin, devices, 64, order, jtis).map((request) => ({ ...request, path: '/api/bench/noop' }));
      let cursor = 0;
      const noopNext = () => noopBodies[cursor++ % noopBodies.length];

      for (const concurrency of options.concurrency) {
        await runLoad({ origin: host.origin, concurrency, next: noopNext, durationMs: options.warmupSeconds * 1000, expectStatus: 200 });
        const noop = await measured(host, () =>
          runLoad({ origin: host.origin, concurrency, next: noopNext, durationMs: options.durationSeconds * 1000, expectStatus: 200 }),
        );

        // Every timed run starts with an empty replay partition (see bench/replayRows.ts).
        await dropReplayRows(replay);
        const warmup = await authenticateRun(host, devices, concurrency, 300 + 40 * concurrency, options.warmupSeconds, order, jtis);
        const wanted = Math.ceil(warmup.rps * options.durationSeconds * 1.3) + 8 * concurrency;
        const requests = authenticateRequests(host.origin, devices, Math.min(wanted, maxPresigned), order, jtis);
        await dropReplayRows(replay);
        const profile = options.cpuProfileDir ? `${options.cpuProfileDir}/authenticate-${storage}-c${concurrency}.cpuprofile` : undefined;
        const auth = await measured(host, () => runRequests(host, requests, concurrency, options.durationSeconds), profile);
        if (profile) notes.push(`host CPU profile of the timed run (${storage}, concurrency ${concurrency}): ${profile}`);

        const errors = auth.errors + noop.errors + warmup.errors;
        if (errors > 0) {
          ok = false;
          notes.push(
            `${storage}, concurrency ${concurrency}: unexpected answers: ` +
              `${describeErrors(new Map([...auth.unexpected, ...noop.unexpected, ...warmup.unexpected]))}; ${auth.samples.concat(noop.samples).join(' | ')}`,
          );
        }
        if (auth.elapsedMs < options.durationSeconds * 900) {
          notes.push(`${storage}, concurrency ${concurrency}: the pre-signed proofs ran out after ${(auth.elapsedMs / 1000).toFixed(1)} s (${auth.completed} requests)`);
        }
        rows.push([
          String(concurrency),
          storage,
          whole(auth.rps),
          ms(auth.latency.percentileMs(0.5)),
          ms(auth.latency.percentileMs(0.99)),
          whole(noop.rps),
          ms(noop.latency.percentileMs(0.5)),
          ms(noop.latency.percentileMs(0.99)),
          percent(auth.rps / noop.rps),
          cpuPerRequest(auth),
          cpuPerRequest(noop),
          cpuShare(auth),
          percent(auth.rps / ceiling.raw),
          String(errors),
        ]);
        if (storage === 'worker' && (concurrency === 16 || concurrency === 64)) {
          // The host is idle now: the store's own ceiling for authenticate's storage work.
          const store = await storageCeiling(connection, `${options.tablePrefix}sc${concurrency}`, concurrency, options.durationSeconds, jtis, true);
          const unshared = await storageCeiling(connection, `${options.tablePrefix}su${concurrency}`, concurrency, options.durationSeconds, jtis, false);
          notes.push(
            `storage ceiling (worker) at concurrency ${concurrency}, this process, no host, no HTTP: authenticate's storage work alone (a replay-cache claim and a ` +
              `revocation check per "request", shared as the service shares them) ${whole(store.rps)}/s, p50 ${ms(store.latency.percentileMs(0.5))} ms, ` +
              `p99 ${ms(store.latency.percentileMs(0.99))} ms = ${percent(store.rps / noop.rps)} of the no-op's rate; authenticate reached ${percent(auth.rps / store.rps)} of it. ` +
              `Unshared (one createEntity and one point read per "request", at once): ${whole(unshared.rps)}/s, p50 ${ms(unshared.latency.percentileMs(0.5))} ms, ` +
              `p99 ${ms(unshared.latency.percentileMs(0.99))} ms`,
          );
        }
        if (concurrency === 64) {
          const ratio = auth.rps / noop.rps;
          targets.push(`target (${storage}): authenticate at concurrency 64 >= 50% of the no-op: ${percent(ratio)} -> ${ratio >= 0.5 ? 'MET' : 'NOT MET'}`);
        }
        if (concurrency === 16) {
          const p99 = auth.latency.percentileMs(0.99);
          targets.push(`target (${storage}): authenticate p99 at concurrency 16 < 20 ms: ${ms(p99)} ms -> ${p99 < 20 ? 'MET' : 'NOT MET'}`);
        }
      }
    } finally {
      await host.stop();
    }
  }
  if (ceiling) {
    notes.push(
      `verification ceiling, this process, no HTTP, no storage, per request one device token (RS256) + one proof (${keyTypeNames[options.deviceKey]}): ` +
        `node:crypto verify ${whole(ceiling.raw)}/s; adding the proof certificate's X.509 parse and self-signature check ${whole(ceiling.withCertificate)}/s; ` +
        `the service's path before its caches (jose jwtVerify, X.509, jose compactVerify with the certificate's new key) ${whole(ceiling.jose)}/s`,
    );
  }
  return {
    title: `(a) POST /api/authenticate vs a no-op function on the same local host (child process), ${options.devices} devices with ${keyTypeNames[options.deviceKey]} keys, a fresh proof per request`,
    table: table(
      [
        'concurrency',
        'storage',
        'auth req/s',
        'auth p50 ms',
        'auth p99 ms',
        'no-op req/s',
        'no-op p50 ms',
        'no-op p99 ms',
        'auth / no-op',
        'host CPU ms / auth',
        'host CPU ms / no-op',
        'host CPU (auth run)',
        'auth / verify ceiling',
        'errors',
      ],
      rows,
    ),
    notes: [...targets, ...notes],
    ok,
  };
}

/**
 * What the store alone allows: `concurrency` callers each making authenticate's storage
 * calls (TableReplayCache.claim with a fresh jti, TableRevocationList.isRevoked, at once)
 * in a closed loop for `seconds`, from this process - no host, no HTTP, no signatures.
 * `shared`: with the service's own classes (group commit, shared marker reads); else one
 * createEntity and one point read per call, as the service did before. The rows are
 * dropped afterwards.
 */
async function storageCeiling(
  connection: string,
  tablePrefix: string,
  concurrency: number,
  seconds: number,
  jtis: JtiSource,
  shared: boolean,
): Promise<{ rps: number; latency: LatencyHistogram }> {
  const tables = new TableService(connection, tablePrefix);
  const replay = new TableReplayCache(tables);
  const revocations = new TableRevocationList(tables);
  const rows = await tables.table(TableReplayCache.tableName);
  const markers = await tables.table(TableRevocationList.tableName);
  await markers.upsertEntity({ partitionKey: 'epoch-0', rowKey: 'epoch' });
  const expiry = () => Math.floor(Date.now() / 1000) + 300;
  const once = shared
    ? () => Promise.all([replay.claim(jtis.next(), expiry()), revocations.isRevoked('00000000-0000-8000-8000-000000000000')])
    : () =>
        Promise.all([
          rows.createEntity({ partitionKey: expiryBucket(expiry()), rowKey: createHash('sha256').update(jtis.next()).digest('hex') }),
          markers.getEntity('epoch-0', 'epoch'),
        ]);
  await once();
  let done = 0;
  const latency = new LatencyHistogram();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      // Bounded by the deadline.
      while (performance.now() < deadline) {
        const sent = performance.now();
        await once();
        latency.record((performance.now() - sent) * 1000);
        done++;
      }
    }),
  );
  const rps = done / ((performance.now() - started) / 1000);
  await dropReplayRows(replayTable(connection, tablePrefix));
  return { rps, latency };
}

/** The connection string of the Azurite a host started for itself, from its banner. */
function embeddedAzurite(host: HostProcess): string {
  const port = /embedded Azurite on port (\d+)/.exec(host.output())?.[1];
  if (port === undefined) throw new Error(`the host's banner names no embedded Azurite port:\n${host.output()}`);
  return azuriteConnectionString('127.0.0.1', Number(port));
}

/** Runs `load`, noting the host's CPU time, and its CPU profile into `profileFile` if given. */
async function measured(host: HostProcess, load: () => Promise<LoadResult>, profileFile?: string): Promise<Measured> {
  if (profileFile) await callHost(host.origin, 'POST', 'bench/profile/start', { expect: 204 });
  const before = processCpuSeconds(host.child.pid);
  const result = await load();
  const after = processCpuSeconds(host.child.pid);
  if (profileFile) {
    const profile = await callHost<unknown>(host.origin, 'POST', 'bench/profile/stop');
    await mkdir(dirname(profileFile), { recursive: true });
    await writeFile(profileFile, JSON.stringify(profile));
  }
  return { ...result, hostCpuSeconds: before === undefined || after === undefined ? undefined : after - before };
}

function cpuPerRequest(run: Measured): string {
  return run.hostCpuSeconds === undefined ? '–' : ms((run.hostCpuSeconds * 1000) / run.completed);
}

/** The host's CPU use during the run, in cores: 100% is one core busy throughout. */
function cpuShare(run: Measured): string {
  return run.hostCpuSeconds === undefined ? '–' : percent(run.hostCpuSeconds / (run.elapsedMs / 1000));
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

interface Ceilings {
  raw: number;
  withCertificate: number;
  jose: number;
}

/**
 * How many requests' signatures one process verifies per second: the device token (the
 * service's RS256 key, from its JWKS) and the proof (the device's key). Proofs are signed
 * ahead; each is verified once per pass over the set.
 */
async function verificationCeilings(host: HostProcess, devices: BenchDevice[], random: SeededRandom, jtis: JtiSource, seconds: number): Promise<Ceilings> {
  const { keys } = await callHost<{ keys: Array<JsonWebKey & { alg: string }> }>(host.origin, 'GET', '.well-known/jwks.json');
  const jwk = keys[0];
  if (!jwk) throw new Error('the host publishes no key');
  const serviceKey = createPublicKey({ key: jwk, format: 'jwk' });
  const joseKey = await importJWK(jwk, jwk.alg);

  const samples = authenticateRequests(host.origin, devices, 512, random, jtis).map((request) => {
    const token = (request.headers.authorization ?? '').slice('Bearer '.length);
    const proof = (JSON.parse(String(request.body)) as { proof: string }).proof;
    const device = devices.find((candidate) => candidate.token === token) as BenchDevice;
    const x5c = device.identity.certificateDer.toString('base64');
    return { token: split(token), proof: split(proof), tokenText: token, proofText: proof, x5c, alg: device.identity.alg, deviceKey: createPublicKey(device.identity.privateKey) };
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

  const raw = await loop(
    (s) =>
      verify('sha256', s.token.input, serviceKey, s.token.signature) &&
      verify('sha256', s.proof.input, { key: s.deviceKey, dsaEncoding: 'ieee-p1363' }, s.proof.signature),
  );
  const withCertificate = await loop((s) => {
    const certificate = new X509Certificate(Buffer.from(s.x5c, 'base64'));
    return (
      certificate.verify(certificate.publicKey) &&
      verify('sha256', s.token.input, serviceKey, s.token.signature) &&
      verify('sha256', s.proof.input, { key: certificate.publicKey, dsaEncoding: 'ieee-p1363' }, s.proof.signature)
    );
  });
  const jose = await loop(async (s) => {
    // The token's exp/iat are checked by jwtVerify against the real clock, as the service does.
    await jwtVerify(s.tokenText, joseKey, { typ: 'device+jwt' });
    const certificate = new X509Certificate(Buffer.from(s.x5c, 'base64'));
    if (!certificate.verify(certificate.publicKey)) return false;
    await compactVerify(s.proofText, certificate.publicKey, { algorithms: [s.alg] });
    return true;
  });
  return { raw, withCertificate, jose };
}

function split(jws: string): { input: Buffer; signature: Buffer } {
  const last = jws.lastIndexOf('.');
  return { input: Buffer.from(jws.slice(0, last), 'ascii'), signature: Buffer.from(jws.slice(last + 1), 'base64url') };
}


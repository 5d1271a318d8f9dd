import { X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TableClient } from '@azure/data-tables';
import functions, { type HttpRequest as HttpRequestType, type HttpResponseInit, type InvocationContext as ContextType } from '@azure/functions';
import { compactVerify } from 'jose';
import { provideFunctionsCore } from '../host/coreShim.js';
import { loadConfig } from '../shared/config.js';
import { TableRevocationList } from '../shared/devices/revocationList.js';
import { readJsonBody } from '../shared/http/body.js';
import { checkDeviceCertificate, DeviceCertificateChecker } from '../shared/proof/certificate.js';
import { verifyCompactJws } from '../shared/proof/jwsSignature.js';
import { proofRequest } from '../shared/proof/proofRequest.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices, type Services } from '../shared/services.js';
import { tokenTypes } from '../shared/tokens/jws.js';
import { TokenVerifier } from '../shared/tokens/verifier.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { athOf, fastProof, JtiSource, seededDevices, tokenOf, type BenchDevice, type BenchKeyType } from './devices.js';
import { percent, table, whole, type PartReport } from './format.js';
import { processCpuSeconds } from './hostProcess.js';
import type { SeededRandom } from './random.js';
import { dropReplayRows, replayTable } from './replayRows.js';

// The library's bundle hides these from ESM's named-export detection (as in host/server.ts).
const { HttpRequest, HttpResponse, InvocationContext } = functions;

type Handler = (request: HttpRequestType, context: ContextType) => Promise<HttpResponseInit>;

export interface StagesOptions {
  azurite: BenchAzurite;
  tablePrefix: string;
  /** Operations per stage (each stage also stops after a few seconds). */
  operations: number;
  devices: number;
  deviceKey: BenchKeyType;
}

interface StageResult {
  name: string;
  operations: number;
  wallMicros: number;
  /** CPU time of the thread that runs the handler (this process's main thread), from /proc. */
  threadMicros: number;
  /** CPU of the whole bench process: adds the Azurite worker's share and crypto threads. */
  cpuMicros: number;
}

const url = 'http://127.0.0.1/api/authenticate';

/**
 * Where the time of one authenticate goes: each step of the handler run on its own, in this
 * process, one at a time (concurrency 1), against the bench's Azurite in its worker thread.
 * The same code the host runs (shared/, functions/authenticateDevice), without HTTP.
 */
export async function authenticateStages(options: StagesOptions, random: SeededRandom): Promise<PartReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cmg-bench-stages-'));
  try {
    const config = loadConfig({ STORAGE_CONNECTION: options.azurite.connectionString, TABLE_PREFIX: options.tablePrefix, LOCAL_DATA_DIR: dataDir });
    const services = await createServices(config);
    useServices(services);
    // The function files register through the host's stand-in module, not the library's test mode.
    provideFunctionsCore();
    const { authenticateDevice } = (await import('../functions/authenticateDevice.js'));
    const { benchNoop } = (await import('./functions/noop.js'));
    const readsBody: Handler = async (request) => {
      await readJsonBody(request, proofRequest);
      return { status: 200, jsonBody: { ok: true } };
    };

    const jtis = new JtiSource(random.fork('jti'));
    // At least two: the "verified afresh" step alternates between tokens so that its one-entry cache never hits.
    const devices = await seededDevices(random.fork('devices'), 'stages', Math.max(2, options.devices), options.deviceKey);
    await registerInProcess(services, devices, jtis);
    const n = options.operations;
    const pick = (i: number) => devices[i % devices.length] as BenchDevice;
    const proofs = (count: number) =>
      Array.from({ length: count }, (_, i) => {
        const device = pick(i);
        return { device, proof: fastProof(device, { htm: 'POST', htu: url, iat: now(), jti: jtis.next(), ath: athOf(tokenOf(device)) }) };
      });
    const x5c = devices.map((device) => device.identity.certificateDer.toString('base64'));
    const replay = new TableReplayCache(services.tables);
    const replayRows = replayTable(options.azurite.connectionString, options.tablePrefix);
    const revocations = new TableRevocationList(services.tables);
    const certificates = new DeviceCertificateChecker();
    const claims = { issuer: services.config.issuer, audience: services.config.audience };
    // One verifier for the whole step, as the service keeps one: its imported signing key is
    // cached as the service's is. Its token cache holds one entry and the step alternates
    // between devices, so every call verifies the token's signature afresh.
    const freshVerifier = new TokenVerifier(services.signer, { ...claims, clock: services.clock, cacheSize: 1 });
    // Inputs that a step uses up (fresh proofs, fresh key objects): one per operation, plus warm-up.
    const supply = n + Math.min(warmupOperations, n);
    const verifyOnly = proofs(supply);
    const keptKeys = devices.map((device) => new X509Certificate(device.identity.certificateDer).publicKey);
    const forAuthenticator = proofs(supply);
    const forFunction = proofs(supply);
    const call = async (handler: Handler, i: number, path: string) => {
      const { device, proof } = forFunction[i] as { device: BenchDevice; proof: string };
      const request = new HttpRequest({
        method: 'POST',
        url: `http://127.0.0.1/api/${path}`,
        headers: { authorization: `Bearer ${tokenOf(device)}`, 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' },
        body: { string: JSON.stringify({ proof }) },
      });
      const context = new InvocationContext({ invocationId: `bench-${i}`, functionName: path, logHandler: () => undefined });
      const response = new HttpResponse(await handler(request, context));
      if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
      return response.arrayBuffer();
    };

    const steps: Step[] = [
      step('device token: TokenVerifier.verify (remembered after its first verification)', (i) =>
        services.verifier.verify(tokenOf(pick(i)), tokenTypes.device, 'device token'),
      ),
      step('  the same, its signature verified each time (jose jwtVerify, RS256; the key import cached)', (i) =>
        freshVerifier.verify(tokenOf(pick(i)), tokenTypes.device, 'device token'),
      ),
      step('proof certificate: DeviceCertificateChecker.check (remembered: validity only)', (i) => certificates.check([x5c[i % x5c.length]], now())),
      step('  the same from scratch: checkDeviceCertificate (X.509 parse, self-signature)', (i) => checkDeviceCertificate([x5c[i % x5c.length]], now())),
      step('proof signature: verifyCompactJws (one node:crypto verify)', (i) => {
        const { device, proof } = verifyOnly[i] as { device: BenchDevice; proof: string };
        return verifyCompactJws(proof, device.identity.alg, keptKeys[i % keptKeys.length] as KeyObject, {});
      }),
      step('  the same through jose compactVerify (WebCrypto), for comparison', (i) => {
        const { device, proof } = verifyOnly[i] as { device: BenchDevice; proof: string };
        return compactVerify(proof, keptKeys[i % keptKeys.length] as KeyObject, { algorithms: [device.identity.alg] });
      }),
      step('all proof checks but the replay cache: ProofVerifier.verifyWithoutReplayCheck', (i) => {
        const { device, proof } = verifyOnly[i] as { device: BenchDevice; proof: string };
        return services.proofs.verifyWithoutReplayCheck(proof, { method: 'POST', url, bearerToken: tokenOf(device), boundThumbprint: undefined });
      }),
      step('replay-cache insert: TableReplayCache.claim (alone: one createEntity)', () => replay.claim(jtis.next(), now() + 300), true),
      step('revocation check: TableRevocationList.isRevoked (alone: one marker query)', (i) => revocations.isRevoked(pick(i).deviceId ?? '')),
      step(
        '  the insert and the check at once (Promise.all), as authenticate does',
        (i) => Promise.all([replay.claim(jtis.next(), now() + 300), revocations.isRevoked(pick(i).deviceId ?? '')]),
        true,
      ),
      step(
        'DeviceAuthenticator.authenticate (all of the above, remembered where it can be)',
        (i) => {
          const { device, proof } = forAuthenticator[i] as { device: BenchDevice; proof: string };
          return services.deviceAuth.authenticate(tokenOf(device), proof, { method: 'POST', url });
        },
        true,
      ),
      step('the authenticate function: HttpRequest in, HttpResponse out (no HTTP server)', (i) => call(authenticateDevice, i, 'authenticate'), true),
      step("  the no-op function, the same way (the functions library's share, the body read)", (i) => call(benchNoop, i, 'bench/noop')),
      step('  the no-op function that also reads its body (readJsonBody: stream, UTF-8, JSON, zod)', (i) => call(readsBody, i, 'bench/noop')),
    ];
    // Round-robin over the steps, a slice of each per round, so that whatever else the machine
    // is doing falls on every step alike rather than on whichever ran at the wrong moment.
    const perRound = Math.ceil(n / rounds);
    const deadline = performance.now() + maxSeconds * 1000;
    // Warm-up as long as the measured slices, up to 50 operations a step.
    for (const current of steps) await runSlice(current, Math.min(warmupOperations, n), replayRows, false);
    for (let round = 0; round < rounds && performance.now() < deadline; round++) {
      for (const current of steps) await runSlice(current, Math.min(perRound, n - current.measured.operations), replayRows, true);
    }
    const results = steps.map((current) => perOperation(current.measured));
    const handlerThread = results.find((result) => result.name.startsWith('the authenticate function'))?.threadMicros ?? Number.NaN;
    return {
      title: `(a, breakdown) one authenticate, step by step: this process, concurrency 1, the bench's Azurite in a worker thread, ${whole(results[0]?.operations ?? 0)} operations per step`,
      table: table(
        ['step', 'wall µs', 'CPU µs (request thread)', 'CPU µs (process)', 'thread CPU / whole function'],
        results.map((result) => [
          result.name,
          whole(result.wallMicros),
          whole(result.threadMicros),
          whole(result.cpuMicros),
          percent(result.threadMicros / handlerThread),
        ]),
      ),
      notes: [
        'steps run one operation at a time, interleaved in 10 rounds; wall = elapsed per operation; ' +
          'CPU (request thread) = time the thread that runs the handler was on a CPU (/proc schedstat); ' +
          "CPU (process) adds Azurite's worker thread (the storage steps' server side) and node's helper threads (GC, libuv)",
      ],
      ok: true,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Registers devices through the services as registerDevice does, to get real device tokens. */
export async function registerInProcess(services: Services, devices: BenchDevice[], jtis: JtiSource): Promise<void> {
  const bulk = await services.bulkTokens.create({ lifetimeMinutes: 60 });
  for (const device of devices) {
    const proof = fastProof(device, { htm: 'POST', htu: 'http://127.0.0.1/api/register', iat: now(), jti: jtis.next(), ath: athOf(bulk.token) });
    const claims = await services.verifier.verify(bulk.token, tokenTypes.bulk, 'bulk registration token');
    const { certificate } = await services.proofs.verify(proof, { method: 'POST', url: 'http://127.0.0.1/api/register', bearerToken: bulk.token });
    const result = await services.registration.registerWithBulkToken(String(claims.jti), certificate);
    if (result.kind !== 'issued') throw new Error('bulk registration did not issue a token');
    device.deviceId = result.answer.deviceId;
    device.token = result.answer.token;
  }
}

const warmupOperations = 50;
const rounds = 10;
/** The whole breakdown stops starting rounds after this long. */
const maxSeconds = 120;

interface Step {
  operation: (index: number) => unknown;
  /** Starts each slice with an empty replay partition (see bench/replayRows.ts). */
  inserts: boolean;
  /** The next unused input index. */
  next: number;
  measured: StageResult;
}

function step(name: string, operation: (index: number) => unknown, inserts = false): Step {
  return { operation, inserts, next: 0, measured: { name, operations: 0, wallMicros: 0, threadMicros: 0, cpuMicros: 0 } };
}

/** Runs `count` operations of `current` one at a time, adding their cost when `timed`. */
async function runSlice(current: Step, count: number, replayRows: TableClient, timed: boolean): Promise<void> {
  if (count <= 0) return;
  if (current.inserts) await dropReplayRows(replayRows);
  const thread = threadCpuMicros();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) await current.operation(current.next++);
  if (!timed) return;
  const used = process.cpuUsage(cpu);
  const result = current.measured;
  // Totals while running; turned into per-operation figures by perOperation().
  result.wallMicros += (performance.now() - started) * 1000;
  result.threadMicros += threadCpuMicros() - thread;
  result.cpuMicros += used.user + used.system;
  result.operations += count;
}

/**
 * CPU time of this process's main thread in µs: /proc's schedstat (nanoseconds) where there is
 * one, else the thread's stat (10 ms ticks).
 */
export function threadCpuMicros(): number {
  try {
    return Number(readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return (processCpuSeconds(process.pid, process.pid) ?? Number.NaN) * 1e6;
  }
}

function perOperation(total: StageResult): StageResult {
  const n = Math.max(1, total.operations);
  return { ...total, wallMicros: total.wallMicros / n, threadMicros: total.threadMicros / n, cpuMicros: total.cpuMicros / n };
}

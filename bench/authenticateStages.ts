import { X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import functions, { type HttpRequest as HttpRequestType, type HttpResponseInit, type InvocationContext as ContextType } from '@azure/functions';
import { compactVerify } from 'jose';
import { provideFunctionsCore } from '../host/coreShim.js';
import { loadConfig } from '../shared/config.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import { checkDeviceCertificate } from '../shared/proof/certificate.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { createServices, useServices, type Services } from '../shared/services.js';
import { tokenTypes } from '../shared/tokens/jws.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { athOf, fastProof, JtiSource, seededDevices, tokenOf, type BenchDevice } from './devices.js';
import { percent, table, whole, type PartReport } from './format.js';
import { processCpuSeconds } from './hostProcess.js';
import type { SeededRandom } from './random.js';

// The library's bundle hides these from ESM's named-export detection (as in host/server.ts).
const { HttpRequest, HttpResponse, InvocationContext } = functions;

type Handler = (request: HttpRequestType, context: ContextType) => Promise<HttpResponseInit>;

export interface StagesOptions {
  azurite: BenchAzurite;
  tablePrefix: string;
  /** Operations per stage (each stage also stops after a few seconds). */
  operations: number;
  devices: number;
}

interface StageResult {
  name: string;
  operations: number;
  wallMicros: number;
  /** CPU time of this thread (the request's own thread), from /proc. */
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
    const { authenticateDevice } = (await import('../functions/authenticateDevice.js')) as { authenticateDevice: Handler };
    const { benchNoop } = (await import('./functions/noop.js')) as { benchNoop: () => Promise<HttpResponseInit> };

    const jtis = new JtiSource(random.fork('jti'));
    const devices = await seededDevices(random.fork('devices'), 'stages', options.devices);
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
    const deviceStore = new TableDeviceStore(services.tables);
    const results: StageResult[] = [];

    const verifyOnly = proofs(n + 50);
    results.push(await stage('device token: TokenVerifier.verify (jose jwtVerify, RS256)', n, (i) => services.verifier.verify(tokenOf(pick(i)), tokenTypes.device, 'device token')));
    results.push(await stage('proof certificate: checkDeviceCertificate (X.509 parse, validity, self-signature)', n, (i) => checkDeviceCertificate([x5c[i % x5c.length]], now())));
    // A new KeyObject per proof, as the service has (one X509Certificate per request).
    const freshKeys: KeyObject[] = Array.from({ length: n + 50 }, (_, i) => new X509Certificate(pick(i).identity.certificateDer).publicKey);
    results.push(await stage("proof signature: jose compactVerify, the certificate's new key object", n, (i) => compactVerify(verifyOnly[i]?.proof ?? '', freshKeys[i] as KeyObject, { algorithms: ['ES256'] })));
    const keptKeys = devices.map((device) => new X509Certificate(device.identity.certificateDer).publicKey);
    results.push(await stage('  the same with a key object jose has seen before (a certificate cache)', n, (i) => compactVerify(verifyOnly[i]?.proof ?? '', keptKeys[i % keptKeys.length] as KeyObject, { algorithms: ['ES256'] })));
    results.push(
      await stage('all proof checks but the replay cache: ProofVerifier.verifyWithoutReplayCheck', n, (i) => {
        const { device, proof } = verifyOnly[i] as { device: BenchDevice; proof: string };
        return services.proofs.verifyWithoutReplayCheck(proof, { method: 'POST', url, bearerToken: tokenOf(device), boundThumbprint: undefined });
      }),
    );
    results.push(await stage('replay-cache insert: TableReplayCache.claim (Table createEntity)', n, () => replay.claim(jtis.next(), now() + 300)));
    results.push(await stage('device point read: TableDeviceStore.get (Table getEntity)', n, (i) => deviceStore.get(pick(i).deviceId ?? '')));
    results.push(
      await stage('  the insert and the read at once (Promise.all), for comparison', n, (i) =>
        Promise.all([replay.claim(jtis.next(), now() + 300), deviceStore.get(pick(i).deviceId ?? '')]),
      ),
    );

    const whole1 = proofs(n + 50);
    results.push(
      await stage('DeviceAuthenticator.authenticate (all of the above, in sequence)', n, (i) => {
        const { device, proof } = whole1[i] as { device: BenchDevice; proof: string };
        return services.deviceAuth.authenticate(tokenOf(device), proof, { method: 'POST', url });
      }),
    );
    const whole2 = proofs(n + 50);
    const call = async (handler: Handler, i: number, path: string) => {
      const { device, proof } = whole2[i] as { device: BenchDevice; proof: string };
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
    results.push(await stage('the authenticate function: HttpRequest in, HttpResponse out (no HTTP server)', n, (i) => call(authenticateDevice, i, 'authenticate')));
    results.push(await stage('  the no-op function, the same way (the functions library\'s share)', n, (i) => call(benchNoop, i, 'bench/noop')));

    const handlerThread = results.find((result) => result.name.startsWith('the authenticate function'))?.threadMicros ?? Number.NaN;
    return {
      title: `(a, breakdown) one authenticate, step by step: this process, concurrency 1, the bench's Azurite in a worker thread, ${whole(n)} operations per step`,
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
        'wall = elapsed per operation; CPU (request thread) = user+system time of the thread that runs the handler, from /proc (10 ms ticks over the whole step); ' +
          "CPU (process) adds Azurite's worker thread (the storage steps' server side) and libuv's threads (jose verifies through WebCrypto, which runs there)",
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
async function registerInProcess(services: Services, devices: BenchDevice[], jtis: JtiSource): Promise<void> {
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

/** CPU seconds of this process's main thread (its task id is the process id). */
function threadCpuSeconds(): number {
  return processCpuSeconds(process.pid, process.pid) ?? Number.NaN;
}

/** Runs `operation` 50 times untimed, then `count` times (at most 5 s) timed, one at a time. */
async function stage(name: string, count: number, operation: (index: number) => unknown): Promise<StageResult> {
  for (let i = 0; i < 50; i++) await operation(count + i);
  const deadline = performance.now() + 5_000;
  const thread = threadCpuSeconds();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let done = 0;
  while (done < count && performance.now() < deadline) await operation(done++);
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const threadUsed = threadCpuSeconds() - thread;
  return {
    name,
    operations: done,
    wallMicros: (wall * 1000) / done,
    threadMicros: (threadUsed * 1e6) / done,
    cpuMicros: (used.user + used.system) / done,
  };
}

/**
 * The parts of `npm run bench` (bench/all.ts), run one after another: each prints its title,
 * one Markdown table and its notes; docs/performance.md explains them.
 */
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { attackCost } from './attackCost.js';
import { authenticateBench } from './authenticateBench.js';
import { authenticateStages } from './authenticateStages.js';
import { startBenchAzurite, type BenchAzurite } from './azuriteWorker.js';
import type { PartReport } from './format.js';
import { fleetCost } from './fleetCost.js';
import { cpuBetween, cpuSnapshot } from './machine.js';
import type { BenchOptions } from './options.js';
import { SeededRandom } from './random.js';
import { registrationBench } from './registrationBench.js';
import { soakBench } from './soak.js';
import { startupBench } from './startupBench.js';
import { throttledBench } from './throttledBench.js';

/** Runs the parts `options` names; false when a run had errors or a bound failed. */
export async function runParts(options: BenchOptions): Promise<boolean> {
  const random = new SeededRandom(options.seed);
  const started = performance.now();
  console.log(
    `cmg-token-auth bench: seed ${options.seed}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
      `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  );
  // Table names may not repeat between runs against one Azurite; the prefix is per run.
  const runId = randomBytes(3).toString('hex');
  let azurite: BenchAzurite | undefined;
  const needsAzurite = options.parts.some((part) => part === 'breakdown' || part === 'registration' || part === 'soak' || part === 'attackCost' || part === 'throttled' || part === 'fleet') || options.authStorage.includes('worker');
  let ok = true;
  try {
    if (needsAzurite) azurite = await startBenchAzurite();
    for (const part of options.parts) {
      const partStarted = performance.now();
      const cpuBefore = cpuSnapshot();
      const partRandom = random.fork(part);
      let report: PartReport;
      switch (part) {
        case 'authenticate':
          report = await authenticateBench(
            {
              concurrency: options.concurrency,
              durationSeconds: options.durationSeconds,
              warmupSeconds: options.warmupSeconds,
              devices: options.devices,
              deviceKey: options.deviceKey,
              storage: options.authStorage,
              azurite,
              tablePrefix: `ba${runId}`,
              cpuProfileDir: options.hostCpuProf,
            },
            partRandom,
          );
          break;
        case 'breakdown':
          report = await authenticateStages(
            { azurite: required(azurite), tablePrefix: `bd${runId}`, operations: options.breakdownOperations, devices: options.devices, deviceKey: options.deviceKey },
            partRandom,
          );
          break;
        case 'registration':
          report = await registrationBench(
            { registrations: options.registrations, concurrency: options.registerConcurrency, azurite: required(azurite), tablePrefix: `br${runId}` },
            partRandom,
          );
          break;
        case 'startup':
          report = await startupBench({ runs: options.startupRuns });
          break;
        case 'attackCost':
          report = await attackCost({ azurite: required(azurite), tablePrefix: `bx${runId}`, requests: options.attackRequests, bound: options.attackBound }, partRandom);
          break;
        case 'throttled':
          report = await throttledBench(
            {
              azurite: required(azurite),
              tablePrefix: `bt${runId}`,
              budget: options.throttleBudget,
              shards: options.throttleShards,
              concurrency: options.throttleConcurrency,
              durationSeconds: options.throttleDuration,
              warmupSeconds: options.warmupSeconds,
              devices: options.devices,
              deviceKey: options.deviceKey,
            },
            partRandom,
          );
          break;
        case 'fleet':
          report = await fleetCost(
            {
              azurite: required(azurite),
              tablePrefix: `bf${runId}`,
              devices: options.devices,
              authenticatesPerDevice: options.fleetAuthenticates,
              concurrency: options.fleetConcurrency,
            },
            partRandom,
          );
          break;
        case 'soak':
          report = await soakBench(
            {
              requests: options.soakRequests,
              maxMinutes: options.soakMaxMinutes,
              concurrency: options.soakConcurrency,
              devices: options.devices,
              deviceKey: options.deviceKey,
              heapBoundMb: options.heapBoundMb,
              azurite: required(azurite),
              tablePrefix: `bs${runId}`,
            },
            partRandom,
          );
          break;
      }
      const load = cpuBetween(cpuBefore, cpuSnapshot(), cpus().length);
      if (load) {
        report.notes.push(
          `machine during this part: ${load.busyCores.toFixed(2)} of ${cpus().length} cores busy on average, ` +
            `${load.otherCores.toFixed(2)} of them by processes other than this bench and its hosts`,
        );
      }
      console.log(`\n${report.title}  [${((performance.now() - partStarted) / 1000).toFixed(0)} s]\n`);
      console.log(report.table);
      if (report.notes.length > 0) console.log(`\n${report.notes.map((note) => `- ${note}`).join('\n')}`);
      ok &&= report.ok;
    }
  } finally {
    await azurite?.close();
  }
  console.log(`\nbench finished in ${((performance.now() - started) / 1000).toFixed(0)} s${ok ? '' : ' WITH ERRORS (see above)'}`);
  return ok;
}

function required(azurite: BenchAzurite | undefined): BenchAzurite {
  if (!azurite) throw new Error('the bench Azurite did not start');
  return azurite;
}


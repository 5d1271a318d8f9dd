import { azuriteConnectionString } from '../host/azurite.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { defaultReplayShards } from '../shared/proof/replayShardCount.js';
import { ThrottlingProxy } from '../testkit/throttlingProxy.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { authenticateRequests, checkProofSigner, enrolDevices, JtiSource, keyTypeNames, seededDevices, type BenchKeyType } from './devices.js';
import { describeErrors, ms, percent, table, whole, type PartReport } from './format.js';
import { LatencyHistogram } from './histogram.js';
import { startHost } from './hostProcess.js';
import { runLoad, type LoadRequest } from './loadGenerator.js';
import type { SeededRandom } from './random.js';

export interface ThrottledOptions {
  azurite: BenchAzurite;
  tablePrefix: string;
  /**
   * Entities per second each replay-cache partition serves (Table Storage: about 2,000), or
   * 'auto': an eighth of what this machine sustains unthrottled, measured first in the same
   * run, so that one partition is the bottleneck and the machine is not (on a shared machine
   * a fixed budget can be more than the host gets through at all).
   */
  budget: number | 'auto';
  /** REPLAY_SHARDS of each run. */
  shards: number[];
  concurrency: number;
  durationSeconds: number;
  warmupSeconds: number;
  devices: number;
  deviceKey: BenchKeyType;
}

/** Requests signed ahead of one timed run, at most. */
const maxPresigned = 40_000;
/** Presigning rate assumed when a warm-up too short to answer anything gives none. */
const fallbackRate = 200;

interface Tally {
  ok: number;
  /** 503 answers carrying a Retry-After header. */
  unavailable: number;
  /** Anything else: another status, a 503 without Retry-After, a network failure. */
  other: Map<string, number>;
  okLatency: LatencyHistogram;
}

/**
 * Part (throttled): /api/authenticate with the replay cache's partitions throttled as Table
 * Storage throttles them (testkit/throttlingProxy.ts), scaled down to a budget this
 * machine can drive past, once per shard count. A closed loop at `concurrency` offers more
 * than one partition's budget; the table shows what each shard count sustains.
 */
export async function throttledBench(options: ThrottledOptions, random: SeededRandom): Promise<PartReport> {
  const jtis = new JtiSource(random.fork('jti'));
  const devices = await seededDevices(random.fork('devices'), 'throttled', options.devices, options.deviceKey);
  await checkProofSigner(devices[0] as (typeof devices)[number]);
  const order = random.fork('order');
  const azuritePort = Number(/TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(options.azurite.connectionString)?.[1]);
  const unthrottled = 1_000_000;
  const proxy = await ThrottlingProxy.start({
    target: { host: '127.0.0.1', port: azuritePort },
    entitiesPerSecond: unthrottled,
    // The replay cache only: the claim is what every authentication writes.
    throttles: (name) => name.endsWith(TableReplayCache.tableName),
  });
  const rows: string[][] = [];
  const notes: string[] = [];
  const rates = new Map<number, number>();
  let ok = true;
  let budget = options.budget === 'auto' ? undefined : options.budget;
  // The baseline first: the default shard count with no partition limit.
  const runs = [{ shards: defaultReplayShards, limited: false }, ...options.shards.map((shards) => ({ shards, limited: true }))];
  let baseline: number | undefined;
  try {
    for (const { shards, limited } of runs) {
      const prefix = `${options.tablePrefix}s${shards}${limited ? 'l' : 'u'}`;
      const host = await startHost({
        env: { STORAGE_CONNECTION: azuriteConnectionString('127.0.0.1', proxy.port), TABLE_PREFIX: prefix, REPLAY_SHARDS: String(shards) },
      });
      try {
        // Set-up (registration claims proofs too) with room to spare, then the budget.
        proxy.setBudget(unthrottled);
        await enrolDevices(host.origin, host.adminKey, devices, jtis);
        const runBudget = limited ? (budget as number) : unthrottled;
        proxy.setBudget(runBudget);
        const warmup = await timedRun(host.origin, authenticateRequests(host.origin, devices, 200 + 20 * options.concurrency, order, jtis), options.concurrency, options.warmupSeconds);
        // Warm-up answers (200 or 503) all take a proof: sign for the rate the warm-up saw, with room.
        // Over the warm-up's own time: it may end early, when its requests run out.
        const answered = warmup.completed > 0 ? (warmup.tally.ok + warmup.tally.unavailable) / (warmup.elapsedMs / 1000) : fallbackRate;
        const wanted = Math.min(maxPresigned, Math.ceil(answered * options.durationSeconds * 1.5) + 10 * options.concurrency);
        const requests = authenticateRequests(host.origin, devices, wanted, order, jtis);
        // The partitions start the timed run with a full second's budget, as after a quiet spell.
        proxy.setBudget(runBudget);
        const busyBefore = proxy.counts.throttled;
        const run = await timedRun(host.origin, requests, options.concurrency, options.durationSeconds);
        const serverBusy = proxy.counts.throttled - busyBefore;
        if (run.elapsedMs < options.durationSeconds * 900) notes.push(`${shards} shard(s): the pre-signed proofs ran out after ${(run.elapsedMs / 1000).toFixed(1)} s`);
        const rate = run.tally.ok / (run.elapsedMs / 1000);
        if (limited) rates.set(shards, rate);
        else {
          baseline = rate;
          budget ??= Math.max(2, Math.floor(rate / 8));
        }
        const others = [...run.tally.other.values()].reduce((sum, count) => sum + count, 0);
        if (others > 0) {
          ok = false;
          notes.push(`${shards} shard(s): answers other than 200 and 503 with Retry-After: ${describeErrors(run.tally.other)}`);
        }
        rows.push([
          limited ? String(shards) : `${shards} (no limit)`,
          limited ? whole(runBudget * shards) : '–',
          whole(rate),
          limited && baseline !== undefined ? percent(rate / allowed(shards, runBudget, baseline)) : '–',
          whole(run.tally.ok),
          whole(run.tally.unavailable),
          String(others),
          whole(serverBusy),
          ms(run.latency.percentileMs(0.5)),
          ms(run.latency.percentileMs(0.99)),
          ms(run.tally.okLatency.percentileMs(0.99)),
        ]);
      } finally {
        await host.stop();
      }
    }
  } finally {
    await proxy.close();
  }
  const one = rates.get(1);
  const targets: string[] = [];
  if (options.budget === 'auto' && baseline !== undefined) {
    targets.push(
      `budget: auto = max(2, floor(unthrottled rate / 8)) = floor(${whole(baseline)} / 8) = ${whole(budget ?? 0)} entities/s per partition: ` +
        'a scaling of this machine, chosen so that one partition is the bottleneck; it makes 8x one shard the most any shard count can reach here',
    );
  }
  // The ratio of shard counts is bounded by the set-up (the budget against the machine's own
  // rate), so no target is judged on it: the run reports how much of that bound it reached.
  for (const [shards, rate] of rates) {
    if (shards === 1 || one === undefined || baseline === undefined || budget === undefined) continue;
    const ratio = rate / one;
    const bound = allowed(shards, budget, baseline) / allowed(1, budget, baseline);
    targets.push(
      `scaling: ${shards} shards sustain ${ratio.toFixed(1)}x the authentications/s of 1 shard under the same partition budget; ` +
        `the budget and this machine allow at most ${bound.toFixed(1)}x (min(${shards} x ${whole(budget)}, ${whole(baseline)} unthrottled) / min(${whole(budget)}, ${whole(baseline)})): ` +
        `scaling efficiency ${percent(ratio / bound)}`,
    );
  }
  notes.push(
    'of min(budget, unthrottled) = auth 200/s over what the run could reach at most: min(shards x budget, the unthrottled rate); ' +
      "each authentication claims one replay entity, and the partitions start a run with a full second's budget, so a short run can exceed 100%",
    `the proxy throttles the replay cache's partitions only (its claim is the one write every authentication makes); the revocation ` +
      `marker reads and the shard-count registry pass unthrottled. "503 to gateway" are answers 503 unavailable with Retry-After after the ` +
      `SDK's own retries (3, from 100 ms doubling); "ServerBusy from store" counts the proxy's 503 answers, retries included`,
  );
  return {
    title:
      `(throttled) POST /api/authenticate with each replay-cache partition limited to ${whole(budget ?? 0)} entities/s (Table Storage: ~2,000), ` +
      `concurrency ${options.concurrency}, ${options.durationSeconds} s per run, ${options.devices} devices with ${keyTypeNames[options.deviceKey]} keys`,
    table: table(
      ['REPLAY_SHARDS', 'budget entities/s (all shards)', 'auth 200/s', 'of min(budget, unthrottled)', '200', '503 to gateway', 'other', 'ServerBusy from store', 'p50 ms', 'p99 ms', 'p99 ms (200s)'],
      rows,
    ),
    notes: [...targets, ...notes],
    ok,
  };
}

/** Authentications/s a run can reach at most: its shards' budget, or what this machine does without a limit. */
function allowed(shards: number, budget: number, unthrottled: number): number {
  return Math.min(shards * budget, unthrottled);
}

async function timedRun(origin: string, requests: LoadRequest[], concurrency: number, seconds: number) {
  const tally: Tally = { ok: 0, unavailable: 0, other: new Map(), okLatency: new LatencyHistogram() };
  let cursor = 0;
  const result = await runLoad({
    origin,
    concurrency,
    next: () => requests[cursor++],
    durationMs: seconds * 1000,
    expectStatus: 200,
    onAnswer: (status, headers, latencyUs) => {
      if (status === 200) {
        tally.ok++;
        tally.okLatency.record(latencyUs);
      } else if (status === 503 && Number(headers['retry-after']) > 0) tally.unavailable++;
      else {
        const key = status === 503 ? '503 without Retry-After' : status === 0 ? 'network' : String(status);
        tally.other.set(key, (tally.other.get(key) ?? 0) + 1);
      }
    },
  });
  return { ...result, tally };
}

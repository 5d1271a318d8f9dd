import type { BenchAzurite } from './azuriteWorker.js';
import { authenticateRequests, enrolDevices, JtiSource, seededDevices, type BenchKeyType } from './devices.js';
import { describeErrors, mb, ms, table, whole, type PartReport } from './format.js';
import { hostHeap, startHost, type HeapReport } from './hostProcess.js';
import { LatencyHistogram } from './histogram.js';
import { runLoad, type LoadRequest, type LoadResult } from './loadGenerator.js';
import { dropReplayRows, replayTable } from './replayRows.js';
import type { SeededRandom } from './random.js';

export interface SoakOptions {
  requests: number;
  /** The soak stops after this long even if requests are left (reported as such). */
  maxMinutes: number;
  concurrency: number;
  devices: number;
  deviceKey: BenchKeyType;
  /** The largest growth of the host's heap (after a forced GC) that passes. */
  heapBoundMb: number;
  azurite: BenchAzurite;
  tablePrefix: string;
}

/**
 * Proofs are signed just before their segment, which must end well inside their ±300 s
 * window; segments are short so that Azurite's replay partition stays small (see below).
 */
const segmentSeconds = 20;
const maxSegment = 5_000;
/** Heap readings (after a forced GC) over the soak, besides the one before it. */
const checkpoints = 10;
/** Per segment: past this the run stops even if requests are left (a guard, not a target). */
const segmentCapMs = 240_000;

/**
 * Memory soak: `requests` authenticate requests against a host child run under
 * `node --expose-gc`, pointed at the bench's Azurite (so the stored replay-cache rows live in
 * the bench's process, not in the heap being watched). The host's heap after a forced GC is
 * read before and at ten checkpoints, the last at the end.
 */
export async function soakBench(options: SoakOptions, random: SeededRandom): Promise<PartReport> {
  const host = await startHost({
    nodeArgs: ['--expose-gc'],
    env: { STORAGE_CONNECTION: options.azurite.connectionString, TABLE_PREFIX: options.tablePrefix },
  });
  const rows: string[][] = [];
  const notes: string[] = [];
  let ok = true;
  const started = performance.now();
  const replay = replayTable(options.azurite.connectionString, options.tablePrefix);
  try {
    const jtis = new JtiSource(random.fork('jti'));
    const devices = await seededDevices(random.fork('devices'), 'soak', options.devices, options.deviceKey);
    await enrolDevices(host.origin, host.adminKey, devices, jtis);
    const order = random.fork('order');
    const run = (requests: LoadRequest[]): Promise<LoadResult> => {
      let cursor = 0;
      return runLoad({ origin: host.origin, concurrency: options.concurrency, next: () => requests[cursor++], durationMs: segmentCapMs, expectStatus: 200 });
    };

    // Warm-up: compiled code paths, the SDK's connection pool, the verifier's key cache.
    const warmup = await run(authenticateRequests(host.origin, devices, Math.min(2_000, options.requests), order, jtis));
    const segment = Math.max(500, Math.min(maxSegment, Math.round(warmup.rps * segmentSeconds)));
    const checkpointEvery = Math.max(segment, Math.ceil(options.requests / checkpoints));
    const before = await hostHeap(host.origin);
    rows.push(heapRow('before (after warm-up)', undefined, before, before));

    let done = 0;
    let errors = warmup.errors;
    let timedMs = 0;
    let cleaned = 0;
    let last = before;
    let window = { completed: 0, elapsedMs: 0, latency: new LatencyHistogram(), since: 0 };
    const deadline = started + options.maxMinutes * 60_000;
    while (done < options.requests && performance.now() < deadline) {
      cleaned += await dropReplayRows(replay);
      const count = Math.min(segment, options.requests - done);
      const result = await run(authenticateRequests(host.origin, devices, count, order, jtis));
      done += result.completed;
      timedMs += result.elapsedMs;
      errors += result.errors;
      window.completed += result.completed;
      window.elapsedMs += result.elapsedMs;
      window.latency.merge(result.latency);
      if (result.errors > 0) notes.push(`after ${whole(done)}: unexpected answers ${describeErrors(result.unexpected)}; ${result.samples.join(' | ')}`);
      if (done - window.since >= checkpointEvery || done >= options.requests || result.completed === 0) {
        last = await hostHeap(host.origin);
        rows.push(heapRow(`after ${whole(done)}`, window, last, before));
        // A long part: say where it is (stderr, so the tables on stdout stay clean).
        process.stderr.write(`soak: ${whole(done)} of ${whole(options.requests)} requests, ${whole(window.completed / (window.elapsedMs / 1000))} req/s since the last checkpoint\n`);
        window = { completed: 0, elapsedMs: 0, latency: new LatencyHistogram(), since: done };
      }
      if (result.completed === 0) break;
    }
    if (done < options.requests) {
      ok = false;
      notes.push(`stopped after ${options.maxMinutes} minutes (--soak-max-minutes) with ${whole(options.requests - done)} requests left`);
    }
    notes.push(
      `between segments of ${whole(Math.min(segment, options.requests))} requests (untimed) the bench deleted the replay-cache rows of the proofs already used ` +
        `(${whole(cleaned)} in all): Azurite's insert scans the hour's whole partition, Table Storage's does not (bench/replayRows.ts)`,
    );
    const growthMb = (last.heapUsed - before.heapUsed) / 1024 / 1024;
    const held = growthMb < options.heapBoundMb;
    ok &&= held && errors === 0;
    notes.push(
      `bound: heap used after GC grows by less than ${options.heapBoundMb} MB over ${whole(done)} requests: ` +
        `${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(2)} MB -> ${held ? 'HELD' : 'VIOLATED'}`,
    );
    notes.push(
      `${whole(done)} requests in ${(timedMs / 1000).toFixed(0)} s of timed runs (${whole(done / (timedMs / 1000))} req/s), ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s with set-up, proof signing between segments and GCs; ${errors} errors`,
    );
  } finally {
    await host.stop();
  }
  return {
    title: `(5) memory soak: ${whole(options.requests)} POST /api/authenticate at concurrency ${options.concurrency}, host child under --expose-gc on the bench's Azurite; heap after a forced GC`,
    table: table(['checkpoint', 'req/s (since last)', 'p99 ms (since last)', 'heap used MB', 'Δ heap used MB', 'heap total MB', 'rss MB', 'external MB'], rows),
    notes,
    ok,
  };
}

function heapRow(
  label: string,
  result: { completed: number; elapsedMs: number; latency: LatencyHistogram } | undefined,
  heap: HeapReport,
  before: HeapReport,
): string[] {
  const delta = (heap.heapUsed - before.heapUsed) / 1024 / 1024;
  return [
    label,
    result ? whole(result.completed / (result.elapsedMs / 1000)) : '–',
    result ? ms(result.latency.percentileMs(0.99)) : '–',
    mb(heap.heapUsed),
    `${delta >= 0 ? '+' : ''}${delta.toFixed(2)}`,
    mb(heap.heapTotal),
    mb(heap.rss),
    mb(heap.external),
  ];
}

import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { LatencyHistogram } from './histogram.js';

export interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface LoadOptions {
  /** http://host:port of the server; loopback only. */
  origin: string;
  concurrency: number;
  /** The next request for connection `worker`; undefined when that worker has no more. */
  next: (worker: number) => LoadRequest | undefined;
  /** Stops starting requests after this long (requests in flight still finish). */
  durationMs: number;
  /** A response with another status counts as an error. */
  expectStatus: number;
  /** Per-request cap; a request that takes longer is abandoned and counted as an error. */
  timeoutMs?: number;
  /** Sees every answer's status and headers (0 and none for a network failure), e.g. to check Retry-After. */
  onAnswer?: (status: number, headers: IncomingHttpHeaders, latencyUs: number) => void;
}

export interface LoadResult {
  completed: number;
  errors: number;
  /** Status (or "network") → count, for the statuses other than the expected one. */
  unexpected: Map<string, number>;
  /** A few unexpected answers, for the report. */
  samples: string[];
  elapsedMs: number;
  rps: number;
  latency: LatencyHistogram;
}

/**
 * A closed-loop load generator: `concurrency` connections (keep-alive), each sending its next
 * request as soon as the previous answer has been read. Bounded twice: by `durationMs` and by
 * the requests `next` hands out, so a run always ends. Latency is measured from just before
 * the request is written to the end of the answer.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const origin = new URL(options.origin);
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(origin.hostname)) {
    throw new Error(`the load generator only talks to loopback addresses, not ${origin.hostname}`);
  }
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency, maxFreeSockets: options.concurrency });
  const latency = new LatencyHistogram();
  const unexpected = new Map<string, number>();
  const samples: string[] = [];
  let completed = 0;
  let errors = 0;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = performance.now();
  const deadline = started + options.durationMs;

  const worker = async (index: number) => {
    for (;;) {
      if (performance.now() >= deadline) return;
      const next = options.next(index);
      if (!next) return;
      const sent = performance.now();
      const answer = await send(agent, origin, next, timeoutMs);
      const latencyUs = (performance.now() - sent) * 1000;
      latency.record(latencyUs);
      options.onAnswer?.(answer.status, answer.headers, latencyUs);
      completed++;
      if (answer.status !== options.expectStatus) {
        errors++;
        const key = answer.status === 0 ? 'network' : String(answer.status);
        unexpected.set(key, (unexpected.get(key) ?? 0) + 1);
        if (samples.length < 3) samples.push(`${key} ${answer.body.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => worker(index)));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { completed, errors, unexpected, samples, elapsedMs, rps: completed / (elapsedMs / 1000), latency };
}

function send(agent: Agent, origin: URL, load: LoadRequest, timeoutMs: number): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((done) => {
    const headers = load.body ? { ...load.headers, 'content-length': String(load.body.byteLength) } : load.headers;
    const req = httpRequest(
      { agent, hostname: origin.hostname.replace(/^\[|\]$/g, ''), port: origin.port, method: load.method, path: load.path, headers },
      (res) => {
        const status = res.statusCode ?? 0;
        // Only unexpected answers are kept (for the report); the rest is read and dropped.
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (status >= 300 && chunks.length < 4) chunks.push(chunk);
        });
        res.on('end', () => done({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error) => done({ status: 0, headers: {}, body: error.message }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => done({ status: 0, headers: {}, body: error.message }));
    req.end(load.body);
  });
}

export interface OperationResult {
  completed: number;
  errors: number;
  samples: string[];
  elapsedMs: number;
  rps: number;
  latency: LatencyHistogram;
}

/**
 * The same closed loop for any asynchronous operation (the raw Azurite baseline): `concurrency`
 * callers, each starting its next operation when the last has finished, bounded by `count`
 * and `durationMs`. An operation that throws counts as an error.
 */
export async function runOperations(options: {
  concurrency: number;
  count: number;
  durationMs: number;
  operation: (index: number) => Promise<unknown>;
}): Promise<OperationResult> {
  const latency = new LatencyHistogram();
  const samples: string[] = [];
  let next = 0;
  let completed = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const worker = async () => {
    while (performance.now() < deadline && next < options.count) {
      const index = next++;
      const sent = performance.now();
      try {
        await options.operation(index);
      } catch (error) {
        errors++;
        if (samples.length < 3) samples.push(error instanceof Error ? error.message : String(error));
      }
      latency.record((performance.now() - sent) * 1000);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  const elapsedMs = performance.now() - started;
  return { completed, errors, samples, elapsedMs, rps: completed / (elapsedMs / 1000), latency };
}

import type { TableEntity } from '@azure/data-tables';
import type fc from 'fast-check';
import { errorCodes, isErrorCode } from '../../shared/errors.js';
import type { Services } from '../../shared/services.js';
import type { Answer } from './invoke.js';

/**
 * The machinery every fuzzed endpoint shares: a seed that is printed and can be replayed,
 * a deadline on each call, a record of every table write a call attempted, and the one
 * judgement of an answer ("a well-formed refusal, or a success the input allowed").
 */

/** Fixed so that every run tries the same inputs; FUZZ_SEED replays another run. */
export const fuzzSeed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10) || 20_251_129;
/**
 * 600 per endpoint in the normal run (14 endpoints: 8,400 cases, about 25 s of one core),
 * so that npm test stays under its 3 minutes; FUZZ_RUNS goes deeper (or shallower while editing).
 */
export const fuzzRuns = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10) || 600;

/**
 * The seed of one endpoint's run: the base seed mixed with the endpoint's name, so that
 * endpoints with the same plan shapes (renew and authenticate) still get different inputs.
 */
export function endpointSeed(name: string): number {
  let hash = fuzzSeed | 0;
  for (const char of name) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

/**
 * fast-check parameters for one endpoint. To replay a failure: the same FUZZ_SEED (the base
 * seed), `-t '<endpoint>'`, and FUZZ_PATH from the counterexample for just that case.
 */
export function fuzzParameters<T>(name: string): fc.Parameters<T> {
  return {
    seed: endpointSeed(name),
    numRuns: fuzzRuns,
    ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
  };
}

/** A call that does not settle within `ms` is a hang: it fails the case instead of the run. */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} did not answer within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TableWrite {
  /** Table name without the test's prefix: devices, replay, bulktokens, … */
  table: string;
  operation: string;
  partitionKey: string;
  rowKey: string;
}

const writeOperations = new Set(['createEntity', 'upsertEntity', 'updateEntity', 'deleteEntity', 'submitTransaction', 'deleteTable']);

/**
 * Records every write the service attempts, through the TableService the stores share. A
 * dump of the tables after the run is the ground truth; this record says which call made a
 * write, so a failing case can be named and shrunk instead of "something, somewhere".
 */
export class WriteSpy {
  private writes: TableWrite[] = [];

  constructor(services: Services) {
    const tables = services.tables;
    const open = tables.table.bind(tables);
    tables.table = async (name: string) => this.wrap(await open(name), name);
    // The per-request calls go through the lean client (docs/decisions/0017); their writes count too.
    const openHot = tables.hotTable.bind(tables);
    tables.hotTable = async (name: string) => this.wrap(await openHot(name), name);
  }

  /** The writes attempted since the last call. */
  take(): TableWrite[] {
    const taken = this.writes;
    this.writes = [];
    return taken;
  }

  private wrap<T extends object>(client: T, table: string): T {
    const record = (operation: string, args: unknown[]) => {
      for (const key of keysOf(operation, args)) this.writes.push({ table, operation, ...key });
    };
    return new Proxy(client, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string' || !writeOperations.has(property)) return value;
        return (...args: unknown[]) => {
          record(property, args);
          return (value as (...params: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
}

function keysOf(operation: string, args: unknown[]): Array<{ partitionKey: string; rowKey: string }> {
  const entityKey = (entity: unknown) => {
    const { partitionKey, rowKey } = (entity ?? {}) as Partial<TableEntity>;
    return { partitionKey: String(partitionKey), rowKey: String(rowKey) };
  };
  if (operation === 'deleteEntity') return [{ partitionKey: String(args[0]), rowKey: String(args[1]) }];
  if (operation === 'submitTransaction') return ((args[0] as unknown[][] | undefined) ?? []).map((action) => entityKey(action[1]));
  if (operation === 'deleteTable') return [{ partitionKey: '*', rowKey: '*' }];
  return [entityKey(args[0])];
}

export function writeKey(write: Pick<TableWrite, 'table' | 'partitionKey' | 'rowKey'>): string {
  return `${write.table}|${write.partitionKey}|${write.rowKey}`;
}

type Dump = Record<string, Array<Record<string, unknown>>>;

/** Rows added, changed (any property or ETag) or removed between two dumps, keyed like writeKey. */
export function tableChanges(before: Dump, after: Dump, prefix: string): string[] {
  const rows = (dump: Dump) => {
    const map = new Map<string, string>();
    for (const [name, entities] of Object.entries(dump)) {
      for (const entity of entities) {
        map.set(writeKey({ table: name.slice(prefix.length), partitionKey: String(entity.partitionKey), rowKey: String(entity.rowKey) }), JSON.stringify(entity));
      }
    }
    return map;
  };
  const old = rows(before);
  const now = rows(after);
  const changed: string[] = [];
  for (const [key, value] of now) if (old.get(key) !== value) changed.push(key);
  for (const key of old.keys()) if (!now.has(key)) changed.push(key);
  return changed;
}

/**
 * The contract of a refusal (docs/protocol.md section 5): problem+json whose `code` is one of
 * shared/errors.ts, whose status is that code's, with the Bearer challenge on 401 and
 * Retry-After on 503. Returns what is wrong, or undefined.
 */
export function problemViolation(answer: Answer): string | undefined {
  if (answer.headers.get('content-type') !== 'application/problem+json') return `content-type is ${answer.headers.get('content-type')}, not application/problem+json`;
  const code = answer.body.code;
  if (!isErrorCode(code)) return `code ${JSON.stringify(code)} is not one of shared/errors.ts`;
  if (errorCodes[code].status !== answer.status) return `status ${answer.status} does not match code ${code} (${errorCodes[code].status})`;
  if (answer.body.status !== answer.status) return `body.status ${String(answer.body.status)} differs from the HTTP status ${answer.status}`;
  if (typeof answer.body.detail !== 'string' || answer.body.detail === '') return 'detail is missing';
  if (/\bat .+:\d+:\d+\)?$/m.test(answer.text)) return 'the answer carries a stack trace';
  if (answer.status === 401 && !answer.headers.get('www-authenticate')?.startsWith('Bearer')) return '401 without WWW-Authenticate: Bearer';
  if (answer.status === 503 && !/^\d+$/.test(answer.headers.get('retry-after') ?? '')) return '503 without Retry-After';
  return undefined;
}

/** Counts of outcomes per endpoint, printed after each run so coverage is visible. */
export class Outcomes {
  private readonly counts = new Map<string, number>();

  add(answer: Answer): void {
    const key = answer.status < 400 ? String(answer.status) : `${answer.status} ${String(answer.body.code)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  count(predicate: (key: string) => boolean): number {
    let total = 0;
    for (const [key, value] of this.counts) if (predicate(key)) total += value;
    return total;
  }

  toString(): string {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, value]) => `${key}: ${value}`)
      .join(', ');
  }
}

import { RestError, TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { azureCredential } from '../azureCredential.js';
import { UnavailableError } from '../errors.js';
import { LeanTable, leanAuthFor } from './leanTable.js';
import { cachedUntilFailure } from './promiseCache.js';

/**
 * Opens the service's tables. `STORAGE_CONNECTION` is either a connection string (Azurite,
 * or an account key where one is allowed) or an account's table endpoint URL such as
 * https://stxyz.table.core.windows.net, used with the managed identity (keyless).
 */
export class TableService {
  private readonly created = new Map<string, Promise<TableClient>>();
  private readonly lean = new Map<string, Promise<LeanTable | TableClient>>();

  constructor(
    private readonly connection: string,
    private readonly prefix: string,
    /** Whether hotTable may hand out the lean client (docs/decisions/0017); off, the SDK's client. */
    private readonly leanHotPath = true,
  ) {}

  /**
   * The client for the per-request calls (the replay claim and the revocation marker): the
   * lean node:http client where the connection's authentication is one it speaks, else the
   * SDK's. The table is created through the SDK first, as `table` does.
   */
  hotTable(name: string): Promise<LeanTable | TableClient> {
    const tableName = `${this.prefix}${name}`;
    return cachedUntilFailure(this.lean, tableName, async () => {
      const client = await this.table(name);
      const auth = this.leanHotPath ? leanAuthFor(this.connection, azureCredential) : undefined;
      if (!auth) return client;
      return new LeanTable(`${client.url.replace(/\/+$/, '')}/${tableName}`, auth);
    });
  }

  /** The client for table `<prefix><name>`, creating the table on first use. */
  table(name: string): Promise<TableClient> {
    const tableName = `${this.prefix}${name}`;
    return cachedUntilFailure(this.created, tableName, () => this.open(tableName));
  }

  /** One cheap round trip to the store, for health checks: reads at most one entity. */
  async ping(name: string): Promise<void> {
    const client = await this.table(name);
    await storageCall('Table Storage', () => client.listEntities().byPage({ maxPageSize: 1 }).next());
  }

  private async open(tableName: string): Promise<TableClient> {
    const client = createTableClient(this.connection, tableName);
    await storageCall('Table Storage', () => client.createTable());
    return client;
  }
}

// The pipeline's policy type, taken from the client's options rather than from
// @azure/core-rest-pipeline, which this project does not depend on directly.
type PipelinePolicy = NonNullable<TableServiceClientOptions['additionalPolicies']>[number]['policy'];

/** How long one attempt may take, body included; a store that accepts and never answers is down. */
const attemptTimeoutMs = 3000;

/**
 * Limits each attempt to attemptTimeoutMs from sending to the last byte of the response.
 * The HTTP client's own `request.timeout` stops counting once the headers arrive, so a store
 * that sends headers and then stalls in the body would hold the request forever. An abort
 * signal ends the attempt at any stage; the caller's own signal still aborts it too.
 */
const attemptTimeout: PipelinePolicy = {
  name: 'storageAttemptTimeout',
  async sendRequest(request, next) {
    const callerSignal = request.abortSignal;
    const attempt = new AbortController();
    const abort = () => attempt.abort();
    if (callerSignal?.aborted) abort();
    callerSignal?.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(abort, attemptTimeoutMs);
    request.abortSignal = attempt.signal;
    try {
      return await next(request);
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', abort);
      // The retry policy sends this same request again: each attempt gets a fresh limit.
      if (callerSignal) request.abortSignal = callerSignal;
      else delete request.abortSignal;
    }
  },
};

// Bounded: at most 3 retries, waits of 100 ms doubling to at most 1 s, and each attempt at
// most 3 s, so a request gives up and answers 503 rather than holding the caller.
const clientOptions: TableServiceClientOptions = {
  retryOptions: { maxRetries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 1000 },
  additionalPolicies: [{ position: 'perRetry', policy: attemptTimeout }],
};

/**
 * Pipeline policies the service's Table calls never use: no tracer or SDK log level is
 * configured, no request carries form data or multipart parts (transactions build their own
 * body), answers are small JSON that is not worth compressing, and the Table service does
 * not redirect. Removing them saves a few per cent of a call's CPU (docs/decisions/0017);
 * the user agent, client request id and proxy policies stay for diagnostics and networks
 * that need a proxy.
 */
export const unneededPolicies = ['tracingPolicy', 'logPolicy', 'formDataPolicy', 'multipartPolicy', 'decompressResponsePolicy', 'redirectPolicy'];

export function createTableClient(connection: string, tableName: string): TableClient {
  const client = /^https?:\/\//i.test(connection)
    ? new TableClient(connection, tableName, azureCredential(), clientOptions)
    : TableClient.fromConnectionString(connection, tableName, {
        ...clientOptions,
        allowInsecureConnection: /DefaultEndpointsProtocol=http;|TableEndpoint=http:\/\/|UseDevelopmentStorage=true/i.test(connection),
      });
  for (const name of unneededPolicies) client.pipeline.removePolicy({ name });
  return client;
}

/** The Table service's error code (`EntityAlreadyExists`, `UpdateConditionNotSatisfied`, …). */
export function storageErrorCode(error: unknown): string | undefined {
  if (!(error instanceof RestError)) return undefined;
  const details = error.details as { odataError?: { code?: string }; errorCode?: string } | undefined;
  return details?.odataError?.code ?? details?.errorCode ?? error.code;
}

/**
 * The index of the operation that failed an entity-group transaction: the service's message
 * starts with it ("3:The specified entity already exists."). Undefined when it does not.
 */
export function failedOperation(error: unknown): number | undefined {
  const match = /^(\d+):/.exec(error instanceof Error ? error.message : '');
  return match ? Number(match[1]) : undefined;
}

export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

/**
 * Runs one storage operation (the SDK has already retried it) and turns "the store is not
 * answering" into a 503. Answers that are about the data (404, 409, 412) pass through for
 * the caller to interpret.
 */
export async function storageCall<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isUnavailable(error)) throw new UnavailableError(what, error);
    throw error;
  }
}

function isUnavailable(error: unknown): boolean {
  // A timed-out attempt surfaces as an abort, which the SDK does not retry.
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return true;
  if (!(error instanceof RestError)) return false;
  const status = error.statusCode;
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

import { createHmac, randomUUID } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { RestError, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';

/**
 * The three Table requests every device request makes - the replay claim (one insert, or
 * an entity-group transaction of inserts) and the revocation marker's query - sent over
 * node:http without the Azure SDK's pipeline. The SDK spends about 130 µs of CPU per call
 * (tracing spans, an AbortController, serializer passes, a dozen async policies, and two new
 * clients with full pipelines per transaction) where this spends about a third of that
 * (docs/decisions/0017). Everything else stays on @azure/data-tables.
 *
 * It keeps what the SDK does that the service relies on, and is tested against the SDK
 * byte for byte (test/leanTable.test.ts): the same request lines, bodies and headers;
 * SharedKeyLite signing with an account key, a SAS token, or a bearer token from a
 * TokenCredential (the managed identity); at most 3 retries on network failures, 408 and
 * 5xx (not 501/505) with the SDK's back-off (100 ms doubling to 1 s, with jitter) and
 * Retry-After on 429/503; each attempt cut off after 3 s; and failures as the SDK's
 * RestError with `statusCode`, `code` and `details.odataError`, so storageErrorCode,
 * failedOperation and isStatus read them as before.
 */
export type LeanEntity = TableEntity<Record<string, string | number | boolean>>;

export interface LeanAuth {
  kind: 'sharedKeyLite' | 'sas' | 'bearer';
  accountName?: string;
  accountKey?: Buffer;
  sas?: string;
  credential?: TokenCredential;
}

/** The SDK's scope for Table Storage tokens. */
export const tableTokenScope = 'https://storage.azure.com/.default';
const apiVersion = '2019-02-02';
const crlf = '\r\n';
const maxRetries = 3;
const retryDelayMs = 100;
const maxRetryDelayMs = 1000;
/** The same bound as the SDK clients' attempt timeout (tableService.ts). */
export const leanAttemptTimeoutMs = 3000;
/** Renew a bearer token this long before it expires, as the SDK's bearer-token policy does. */
const tokenRefreshMarginMs = 2 * 60 * 1000;

const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** How many requests the lean clients of this process sent, by kind (read by the bench). */
export const leanTableCounts = { insert: 0, batch: 0, query: 0, read: 0, entitiesInBatches: 0 };

export class LeanTable {
  private readonly tableUrl: URL;
  private readonly tablePath: string;
  /** The base of a sub-request's URL inside a transaction: the table's URL without a SAS. */
  private readonly subRequestUrl: string;
  private readonly batchPath: string;
  private readonly isHttps: boolean;
  private readonly signatures = new Map<string, { date: string; value: string }>();
  private token: { value: string; renewAt: number } | undefined;
  /** The tenant a 401 challenge named, for later token requests. */
  private challengeTenant: string | undefined;
  private tokenRequest: Promise<string> | undefined;

  private readonly agent: HttpAgent;

  /**
   * `tableUrl`: the table's URL as the SDK's TableClient has it (`client.url` + `/` + name).
   * `agent`: a keep-alive agent of one's own (tests: one that trusts a local certificate).
   */
  constructor(
    tableUrl: string,
    private readonly auth: LeanAuth,
    agent?: HttpAgent,
  ) {
    this.tableUrl = new URL(tableUrl);
    this.isHttps = this.tableUrl.protocol === 'https:';
    // As the SDK's bearer-token policy: a token never travels in clear text.
    if (auth.kind === 'bearer' && !this.isHttps) throw new Error('Bearer token authentication is not permitted for non-TLS protected (non-https) URLs.');
    this.agent = agent ?? (this.isHttps ? httpsAgent : httpAgent);
    this.tablePath = this.tableUrl.pathname;
    this.subRequestUrl = `${this.tableUrl.origin}${this.tablePath}`;
    const base = this.tablePath.slice(0, this.tablePath.lastIndexOf('/') + 1);
    this.batchPath = `${base}$batch`;
  }

  /** Insert-if-absent of one entity; 409 EntityAlreadyExists when its key is taken. */
  async createEntity(entity: LeanEntity): Promise<void> {
    leanTableCounts.insert++;
    const answer = await this.send('POST', this.tablePath, '', insertHeaders, serializeEntity(entity));
    if (answer.status !== 204 && answer.status !== 201) throw restError(answer);
  }

  /**
   * An entity-group transaction of inserts into one partition (the only action the hot path
   * needs). Fails as the SDK does: a RestError whose message starts with the failed
   * operation's index ("3:The specified entity already exists.").
   */
  async submitTransaction(actions: TransactionAction[]): Promise<void> {
    leanTableCounts.batch++;
    leanTableCounts.entitiesInBatches += actions.length;
    const batchId = randomUUID();
    const changesetId = randomUUID();
    const changeset = `--changeset_${changesetId}`;
    let body = `--batch_${batchId}${crlf}content-type: multipart/mixed; boundary=changeset_${changesetId}${crlf}${crlf}`;
    for (const action of actions) {
      if (action[0] !== 'create') throw new Error('the lean Table client sends only create actions in a transaction');
      body +=
        `${crlf}${changeset}${crlf}content-type: application/http${crlf}content-transfer-encoding: binary${crlf}${crlf}` +
        `POST ${this.subRequestUrl} HTTP/1.1${crlf}${subRequestHeaders}${crlf}${crlf}${serializeEntity(action[1] as LeanEntity)}`;
    }
    body += `${crlf}${changeset}--${crlf}--batch_${batchId}--${crlf}`;
    const answer = await this.send('POST', this.batchPath, '', batchHeaders(batchId), body);
    parseTransactionAnswer(answer);
  }

  /** A point read of the `select`ed properties; 404 ResourceNotFound when there is no such row. */
  async getEntity<T extends object>(partitionKey: string, rowKey: string, options: { queryOptions: { select: string[] } }): Promise<T & { etag: string }> {
    leanTableCounts.read++;
    const path = `${this.tablePath}(PartitionKey='${odataKey(partitionKey)}',RowKey='${odataKey(rowKey)}')`;
    const answer = await this.send('GET', path, `$select=${queryValue(options.queryOptions.select.join(','))}`, readHeaders);
    if (answer.status !== 200) throw restError(answer);
    return deserialize(JSON.parse(answer.body) as Record<string, unknown>) as T & { etag: string };
  }

  /**
   * The first entity a query finds, with `select`ed properties and its ETag; undefined when
   * none matches. One request, `$top=1`, as the SDK's `listEntities().byPage({ maxPageSize: 1 })`.
   */
  async queryFirst(filter: string, select: string[]): Promise<(Record<string, unknown> & { etag: string }) | undefined> {
    leanTableCounts.query++;
    const query = `$top=1&$select=${queryValue(select.join(','))}&$filter=${queryValue(filter)}`;
    const answer = await this.send('GET', `${this.tablePath}()`, query, readHeaders);
    if (answer.status !== 200) throw restError(answer);
    const first = (JSON.parse(answer.body) as { value?: Array<Record<string, unknown>> }).value?.[0];
    return first ? (deserialize(first) as Record<string, unknown> & { etag: string }) : undefined;
  }

  /**
   * Sends with the SDK's retry rules; resolves with any answer that is not retried. A 401
   * with a Bearer challenge gets one more attempt with a new token for the tenant the
   * challenge names, as the SDK's challenge handling for Table Storage does.
   */
  private async send(method: string, path: string, query: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    const answer = await this.sendWithRetries(method, path, query, headers, body);
    if (answer.status !== 401 || this.auth.kind !== 'bearer') return answer;
    const challenge = headerValue(answer.headers['www-authenticate']) ?? '';
    const tenant = /authorization_uri="?https:\/\/[^/]+\/([^/"\s]+)/i.exec(challenge)?.[1];
    if (!/^Bearer\b/i.test(challenge)) return answer;
    this.token = undefined;
    this.challengeTenant = tenant;
    return this.sendWithRetries(method, path, query, headers, body);
  }

  private async sendWithRetries(method: string, path: string, query: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    for (let retry = 0; ; retry++) {
      let answer: Answer | undefined;
      let failure: unknown;
      try {
        answer = await this.attempt(method, path, query, headers, body);
      } catch (error) {
        failure = error;
      }
      if (retry >= maxRetries) {
        if (answer) return answer;
        throw failure;
      }
      let wait: number;
      if (answer) {
        const throttledFor = retryAfterMs(answer);
        if (throttledFor !== undefined) wait = throttledFor;
        else if ((answer.status >= 500 && answer.status !== 501 && answer.status !== 505) || answer.status === 408) wait = backoff(retry);
        else return answer;
      } else if (isSystemError(failure)) {
        wait = backoff(retry);
      } else {
        throw failure;
      }
      await new Promise((done) => setTimeout(done, wait));
    }
  }

  private async attempt(method: string, path: string, query: string, headers: Record<string, string>, body: string | undefined): Promise<Answer> {
    const outgoing: Record<string, string | number> = { ...headers };
    const authorization = await this.authorization(path);
    outgoing['x-ms-date'] = authorization.date;
    if (authorization.header !== undefined) outgoing.authorization = authorization.header;
    if (body !== undefined) outgoing['content-length'] = Buffer.byteLength(body);
    const search = [query, this.auth.kind === 'sas' ? (this.auth.sas ?? '') : ''].filter((part) => part !== '').join('&');
    return new Promise<Answer>((resolve, reject) => {
      const request = (this.isHttps ? httpsRequest : httpRequest)(
        {
          protocol: this.tableUrl.protocol,
          hostname: this.tableUrl.hostname,
          port: this.tableUrl.port,
          method,
          path: search === '' ? path : `${path}?${search}`,
          headers: outgoing,
          agent: this.agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            clearTimeout(timer);
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
          });
          response.on('error', fail);
        },
      );
      function fail(error: unknown): void {
        clearTimeout(timer);
        if (error instanceof Error && error.name === 'AbortError') {
          reject(error);
          return;
        }
        // As the SDK's HTTP client: a RestError without statusCode, carrying the system error's code.
        const code = (error as { code?: unknown } | undefined)?.code;
        reject(new RestError(error instanceof Error ? error.message : String(error), { code: typeof code === 'string' ? code : 'REQUEST_SEND_ERROR' }));
      }
      // From sending to the last byte of the answer, as the SDK clients' attempt timeout.
      const timer = setTimeout(() => {
        const error = new Error('the Table request took longer than its attempt timeout');
        error.name = 'AbortError';
        request.destroy(error);
      }, leanAttemptTimeoutMs);
      request.on('error', fail);
      request.end(body);
    });
  }

  /** The x-ms-date and Authorization of a request to `path`. */
  private async authorization(path: string): Promise<{ date: string; header: string | undefined }> {
    const date = new Date().toUTCString();
    switch (this.auth.kind) {
      case 'sas':
        return { date, header: undefined };
      case 'bearer':
        return { date, header: `Bearer ${await this.bearerToken()}` };
      case 'sharedKeyLite': {
        // SharedKeyLite signs only the date and the path, so one signature per second and path.
        const known = this.signatures.get(path);
        if (known?.date === date) return { date, header: known.value };
        const signature = createHmac('sha256', this.auth.accountKey ?? Buffer.alloc(0))
          .update(`${date}\n/${this.auth.accountName ?? ''}${path}`, 'utf8')
          .digest('base64');
        const value = `SharedKeyLite ${this.auth.accountName ?? ''}:${signature}`;
        this.signatures.set(path, { date, value });
        return { date, header: value };
      }
    }
  }

  private bearerToken(): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return Promise.resolve(this.token.value);
    this.tokenRequest ??= (async () => {
      try {
        const credential = this.auth.credential;
        if (!credential) throw new Error('no credential for Table Storage');
        const token = await credential.getToken(tableTokenScope, this.challengeTenant === undefined ? {} : { tenantId: this.challengeTenant });
        if (!token) throw new RestError('the credential returned no token for Table Storage', { statusCode: 401 });
        this.token = { value: token.token, renewAt: token.expiresOnTimestamp - tokenRefreshMarginMs };
        return token.token;
      } finally {
        this.tokenRequest = undefined;
      }
    })();
    return this.tokenRequest;
  }
}

const insertHeaders: Record<string, string> = {
  'content-type': 'application/json;odata=nometadata',
  accept: 'application/json;odata=minimalmetadata',
  'x-ms-version': apiVersion,
  dataserviceversion: '3.0',
  prefer: 'return-no-content',
};

const readHeaders: Record<string, string> = {
  accept: 'application/json;odata=minimalmetadata',
  'x-ms-version': apiVersion,
  dataserviceversion: '3.0',
};

// A sub-request's headers, as the SDK writes them (no x-ms-version inside a changeset).
const subRequestHeaders = [
  'Content-Type: application/json;odata=nometadata',
  'Accept: application/json;odata=minimalmetadata',
  'DataServiceVersion: 3.0',
  'Prefer: return-no-content',
  '',
].join(crlf);

function batchHeaders(batchId: string): Record<string, string> {
  return {
    accept: 'application/json',
    'x-ms-version': apiVersion,
    dataserviceversion: '3.0;',
    maxdataserviceversion: '3.0;NetFx',
    'content-type': `multipart/mixed; boundary=batch_${batchId}`,
    'accept-charset': 'UTF-8',
  };
}

/** The SDK's serialisation for the value types the hot path stores: partitionKey and rowKey renamed, the rest as is. */
function serializeEntity(entity: LeanEntity): string {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(entity)) {
    const value = entity[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`the lean Table client stores strings, numbers and booleans only (${key})`);
    }
    out[key === 'partitionKey' ? 'PartitionKey' : key === 'rowKey' ? 'RowKey' : key] = value;
  }
  return JSON.stringify(out);
}

function deserialize(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'odata.metadata' || key.endsWith('@odata.type')) continue;
    if (key === 'odata.etag') out.etag = value;
    else if (key === 'PartitionKey') out.partitionKey = value;
    else if (key === 'RowKey') out.rowKey = value;
    else if (key === 'Timestamp') out.timestamp = value;
    else out[key] = value;
  }
  return out;
}

/** A query value encoded as the SDK encodes it (quotes too: `'` is %27). */
function queryValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function odataKey(key: string): string {
  return encodeURIComponent(key.replace(/'/g, "''"));
}

interface OdataError {
  code?: string;
  message?: { value?: string };
}

function odataError(body: string): OdataError | undefined {
  try {
    return (JSON.parse(body) as { 'odata.error'?: OdataError })['odata.error'];
  } catch {
    return undefined;
  }
}

/** The SDK's RestError for a failed single request: statusCode, the service's message, details with odataError and errorCode. */
function restError(answer: Answer): RestError {
  const parsed = odataError(answer.body);
  const errorCode = headerValue(answer.headers['x-ms-error-code']) ?? parsed?.code;
  const error = new RestError(parsed?.message?.value ?? `Table Storage answered ${answer.status}`, { statusCode: answer.status });
  error.details = { errorCode, odataError: parsed };
  return error;
}

/** The SDK's reading of a transaction's answer (parseTransactionResponse in @azure/data-tables). */
function parseTransactionAnswer(answer: Answer): void {
  if (answer.status < 200 || answer.status >= 300) {
    const parsed = odataError(answer.body);
    const error = new RestError(parsed?.message?.value ?? 'Transaction Failed', { statusCode: answer.status, ...(parsed?.code ? { code: parsed.code } : {}) });
    error.details = { errorCode: headerValue(answer.headers['x-ms-error-code']) ?? parsed?.code, odataError: parsed };
    throw error;
  }
  const parts = answer.body.split('--changesetresponse_');
  for (const part of parts.slice(1, -1)) {
    const status = /HTTP\/1.1 ([0-9]*)/.exec(part);
    if (!status?.[1]) throw new Error(`Couldn't extract status from sub-response:\n ${part}`);
    const body = /\{(.*)\}/.exec(part);
    if (body) {
      const parsed = odataError(body[0]);
      throw new RestError(parsed?.message?.value ?? 'Transaction Failed', { statusCode: Number(status[1]), ...(parsed?.code ? { code: parsed.code } : {}) });
    }
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After (or the ms variants) on 429 and 503, as the SDK's throttling retry strategy reads them. */
function retryAfterMs(answer: Answer): number | undefined {
  if (answer.status !== 429 && answer.status !== 503) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = Number(headerValue(answer.headers[name]));
    if (headerValue(answer.headers[name]) !== undefined && Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = headerValue(answer.headers['retry-after']);
  if (retryAfter === undefined) return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(retryAfter);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function backoff(retry: number): number {
  const clamped = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** retry);
  return clamped / 2 + Math.random() * (clamped / 2);
}

function isSystemError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ENOENT' || code === 'ENOTFOUND';
}

/**
 * How a connection string or endpoint authenticates, read as @azure/data-tables reads it:
 * an account key (SharedKeyLite), a SAS token, or - for a bare endpoint URL - the
 * TokenCredential. Undefined for anything else, which then stays on the SDK.
 */
export function leanAuthFor(connection: string, credential: () => TokenCredential): LeanAuth | undefined {
  if (/^https?:\/\//i.test(connection)) return { kind: 'bearer', credential: credential() };
  const settings = new Map<string, string>();
  for (const part of connection.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) settings.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (/^true$/i.test(settings.get('usedevelopmentstorage') ?? '')) return undefined;
  const sas = settings.get('sharedaccesssignature');
  if (sas) return { kind: 'sas', sas: sas.replace(/^\?/, '') };
  const accountName = settings.get('accountname');
  const accountKey = settings.get('accountkey');
  if (accountName && accountKey) return { kind: 'sharedKeyLite', accountName, accountKey: Buffer.from(accountKey, 'base64') };
  return undefined;
}

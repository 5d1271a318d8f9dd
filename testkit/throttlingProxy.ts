import { randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Table Storage stand-in for partition throttling: an HTTP proxy in front of Azurite that
 * gives every partition a budget of entities per second and answers past it as Table Storage
 * does when a partition is over its target - 503 with the error code `ServerBusy` - without
 * forwarding the request. Azurite itself has no such limit, so without this nothing local
 * shows what the one-partition replay cache does at scale (docs/capacity.md).
 *
 * What counts: single-entity operations on `<table>(PartitionKey='…',RowKey='…')` (read,
 * update, merge, delete) and inserts (`POST <table>` with a JSON body) one entity each;
 * an entity-group transaction (`$batch`) one per operation in it, all in its one partition,
 * admitted or refused as a whole. Queries and table operations pass uncounted. The budget is
 * a token bucket per partition holding one second's worth: a request is admitted while the
 * bucket holds at least one entity's worth and then takes its entities (it may go below zero, so a transaction
 * bigger than the budget still passes, then the partition rests), so over any stretch a
 * partition serves about `entitiesPerSecond`.
 *
 * The SDK's retries are left as they are: the answer carries no Retry-After (Table Storage
 * names none for ServerBusy), so the client's own exponential back-off applies.
 */
export interface ThrottlingProxyOptions {
  /** The Azurite table endpoint behind the proxy (loopback). */
  target: { host: string; port: number };
  /** Entities per second each partition serves. */
  entitiesPerSecond: number;
  /** Which tables are throttled (full names, prefix included); all when absent. */
  throttles?: (table: string) => boolean;
}

export interface ProxyCounts {
  /** Requests passed on to Azurite. */
  forwarded: number;
  /** Requests answered 503 ServerBusy without being passed on. */
  throttled: number;
  /** Requests passed on and applied, whose answer was replaced by a 503 (loseAnswers). */
  answersLost: number;
}

/** The partition and entity count of a request, or undefined when it is not counted. */
export interface Charge {
  table: string;
  partition: string;
  entities: number;
  writes: boolean;
}

const account = /^\/[^/]+\//;
const entityPath = /^([A-Za-z][A-Za-z0-9]*)\(PartitionKey='((?:[^']|'')*)',RowKey='((?:[^']|'')*)'\)$/;
const tablePath = /^([A-Za-z][A-Za-z0-9]*)(?:\(\))?$/;
const partitionInJson = /"PartitionKey"\s*:\s*"((?:[^"\\]|\\.)*)"/;

/** What a Table REST request costs, from its method, path and body (see the class comment). */
export function chargeOf(method: string, url: string, body: string): Charge | undefined {
  const path = decodeURIComponent(new URL(url, 'http://proxy').pathname).replace(account, '');
  if (path === '$batch' && method === 'POST') return batchCharge(body);
  const entity = entityPath.exec(path);
  if (entity) {
    return { table: entity[1] as string, partition: (entity[2] as string).replace(/''/g, "'"), entities: 1, writes: method !== 'GET' };
  }
  const table = tablePath.exec(path);
  if (table && method === 'POST' && table[1] !== 'Tables') {
    const partition = partitionInJson.exec(body);
    if (partition) return { table: table[1] as string, partition: JSON.parse(`"${partition[1] as string}"`) as string, entities: 1, writes: true };
  }
  return undefined;
}

function batchCharge(body: string): Charge | undefined {
  // Each operation of the changeset is an HTTP request line, then headers, then its body.
  const operations = [...body.matchAll(/^(GET|POST|PUT|MERGE|PATCH|DELETE) (\S+) HTTP\/1\.1\r?$/gm)];
  let first: Charge | undefined;
  for (let i = 0; i < operations.length; i++) {
    const operation = operations[i] as RegExpMatchArray;
    const end = operations[i + 1]?.index ?? body.length;
    const charge = chargeOf(operation[1] as string, operation[2] as string, body.slice(operation.index, end));
    if (charge) first ??= charge;
  }
  return first ? { ...first, entities: operations.length, writes: true } : undefined;
}

export class ThrottlingProxy {
  readonly counts: ProxyCounts = { forwarded: 0, throttled: 0, answersLost: 0 };
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private entitiesPerSecond: number;
  private lose: { remaining: number; matches: (charge: Charge) => boolean } | undefined;
  private refuse: { remaining: number; matches: (charge: Charge) => boolean } | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: ThrottlingProxyOptions,
  ) {
    this.entitiesPerSecond = options.entitiesPerSecond;
  }

  static async start(options: ThrottlingProxyOptions): Promise<ThrottlingProxy> {
    let proxy: ThrottlingProxy | undefined;
    const server = createServer((request, response) => void proxy?.handle(request, response));
    proxy = new ThrottlingProxy(server, options);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Changes every partition's budget from now on (0: every counted request is throttled). */
  setBudget(entitiesPerSecond: number): void {
    this.entitiesPerSecond = entitiesPerSecond;
    this.buckets.clear();
  }

  /** The next `count` counted requests that `matches` are throttled whatever the budget: a short burst of ServerBusy. */
  throttleNext(count: number, matches: (charge: Charge) => boolean = () => true): void {
    this.refuse = { remaining: count, matches };
  }

  /**
   * The next `count` counted write requests that `matches` are applied, but answered 503
   * ServerBusy as if the answer had been lost - what a client sees when the service applied
   * a write and the answer never arrived, so that its retry finds its own entity there.
   */
  loseAnswers(count: number, matches: (charge: Charge) => boolean = () => true): void {
    this.lose = { remaining: count, matches };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
    this.agent.destroy();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const body = await readBody(request);
      const charge = chargeOf(request.method ?? 'GET', request.url ?? '/', body.toString('utf8'));
      const counted = charge && (this.options.throttles?.(charge.table) ?? true) ? charge : undefined;
      const refused = counted && this.refuse && this.refuse.remaining > 0 && this.refuse.matches(counted);
      if (refused && this.refuse) this.refuse.remaining--;
      if (counted && (refused || !this.admit(counted))) {
        this.counts.throttled++;
        serverBusy(response, request.headers);
        return;
      }
      const lose = counted && counted.writes && this.lose && this.lose.remaining > 0 && this.lose.matches(counted);
      if (lose && this.lose) this.lose.remaining--;
      this.counts.forwarded++;
      const upstream = await this.forward(request, body);
      if (lose) {
        upstream.resume();
        this.counts.answersLost++;
        serverBusy(response, request.headers);
        return;
      }
      response.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(response);
    } catch (error) {
      // The proxy's own failure (Azurite gone): the client sees a dropped connection.
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private admit(charge: Charge): boolean {
    const key = `${charge.table}\u0000${charge.partition}`;
    const now = performance.now();
    const capacity = this.entitiesPerSecond;
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * capacity);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= charge.entities;
    return true;
  }

  private forward(request: IncomingMessage, body: Buffer): Promise<IncomingMessage> {
    const { target } = this.options;
    return new Promise((done, fail) => {
      const upstream = httpRequest(
        {
          agent: this.agent,
          host: target.host,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, 'content-length': String(body.byteLength) },
        },
        done,
      );
      upstream.on('error', fail);
      upstream.end(body);
    });
  }
}

/**
 * Table Storage's answer to a partition over its target: 503, error code ServerBusy in the
 * `x-ms-error-code` header and in the OData JSON error body, the message of the Storage
 * error-code reference (docs/capacity.md cites both).
 */
function serverBusy(response: ServerResponse, requestHeaders: IncomingHttpHeaders): void {
  const requestId = randomUUID();
  const body = JSON.stringify({
    'odata.error': {
      code: 'ServerBusy',
      message: {
        lang: 'en-US',
        value: `The server is currently unable to receive requests. Please retry your request.\nRequestId:${requestId}\nTime:${new Date().toISOString()}`,
      },
    },
  });
  response.writeHead(503, 'Server Busy', {
    'content-type': 'application/json;odata=minimalmetadata;streaming=true;charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-ms-request-id': requestId,
    'x-ms-version': String(requestHeaders['x-ms-version'] ?? '2019-02-02'),
    'x-ms-error-code': 'ServerBusy',
    date: new Date().toUTCString(),
  });
  response.end(body);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => done(Buffer.concat(chunks)));
    request.on('error', fail);
  });
}

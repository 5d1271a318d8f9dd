import { createHmac } from 'node:crypto';
import { createServer as createHttpServer, request as forward, type IncomingHttpHeaders, type Server } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RestError, TableClient, type TransactionAction } from '@azure/data-tables';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { azuriteConnectionString, devAccountKey, devAccountName } from '../host/azurite.js';
import { LeanTable, leanAuthFor, tableTokenScope, type LeanAuth } from '../shared/storage/leanTable.js';
import { failedOperation, storageCall, storageErrorCode } from '../shared/storage/tableService.js';
import { selfSignedCertificate } from './support/keyVaultStandIn.js';
import { uniqueTablePrefix } from './support/services.js';

/**
 * The lean client (docs/decisions/0017) against the SDK it stands in for: the same calls
 * through both, recorded on the wire in front of the test Azurite, must be the same
 * requests - method, path and query, body byte for byte (batch boundaries aside, which are
 * random in both), the headers the service reads - and must fail the same way.
 */

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP proxy in front of the test Azurite that records what it forwards. */
async function recordingProxy(): Promise<{ connection: string; recorded: Recorded[]; close(): Promise<void> }> {
  const target = new URL(/TableEndpoint=([^;]+)/.exec(process.env.TEST_STORAGE_CONNECTION ?? '')?.[1] ?? '');
  const recorded: Recorded[] = [];
  const server = createHttpServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      recorded.push({ method: incoming.method ?? '', url: incoming.url ?? '', headers: incoming.headers, body: body.toString('utf8') });
      const upstream = forward({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      });
      upstream.on('error', () => outgoing.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    connection: azuriteConnectionString('127.0.0.1', (server.address() as AddressInfo).port),
    recorded,
    close: () => closeServer(server),
  };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((closed) => server.close(() => closed()));
}

/** What both clients are asked to do, as the replay cache and the revocation list ask it. */
interface HotCalls {
  insert(entity: Record<string, string | number> & { partitionKey: string; rowKey: string }): Promise<unknown>;
  batch(actions: TransactionAction[]): Promise<unknown>;
  marker(filter: string): Promise<string | undefined>;
  read(partitionKey: string, rowKey: string): Promise<{ writtenBy?: string }>;
}

function sdkCalls(client: TableClient): HotCalls {
  return {
    insert: (entity) => client.createEntity(entity),
    batch: (actions) => client.submitTransaction(actions),
    marker: async (filter) => {
      const page = await client.listEntities({ queryOptions: { filter, select: ['RowKey'] } }).byPage({ maxPageSize: 1 }).next();
      return page.done ? undefined : page.value[0]?.etag;
    },
    read: (partitionKey, rowKey) => client.getEntity<{ writtenBy?: string }>(partitionKey, rowKey, { queryOptions: { select: ['writtenBy'] } }),
  };
}

function leanCalls(client: LeanTable): HotCalls {
  return {
    insert: (entity) => client.createEntity(entity),
    batch: (actions) => client.submitTransaction(actions),
    marker: async (filter) => (await client.queryFirst(filter, ['RowKey']))?.etag,
    read: (partitionKey, rowKey) => client.getEntity<{ writtenBy?: string }>(partitionKey, rowKey, { queryOptions: { select: ['writtenBy'] } }),
  };
}

/** How a call failed, as the service's code reads it. */
function failure(error: unknown): Record<string, unknown> {
  return { restError: error instanceof RestError, statusCode: (error as RestError).statusCode, code: storageErrorCode(error), operation: failedOperation(error) };
}

async function outcome(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => 'ok',
    (error: unknown) => failure(error),
  );
}

const partition = '2026-12-06T03_5';
const markerFilter = "PartitionKey eq 'epoch-2' and RowKey eq 'epoch'";

/** The sequence both clients run; returns what each call answered. */
async function hotSequence(calls: HotCalls, setMarker: () => Promise<void>): Promise<unknown[]> {
  const create = (rowKey: string, writtenBy: string): TransactionAction => ['create', { partitionKey: partition, rowKey, expiresAt: 1_765_000_000, writtenBy }];
  return [
    await outcome(calls.insert({ partitionKey: partition, rowKey: 'a1b2', expiresAt: 1_765_000_000, writtenBy: 'f00d' })),
    await outcome(calls.batch([create('r1', 'beef'), create('r2', 'beef'), create('r3', 'beef')])),
    // The third operation names a row that exists: the service refuses the transaction naming index 2.
    await outcome(calls.batch([create('r4', 'cafe'), create('r5', 'cafe'), create('a1b2', 'cafe')])),
    await outcome(calls.insert({ partitionKey: partition, rowKey: 'r2', expiresAt: 1, writtenBy: 'dead' })),
    (await calls.marker(markerFilter)) ?? 'none',
    await setMarker().then(async () => typeof (await calls.marker(markerFilter))),
    (await calls.read(partition, 'a1b2')).writtenBy,
    await outcome(calls.read(partition, 'missing')),
  ];
}

const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

function normalised(request: Recorded, table: string): Recorded {
  const strip = (text: string) => text.split(table).join('<table>').replace(uuid, '<id>');
  return { method: request.method, url: strip(request.url), headers: request.headers, body: strip(request.body) };
}

/** The headers the Table service reads from these requests. */
const comparedHeaders = ['content-type', 'accept', 'x-ms-version', 'dataserviceversion', 'maxdataserviceversion', 'prefer', 'accept-charset', 'content-length'];

function sharedKeyLite(request: Recorded): string {
  const path = new URL(request.url, 'http://x').pathname;
  const date = String(request.headers['x-ms-date']);
  const signature = createHmac('sha256', Buffer.from(devAccountKey, 'base64')).update(`${date}\n/${devAccountName}${path}`, 'utf8').digest('base64');
  return `SharedKeyLite ${devAccountName}:${signature}`;
}

describe('the lean Table client against @azure/data-tables (test Azurite)', () => {
  it('sends the replay insert, its transaction, the marker query and the point read as the SDK does, and fails as it does', async () => {
    const proxy = await recordingProxy();
    try {
      const prefix = uniqueTablePrefix();
      const sdkTable = `${prefix}sdkx`;
      const leanTable = `${prefix}lean`;
      const sdk = TableClient.fromConnectionString(proxy.connection, sdkTable, { allowInsecureConnection: true });
      const leanSetup = TableClient.fromConnectionString(proxy.connection, leanTable, { allowInsecureConnection: true });
      await sdk.createTable();
      await leanSetup.createTable();
      const auth = leanAuthFor(proxy.connection, () => {
        throw new Error('no credential is needed with an account key');
      });
      expect(auth?.kind).toBe('sharedKeyLite');
      const lean = new LeanTable(`${sdk.url}/${leanTable}`, auth as LeanAuth);

      const upsertMarker = (client: TableClient) => () => client.upsertEntity({ partitionKey: 'epoch-2', rowKey: 'epoch', change: 'x' }, 'Replace').then(() => undefined);
      proxy.recorded.length = 0;
      const sdkAnswers = await hotSequence(sdkCalls(sdk), upsertMarker(sdk));
      const sdkRequests = proxy.recorded.splice(0).filter((request) => request.method !== 'PUT');
      const leanAnswers = await hotSequence(leanCalls(lean), upsertMarker(leanSetup));
      const leanRequests = proxy.recorded.splice(0).filter((request) => request.method !== 'PUT');

      expect(leanAnswers).toEqual(sdkAnswers);
      expect(sdkAnswers[2]).toEqual({ restError: true, statusCode: 409, code: 'EntityAlreadyExists', operation: 2 });
      expect(sdkAnswers[3]).toMatchObject({ restError: true, statusCode: 409, code: 'EntityAlreadyExists' });
      expect(sdkAnswers[6]).toBe('f00d');
      expect(sdkAnswers[7]).toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });

      expect(leanRequests).toHaveLength(sdkRequests.length);
      for (const [i, sdkRequest] of sdkRequests.entries()) {
        const leanRequest = leanRequests[i] as Recorded;
        const a = normalised(sdkRequest, sdkTable);
        const b = normalised(leanRequest, leanTable);
        expect(`${b.method} ${b.url}`).toBe(`${a.method} ${a.url}`);
        expect(Buffer.from(b.body)).toEqual(Buffer.from(a.body));
        for (const name of comparedHeaders) {
          expect([name, String(b.headers[name]).replace(uuid, '<id>')]).toEqual([name, String(a.headers[name]).replace(uuid, '<id>')]);
        }
        // Both signed with the account key over their own date and path, as Table Storage checks it.
        expect(sdkRequest.headers.authorization).toBe(sharedKeyLite(sdkRequest));
        expect(leanRequest.headers.authorization).toBe(sharedKeyLite(leanRequest));
      }
      // A batch body the service would parse: three operations, CRLF line ends, closing boundaries.
      const batch = leanRequests.find((request) => request.url.endsWith('$batch')) as Recorded;
      expect(batch.body.match(/^POST \S+ HTTP\/1\.1\r$/gm)).toHaveLength(3);
      expect(batch.body.endsWith('--\r\n')).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('retries a busy store as the SDK does (3 retries), then fails with its 503 ServerBusy', async () => {
    let attempts = 0;
    const busy = createHttpServer((request, response) => {
      attempts++;
      request.resume();
      const body = JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: 'The server is busy.' } } });
      response.writeHead(503, { 'content-type': 'application/json', 'x-ms-error-code': 'ServerBusy', 'retry-after-ms': '1' }).end(body);
    });
    await new Promise<void>((ready) => busy.listen(0, '127.0.0.1', ready));
    try {
      const port = (busy.address() as AddressInfo).port;
      const connection = azuriteConnectionString('127.0.0.1', port);
      const lean = new LeanTable(`http://127.0.0.1:${port}/${devAccountName}/busy`, leanAuthFor(connection, () => undefined as never) as LeanAuth);
      const leanFailure = failure(await lean.createEntity({ partitionKey: 'p', rowKey: 'r' }).catch((error: unknown) => error));
      const leanAttempts = attempts;
      attempts = 0;
      const sdk = TableClient.fromConnectionString(connection, 'busy', { allowInsecureConnection: true, retryOptions: { maxRetries: 3, retryDelayInMs: 1, maxRetryDelayInMs: 1 } });
      const sdkFailure = failure(await sdk.createEntity({ partitionKey: 'p', rowKey: 'r' }).catch((error: unknown) => error));
      expect(leanFailure).toEqual(sdkFailure);
      expect(leanFailure).toMatchObject({ statusCode: 503, code: 'ServerBusy' });
      expect([leanAttempts, attempts]).toEqual([4, 4]);
    } finally {
      await closeServer(busy);
    }
  });
});

describe('the lean Table client when the store cannot be reached', () => {
  it('fails as the SDK does, with a RestError without statusCode carrying the system error code, which storageCall turns into 503', async () => {
    const closed = createHttpServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const port = (closed.address() as AddressInfo).port;
    await closeServer(closed);
    const connection = azuriteConnectionString('127.0.0.1', port);
    const lean = new LeanTable(`http://127.0.0.1:${port}/${devAccountName}/gone`, leanAuthFor(connection, () => undefined as never) as LeanAuth);
    const sdk = TableClient.fromConnectionString(connection, 'gone', { allowInsecureConnection: true, retryOptions: { maxRetries: 3, retryDelayInMs: 1, maxRetryDelayInMs: 1 } });
    const leanError = await lean.queryFirst("PartitionKey eq 'p'", ['RowKey']).catch((error: unknown) => error);
    const sdkError = await sdk.listEntities().byPage({ maxPageSize: 1 }).next().catch((error: unknown) => error);
    expect(failure(leanError)).toEqual(failure(sdkError));
    expect(leanError).toMatchObject({ statusCode: undefined, code: 'ECONNREFUSED' });
    await expect(storageCall('Table Storage', () => lean.createEntity({ partitionKey: 'p', rowKey: 'r' }))).rejects.toMatchObject({ code: 'unavailable', status: 503 });
  });
});

/**
 * Table Storage with Microsoft Entra ID, as far as a client can tell: HTTPS only; a request
 * without `Authorization: Bearer <token>` or with a token it does not accept gets 401 with a
 * Bearer challenge naming the tenant; one with the token is served (here by re-signing it
 * for the test Azurite with the account key).
 */
async function entraTableStandIn(acceptedToken: string): Promise<{ endpoint: string; agent: HttpsAgent; seen: string[]; close(): Promise<void> }> {
  const { certificatePem, keyPem } = await selfSignedCertificate();
  const target = new URL(/TableEndpoint=([^;]+)/.exec(process.env.TEST_STORAGE_CONNECTION ?? '')?.[1] ?? '');
  const seen: string[] = [];
  const server = createHttpsServer({ cert: certificatePem, key: keyPem }, (incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const authorization = incoming.headers.authorization;
      seen.push(authorization ?? '(none)');
      if (authorization !== `Bearer ${acceptedToken}`) {
        const code = authorization === undefined ? 'NoAuthenticationInformation' : 'InvalidAuthenticationInfo';
        const body = JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: 'Server failed to authenticate the request.' } } });
        outgoing
          .writeHead(401, {
            'content-type': 'application/json',
            'x-ms-error-code': code,
            'www-authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/00000000-0000-0000-0000-00000000abcd/oauth2/authorize resource_id=https://storage.azure.com',
          })
          .end(body);
        return;
      }
      const path = incoming.url ?? '/';
      const date = new Date().toUTCString();
      const signature = createHmac('sha256', Buffer.from(devAccountKey, 'base64'))
        .update(`${date}\n/${devAccountName}${new URL(path, 'http://x').pathname}`, 'utf8')
        .digest('base64');
      const headers = { ...incoming.headers, host: target.host, 'x-ms-date': date, authorization: `SharedKeyLite ${devAccountName}:${signature}` };
      const upstream = forward({ host: target.hostname, port: target.port, method: incoming.method, path, headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      });
      upstream.on('error', () => outgoing.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const agent = new HttpsAgent({ ca: certificatePem, keepAlive: true });
  return {
    endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}/${devAccountName}`,
    agent,
    seen,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
  };
}

class FixedCredential implements TokenCredential {
  readonly requests: Array<{ scopes: string[]; tenantId: string | undefined }> = [];
  constructor(private readonly token: string | null) {}
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    this.requests.push({ scopes: [scopes].flat(), tenantId: options?.tenantId });
    return Promise.resolve(this.token === null ? null : { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}

describe('the lean Table client with a TokenCredential (managed identity), against a stand-in that checks the bearer token', () => {
  it('authenticates every hot call with the credential\'s token for Table Storage, asked for once', async () => {
    const standIn = await entraTableStandIn('good-token');
    try {
      const table = `${uniqueTablePrefix()}mi`;
      const credential = new FixedCredential('good-token');
      const sdk = new TableClient(standIn.endpoint, table, credential, { agent: standIn.agent });
      await sdk.createTable();
      const auth = leanAuthFor(standIn.endpoint, () => credential) as LeanAuth;
      expect(auth.kind).toBe('bearer');
      const lean = new LeanTable(`${standIn.endpoint}/${table}`, auth, standIn.agent);
      const before = credential.requests.length;
      await lean.createEntity({ partitionKey: partition, rowKey: 'one', expiresAt: 1 });
      await lean.submitTransaction([
        ['create', { partitionKey: partition, rowKey: 'two', expiresAt: 1 }],
        ['create', { partitionKey: partition, rowKey: 'three', expiresAt: 1 }],
      ]);
      expect(await lean.queryFirst(`PartitionKey eq '${partition}' and RowKey eq 'two'`, ['RowKey'])).toMatchObject({ rowKey: 'two' });
      const stored: string[] = [];
      for await (const entity of sdk.listEntities()) stored.push(entity.rowKey ?? '');
      expect(stored.sort()).toEqual(['one', 'three', 'two']);
      // One token for all three calls, for the scope the SDK asks for.
      expect(credential.requests.slice(before)).toEqual([{ scopes: [tableTokenScope], tenantId: undefined }]);
      expect(credential.requests[0]?.scopes).toEqual([tableTokenScope]);
    } finally {
      await standIn.close();
    }
  });

  it('is refused 401 with a wrong token, as the SDK is, after one more try with a token for the challenge\'s tenant', async () => {
    const standIn = await entraTableStandIn('good-token');
    try {
      const table = `${uniqueTablePrefix()}mi`;
      await new TableClient(standIn.endpoint, table, new FixedCredential('good-token'), { agent: standIn.agent }).createTable();
      const wrong = new FixedCredential('stolen-token');
      const lean = new LeanTable(`${standIn.endpoint}/${table}`, leanAuthFor(standIn.endpoint, () => wrong) as LeanAuth, standIn.agent);
      const leanFailure = failure(await lean.createEntity({ partitionKey: 'p', rowKey: 'r' }).catch((error: unknown) => error));
      const sdkFailure = failure(
        await new TableClient(standIn.endpoint, table, new FixedCredential('stolen-token'), { agent: standIn.agent })
          .createEntity({ partitionKey: 'p', rowKey: 'r' })
          .catch((error: unknown) => error),
      );
      expect(leanFailure).toEqual({ restError: true, statusCode: 401, code: 'InvalidAuthenticationInfo', operation: undefined });
      expect(leanFailure).toEqual(sdkFailure);
      expect(wrong.requests.map((request) => request.tenantId)).toEqual([undefined, '00000000-0000-0000-0000-00000000abcd']);
      expect(standIn.seen.filter((seen) => seen === 'Bearer stolen-token').length).toBeGreaterThanOrEqual(2);
    } finally {
      await standIn.close();
    }
  });

  it('sends nothing without a token, and the stand-in refuses a request without one 401', async () => {
    const standIn = await entraTableStandIn('good-token');
    try {
      const lean = new LeanTable(`${standIn.endpoint}/nothing`, leanAuthFor(standIn.endpoint, () => new FixedCredential(null)) as LeanAuth, standIn.agent);
      await expect(lean.createEntity({ partitionKey: 'p', rowKey: 'r' })).rejects.toMatchObject({ statusCode: 401 });
      expect(standIn.seen).toEqual([]);
      const anonymous = await fetchStatus(`${standIn.endpoint}/nothing()`, standIn.agent);
      expect(anonymous).toBe(401);
      expect(standIn.seen).toEqual(['(none)']);
    } finally {
      await standIn.close();
    }
  });

  it('refuses to send a bearer token over plain HTTP', () => {
    expect(() => new LeanTable('http://127.0.0.1:1/account/table', { kind: 'bearer', credential: new FixedCredential('t') })).toThrow(/non-https/);
  });
});

async function fetchStatus(url: string, agent: HttpsAgent): Promise<number> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const call = request(url, { agent, method: 'GET' }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    call.on('error', reject);
    call.end();
  });
}

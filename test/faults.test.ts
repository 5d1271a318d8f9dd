import { mkdtempSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { renewDeviceToken } from '../functions/renewDeviceToken.js';
import { createDeviceIdentity, thumbprintOf, type DeviceIdentity } from '../cli/device/identity.js';
import { azuriteConnectionString, startAzurite, type RunningAzurite } from '../host/azurite.js';
import { TableBulkTokenStore } from '../shared/bulkTokens/tableBulkTokenStore.js';
import { deviceIdFor } from '../shared/devices/deviceId.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import { KeyVaultSigner } from '../shared/signing/keyVaultSigner.js';
import { deviceCall } from './support/devices.js';
import { withTimeout } from './support/fuzzKit.js';
import { bearer, invoke, type Answer } from './support/invoke.js';
import { KeyVaultStandIn } from './support/keyVaultStandIn.js';
import { installTestServices, testAdminKey, TestClock, type TestServices } from './support/services.js';

/**
 * Fault injection: the backing services fail while devices register, and the service must
 * answer 503 with Retry-After (never another 5xx, never a hang), never hand out a token
 * whose pairing is not stored, and recover by itself once the fault ends.
 */

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

type Route = 'internal' | 'bulk';

async function registration(services: TestServices, device: DeviceIdentity, route: Route, bulkToken: string): Promise<Answer> {
  if (route === 'internal') {
    const call = await deviceCall(device, '/api/register/internal', { now: services.clock.now() });
    return invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '127.0.0.1' } });
  }
  return invoke(registerDevice, await deviceCall(device, '/api/register', { bearer: bulkToken, now: services.clock.now() }));
}

interface StoredPairing {
  deviceId: string;
  thumbprint: string;
  status: string;
  expiresAt: string;
  etag: string;
}

async function pairing(services: TestServices, deviceId: string): Promise<StoredPairing | undefined> {
  const client = await services.tables.table(TableDeviceStore.tableName);
  try {
    const entity = await client.getEntity<{ thumbprint: string; status: string; expiresAt: string }>(deviceId, 'pairing');
    return { deviceId, thumbprint: entity.thumbprint, status: entity.status, expiresAt: entity.expiresAt, etag: entity.etag };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/** A token handed out must have its pairing stored: active, same certificate, lasting as long as the token. */
async function expectPairingFor(services: TestServices, answer: Answer, device: DeviceIdentity): Promise<void> {
  const claims = decodeJwt(answer.body.token as string);
  const stored = await pairing(services, answer.body.deviceId as string);
  expect(stored).toMatchObject({ thumbprint: thumbprintOf(device), status: 'active' });
  expect(Date.parse(stored!.expiresAt) / 1000).toBeGreaterThanOrEqual(claims.exp!);
}

function expectUnavailable(answer: Answer): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 503, code: 'unavailable' });
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(answer.body).not.toHaveProperty('token');
}

// ---------------------------------------------------------------------------------------

describe('Table Storage stopped mid-load, then restarted on the same port', () => {
  let azurite: RunningAzurite | undefined;
  let port: number;
  let location: string;
  let services: TestServices;
  let bulk: { id: string; token: string };

  beforeAll(async () => {
    // On disk, as the local host keeps it: an in-memory Azurite would come back empty.
    location = mkdtempSync(join(tmpdir(), 'cmg-fault-azurite-'));
    azurite = await startAzurite({ port: 0, location });
    port = azurite.port;
    services = await installTestServices({ env: { STORAGE_CONNECTION: azurite.connectionString } });
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body: { lifetimeMinutes: 10_080 } });
    expect(created.status).toBe(201);
    bulk = created.body as { id: string; token: string };
  }, 30_000);

  afterAll(async () => {
    await azurite?.close();
  });

  interface Attempt {
    device: number;
    route: Route;
    status: number;
    code: unknown;
    retryAfter: string | null;
    deviceId: unknown;
    at: number;
  }

  it(
    'registrations through an outage: only 503s with Retry-After, recovery without a restart, every 201 stored, one pairing per certificate',
    async () => {
      const identities = await Promise.all(Array.from({ length: 120 }, () => createDeviceIdentity('ec')));
      const routeOf = (device: number): Route => (device % 2 === 0 ? 'internal' : 'bulk');
      const attempts: Attempt[] = [];
      const done = new Set<number>();
      const retry: number[] = [];
      let fresh = 0;
      let restartedAt = Number.POSITIVE_INFINITY;
      let stoppedAt = Number.POSITIVE_INFINITY;
      const hardDeadline = Date.now() + 60_000;

      const record = (device: number, answer: Answer) => {
        attempts.push({
          device,
          route: routeOf(device),
          status: answer.status,
          code: answer.body.code,
          retryAfter: answer.headers.get('retry-after'),
          deviceId: answer.body.deviceId,
          at: Date.now(),
        });
      };

      // The phases move on state, not on time: the outage starts once registrations are going
      // through, ends once clients have been refused during it, and new devices stop once
      // registrations go through again after the restart.
      const phaseAnswers = 8;
      const answered = (status: number, after: number) => attempts.filter((attempt) => attempt.status === status && attempt.at > after).length;
      const until = async (what: string, reached: () => boolean) => {
        while (!reached()) {
          if (Date.now() > hardDeadline) throw new Error(`storage outage: never ${what}`);
          await sleep(25);
        }
      };

      /** New devices until some have got in after the restart; devices refused earlier are retried until they get in. */
      const worker = async () => {
        while (Date.now() < hardDeadline) {
          const loadOver = answered(201, restartedAt) >= phaseAnswers || fresh >= identities.length;
          let device: number | undefined = retry.shift();
          if (device === undefined && !loadOver) device = fresh++;
          if (device === undefined) {
            if (loadOver) return;
            await sleep(50);
            continue;
          }
          const answer = await registration(services, identities[device]!, routeOf(device), bulk.token);
          record(device, answer);
          if (answer.status === 201) {
            done.add(device);
            // A repeat now and then: the same certificate must keep its one device id, fault or not.
            if (device % 5 === 0) record(device, await registration(services, identities[device]!, routeOf(device), bulk.token));
          } else {
            retry.push(device);
          }
          await sleep(answer.status === 201 ? 60 : 250);
        }
      };

      const load = Promise.all(Array.from({ length: 4 }, worker));
      await until('got registrations through before the outage', () => answered(201, 0) >= phaseAnswers);
      await azurite!.close();
      azurite = undefined;
      stoppedAt = Date.now();
      await until('refused registrations during the outage', () => answered(503, stoppedAt) >= phaseAnswers);
      azurite = await startAzurite({ port, location });
      restartedAt = Date.now();
      await load;

      const during = attempts.filter((attempt) => attempt.at > stoppedAt && attempt.at < restartedAt);
      const summary = attempts.reduce<Record<string, number>>((counts, attempt) => {
        const key = `${attempt.status}${attempt.code ? ` ${String(attempt.code)}` : ''}`;
        counts[key] = (counts[key] ?? 0) + 1;
        return counts;
      }, {});
      // What the clients saw goes into a failure's message, not into every npm test run.
      const report = `storage outage: ${attempts.length} registrations (${during.length} answered during the outage): ${JSON.stringify(summary)}`;
      try {
        // The outage was real and seen by clients.
        expect(attempts.filter((attempt) => attempt.status === 503).length).toBeGreaterThan(0);
        // Only 201 and 503, and every 503 says when to come back.
        expect(attempts.filter((attempt) => attempt.status !== 201 && attempt.status !== 503)).toEqual([]);
        expect(attempts.filter((attempt) => attempt.status === 503 && !(Number(attempt.retryAfter) >= 1))).toEqual([]);
        // Recovery by itself: registrations succeed after the restart, and every device got in.
        expect(attempts.some((attempt) => attempt.status === 201 && attempt.at > restartedAt)).toBe(true);
        const attempted = new Set(attempts.map((attempt) => attempt.device));
        expect([...attempted].filter((device) => !done.has(device))).toEqual([]);
      } catch (error) {
        if (error instanceof Error) error.message = `${report}\n${error.message}`;
        throw error;
      }

      // Every 201's pairing is stored, and a certificate has one device id and one pairing.
      const successes = attempts.filter((attempt) => attempt.status === 201);
      for (const device of done) {
        const ids = new Set(successes.filter((attempt) => attempt.device === device).map((attempt) => attempt.deviceId));
        expect([...ids]).toEqual([deviceIdFor(thumbprintOf(identities[device]!))]);
        expect(await pairing(services, [...ids][0] as string)).toMatchObject({ thumbprint: thumbprintOf(identities[device]!), status: 'active' });
      }
      const devicesTable = await services.tables.table(TableDeviceStore.tableName);
      const thumbprints: string[] = [];
      for await (const entity of devicesTable.listEntities<{ thumbprint: string }>()) thumbprints.push(entity.thumbprint);
      expect(thumbprints.length).toBe(done.size);
      expect(new Set(thumbprints).size).toBe(thumbprints.length);

      // The bulk token counted each of its devices once, however often they retried.
      const bulkDevices = [...done].filter((device) => routeOf(device) === 'bulk').length;
      const listed = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: bearer(testAdminKey) });
      expect((listed.body.items as Array<{ id: string; uses: number }>).find((item) => item.id === bulk.id)?.uses).toBe(bulkDevices);
      const bulkTable = await services.tables.table(TableBulkTokenStore.tableName);
      let useRows = 0;
      for await (const _row of bulkTable.listEntities({ queryOptions: { filter: `RowKey ge 'use:${bulk.id}:' and RowKey lt 'use:${bulk.id};'` } })) useRows++;
      expect(useRows).toBe(bulkDevices);
    },
    90_000,
  );
});

// Two ways a store can hang: a black hole (the TCP handshake succeeds, no byte ever comes
// back: a hung front end, a half-open connection through a dead proxy), and a store that
// sends a response's status and headers and then stalls in its body. The SDK's own request
// timeout ends when the headers arrive, so only the second shows whether an attempt's time
// limit also covers reading the body.
const hungStores: Array<[string, (socket: Socket) => void]> = [
  ['accepts connections but never answers', () => undefined],
  [
    'answers the status and headers, then stalls in the body',
    (socket) =>
      socket.once('data', () =>
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json;odata=nometadata\r\nContent-Length: 4096\r\n\r\n{"value":['),
      ),
  ],
];

describe.each(hungStores)('Table Storage that %s', (what, behave) => {
  let server: ReturnType<typeof createServer>;
  const sockets: Socket[] = [];
  let services: TestServices;

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      behave(socket);
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    services = await installTestServices({ env: { STORAGE_CONNECTION: azuriteConnectionString('127.0.0.1', (server.address() as AddressInfo).port) } });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((closed) => server.close(() => closed()));
  });

  it('a registration answers 503 with Retry-After within 10 s instead of hanging', async () => {
    const device = await createDeviceIdentity('ec');
    const started = Date.now();
    const answer = await withTimeout(registration(services, device, 'internal', ''), 15_000, `a registration against a Table Storage that ${what}`);
    expectUnavailable(answer);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------

describe('Key Vault throttled, failing or slow', () => {
  const operationTimeoutMs = 1500;
  let standIn: KeyVaultStandIn;
  let services: TestServices;
  let clock: TestClock;
  let bulk: { id: string; token: string };
  let renewer: { device: DeviceIdentity; token: string; deviceId: string };

  beforeAll(async () => {
    clock = new TestClock();
    standIn = await KeyVaultStandIn.start({ keyType: 'RSA', createdOn: clock.now() - 365 * 86_400, now: () => clock.now() });
    const signer = await KeyVaultSigner.create(
      standIn.signerOptions({ clock, refreshIntervalSeconds: 60, operationTimeoutMs, retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 50 } }),
    );
    // The renewer renews in every scenario within one frozen hour; pacing is fleet.test.ts's.
    services = await installTestServices({ env: { TOKEN_ISSUE_BURST: '1000' }, overrides: { clock, signer } });
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body: { lifetimeMinutes: 10_080 } });
    expect(created.status).toBe(201);
    bulk = created.body as { id: string; token: string };
    const device = await createDeviceIdentity('ec');
    const registered = await registration(services, device, 'bulk', bulk.token);
    expect(registered.status).toBe(201);
    renewer = { device, token: registered.body.token as string, deviceId: registered.body.deviceId as string };
  }, 30_000);

  afterAll(async () => {
    await standIn?.close();
  });

  async function bulkUses(): Promise<{ tokens: number; uses: number | undefined }> {
    const listed = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: bearer(testAdminKey) });
    const items = listed.body.items as Array<{ id: string; uses: number }>;
    return { tokens: items.length, uses: items.find((item) => item.id === bulk.id)?.uses };
  }

  it.each<[string, () => void]>([
    ['answers 429 Too Many Requests', () => standIn.failAlways(429, 0, 'sign')],
    ['answers 500 Internal Server Error', () => standIn.failAlways(500, undefined, 'sign')],
    // Only just slower, so that the held answers are over before the test ends (and jest can exit).
    [`answers slower than the operation timeout (${operationTimeoutMs} ms)`, () => standIn.delay(operationTimeoutMs + 400)],
  ])(
    'Key Vault %s: 503 with Retry-After while it lasts, no token without its pairing, recovery after heal()',
    async (_fault, inject) => {
      const devices = await Promise.all(Array.from({ length: 4 }, () => createDeviceIdentity('ec')));
      const routes: Route[] = ['internal', 'internal', 'bulk', 'bulk'];
      const renewerBefore = await pairing(services, renewer.deviceId);
      const before = await bulkUses();

      inject();
      try {
        // Two rounds: refused for as long as the fault lasts, not just once.
        for (let round = 0; round < 2; round++) {
          const started = Date.now();
          const [renewed, created, ...registered] = await Promise.all([
            invoke(renewDeviceToken, await deviceCall(renewer.device, '/api/renew', { bearer: renewer.token, now: clock.now() })),
            invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body: {} }),
            ...devices.map((device, index) => registration(services, device, routes[index]!, bulk.token)),
          ]);
          // Bounded by the operation timeout, not by the vault's pace (generous: other files share the CPU).
          expect(Date.now() - started).toBeLessThan(10_000);
          for (const answer of [renewed, created, ...registered]) expectUnavailable(answer);
        }

        // Authentication needs no signature: it keeps working through the outage.
        const authenticated = await invoke(authenticateDevice, await deviceCall(renewer.device, '/api/authenticate', { bearer: renewer.token, now: clock.now() }));
        expect(authenticated.status).toBe(200);

        // Nothing was handed out, so nothing may be stored as if it had been.
        for (const device of devices) expect(await pairing(services, deviceIdFor(thumbprintOf(device)))).toBeUndefined();
        expect(await pairing(services, renewer.deviceId)).toEqual(renewerBefore);
        expect((await bulkUses()).tokens).toBe(before.tokens);
      } finally {
        standIn.heal();
        standIn.delay(0);
      }

      // Healed: the same devices, with fresh proofs, get in; the service was not restarted.
      const again = await Promise.all(devices.map((device, index) => registration(services, device, routes[index]!, bulk.token)));
      for (const [index, answer] of again.entries()) {
        expect(answer.status).toBe(201);
        await expectPairingFor(services, answer, devices[index]!);
      }
      const renewed = await invoke(renewDeviceToken, await deviceCall(renewer.device, '/api/renew', { bearer: renewer.token, now: clock.now() }));
      expect(renewed.status).toBe(200);
      await expectPairingFor(services, renewed, renewer.device);
      expect((await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body: {} })).status).toBe(201);
      // The two bulk devices were admitted once each, although their first attempt failed.
      expect((await bulkUses()).uses).toBe((before.uses ?? 0) + 2);
    },
    30_000,
  );
});

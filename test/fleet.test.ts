import { createHash, randomUUID } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { getDevice } from '../functions/getDevice.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { listDevices } from '../functions/listDevices.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { renewDeviceToken } from '../functions/renewDeviceToken.js';
import { createDeviceIdentity, type DeviceIdentity } from '../cli/device/identity.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import type { DeviceRecord } from '../shared/devices/deviceStore.js';
import { KeyVaultSigner } from '../shared/signing/keyVaultSigner.js';
import { TableService } from '../shared/storage/tableService.js';
import { deviceCall } from './support/devices.js';
import { bearer, invoke, type Answer, type CallOptions } from './support/invoke.js';
import { KeyVaultStandIn } from './support/keyVaultStandIn.js';
import { installTestServices, testAdminKey, TestClock, type TestServices } from './support/services.js';
import { countEntities, dumpTables } from './support/tables.js';

/**
 * The fleet additions of the contract (docs/protocol.md, "Fleet operations"): what a device
 * says about itself, the device views, finding devices, the bulk token's used-up status and
 * token pacing - through the function handlers, on the test Azurite.
 */

const day = 86_400;
const admin = bearer(testAdminKey);
let services: TestServices;

function sha1Of(device: DeviceIdentity): string {
  return createHash('sha1').update(device.certificateDer).digest('hex').toUpperCase();
}

function withDevice(call: CallOptions, device: unknown): CallOptions {
  return { ...call, body: { ...(call.body as Record<string, unknown>), device } };
}

async function bulkToken(body: Record<string, unknown> = {}): Promise<{ token: string; id: string }> {
  const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 10_080, ...body } });
  expect(answer.status).toBe(201);
  return { token: answer.body.token as string, id: answer.body.id as string };
}

async function register(device: DeviceIdentity, token: string, description?: unknown): Promise<Answer> {
  const call = await deviceCall(device, '/api/register', { bearer: token, now: services.clock.now() });
  return invoke(registerDevice, description === undefined ? call : withDevice(call, description));
}

async function registerInside(device: DeviceIdentity, description?: unknown): Promise<Answer> {
  const call = await deviceCall(device, '/api/register/internal', { now: services.clock.now() });
  const withHeaders = { ...call, headers: { ...call.headers, 'x-forwarded-for': '127.0.0.1' } };
  return invoke(registerInternal, description === undefined ? withHeaders : withDevice(withHeaders, description));
}

async function renew(device: DeviceIdentity, token: string, description?: unknown): Promise<Answer> {
  const call = await deviceCall(device, '/api/renew', { bearer: token, now: services.clock.now() });
  return invoke(renewDeviceToken, description === undefined ? call : withDevice(call, description));
}

async function authenticate(device: DeviceIdentity, token: string): Promise<Answer> {
  return invoke(authenticateDevice, await deviceCall(device, '/api/authenticate', { bearer: token, now: services.clock.now() }));
}

async function show(id: string): Promise<Answer> {
  return invoke(getDevice, { method: 'GET', path: `/api/devices/${encodeURIComponent(id)}`, headers: admin, params: { id } });
}

async function list(query: string): Promise<Answer> {
  return invoke(listDevices, { method: 'GET', path: `/api/devices${query}`, headers: admin });
}

type Item = Record<string, unknown>;
const items = (answer: Answer) => answer.body.items as Item[];

describe('device description and device views', () => {
  let bulk: { token: string; id: string };
  let start: number;

  beforeAll(async () => {
    services = await installTestServices();
    start = services.clock.now();
    bulk = await bulkToken();
  });

  afterEach(() => {
    services.clock.seconds = start;
  });

  const long = (n: number) => 'x'.repeat(n);
  const refusals: Array<[string, unknown, RegExp]> = [
    ['device not an object', 'laptop', /^device: must be an object/],
    ['device null', null, /^device: must be an object/],
    ['device an array', [], /^device: must be an object/],
    ['an unknown key', { name: 'a', serial: '1' }, /^device: unknown field\(s\): serial/],
    ['name not a string', { name: 7 }, /^device\.name: must be a string/],
    ['name empty', { name: '' }, /^device\.name: must not be empty/],
    ['name only spaces', { name: '   ' }, /^device\.name: must not be empty/],
    ['name of 65 characters', { name: long(65) }, /^device\.name: must be at most 64 characters/],
    ['name with a control character', { name: 'lap\u0007top' }, /^device\.name: must not contain control characters/],
    ['name with a C1 control', { name: 'lap\u009btop' }, /^device\.name: must not contain control characters/],
    ['name with half a surrogate pair', { name: 'lap\ud800top' }, /^device\.name: must be well-formed Unicode text/],
    ['os empty', { os: '' }, /^device\.os: must not be empty/],
    ['os of 129 characters', { os: long(129) }, /^device\.os: must be at most 128 characters/],
    ['os with a newline', { os: 'Windows\n11' }, /^device\.os: must not contain control characters/],
    ['os not a string', { os: false }, /^device\.os: must be a string/],
    ['clientVersion with a space', { clientVersion: '1.0 beta' }, /^device\.clientVersion: must be 1 to 32 characters of 0-9 A-Z a-z \. \+ -/],
    ['clientVersion of 33 characters', { clientVersion: '1'.repeat(33) }, /^device\.clientVersion: must be 1 to 32/],
    ['clientVersion empty', { clientVersion: '' }, /^device\.clientVersion: must be 1 to 32/],
  ];

  describe.each([
    ['POST /api/register', (device: DeviceIdentity, description: unknown) => register(device, bulk.token, description)],
    ['POST /api/register/internal', (device: DeviceIdentity, description: unknown) => registerInside(device, description)],
  ])('%s refuses a bad device description with 400 invalid_request naming the field, and stores nothing', (_route, call) => {
    it.each(refusals)('%s', async (_case, description, detail) => {
      const before = await dumpTables(services.config.tablePrefix);
      const answer = await call(await createDeviceIdentity('ec'), description);
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('invalid_request');
      expect(answer.body.detail).toMatch(detail);
      expect(await dumpTables(services.config.tablePrefix)).toEqual(before);
    });
  });

  it('a refused description takes no use of a bulk token that has one left', async () => {
    const single = await bulkToken({ maxUses: 1 });
    const device = await createDeviceIdentity('ec');
    expect((await register(device, single.token, { name: '' })).status).toBe(400);
    const tokens = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
    expect((tokens.body.items as Item[]).find((item) => item.id === single.id)).toMatchObject({ uses: 0, status: 'active' });
    expect((await register(device, single.token, { name: 'fine' })).status).toBe(201);
  });

  it('POST /api/renew refuses a bad description the same way, and the pairing stays as it was', async () => {
    const device = await createDeviceIdentity('ec');
    const registered = await register(device, bulk.token, { name: 'kept' });
    const before = await dumpTables(services.config.tablePrefix);
    for (const [, description, detail] of refusals) {
      const answer = await renew(device, registered.body.token as string, description);
      expect(answer).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
      expect(answer.body.detail).toMatch(detail);
    }
    expect(await dumpTables(services.config.tablePrefix)).toEqual(before);
  });

  it('stores what the device says (name trimmed), and every device view carries name, os, clientVersion, lastSeenAt and thumbprintSha1', async () => {
    const device = await createDeviceIdentity('rsa');
    const answer = await register(device, bulk.token, { name: '  Anna’s ThinkPad  ', os: 'Windows 11 Pro 23H2', clientVersion: '1.4.0+build.7' });
    expect(answer.status).toBe(201);
    const deviceId = answer.body.deviceId as string;
    const expected = {
      deviceId,
      name: 'Anna’s ThinkPad',
      os: 'Windows 11 Pro 23H2',
      clientVersion: '1.4.0+build.7',
      lastSeenAt: new Date(services.clock.now() * 1000).toISOString(),
      thumbprintSha1: sha1Of(device),
    };
    expect((await show(deviceId)).body).toMatchObject(expected);
    expect(items(await list('?limit=1000')).find((item) => item.deviceId === deviceId)).toMatchObject(expected);
    expect(sha1Of(device)).toMatch(/^[0-9A-F]{40}$/);
  });

  it("without a name, the certificate's subject CN is the name; a CN that is not a usable name gives none", async () => {
    const named = await createDeviceIdentity('ec', { commonName: 'WKS-0042.corp.example' });
    const fromCn = await register(named, bulk.token);
    expect((await show(fromCn.body.deviceId as string)).body).toMatchObject({ name: 'WKS-0042.corp.example', os: null, clientVersion: null });

    const osOnly = await createDeviceIdentity('ec', { commonName: 'from-the-certificate' });
    const withOs = await register(osOnly, bulk.token, { os: 'Ubuntu 24.04' });
    expect((await show(withOs.body.deviceId as string)).body).toMatchObject({ name: 'from-the-certificate', os: 'Ubuntu 24.04' });

    const unusable = await createDeviceIdentity('ec', { commonName: 'c'.repeat(65) });
    const none = await register(unusable, bulk.token);
    expect((await show(none.body.deviceId as string)).body).toMatchObject({ name: null });
  });

  it('a renewal with device replaces what was stored; one without it keeps it', async () => {
    const device = await createDeviceIdentity('ec');
    const registered = await register(device, bulk.token, { name: 'old name', os: 'Windows 10', clientVersion: '1.0.0' });
    const deviceId = registered.body.deviceId as string;
    services.clock.advance(31 * day);
    const renewed = await renew(device, registered.body.token as string, { name: 'new name', clientVersion: '2.0.0' });
    expect(renewed.status).toBe(200);
    // Replaced whole: the os it no longer sends is gone.
    expect((await show(deviceId)).body).toMatchObject({ name: 'new name', os: null, clientVersion: '2.0.0', lastSeenAt: new Date(services.clock.now() * 1000).toISOString() });
    services.clock.advance(31 * day);
    expect((await renew(device, renewed.body.token as string)).status).toBe(200);
    expect((await show(deviceId)).body).toMatchObject({ name: 'new name', clientVersion: '2.0.0' });
  });

  it('lastSeenAt moves on authenticate, at most one write per device per LAST_SEEN_GRANULARITY_MINUTES, and never delays the answer', async () => {
    const device = await createDeviceIdentity('ec');
    const registered = await register(device, bulk.token);
    const deviceId = registered.body.deviceId as string;
    const token = registered.body.token as string;
    const registeredAt = new Date(services.clock.now() * 1000).toISOString();
    const pairingEtag = async () => (await (await services.tables.table(TableDeviceStore.tableName)).getEntity(deviceId, 'pairing')).etag;

    // Inside the window the registration opened: no write at all.
    const etag = await pairingEtag();
    services.clock.advance(59 * 60);
    expect((await authenticate(device, token)).status).toBe(200);
    await services.lastSeen.idle();
    expect(await pairingEtag()).toBe(etag);
    expect((await show(deviceId)).body.lastSeenAt).toBe(registeredAt);

    // Past it: one write, then none again for the next hour.
    services.clock.advance(2 * 60);
    expect((await authenticate(device, token)).status).toBe(200);
    await services.lastSeen.idle();
    const seenAt = new Date(services.clock.now() * 1000).toISOString();
    expect((await show(deviceId)).body.lastSeenAt).toBe(seenAt);
    const afterWrite = await pairingEtag();
    services.clock.advance(30 * 60);
    expect((await authenticate(device, token)).status).toBe(200);
    await services.lastSeen.idle();
    expect(await pairingEtag()).toBe(afterWrite);
    expect(services.lastSeen.failures).toBe(0);
  });
});

describe('finding devices', () => {
  let bulk: { token: string };

  beforeAll(async () => {
    services = await installTestServices();
    bulk = await bulkToken();
  });

  it('two named devices are told apart in the list, newest registration first', async () => {
    const first = await register(await createDeviceIdentity('ec'), bulk.token, { name: 'Reception PC', os: 'Windows 11' });
    services.clock.advance(60);
    const second = await register(await createDeviceIdentity('ec'), bulk.token, { name: 'Warehouse scanner', os: 'Android 14' });
    const listed = items(await list('?limit=1000'));
    expect(listed.map((item) => item.name)).toEqual(['Warehouse scanner', 'Reception PC']);
    expect(listed.map((item) => item.deviceId)).toEqual([second.body.deviceId, first.body.deviceId]);
    expect(new Set(listed.map((item) => item.thumbprintSha1)).size).toBe(2);
  });

  it('?name= finds devices by a case-insensitive prefix of their name, newest first, together with status', async () => {
    const names = ['LAB-Printer-1', 'lab-printer-2', 'Lab Laptop', 'Kiosk lab', "O'Brien's laptop"];
    for (const name of names) {
      services.clock.advance(60);
      expect((await register(await createDeviceIdentity('ec'), bulk.token, { name })).status).toBe(201);
    }
    const named = async (query: string) => items(await list(query)).map((item) => item.name);
    expect(await named('?name=lab-')).toEqual(['lab-printer-2', 'LAB-Printer-1']);
    expect(await named('?name=LAB')).toEqual(['Lab Laptop', 'lab-printer-2', 'LAB-Printer-1']);
    expect(await named('?name=kiosk%20LAB')).toEqual(['Kiosk lab']);
    expect(await named("?name=o'b")).toEqual(["O'Brien's laptop"]);
    expect(await named('?name=nothing-by-this-name')).toEqual([]);
    expect(await named('?name=lab&status=active')).toHaveLength(3);
    expect(await named('?name=lab&status=pending')).toEqual([]);
  });

  it('?name= must be 1 to 64 characters, none of them a control character', async () => {
    for (const [query, detail] of [
      ['?name=', /name must be 1 to 64 characters/],
      [`?name=${'n'.repeat(65)}`, /name must be 1 to 64 characters/],
      ['?name=lab%00', /name must not contain control characters/],
    ] as const) {
      const answer = await list(query);
      expect(answer).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
      expect(answer.body.detail).toMatch(detail);
    }
  });

  it('pages through the list newest first with limit and continuation', async () => {
    const all = items(await list('?limit=1000')).map((item) => item.deviceId);
    const paged: unknown[] = [];
    let continuation: string | undefined;
    do {
      const page = await list(`?limit=2${continuation === undefined ? '' : `&continuation=${encodeURIComponent(continuation)}`}`);
      expect(page.status).toBe(200);
      paged.push(...items(page).map((item) => item.deviceId));
      continuation = page.body.continuation as string | undefined;
    } while (continuation !== undefined);
    expect(paged).toEqual(all);
    expect(all.length).toBeGreaterThanOrEqual(7);
  });

  it('GET /api/devices/{id} finds a device by the SHA-1 thumbprint Windows shows, in any case', async () => {
    const device = await createDeviceIdentity('rsa');
    const registered = await register(device, bulk.token, { name: 'by sha1' });
    const sha1 = sha1Of(device);
    for (const spelling of [sha1, sha1.toLowerCase(), sha1.slice(0, 20).toLowerCase() + sha1.slice(20)]) {
      expect(await show(spelling)).toMatchObject({ status: 200, body: { deviceId: registered.body.deviceId, name: 'by sha1', thumbprintSha1: sha1 } });
    }
    expect(await show('0'.repeat(40))).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await show('Z'.repeat(40))).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
  });

  it('the purge removes the find rows with the device', async () => {
    const device = await createDeviceIdentity('ec');
    const registered = await register(device, bulk.token, { name: 'to be purged' });
    const deviceId = registered.body.deviceId as string;
    const findRows = async () =>
      ((await dumpTables(`${services.config.tablePrefix}${TableDeviceStore.findIndexName}`))[`${services.config.tablePrefix}${TableDeviceStore.findIndexName}`] ?? []).filter(
        (row) => row.deviceId === deviceId,
      );
    expect((await findRows()).map((row) => String(row.rowKey).slice(0, 2)).sort()).toEqual(['h:', 't:']);
    const start = services.clock.now();
    services.clock.advance(90 * day + 8 * day + 2 * 3600);
    try {
      await services.purge.run();
      expect((await show(deviceId)).status).toBe(404);
      expect(await findRows()).toEqual([]);
      expect((await show(sha1Of(device))).status).toBe(404);
    } finally {
      services.clock.seconds = start;
    }
  });
});

describe('a pairing write that fails after its find rows', () => {
  beforeAll(async () => {
    services = await installTestServices();
  });

  /** A store whose pairing inserts fail as an unavailable Table service does, after the rows before them. */
  function storeWhosePairingInsertFails(): TableDeviceStore {
    class Failing extends TableService {
      override async table(name: string): Promise<TableClient> {
        const client = await super.table(name);
        if (name !== TableDeviceStore.tableName) return client;
        return new Proxy(client, {
          get: (target, property, receiver) =>
            property === 'createEntity' ? () => Promise.reject(new RestError('the store went away', { statusCode: 503 })) : (Reflect.get(target, property, receiver) as unknown),
        });
      }
    }
    return new TableDeviceStore(new Failing(services.config.storageConnection, services.config.tablePrefix));
  }

  it('leaves only rows that the list and the SHA-1 lookup skip, and the purge removes them once their hour is past', async () => {
    const now = services.clock.now();
    const sha1 = createHash('sha1').update(randomUUID()).digest('hex').toUpperCase();
    const record: DeviceRecord = {
      deviceId: randomUUID(),
      thumbprint: `half-made-${randomUUID()}`,
      registration: 'internal',
      bulkTokenId: undefined,
      status: 'active',
      registeredAt: now,
      expiresAt: now + 90 * day,
      approvedAt: undefined,
      revokedAt: undefined,
      name: 'half made',
      thumbprintSha1: sha1,
    };
    await expect(storeWhosePairingInsertFails().insert(record)).rejects.toThrow(/unavailable/);
    const findTable = `${services.config.tablePrefix}${TableDeviceStore.findIndexName}`;
    const findRows = async () => ((await dumpTables(findTable))[findTable] ?? []).filter((row) => row.deviceId === record.deviceId);
    expect(await findRows()).toHaveLength(2);

    expect(items(await list('?name=half')).map((item) => item.deviceId)).toEqual([]);
    expect(items(await list('?limit=1000')).map((item) => item.deviceId)).not.toContain(record.deviceId);
    expect(await show(sha1)).toMatchObject({ status: 404, body: { code: 'not_found' } });

    services.clock.advance(90 * day + 8 * day + 2 * 3600);
    try {
      await services.purge.run();
      expect(await findRows()).toEqual([]);
    } finally {
      services.clock.seconds = now;
    }
  });
});

describe('bulk-token status used-up', () => {
  beforeAll(async () => {
    services = await installTestServices();
  });

  it('a token whose uses reached maxUses is listed as used-up; blocked and expired come first', async () => {
    const twice = await bulkToken({ maxUses: 2, description: '2 of 2' });
    const blocked = await bulkToken({ maxUses: 1 });
    for (let i = 0; i < 2; i++) expect((await register(await createDeviceIdentity('ec'), twice.token)).status).toBe(201);
    expect((await register(await createDeviceIdentity('ec'), blocked.token)).status).toBe(201);
    const statuses = async () => {
      const answer = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
      return Object.fromEntries((answer.body.items as Item[]).map((item) => [item.id, item.status]));
    };
    expect(await statuses()).toMatchObject({ [twice.id]: 'used-up', [blocked.id]: 'used-up' });
    const { blockBulkToken } = await import('../functions/blockBulkToken.js');
    const block = await invoke(blockBulkToken, { path: `/api/bulk-tokens/${blocked.id}/block`, headers: admin, params: { id: blocked.id } });
    expect(block.body).toEqual({ id: blocked.id, status: 'blocked' });
    const start = services.clock.now();
    services.clock.advance(10_080 * 60);
    try {
      expect(await statuses()).toMatchObject({ [twice.id]: 'expired', [blocked.id]: 'blocked' });
    } finally {
      services.clock.seconds = start;
    }
    // A new device is still refused as before; a device that already used it may repeat.
    expect((await register(await createDeviceIdentity('ec'), twice.token)).body.code).toBe('token_used_up');
  });
});

describe('token pacing, with the Key Vault stand-in signing', () => {
  let standIn: KeyVaultStandIn;
  let clock: TestClock;
  let bulk: { token: string; id: string };

  beforeAll(async () => {
    clock = new TestClock();
    standIn = await KeyVaultStandIn.start({ keyType: 'RSA', createdOn: clock.now() - 365 * day, now: () => clock.now() });
    const signer = await KeyVaultSigner.create(
      standIn.signerOptions({ clock, refreshIntervalSeconds: 60, retryOptions: { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 100 } }),
    );
    services = await installTestServices({ overrides: { clock, signer } });
    bulk = await bulkToken();
  });

  afterAll(async () => {
    await standIn?.close();
  });

  it('the 4th token inside an hour is 429 rate_limited with Retry-After, no Key Vault signature and nothing stored; after the window it is issued', async () => {
    const device = await createDeviceIdentity('ec');
    const registered = await register(device, bulk.token);
    expect(registered.status).toBe(201);
    const registeredAt = clock.now();
    clock.advance(600);
    const second = await renew(device, registered.body.token as string);
    clock.advance(600);
    const third = await renew(device, second.body.token as string);
    expect([second.status, third.status]).toEqual([200, 200]);

    clock.advance(600);
    const before = await dumpTables(services.config.tablePrefix);
    const tableCountBefore = await countEntities(services.config.tablePrefix);
    standIn.resetCounts();
    const fourth = await renew(device, third.body.token as string, { name: 'not stored' });
    expect(fourth.status).toBe(429);
    expect(fourth.body).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(fourth.body.detail).toMatch(/3 tokens in the last 60 minutes/);
    // The registration's issue leaves the window first: an hour after it.
    expect(fourth.headers.get('retry-after')).toBe(String(registeredAt + 3600 - clock.now()));
    expect(standIn.counts.sign).toBe(0);
    // The proof's jti is the one thing written (the replay cache must hold it either way).
    const after = await dumpTables(services.config.tablePrefix);
    expect(await countEntities(services.config.tablePrefix)).toBe(tableCountBefore + 1);
    for (const table of Object.keys(before).filter((name) => !name.endsWith('replay'))) expect(after[table]).toEqual(before[table]);

    // A repeated registration counts too, and takes no use of another bulk token.
    const other = await bulkToken({ maxUses: 1 });
    standIn.resetCounts();
    const again = await register(device, other.token);
    expect(again).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    const tokens = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
    expect((tokens.body.items as Item[]).find((item) => item.id === other.id)).toMatchObject({ uses: 0 });
    expect(standIn.counts.sign).toBe(0);

    clock.seconds = registeredAt + 3600;
    const later = await renew(device, third.body.token as string);
    expect(later.status).toBe(200);
    expect(standIn.counts.sign).toBe(1);
  });

  it('a burst of one device\'s concurrent renewals on one instance spends at most the burst in signatures', async () => {
    const device = await createDeviceIdentity('ec');
    const registered = await register(device, bulk.token);
    standIn.resetCounts();
    const answers = await Promise.all(Array.from({ length: 8 }, () => renew(device, registered.body.token as string)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429, 429, 429]);
    expect(standIn.counts.sign).toBe(2);
  });
});

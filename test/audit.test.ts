import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { approveDevice } from '../functions/approveDevice.js';
import { blockBulkToken } from '../functions/blockBulkToken.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { getDevice } from '../functions/getDevice.js';
import { listAudit } from '../functions/listAudit.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { listDevices } from '../functions/listDevices.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { unblockBulkToken } from '../functions/unblockBulkToken.js';
import { createDeviceIdentity, thumbprintOf, type DeviceIdentity } from '../cli/device/identity.js';
import { EntraAdminAuthorizer } from '../shared/admin/entraAdminAuthorizer.js';
import type { AuditEntry } from '../shared/audit/auditEntry.js';
import { anonymousActor } from '../shared/audit/auditEntry.js';
import { AuditTrail, auditLogPrefix, RefusalCap } from '../shared/audit/auditTrail.js';
import { ServiceError } from '../shared/errors.js';
import { openApiDocument } from '../shared/openapi/openApiDocument.js';
import { maxQueriesPerPage, TableAuditStore } from '../shared/audit/tableAuditStore.js';
import { deviceCall } from './support/devices.js';
import { bearer, invoke, type Answer } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';

const admin = bearer(testAdminKey);
const day = 86_400;

async function auditPage(query: Record<string, string> = {}, headers = admin): Promise<Answer> {
  const search = new URLSearchParams(query).toString();
  return invoke(listAudit, { method: 'GET', path: `/api/audit${search === '' ? '' : `?${search}`}`, headers });
}

async function auditEntries(query: Record<string, string> = {}): Promise<AuditEntry[]> {
  const answer = await auditPage(query);
  expect(answer.status).toBe(200);
  return answer.body.items as AuditEntry[];
}

/** Every entry of the query, page by page. */
async function allEntries(query: Record<string, string>): Promise<{ entries: AuditEntry[]; pages: number }> {
  const entries: AuditEntry[] = [];
  let continuation: string | undefined;
  let pages = 0;
  do {
    const answer = await auditPage({ ...query, ...(continuation === undefined ? {} : { continuation }) });
    expect(answer.status).toBe(200);
    entries.push(...(answer.body.items as AuditEntry[]));
    continuation = answer.body.continuation as string | undefined;
    pages++;
  } while (continuation !== undefined && pages < 100);
  return { entries, pages };
}

function auditLines(answer: Answer): Array<Record<string, unknown>> {
  return answer.logs
    .map((line) => /^\w+: (.*)$/s.exec(line)?.[1] ?? '')
    .filter((message) => message.startsWith(auditLogPrefix))
    .map((message) => JSON.parse(message.slice(auditLogPrefix.length)) as Record<string, unknown>);
}

async function registerBulk(services: TestServices, token: string, device?: DeviceIdentity): Promise<Answer> {
  const identity = device ?? (await createDeviceIdentity('ec'));
  return invoke(registerDevice, await deviceCall(identity, '/api/register', { bearer: token, now: services.clock.now() }));
}

async function registerFromInside(services: TestServices, device: DeviceIdentity): Promise<Answer> {
  const call = await deviceCall(device, '/api/register/internal', { now: services.clock.now() });
  return invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '10.1.2.3, 127.0.0.1' } });
}

describe('the audit trail of admin actions', () => {
  let services: TestServices;

  beforeAll(async () => {
    services = await installTestServices({ env: { APPROVAL_MODE: 'manual' } });
  });

  it('records each admin action with actor "admin key", the target, the outcome and the status, newest first, and never the token', async () => {
    const headers = { ...admin, 'x-forwarded-for': '198.51.100.7' };
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers, body: { lifetimeMinutes: 60, maxUses: 5, description: 'kiosks' } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    services.clock.advance(1);
    expect((await invoke(blockBulkToken, { path: `/api/bulk-tokens/${id}/block`, headers, params: { id } })).status).toBe(200);
    services.clock.advance(1);
    expect((await invoke(unblockBulkToken, { path: `/api/bulk-tokens/${id}/unblock`, headers, params: { id } })).status).toBe(200);
    services.clock.advance(1);
    const device = await createDeviceIdentity('ec');
    const pending = await registerFromInside(services, device);
    expect(pending.status).toBe(202);
    const deviceId = pending.body.deviceId as string;
    services.clock.advance(1);
    const approved = await invoke(approveDevice, { path: `/api/devices/${deviceId}/approve`, headers, params: { id: deviceId } });
    expect(approved.status).toBe(200);
    services.clock.advance(1);
    const revoked = await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers, params: { id: deviceId } });
    expect(revoked.status).toBe(200);

    const entries = await auditEntries();
    const adminEntries = entries.filter((entry) => entry.actor.kind === 'admin-key');
    expect(adminEntries.map((entry) => [entry.action, entry.outcome, entry.status, entry.target])).toEqual([
      ['device.revoke', 'succeeded', 200, { kind: 'device', id: deviceId }],
      ['device.approve', 'succeeded', 200, { kind: 'device', id: deviceId }],
      ['bulk-token.unblock', 'succeeded', 200, { kind: 'bulk-token', id }],
      ['bulk-token.block', 'succeeded', 200, { kind: 'bulk-token', id }],
      ['bulk-token.create', 'succeeded', 201, { kind: 'bulk-token', id }],
    ]);
    for (const entry of adminEntries) {
      expect(entry).toMatchObject({ schemaVersion: 1, actor: { kind: 'admin-key', name: 'admin key' }, callerAddress: '198.51.100.7', invocationId: 'test-invocation' });
      expect(entry.code).toBeUndefined();
      expect(entry.id).toMatch(/^[0-9a-f]{21}$/);
    }
    expect(adminEntries.at(-1)?.details).toEqual({ lifetimeMinutes: 60, maxUses: 5 });
    // Times are the service clock's, one second apart, newest first.
    expect(adminEntries.map((entry) => Date.parse(entry.time) / 1000)).toEqual([0, 1, 3, 4, 5].map((back) => services.clock.now() - back));
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(entries.length);
    expect(JSON.stringify(entries)).not.toContain(created.body.token as string);
    const stored = JSON.stringify(await dumpAudit(services));
    expect(stored).not.toContain(created.body.token as string);
    expect(stored).not.toContain(testAdminKey);
  });

  it('writes one structured log line per entry, with the entry as JSON and never the token', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    const lines = auditLines(created);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ action: 'bulk-token.create', outcome: 'succeeded', status: 201, recorded: true, target: { id: created.body.id } });
    expect(created.logs.join('\n')).not.toContain(created.body.token as string);
    expect(created.logs.filter((line) => line.startsWith('error'))).toEqual([]);
  });

  it('records an action the domain refused, with its status and code', async () => {
    const unknown = randomUUID();
    const answer = await invoke(revokeDevice, { path: `/api/devices/${unknown}/revoke`, headers: admin, params: { id: unknown } });
    expect(answer.status).toBe(404);
    const [entry] = await auditEntries({ action: 'device.revoke', limit: '1' });
    expect(entry).toMatchObject({ outcome: 'refused', status: 404, code: 'not_found', target: { kind: 'device', id: unknown } });
  });

  it('records a refused admin request (wrong key, no key) on any admin route as admin.refused, anonymous, with the route', async () => {
    const wrong = await invoke(createBulkToken, { path: '/api/bulk-tokens?x=1', headers: { ...bearer('not-the-admin-key-'.repeat(3)), 'x-forwarded-for': '203.0.113.9' }, body: {} });
    expect(wrong.status).toBe(401);
    services.clock.advance(1);
    const none = await invoke(listDevices, { method: 'GET', path: '/api/devices' });
    expect(none.status).toBe(401);
    services.clock.advance(1);
    const onAudit = await auditPage({}, bearer('wrong'.repeat(10)));
    expect(onAudit.status).toBe(401);
    const refused = await auditEntries({ action: 'admin.refused' });
    expect(refused.slice(0, 3).map((entry) => [entry.details?.route, entry.status, entry.code])).toEqual([
      ['GET /api/audit', 401, 'invalid_token'],
      ['GET /api/devices', 401, 'missing_credential'],
      ['POST /api/bulk-tokens', 401, 'invalid_token'],
    ]);
    expect(refused[2]).toMatchObject({ outcome: 'refused', actor: { kind: 'anonymous', name: 'anonymous' }, callerAddress: '203.0.113.9' });
    expect(refused[2]?.target).toBeUndefined();
    // Nothing was created by the refused request.
    const tokens = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
    expect((tokens.body.items as unknown[]).length).toBe(2);
  });

  it('does not record successful reads', async () => {
    const before = (await auditEntries({ limit: '1000' })).length;
    await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
    await invoke(listDevices, { method: 'GET', path: '/api/devices', headers: admin });
    await auditPage();
    expect((await auditEntries({ limit: '1000' })).length).toBe(before);
  });
});

describe('the per-instance cap on refused-request entries', () => {
  it('stores a burst, then about one a second, and the next stored refusal counts the skipped ones', async () => {
    const services = await installTestServices();
    const trail = new AuditTrail(new TableAuditStore(services.tables), services.clock, new RefusalCap(3, 1));
    const logged: string[] = [];
    const call = { actor: anonymousActor, callerAddress: undefined, invocationId: 'cap', log: { info: (line: unknown) => void logged.push(String(line)), error: () => undefined } };
    const refusal = new ServiceError('invalid_token', 'the admin credential is not valid');
    for (let i = 0; i < 10; i++) await trail.refused(call, 'GET /api/devices', refusal);
    services.clock.advance(2);
    await trail.refused(call, 'GET /api/devices', refusal);
    const stored = (await trail.list({ from: services.clock.now() * 1000 - 86_400_000, to: services.clock.now() * 1000 + 86_400_000, action: 'admin.refused', limit: 100, continuation: undefined })).items;
    expect(stored.map((entry) => entry.details)).toEqual([
      { route: 'GET /api/devices', suppressed: 7 },
      { route: 'GET /api/devices' },
      { route: 'GET /api/devices' },
      { route: 'GET /api/devices' },
    ]);
    // Every refusal still has its log line; the skipped ones say they were not stored.
    expect(logged).toHaveLength(11);
    expect(logged.filter((line) => line.includes('"recorded":false'))).toHaveLength(7);
  });
});

describe('the audit trail of device registrations', () => {
  let services: TestServices;

  beforeAll(async () => {
    services = await installTestServices({ env: { APPROVAL_MODE: 'manual' } });
  });

  it('records bulk registrations with the bulk token, refusals after a valid proof, and not what fails before it', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    const token = created.body.token as string;
    const bulkTokenId = created.body.id as string;
    const device = await createDeviceIdentity('ec');
    const registered = await registerBulk(services, token, device);
    expect(registered.status).toBe(201);
    expect(auditLines(registered)).toHaveLength(1);
    await invoke(blockBulkToken, { path: `/api/bulk-tokens/${bulkTokenId}/block`, headers: admin, params: { id: bulkTokenId } });
    services.clock.advance(1);
    const blocked = await registerBulk(services, token);
    expect(blocked.status).toBe(401);
    // A forged bulk token and a bad proof are refused before anything is recorded.
    expect((await registerBulk(services, `${token.slice(0, -4)}AAAA`)).status).toBe(401);
    expect((await invoke(registerDevice, { path: '/api/register', headers: bearer(token), body: { proof: 'x.y.z' } })).status).toBe(400);

    const entries = await auditEntries({ action: 'device.register' });
    expect(entries.map((entry) => [entry.outcome, entry.status, entry.code])).toEqual([
      ['refused', 401, 'token_blocked'],
      ['succeeded', 201, undefined],
    ]);
    expect(entries[1]).toMatchObject({
      actor: { kind: 'device', name: registered.body.deviceId },
      target: { kind: 'device', id: registered.body.deviceId },
      details: { registration: 'bulk', bulkTokenId },
    });
    expect(JSON.stringify(entries)).not.toContain(token);
    expect(JSON.stringify(entries)).not.toContain(registered.body.token as string);
  });

  it('records an internal registration awaiting approval once (not its polls), then its token, then a revoked device refused', async () => {
    const device = await createDeviceIdentity('ec');
    const first = await registerFromInside(services, device);
    expect(first.status).toBe(202);
    const deviceId = first.body.deviceId as string;
    services.clock.advance(1);
    expect((await registerFromInside(services, device)).status).toBe(202);
    expect((await registerFromInside(services, device)).logs.filter((line) => line.includes(auditLogPrefix))).toEqual([]);
    await invoke(approveDevice, { path: `/api/devices/${deviceId}/approve`, headers: admin, params: { id: deviceId } });
    services.clock.advance(1);
    expect((await registerFromInside(services, device)).status).toBe(201);
    services.clock.advance(1);
    await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } });
    services.clock.advance(1);
    expect((await registerFromInside(services, device)).status).toBe(403);

    const entries = (await auditEntries()).filter((entry) => entry.target?.id === deviceId);
    expect(entries.map((entry) => [entry.action, entry.outcome, entry.status, entry.code])).toEqual([
      ['device.register', 'refused', 403, 'device_revoked'],
      ['device.revoke', 'succeeded', 200, undefined],
      ['device.register', 'succeeded', 201, undefined],
      ['device.approve', 'succeeded', 200, undefined],
      ['device.register', 'pending', 202, undefined],
    ]);
    expect(entries.at(-1)).toMatchObject({ callerAddress: '127.0.0.1', details: { registration: 'internal' } });
  });
});

describe('the audit trail with Microsoft Entra ID admins', () => {
  const tenantId = randomUUID();
  const audience = 'api://cmg-token-auth-admin';
  const appRole = 'CmgTokenAuth.Admin';
  const objectId = randomUUID();
  let signingKey: CryptoKey;
  let jwk: JWK;

  async function accessToken(claims: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: `https://login.microsoftonline.com/${tenantId}/v2.0`, aud: audience, iat: now - 60, exp: now + 3600, tid: tenantId, oid: objectId, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'k1' })
      .sign(signingKey);
  }

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    signingKey = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig', alg: 'RS256' };
    const keySet = JSON.stringify({ keys: [jwk] });
    const entra = new EntraAdminAuthorizer({
      tenantId,
      audience,
      appRole,
      fetchOptions: { fetch: async () => new Response(keySet, { headers: { 'content-type': 'application/json' } }) },
    });
    await installTestServices({ overrides: { admin: entra } });
  });

  it('names the actor by the token: object id and display name; a valid token without the role is recorded as refused with who it was', async () => {
    const admin = await accessToken({ roles: [appRole], name: 'Ada Admin', preferred_username: 'ada@contoso.example' });
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(admin), body: {} });
    expect(created.status).toBe(201);
    const reader = await accessToken({ roles: ['CmgTokenAuth.Reader'], preferred_username: 'rex@contoso.example' });
    expect((await invoke(listDevices, { method: 'GET', path: '/api/devices', headers: bearer(reader) })).status).toBe(403);

    const entries = (await invoke(listAudit, { method: 'GET', path: '/api/audit', headers: bearer(admin) })).body.items as AuditEntry[];
    const refused = entries.find((entry) => entry.action === 'admin.refused');
    const create = entries.find((entry) => entry.action === 'bulk-token.create');
    expect(create?.actor).toEqual({ kind: 'entra', id: objectId, name: 'Ada Admin' });
    expect(refused).toMatchObject({ status: 403, code: 'forbidden', actor: { kind: 'entra', id: objectId, name: 'rex@contoso.example' }, details: { route: 'GET /api/devices' } });
    expect(JSON.stringify(entries)).not.toContain(admin.split('.')[2]!);
  });
});

describe('GET /api/audit: listing', () => {
  let services: TestServices;
  /** 23:59:58 UTC of some day. */
  let lateEvening: number;

  beforeAll(async () => {
    services = await installTestServices();
    lateEvening = Math.floor(services.clock.now() / day) * day - 2;
    // Three days, two entries each: 23:59:58 and 23:59:59 of days 1 and 2, then 00:00:00 and 00:00:01 of day 3.
    services.clock.seconds = lateEvening - day;
    for (let i = 0; i < 6; i++) {
      await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 10 + i } });
      services.clock.advance(i === 1 ? day - 1 : 1);
    }
  });

  const window = () => ({ from: new Date((lateEvening - 2 * day) * 1000).toISOString(), to: new Date((lateEvening + 10) * 1000).toISOString() });

  it('lists newest first across days (a partition per UTC day), and pages with limit and continuation', async () => {
    const all = await auditEntries({ ...window(), action: 'bulk-token.create' });
    expect(all.map((entry) => entry.details?.lifetimeMinutes)).toEqual([15, 14, 13, 12, 11, 10]);
    const partitions = new Set(Object.keys(await dumpAudit(services)));
    expect(partitions.size).toBe(3);
    const paged = await allEntries({ ...window(), limit: '4' });
    expect(paged.entries.map((entry) => entry.id)).toEqual(all.map((entry) => entry.id));
    expect(paged.pages).toBeGreaterThanOrEqual(2);
    const first = await auditPage({ ...window(), limit: '4' });
    expect((first.body.items as unknown[]).length).toBe(4);
    expect(typeof first.body.continuation).toBe('string');
  });

  it('filters by time (from inclusive, to exclusive) and by action', async () => {
    const from = new Date((lateEvening + 1 - day) * 1000).toISOString();
    const to = new Date((lateEvening + 3) * 1000).toISOString();
    const entries = await auditEntries({ from, to });
    expect(entries.map((entry) => entry.details?.lifetimeMinutes)).toEqual([14, 13, 12, 11]);
    expect(await auditEntries({ ...window(), action: 'device.revoke' })).toEqual([]);
  });

  it('by default lists the last 7 days up to now', async () => {
    services.clock.seconds = lateEvening + 3;
    expect((await auditEntries()).map((entry) => entry.details?.lifetimeMinutes)).toEqual([15, 14, 13, 12, 11, 10]);
    // 7 days after 00:00:00 of day 3 (to is now + 1 ms, exclusive): only 00:00:01 is still inside.
    services.clock.seconds = lateEvening + 7 * day + 2;
    expect((await auditEntries()).map((entry) => entry.details?.lifetimeMinutes)).toEqual([15]);
  });

  it('pages over a long, mostly empty range: pages may be empty yet carry a continuation, and none is lost', async () => {
    // 101 days: 101 partition queries, at most maxQueriesPerPage a page.
    const from = new Date((lateEvening - 60 * day) * 1000).toISOString();
    const to = new Date((lateEvening + 40 * day) * 1000).toISOString();
    const first = await auditPage({ from, to });
    expect(first.body.items).toEqual([]);
    expect(typeof first.body.continuation).toBe('string');
    const { entries, pages } = await allEntries({ from, to });
    expect(entries.map((entry) => entry.details?.lifetimeMinutes)).toEqual([15, 14, 13, 12, 11, 10]);
    expect(pages).toBe(Math.ceil(101 / maxQueriesPerPage));
  });

  it.each([
    ['garbage', 'not-a-continuation'],
    ['not JSON', Buffer.from('{"d":').toString('base64url')],
    ['a day outside the range', Buffer.from(JSON.stringify({ d: '1999-01-01' })).toString('base64url')],
    ['an impossible day', Buffer.from(JSON.stringify({ d: '2026-02-31' })).toString('base64url')],
    ['a row key of another shape', Buffer.from(JSON.stringify({ d: '2026-01-01', r: "x' or PartitionKey ne '" })).toString('base64url')],
    ['an array', Buffer.from('[1]').toString('base64url')],
  ])('answers 400 naming continuation for a forged one (%s)', async (_what, continuation) => {
    const answer = await auditPage({ ...window(), continuation });
    expect([answer.status, answer.body.code]).toEqual([400, 'invalid_request']);
    expect(answer.body.detail).toContain('continuation');
  });

  it.each([
    ['from', { from: 'yesterday' }],
    ['to', { to: '2026-13-01T00:00:00Z' }],
    ['from', { from: '2026-12-01' }],
    ['from must be earlier', { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }],
    ['366 days', { from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }],
    ['action', { action: 'device.delete' }],
    ['limit', { limit: '0' }],
    ['limit', { limit: '1001' }],
    ['limit', { limit: 'ten' }],
  ])('answers 400 naming %s for a bad query', async (named, query) => {
    const answer = await auditPage(query);
    expect([answer.status, answer.body.code]).toEqual([400, 'invalid_request']);
    expect(answer.body.detail).toContain(named);
  });
});

describe('GET /api/devices/{id} and the device view', () => {
  let services: TestServices;

  beforeAll(async () => {
    services = await installTestServices();
  });

  it('finds a device by id or by certificate thumbprint, with the bulk token it registered with; 404 otherwise', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    const device = await createDeviceIdentity('ec');
    const registered = await registerBulk(services, created.body.token as string, device);
    const deviceId = registered.body.deviceId as string;
    const byId = await invoke(getDevice, { method: 'GET', path: `/api/devices/${deviceId}`, headers: admin, params: { id: deviceId.toUpperCase() } });
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ deviceId, status: 'active', registration: 'bulk', bulkTokenId: created.body.id, thumbprint: thumbprintOf(device) });
    const thumbprint = thumbprintOf(device);
    const byThumbprint = await invoke(getDevice, { method: 'GET', path: `/api/devices/${thumbprint}`, headers: admin, params: { id: thumbprint } });
    expect(byThumbprint.body).toEqual(byId.body);
    const listed = await invoke(listDevices, { method: 'GET', path: '/api/devices', headers: admin });
    expect(listed.body.items).toContainEqual(byId.body);

    const other = thumbprintOf(await createDeviceIdentity('ec'));
    for (const id of [randomUUID(), other]) {
      const missing = await invoke(getDevice, { method: 'GET', path: `/api/devices/${id}`, headers: admin, params: { id } });
      expect([missing.status, missing.body.code]).toEqual([404, 'not_found']);
    }
    const internal = await registerFromInside(services, await createDeviceIdentity('ec'));
    const internalView = await invoke(getDevice, { method: 'GET', path: '/api/devices/x', headers: admin, params: { id: internal.body.deviceId as string } });
    expect(internalView.body.registration).toBe('internal');
    expect(internalView.body).not.toHaveProperty('bulkTokenId');
  });

  it('answers 400 for an id that is neither, and 401 (recorded) without the admin credential', async () => {
    const bad = await invoke(getDevice, { method: 'GET', path: '/api/devices/abc', headers: admin, params: { id: 'abc' } });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid_request']);
    const id = randomUUID();
    const refused = await invoke(getDevice, { method: 'GET', path: `/api/devices/${id}`, params: { id } });
    expect(refused.status).toBe(401);
    expect(auditLines(refused)).toMatchObject([{ action: 'admin.refused', details: { route: `GET /api/devices/${id}` }, recorded: true }]);
  });
});

describe('every admin route records its refusals', () => {
  it('each operation the OpenAPI document marks admin is a function that goes through handleAdmin, and none checks the credential itself', () => {
    const dir = join(__dirname, '..', 'functions');
    const sources = new Map(readdirSync(dir).filter((name) => name.endsWith('.ts')).map((name) => [name.replace(/\.ts$/, ''), readFileSync(join(dir, name), 'utf8')]));
    const adminOperations = Object.values(openApiDocument.paths as Record<string, Record<string, { operationId: string; security?: unknown }>>)
      .flatMap((operations) => Object.values(operations))
      .filter((operation) => JSON.stringify(operation.security ?? []).includes('"admin"'))
      .map((operation) => operation.operationId)
      .sort();
    expect(adminOperations.length).toBeGreaterThanOrEqual(9);
    const throughHandleAdmin = [...sources].filter(([, source]) => /\bhandleAdmin\(request, context/.test(source)).map(([name]) => name).sort();
    expect(throughHandleAdmin).toEqual(adminOperations);
    expect([...sources].filter(([, source]) => /\.authorize\(/.test(source)).map(([name]) => name)).toEqual([]);
  });
});

/** The audit table's rows by partition. */
async function dumpAudit(services: TestServices): Promise<Record<string, Array<Record<string, unknown>>>> {
  const client = await services.tables.table(TableAuditStore.tableName);
  const byPartition: Record<string, Array<Record<string, unknown>>> = {};
  for await (const entity of client.listEntities()) (byPartition[entity.partitionKey ?? ''] ??= []).push(entity);
  return byPartition;
}

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approveDevice } from '../functions/approveDevice.js';
import { blockBulkToken } from '../functions/blockBulkToken.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { getDevice } from '../functions/getDevice.js';
import { listAudit } from '../functions/listAudit.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { createDeviceIdentity } from '../cli/device/identity.js';
import { startAzurite, type RunningAzurite } from '../host/azurite.js';
import type { AuditEntry } from '../shared/audit/auditEntry.js';
import { auditLogPrefix } from '../shared/audit/auditTrail.js';
import { TableAuditStore } from '../shared/audit/tableAuditStore.js';
import { deviceCall } from './support/devices.js';
import { FailingTableProxy } from './support/failingTableProxy.js';
import { bearer, invoke, type Answer } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';

/**
 * The audit trail's failure semantics (decision 0009): an admin action whose entry cannot be
 * written answers 503, and no action ever takes effect without its entry; a registration
 * goes ahead and the failure is logged loudly.
 */

const admin = bearer(testAdminKey);

function expectUnavailable(answer: Answer): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 503, code: 'unavailable' });
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

/** The loud log lines: error level, the entry as JSON with recorded: false. */
function unrecordedLines(answer: Answer): Array<Record<string, unknown>> {
  return answer.logs
    .filter((line) => line.startsWith(`error: ${auditLogPrefix}`))
    .map((line) => JSON.parse(line.slice(`error: ${auditLogPrefix}`.length)) as Record<string, unknown>);
}

async function entries(): Promise<AuditEntry[]> {
  const answer = await invoke(listAudit, { method: 'GET', path: '/api/audit?limit=1000', headers: admin });
  expect(answer.status).toBe(200);
  return answer.body.items as AuditEntry[];
}

async function bulkTokenIds(): Promise<string[]> {
  const answer = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
  return (answer.body.items as Array<{ id: string }>).map((item) => item.id);
}

async function deviceStatus(deviceId: string): Promise<unknown> {
  return (await invoke(getDevice, { method: 'GET', path: `/api/devices/${deviceId}`, headers: admin, params: { id: deviceId } })).body.status;
}

async function registerBulk(services: TestServices, token: string): Promise<Answer> {
  return invoke(registerDevice, await deviceCall(await createDeviceIdentity('ec'), '/api/register', { bearer: token, now: services.clock.now() }));
}

async function pendingDevice(services: TestServices): Promise<string> {
  const call = await deviceCall(await createDeviceIdentity('ec'), '/api/register/internal', { now: services.clock.now() });
  const answer = await invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '127.0.0.1' } });
  expect(answer.status).toBe(202);
  return answer.body.deviceId as string;
}

/** Every state change the tables hold has its entry: each bulk token its create, each revoked device its revoke. */
async function expectNoActionWithoutEntry(revoked: string[]): Promise<void> {
  const trail = await entries();
  const has = (action: string, id: string) => trail.some((entry) => entry.action === action && entry.target?.id === id && entry.outcome !== 'failed');
  for (const id of await bulkTokenIds()) expect({ id, recorded: has('bulk-token.create', id) }).toEqual({ id, recorded: true });
  for (const id of revoked) expect({ id, recorded: has('device.revoke', id) }).toEqual({ id, recorded: true });
}

describe('the audit table refuses writes (a failing table proxy in front of Azurite)', () => {
  let proxy: FailingTableProxy;
  let services: TestServices;
  let auditTable: string;

  beforeAll(async () => {
    proxy = FailingTableProxy.forTestAzurite();
    const connection = await proxy.start();
    services = await installTestServices({ env: { STORAGE_CONNECTION: connection, APPROVAL_MODE: 'manual' } });
    auditTable = `/devstoreaccount1/${services.config.tablePrefix}${TableAuditStore.tableName}`;
  });

  afterAll(async () => {
    await proxy.stop();
  });

  afterEach(() => {
    proxy.failWhen = () => false;
  });

  const failInserts = () => {
    proxy.failWhen = (method, path) => method === 'POST' && path.startsWith(auditTable);
  };
  const failOutcomes = () => {
    proxy.failWhen = (method, path) => method === 'PUT' && path.startsWith(`${auditTable}(`);
  };

  it('when the first entry cannot be written: 503, and the action is not done (create, block, approve, revoke)', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    const tokenId = created.body.id as string;
    const bulk = await registerBulk(services, created.body.token as string);
    const activeDevice = bulk.body.deviceId as string;
    const waiting = await pendingDevice(services);
    const tokensBefore = await bulkTokenIds();

    failInserts();
    const create = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    expectUnavailable(create);
    expect(create.body).not.toHaveProperty('token');
    expect(unrecordedLines(create)).toMatchObject([{ action: 'bulk-token.create', outcome: 'failed', status: 503, recorded: false }]);
    expectUnavailable(await invoke(blockBulkToken, { path: `/api/bulk-tokens/${tokenId}/block`, headers: admin, params: { id: tokenId } }));
    expectUnavailable(await invoke(approveDevice, { path: `/api/devices/${waiting}/approve`, headers: admin, params: { id: waiting } }));
    expectUnavailable(await invoke(revokeDevice, { path: `/api/devices/${activeDevice}/revoke`, headers: admin, params: { id: activeDevice } }));
    expect(proxy.failed.length).toBeGreaterThanOrEqual(4);
    proxy.failWhen = () => false;

    expect(await bulkTokenIds()).toEqual(tokensBefore);
    const tokens = (await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin })).body.items as Array<{ id: string; status: string }>;
    expect(tokens.find((token) => token.id === tokenId)?.status).toBe('active');
    expect(await deviceStatus(waiting)).toBe('pending');
    expect(await deviceStatus(activeDevice)).toBe('active');
    expect((await entries()).filter((entry) => entry.outcome === 'attempted')).toEqual([]);
    await expectNoActionWithoutEntry([]);
  }, 60_000);

  it('when the outcome cannot be written: 503, and the action that took effect has its entry, "attempted"; a retry records it', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    const bulk = await registerBulk(services, created.body.token as string);
    const deviceId = bulk.body.deviceId as string;

    failOutcomes();
    const revoke = await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } });
    expectUnavailable(revoke);
    expect(unrecordedLines(revoke)).toMatchObject([{ action: 'device.revoke', outcome: 'succeeded', recorded: false }]);
    const create = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    expectUnavailable(create);
    expect(create.body).not.toHaveProperty('token');
    proxy.failWhen = () => false;

    // The revocation took effect, and its entry says it was attempted, by whom, on what.
    expect(await deviceStatus(deviceId)).toBe('revoked');
    const attempted = (await entries()).filter((entry) => entry.outcome === 'attempted');
    expect(attempted.map((entry) => [entry.action, entry.target?.kind])).toEqual([
      ['bulk-token.create', 'bulk-token'],
      ['device.revoke', 'device'],
    ]);
    expect(attempted[1]).toMatchObject({ actor: { kind: 'admin-key', name: 'admin key' }, target: { id: deviceId } });
    expect(attempted[1]?.status).toBeUndefined();
    await expectNoActionWithoutEntry([deviceId]);

    const again = await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } });
    expect(again.status).toBe(200);
    expect((await entries())[0]).toMatchObject({ action: 'device.revoke', outcome: 'succeeded', target: { id: deviceId } });
  }, 60_000);

  it('a registration is not refused for the audit trail: 201, and the failure is logged loudly at error level', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    failInserts();
    const registered = await registerBulk(services, created.body.token as string);
    expect(registered.status).toBe(201);
    expect(typeof registered.body.token).toBe('string');
    const [line] = unrecordedLines(registered);
    expect(line).toMatchObject({ action: 'device.register', outcome: 'succeeded', recorded: false, target: { id: registered.body.deviceId } });
    expect(String(line?.note)).toContain('AUDIT WRITE FAILED');
    expect(registered.logs.join('\n')).not.toContain(registered.body.token as string);
  }, 60_000);

  it('a refused admin request is still refused (401) when its entry cannot be written, and logged loudly', async () => {
    failInserts();
    const refused = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: bearer('x'.repeat(40)) });
    expect(refused.status).toBe(401);
    expect(unrecordedLines(refused)).toMatchObject([{ action: 'admin.refused', status: 401, recorded: false }]);
  }, 60_000);
});

describe('Table Storage stopped during an admin action, then restarted', () => {
  let azurite: RunningAzurite | undefined;
  let port: number;
  let location: string;
  let services: TestServices;

  beforeAll(async () => {
    location = mkdtempSync(join(tmpdir(), 'cmg-audit-azurite-'));
    azurite = await startAzurite({ port: 0, location });
    port = azurite.port;
    services = await installTestServices({ env: { STORAGE_CONNECTION: azurite.connectionString } });
  }, 30_000);

  afterAll(async () => {
    await azurite?.close();
  });

  it('answers 503; after the restart the device is not revoked and no revocation is recorded; a retry does both', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} });
    const deviceId = (await registerBulk(services, created.body.token as string)).body.deviceId as string;

    await azurite!.close();
    azurite = undefined;
    expectUnavailable(await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } }));
    expectUnavailable(await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: {} }));
    azurite = await startAzurite({ port, location });

    expect(await deviceStatus(deviceId)).toBe('active');
    expect((await entries()).filter((entry) => entry.action === 'device.revoke')).toEqual([]);
    await expectNoActionWithoutEntry([]);
    expect((await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } })).status).toBe(200);
    expect((await entries())[0]).toMatchObject({ action: 'device.revoke', outcome: 'succeeded', target: { id: deviceId } });
  }, 60_000);
});

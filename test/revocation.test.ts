import { createDeviceIdentity, signProof, thumbprintOf, type DeviceIdentity } from '../cli/device/identity.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { isoTime } from '../shared/clock.js';
import { TableRevocationList } from '../shared/devices/revocationList.js';
import { ServiceError } from '../shared/errors.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices, type Services } from '../shared/services.js';
import { deviceCall, serviceUrl } from './support/devices.js';
import { adminBulkToken, enrolledDevice } from './support/enrol.js';
import { bearer, invoke } from './support/invoke.js';
import { installTestServices, testAdminKey, testConfig, TestClock, type TestServices } from './support/services.js';
import { dumpTables } from './support/tables.js';

const day = 86_400;
let services: TestServices;
/** A second instance of the service on the same storage, as another Functions worker would be. */
let other: Services;
let bulkToken: string;

beforeAll(async () => {
  services = await installTestServices();
  other = await createServices(services.config, { clock: services.clock, signer: services.signer, admin: services.admin });
  bulkToken = await adminBulkToken(60);
});

const registered = () => enrolledDevice(bulkToken, services.clock.now());

/** Authenticates through `instance` directly (not the process's services). */
async function authenticateOn(instance: Services, device: DeviceIdentity, token: string): Promise<string> {
  const url = `${serviceUrl}/api/authenticate`;
  const proof = await signProof(device, { method: 'POST', url, bearerToken: token, iat: services.clock.now() });
  try {
    await instance.deviceAuth.authenticate(token, proof, { method: 'POST', url });
    return 'ok';
  } catch (error) {
    if (error instanceof ServiceError) return error.code;
    throw error;
  }
}

describe('revocation across instances', () => {
  it('a revocation made through one instance refuses the very next request on another that had the list in memory', async () => {
    const { device, deviceId, token } = await registered();
    const bystander = await registered();
    // The other instance loads the list (and keeps it) while the device is still good.
    expect(await authenticateOn(other, device, token)).toBe('ok');
    expect(await authenticateOn(other, bystander.device, bystander.token)).toBe('ok');
    const revoked = await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: bearer(testAdminKey), params: { id: deviceId } });
    expect(revoked).toMatchObject({ status: 200, body: { deviceId, status: 'revoked' } });
    expect(await authenticateOn(other, device, token)).toBe('device_revoked');
    expect(await authenticateOn(services, device, token)).toBe('device_revoked');
    expect(await authenticateOn(other, bystander.device, bystander.token)).toBe('ok');
  });

  it('revoking twice is fine, and revoking an unknown device is 404 and stores nothing', async () => {
    const { deviceId } = await registered();
    for (let i = 0; i < 2; i++) {
      expect((await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: bearer(testAdminKey), params: { id: deviceId } })).status).toBe(200);
    }
    const unknown = '0aa5e1b2-3c4d-8e5f-9a6b-7c8d9e0f1a2b';
    expect(await invoke(revokeDevice, { path: `/api/devices/${unknown}/revoke`, headers: bearer(testAdminKey), params: { id: unknown } })).toMatchObject({
      status: 404,
      body: { code: 'not_found' },
    });
    expect(await new TableRevocationList(services.tables).isRevoked(unknown)).toBe(false);
  });
});

describe('TableRevocationList and the purge', () => {
  it('the purge drops a revocation once every token the device could hold has expired (91 days), and keeps younger ones', async () => {
    const list = new TableRevocationList(services.tables);
    const now = services.clock.now();
    const [old, young] = ['11111111-2222-8333-8444-555555555555', '66666666-7777-8888-8999-aaaaaaaaaaaa'];
    // Certificates that expired long ago: the 91 days of the device's tokens are what keep these.
    await list.add({ deviceId: old, thumbprint: 'thumbprint-of-old', revokedAt: now - 92 * day, certificateNotAfter: now - 200 * day });
    await list.add({ deviceId: young, thumbprint: 'thumbprint-of-young', revokedAt: now - 89 * day, certificateNotAfter: now - 200 * day });
    expect(await list.isRevoked(old)).toBe(true);
    expect((await services.purge.run()).removed.revocations).toBe(1);
    // Another instance, and this one after the change marker moved, both see the list as it is now.
    const fresh = new TableRevocationList(services.tables);
    expect(await fresh.isRevoked(old)).toBe(false);
    expect(await fresh.isRevoked(young)).toBe(true);
    expect(await list.isRevoked(old)).toBe(false);
    expect((await services.purge.run()).removed.revocations).toBe(0);
  });
});

describe('a revocation outlives the pairing until the certificate expires', () => {
  it('a certificate valid 100 days, revoked on day 85: refused after the purge removed its pairing (day 97), kept until day 176, then refused as expired', async () => {
    // Its own tables and clock, so that purging on day 97 and 177 touches nothing else.
    const clock = new TestClock(services.clock.now());
    const start = clock.now();
    const instance = await createServices(testConfig(), { clock, signer: services.signer, admin: services.admin });
    const admin = bearer(testAdminKey);
    const device = await createDeviceIdentity('ec', { validDays: 100, notBefore: new Date((start - 300) * 1000) });
    const notAfter = start - 300 + 100 * day;
    useServices(instance);
    try {
      // A bulk token made just before each attempt: they last at most 7 days.
      const register = async () => {
        const bulk = (await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 60 } })).body.token as string;
        return invoke(registerDevice, await deviceCall(device, '/api/register', { bearer: bulk, now: clock.now() }));
      };
      const registerInside = async () => {
        const call = await deviceCall(device, '/api/register/internal', { now: clock.now() });
        return invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '127.0.0.1' } });
      };
      const registered = await register();
      expect(registered.status).toBe(201);
      const deviceId = registered.body.deviceId as string;

      clock.seconds = start + 85 * day;
      expect((await invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } })).status).toBe(200);
      const rows = (await dumpTables(instance.config.tablePrefix))[`${instance.config.tablePrefix}revocations`] ?? [];
      // The row names the certificate and is kept to the later of its tokens' end (day 85 + 91) and its notAfter + 300 s.
      expect(rows.find((row) => row.rowKey === deviceId)).toMatchObject({
        thumbprint: thumbprintOf(device),
        keepUntil: isoTime(Math.max(start + 176 * day, notAfter + 300)),
      });

      clock.seconds = start + 97 * day + 7200;
      expect((await instance.purge.run()).removed).toMatchObject({ devices: 1, revocations: 0 });
      expect((await register()).body.code).toBe('device_revoked');
      expect((await registerInside()).body.code).toBe('device_revoked');

      clock.seconds = start + 177 * day;
      expect((await instance.purge.run()).removed.revocations).toBe(1);
      // The certificate itself has expired by now: refused for that, on both paths.
      for (const answer of [await register(), await registerInside()]) {
        expect(answer).toMatchObject({ status: 400, body: { code: 'invalid_certificate' } });
        expect(answer.body.detail).toMatch(/outside its validity period/);
      }
    } finally {
      useServices(services);
    }
  }, 60_000);
});

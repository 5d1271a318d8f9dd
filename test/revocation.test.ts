import { signProof, type DeviceIdentity } from '../cli/device/identity.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { TableRevocationList } from '../shared/devices/revocationList.js';
import { ServiceError } from '../shared/errors.js';
import { createServices, type Services } from '../shared/services.js';
import { serviceUrl } from './support/devices.js';
import { adminBulkToken, enrolledDevice } from './support/enrol.js';
import { bearer, invoke } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';

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

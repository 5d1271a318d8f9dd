import { decodeJwt } from 'jose';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { listDevices } from '../functions/listDevices.js';
import { registerDevice } from '../functions/registerDevice.js';
import { renewDeviceToken } from '../functions/renewDeviceToken.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { createDeviceIdentity, type DeviceIdentity } from '../cli/device/identity.js';
import { deviceCall } from './support/devices.js';
import { adminBulkToken, enrolledDevice } from './support/enrol.js';
import { bearer, invoke, type Answer } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';

const day = 86_400;
let services: TestServices;
let bulkToken: string;
let start: number;

beforeAll(async () => {
  services = await installTestServices();
  start = services.clock.now();
  bulkToken = await adminBulkToken();
});

// Tests move the frozen clock; each starts from the same moment.
afterEach(() => {
  services.clock.seconds = start;
});

const registered = () => enrolledDevice(bulkToken, services.clock.now());

async function renew(device: DeviceIdentity, token: string): Promise<Answer> {
  return invoke(renewDeviceToken, await deviceCall(device, '/api/renew', { bearer: token, now: services.clock.now() }));
}

async function authenticate(device: DeviceIdentity, token: string): Promise<Answer> {
  return invoke(authenticateDevice, await deviceCall(device, '/api/authenticate', { bearer: token, now: services.clock.now() }));
}

async function pairingExpiry(deviceId: string): Promise<string | undefined> {
  const answer = await invoke(listDevices, { method: 'GET', path: '/api/devices?status=active&limit=1000', headers: bearer(testAdminKey) });
  return (answer.body.items as Array<{ deviceId: string; expiresAt: string }>).find((item) => item.deviceId === deviceId)?.expiresAt;
}

describe('POST /api/renew', () => {
  it('returns a fresh 90-day token for the same device, moves the pairing expiry, and both tokens authenticate', async () => {
    const { device, deviceId, token } = await registered();
    services.clock.advance(31 * day);
    const renewed = await renew(device, token);
    expect(renewed.status).toBe(200);
    expect(renewed.body.deviceId).toBe(deviceId);
    const fresh = renewed.body.token as string;
    const claims = decodeJwt(fresh);
    expect(claims).toMatchObject({ sub: deviceId, reg: 'bulk', iat: services.clock.now(), exp: services.clock.now() + 90 * day });
    expect(claims.cnf).toEqual(decodeJwt(token).cnf);
    expect(claims.brt).toBe(decodeJwt(token).brt);
    expect(await pairingExpiry(deviceId)).toBe(renewed.body.expiresAt);
    expect((await authenticate(device, token)).status).toBe(200);
    expect((await authenticate(device, fresh)).status).toBe(200);
  });

  it('refuses a token presented with a proof by another key: 401 key_mismatch (a stolen token is useless)', async () => {
    const { token } = await registered();
    const thief = await createDeviceIdentity('ec');
    const answer = await renew(thief, token);
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe('key_mismatch');
    expect((await authenticate(thief, token)).body.code).toBe('key_mismatch');
  });

  it('refuses an expired token, telling the device to register again', async () => {
    const { device, token } = await registered();
    services.clock.advance(90 * day + 300);
    try {
      const answer = await renew(device, token);
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ code: 'token_expired', detail: expect.stringMatching(/must register again/) });
    } finally {
      services.clock.advance(-(90 * day + 300));
    }
  });

  it('refuses a bulk token offered as a device token', async () => {
    const { device } = await registered();
    const answer = await renew(device, bulkToken);
    expect(answer).toMatchObject({ status: 401, body: { code: 'invalid_token' } });
  });
});

describe('POST /api/authenticate', () => {
  it('answers deviceId, expiresAt, renewAfter and registration; renewAfter is iat + 30 days', async () => {
    const { device, deviceId, token } = await registered();
    const iat = decodeJwt(token).iat!;
    const answer = await authenticate(device, token);
    expect(answer).toMatchObject({
      status: 200,
      body: {
        deviceId,
        registration: 'bulk',
        renewAfter: new Date((iat + 30 * day) * 1000).toISOString(),
        expiresAt: new Date((iat + 90 * day) * 1000).toISOString(),
      },
    });
  });

  it('accepts a token until 300 s after its expiry and refuses it from then on (frozen clock)', async () => {
    const { device, token } = await registered();
    services.clock.advance(90 * day + 299);
    try {
      expect((await authenticate(device, token)).status).toBe(200);
      services.clock.advance(1);
      expect((await authenticate(device, token)).body.code).toBe('token_expired');
    } finally {
      services.clock.advance(-(90 * day + 300));
    }
  });

  it('after revoke: authenticate and renew answer 403 device_revoked', async () => {
    const { device, deviceId, token } = await registered();
    const revoked = await invoke(revokeDevice, { path: '/x', headers: bearer(testAdminKey), params: { id: deviceId } });
    expect(revoked.body).toEqual({ deviceId, status: 'revoked' });
    expect(await authenticate(device, token)).toMatchObject({ status: 403, body: { code: 'device_revoked' } });
    expect(await renew(device, token)).toMatchObject({ status: 403, body: { code: 'device_revoked' } });
    // A revoked certificate cannot come back through registration either.
    const again = await invoke(registerDevice, await deviceCall(device, '/api/register', { bearer: bulkToken, now: services.clock.now() }));
    expect(again).toMatchObject({ status: 403, body: { code: 'device_revoked' } });
  });

  it('a proof replayed against authenticate is refused', async () => {
    const { device, token } = await registered();
    const call = await deviceCall(device, '/api/authenticate', { bearer: token, now: services.clock.now() });
    expect((await invoke(authenticateDevice, call)).status).toBe(200);
    expect((await invoke(authenticateDevice, call)).body.code).toBe('proof_replayed');
  });

  it('a proof made for /api/renew is refused by /api/authenticate', async () => {
    const { device, token } = await registered();
    const call = await deviceCall(device, '/api/renew', { bearer: token, now: services.clock.now() });
    expect(await invoke(authenticateDevice, { ...call, path: '/api/authenticate' })).toMatchObject({ status: 401, body: { code: 'proof_rejected' } });
  });
});

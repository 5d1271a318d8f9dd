import { createBulkToken } from '../functions/createBulkToken.js';
import { health } from '../functions/health.js';
import { registerInternal } from '../functions/registerInternal.js';
import { createDeviceIdentity } from '../cli/device/identity.js';
import { azuriteConnectionString } from '../host/azurite.js';
import { closedPort } from './support/closedPort.js';
import { deviceCall } from './support/devices.js';
import { bearer, invoke } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';

let services: TestServices;

beforeAll(async () => {
  // The storage account is unreachable: nothing listens there.
  const port = await closedPort();
  services = await installTestServices({ env: { STORAGE_CONNECTION: azuriteConnectionString('127.0.0.1', port) } });
});

describe('storage unreachable', () => {
  it('creating a bulk token answers 503 unavailable with Retry-After, after bounded retries', async () => {
    const started = Date.now();
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body: {} });
    expect(answer.status).toBe(503);
    expect(answer.body.code).toBe('unavailable');
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answer.body).not.toHaveProperty('token');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the replay check fails closed: a registration gets 503, never a token', async () => {
    const device = await createDeviceIdentity('ec');
    const call = await deviceCall(device, '/api/register/internal', { now: services.clock.now() });
    const answer = await invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(answer.status).toBe(503);
    expect(answer.body.code).toBe('unavailable');
    expect(answer.headers.get('retry-after')).not.toBeNull();
  });

  it('health answers 503', async () => {
    const answer = await invoke(health, { method: 'GET', path: '/api/health' });
    expect(answer.status).toBe(503);
  });
});

import { decodeProtectedHeader } from 'jose';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { jwks } from '../functions/jwks.js';
import { listDevices } from '../functions/listDevices.js';
import { registerDevice } from '../functions/registerDevice.js';
import { renewDeviceToken } from '../functions/renewDeviceToken.js';
import { createDeviceIdentity, type DeviceIdentity } from '../cli/device/identity.js';
import { KeyVaultSigner } from '../shared/signing/keyVaultSigner.js';
import { deviceCall } from './support/devices.js';
import { bearer, invoke, type Answer } from './support/invoke.js';
import { KeyVaultStandIn, type StandInKeyType } from './support/keyVaultStandIn.js';
import { installTestServices, testAdminKey, TestClock } from './support/services.js';

const refreshIntervalSeconds = 60;
const yearAgo = (clock: TestClock) => clock.now() - 365 * 86_400;

/**
 * The whole service signing through the real @azure/keyvault-keys client, against the
 * local HTTPS stand-in: what a deployment with KEY_VAULT_URL does.
 */
describe.each<StandInKeyType>(['RSA', 'EC'])('with a Key Vault %s key', (keyType) => {
  let standIn: KeyVaultStandIn;
  let clock: TestClock;

  beforeAll(async () => {
    clock = new TestClock();
    standIn = await KeyVaultStandIn.start({ keyType, createdOn: yearAgo(clock), now: () => clock.now() });
    const signer = await KeyVaultSigner.create(
      standIn.signerOptions({ clock, refreshIntervalSeconds, retryOptions: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 100 } }),
    );
    await installTestServices({ overrides: { clock, signer } });
  });

  afterAll(async () => {
    await standIn?.close();
  });

  const admin = bearer(testAdminKey);

  async function bulkToken(): Promise<string> {
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 10080 } });
    expect(answer.status).toBe(201);
    return answer.body.token as string;
  }

  async function register(device: DeviceIdentity, token: string): Promise<Answer> {
    return invoke(registerDevice, await deviceCall(device, '/api/register', { bearer: token, now: clock.now() }));
  }

  async function renew(device: DeviceIdentity, token: string): Promise<Answer> {
    return invoke(renewDeviceToken, await deviceCall(device, '/api/renew', { bearer: token, now: clock.now() }));
  }

  async function authenticate(device: DeviceIdentity, token: string): Promise<Answer> {
    return invoke(authenticateDevice, await deviceCall(device, '/api/authenticate', { bearer: token, now: clock.now() }));
  }

  it('issues bulk tokens, registers and renews devices with exactly one Key Vault call per token, and none per authenticate', async () => {
    const token = await bulkToken(); // warms the key cache
    standIn.resetCounts();
    const device = await createDeviceIdentity('rsa');
    const registered = await register(device, token);
    expect(registered.status).toBe(201);
    const renewed = await renew(device, registered.body.token as string);
    expect(renewed.status).toBe(200);
    await bulkToken();
    const issued = 3;
    expect(standIn.counts).toEqual({ get: 0, list: 0, sign: issued });
    expect(decodeProtectedHeader(renewed.body.token as string).alg).toBe(keyType === 'RSA' ? 'RS256' : 'ES256');

    standIn.resetCounts();
    for (let i = 0; i < 5; i++) expect((await authenticate(device, renewed.body.token as string)).status).toBe(200);
    expect(standIn.counts).toEqual({ get: 0, list: 0, sign: 0 });
  });

  it('rotating the key mid-life strands no device: old tokens authenticate and renew, the JWKS lists both versions', async () => {
    const device = await createDeviceIdentity('ec');
    const before = await register(device, await bulkToken());
    const oldKid = decodeProtectedHeader(before.body.token as string).kid;

    const newVersion = standIn.rotate({ createdOn: clock.now() });
    // Past the refresh interval the new version is published; past its activation delay it signs.
    clock.advance(refreshIntervalSeconds + 1);
    const published = ((await invoke(jwks, { method: 'GET', path: '/api/.well-known/jwks.json' })).body.keys as Array<{ kid: string }>).map((key) => key.kid);
    expect(published).toEqual([newVersion, oldKid]);
    clock.advance(refreshIntervalSeconds + 300 + 1);

    expect((await authenticate(device, before.body.token as string)).status).toBe(200);
    const renewed = await renew(device, before.body.token as string);
    expect(renewed.status).toBe(200);
    expect(decodeProtectedHeader(renewed.body.token as string).kid).toBe(newVersion);
    expect((await authenticate(device, renewed.body.token as string)).status).toBe(200);
    expect((await authenticate(device, before.body.token as string)).status).toBe(200);
  });

  it('429 three times, then 200: the registration succeeds', async () => {
    const token = await bulkToken();
    standIn.failNext(3, 429, 0, 'sign');
    expect((await register(await createDeviceIdentity('ec'), token)).status).toBe(201);
  });

  it('500 for good: 503 with Retry-After, and no pairing stored', async () => {
    const token = await bulkToken();
    const device = await createDeviceIdentity('ec');
    const countDevices = async () =>
      ((await invoke(listDevices, { method: 'GET', path: '/api/devices?limit=1000', headers: admin })).body.items as unknown[]).length;
    const before = await countDevices();
    standIn.failAlways(500, undefined, 'sign');
    try {
      const answer = await register(device, token);
      expect(answer.status).toBe(503);
      expect(answer.body.code).toBe('unavailable');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await countDevices()).toBe(before);
    } finally {
      standIn.heal();
    }
    // Once the vault answers again, the same device registers (its bulk-token use was kept for it).
    expect((await register(device, token)).status).toBe(201);
  });
});

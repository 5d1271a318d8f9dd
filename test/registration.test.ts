import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { approveDevice } from '../functions/approveDevice.js';
import { blockBulkToken } from '../functions/blockBulkToken.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { listDevices } from '../functions/listDevices.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { createDeviceIdentity, thumbprintOf, type DeviceIdentity } from '../cli/device/identity.js';
import { signJwt, tokenTypes } from '../shared/tokens/jws.js';
import { deviceCall, opensslIdentity, serviceUrl } from './support/devices.js';
import { bearer, invoke, type Answer } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';
import { countEntities } from './support/tables.js';

let services: TestServices;
const admin = bearer(testAdminKey);

beforeAll(async () => {
  services = await installTestServices();
});

async function newBulkToken(body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; token: string };
}

async function register(identity: DeviceIdentity, bulkToken: string): Promise<Answer> {
  return invoke(registerDevice, await deviceCall(identity, '/api/register', { bearer: bulkToken, now: services.clock.now() }));
}

async function bulkEntry(id: string): Promise<Record<string, unknown> | undefined> {
  const answer = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
  return (answer.body.items as Array<Record<string, unknown>>).find((item) => item.id === id);
}

function expectProblem(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  expect(typeof answer.body.detail).toBe('string');
}

describe('POST /api/register (bulk)', () => {
  it('registers an openssl-made certificate; cnf.x5t#S256 equals the thumbprint computed from the file', async () => {
    const device = opensslIdentity();
    const { id, token } = await newBulkToken();
    const answer = await register(device, token);
    expect(answer.status).toBe(201);
    const der = execFileSync('openssl', ['x509', '-in', device.certificateFile, '-outform', 'DER']);
    const independent = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64url');
    const claims = decodeJwt(answer.body.token as string);
    expect(claims.cnf).toEqual({ 'x5t#S256': independent });
    expect(decodeProtectedHeader(answer.body.token as string).typ).toBe('device+jwt');
    expect(claims).toMatchObject({ sub: answer.body.deviceId, reg: 'bulk', brt: id, iss: 'cmg-token-auth', aud: 'cmg-token-auth' });
    expect(claims.exp! - claims.iat!).toBe(90 * 86400);
    expect(answer.body.renewAfter).toBe(new Date((claims.iat! + 30 * 86400) * 1000).toISOString());
    expect(answer.body.expiresAt).toBe(new Date(claims.exp! * 1000).toISOString());
  });

  it.each(['rsa', 'ec'] as const)('registers a %s device made in code, and a repeat gets the same deviceId without a second use', async (keyType) => {
    const device = await createDeviceIdentity(keyType);
    const { id, token } = await newBulkToken({ maxUses: 1 });
    const first = await register(device, token);
    const second = await register(device, token);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.deviceId).toBe(first.body.deviceId);
    expect(await bulkEntry(id)).toMatchObject({ uses: 1, maxUses: 1 });
  });

  it('maxUses 3 under 15 concurrent registrations of distinct devices: exactly 3 succeed, 12 get token_used_up', async () => {
    const { id, token } = await newBulkToken({ maxUses: 3 });
    const devices = await Promise.all(Array.from({ length: 15 }, () => createDeviceIdentity('ec')));
    const calls = await Promise.all(devices.map((device) => deviceCall(device, '/api/register', { bearer: token, now: services.clock.now() })));
    const answers = await Promise.all(calls.map((call) => invoke(registerDevice, call)));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(3);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused).toHaveLength(12);
    for (const answer of refused) expectProblem(answer, 401, 'token_used_up');
    expect(await bulkEntry(id)).toMatchObject({ uses: 3 });
  });

  it('the same proof twice: 201, then 401 proof_replayed', async () => {
    const device = await createDeviceIdentity('ec');
    const { token } = await newBulkToken();
    const call = await deviceCall(device, '/api/register', { bearer: token, now: services.clock.now() });
    expect((await invoke(registerDevice, call)).status).toBe(201);
    expectProblem(await invoke(registerDevice, call), 401, 'proof_replayed');
  });
});

describe('POST /api/register refuses, storing nothing', () => {
  let device: DeviceIdentity;
  let bulk: { id: string; token: string };

  beforeAll(async () => {
    device = await createDeviceIdentity('ec');
    bulk = await newBulkToken();
  });

  async function refused(call: Parameters<typeof invoke>[1], status: number, code: string): Promise<Answer> {
    const before = await countEntities(`${services.config.tablePrefix}devices`);
    const answer = await invoke(registerDevice, call);
    expectProblem(answer, status, code);
    expect(await countEntities(`${services.config.tablePrefix}devices`)).toBe(before);
    return answer;
  }

  it('an expired bulk token', async () => {
    const { token } = await newBulkToken({ lifetimeMinutes: 1 });
    services.clock.advance(60 + 300);
    try {
      await refused(await deviceCall(device, '/api/register', { bearer: token, now: services.clock.now() }), 401, 'token_expired');
    } finally {
      services.clock.advance(-(60 + 300));
    }
  });

  it('a bulk token not valid yet', async () => {
    const now = services.clock.now();
    const early = await signJwt(services.signer, tokenTypes.bulk, {
      iss: 'cmg-token-auth', aud: 'cmg-token-auth', jti: bulk.id, iat: now + 3600, nbf: now + 3600, exp: now + 7200, tid: services.config.tenantId,
    });
    const answer = await refused(await deviceCall(device, '/api/register', { bearer: early, now }), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/not valid yet/);
  });

  it('a blocked bulk token', async () => {
    const blocked = await newBulkToken();
    await invoke(blockBulkToken, { path: '/x', headers: admin, params: { id: blocked.id } });
    await refused(await deviceCall(device, '/api/register', { bearer: blocked.token, now: services.clock.now() }), 401, 'token_blocked');
  });

  it('a used-up bulk token', async () => {
    const once = await newBulkToken({ maxUses: 1 });
    expect((await register(await createDeviceIdentity('ec'), once.token)).status).toBe(201);
    await refused(await deviceCall(device, '/api/register', { bearer: once.token, now: services.clock.now() }), 401, 'token_used_up');
  });

  it('a device token offered as a bulk token (wrong typ)', async () => {
    const other = await createDeviceIdentity('ec');
    const deviceToken = (await register(other, bulk.token)).body.token as string;
    const answer = await refused(await deviceCall(device, '/api/register', { bearer: deviceToken, now: services.clock.now() }), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/typ must be bulk-registration\+jwt/);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="cmg-token-auth", error="invalid_token"');
  });

  it('a proof signed by another key than the certificate in it', async () => {
    const impostor = await createDeviceIdentity('ec');
    const call = await deviceCall({ ...impostor, certificateDer: device.certificateDer }, '/api/register', { bearer: bulk.token, now: services.clock.now() });
    await refused(call, 401, 'proof_rejected');
  });

  it.each([
    ['another path', { url: `${serviceUrl}/api/renew` }],
    ['another method', { method: 'PUT' }],
    ['a stale iat (301 s old)', { iatOffset: -301 }],
    ['an iat 301 s in the future', { iatOffset: 301 }],
  ])('a proof for %s', async (_name, { iatOffset, ...change }: { iatOffset?: number; url?: string; method?: string }) => {
    const proof = { ...change, iat: services.clock.now() + (iatOffset ?? 0) };
    await refused(await deviceCall(device, '/api/register', { bearer: bulk.token, proof }), 401, 'proof_rejected');
  });

  it('a proof whose ath is for another token, and one without ath', async () => {
    await refused(await deviceCall(device, '/api/register', { bearer: bulk.token, proof: { bearerToken: 'other-token' }, now: services.clock.now() }), 401, 'proof_rejected');
    const withoutAth = await deviceCall(device, '/api/register', { now: services.clock.now() });
    const answer = await refused({ ...withoutAth, headers: bearer(bulk.token) }, 400, 'invalid_proof');
    expect(answer.body.detail).toMatch(/must carry ath/);
  });

  it('a certificate with a 1024-bit RSA key', async () => {
    const weak = opensslIdentity(['-newkey', 'rsa:1024']);
    // jose will not sign with a key this small, which is the point; node's crypto will.
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'device-proof+jwt', x5c: [weak.certificateDer.toString('base64')] })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ htm: 'POST', htu: `${serviceUrl}/api/register`, iat: services.clock.now(), jti: 'w'.repeat(20), ath: sha256(bulk.token) }),
    ).toString('base64url');
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), weak.privateKey).toString('base64url');
    const answer = await refused({ path: '/api/register', headers: bearer(bulk.token), body: { proof: `${header}.${payload}.${signature}` } }, 400, 'invalid_certificate');
    expect(answer.body.detail).toMatch(/1024 bits; at least 2048/);
  });

  it('garbage in x5c', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const proof = await new SignJWT({ htm: 'POST', htu: `${serviceUrl}/api/register`, iat: services.clock.now(), jti: 'j'.repeat(20) })
      .setProtectedHeader({ alg: 'ES256', typ: 'device-proof+jwt', x5c: ['bm90IGEgY2VydGlmaWNhdGU='] })
      .sign(privateKey);
    const answer = await refused({ path: '/api/register', headers: bearer(bulk.token), body: { proof } }, 400, 'invalid_certificate');
    expect(answer.body.detail).toMatch(/does not parse as an X.509 certificate/);
  });

  it('an expired certificate', async () => {
    const old = await createDeviceIdentity('ec', { notBefore: new Date((services.clock.now() - 40 * 86400) * 1000), validDays: 30 });
    await refused(await deviceCall(old, '/api/register', { bearer: bulk.token, now: services.clock.now() }), 400, 'invalid_certificate');
  });

  it.each([
    ['no body', { path: '/api/register' }, 415, 'unsupported_media_type'],
    ['no proof field', { path: '/api/register', body: {} }, 400, 'invalid_request'],
    ['a proof that is not a JWS', { path: '/api/register', body: { proof: 'hello' } }, 400, 'invalid_proof'],
  ])('%s', async (_name, call: { path: string; body?: unknown }, status, code) => {
    await refused({ ...call, headers: bearer(bulk.token) }, status, code);
  });

  it('no Authorization header', async () => {
    await refused(await deviceCall(device, '/api/register', { now: services.clock.now() }), 401, 'missing_credential');
  });
});

describe('POST /api/register/internal', () => {
  const from = (address: string) => ({ 'x-forwarded-for': address });

  async function internal(identity: DeviceIdentity, address: string): Promise<Answer> {
    const call = await deviceCall(identity, '/api/register/internal', { now: services.clock.now() });
    return invoke(registerInternal, { ...call, headers: { ...call.headers, ...from(address) } });
  }

  it('issues a token at once to a loopback caller (APPROVAL_MODE=auto), IPv4 and IPv6', async () => {
    for (const address of ['127.0.0.1', '::1', '[::1]:51234', '::ffff:127.0.0.1']) {
      const device = await createDeviceIdentity('rsa');
      const answer = await internal(device, address);
      expect(answer.status).toBe(201);
      expect(decodeJwt(answer.body.token as string)).toMatchObject({ reg: 'internal', cnf: { 'x5t#S256': thumbprintOf(device) } });
      expect(decodeJwt(answer.body.token as string).brt).toBeUndefined();
    }
  });

  it('refuses a caller outside INTERNAL_NETWORKS with 403 network_forbidden, trusting only the last forwarded address', async () => {
    const device = await createDeviceIdentity('ec');
    expectProblem(await internal(device, '203.0.113.7'), 403, 'network_forbidden');
    expectProblem(await internal(device, '127.0.0.1, 203.0.113.7'), 403, 'network_forbidden');
    expectProblem(await internal(device, '2001:db8::1'), 403, 'network_forbidden');
    const noHeader = await deviceCall(device, '/api/register/internal', { now: services.clock.now() });
    expectProblem(await invoke(registerInternal, noHeader), 403, 'network_forbidden');
  });
});

describe('manual approval', () => {
  let manual: TestServices;

  beforeAll(async () => {
    manual = await installTestServices({ env: { APPROVAL_MODE: 'manual', INTERNAL_NETWORKS: '10.0.0.0/8,fd00::/8' } });
  });

  it('answers 202 pending until an administrator approves, then 201 with the same deviceId', async () => {
    const device = await createDeviceIdentity('ec');
    const call = async () => {
      const request = await deviceCall(device, '/api/register/internal', { now: manual.clock.now() });
      return invoke(registerInternal, { ...request, headers: { 'x-forwarded-for': 'fd00::17' } });
    };
    const first = await call();
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ deviceId: expect.any(String), status: 'pending' });
    expect((await call()).status).toBe(202);

    const pending = await invoke(listDevices, { method: 'GET', path: '/api/devices?status=pending', headers: admin });
    expect(pending.body.items).toEqual([
      expect.objectContaining({ deviceId: first.body.deviceId, status: 'pending', registration: 'internal', thumbprint: thumbprintOf(device) }),
    ]);

    const approved = await invoke(approveDevice, { path: '/x', headers: admin, params: { id: first.body.deviceId as string } });
    expect(approved.body).toEqual({ deviceId: first.body.deviceId, status: 'active' });
    const issued = await call();
    expect(issued.status).toBe(201);
    expect(issued.body.deviceId).toBe(first.body.deviceId);
    const active = await invoke(listDevices, { method: 'GET', path: '/api/devices?status=active', headers: admin });
    expect((active.body.items as unknown[]).length).toBe(1);
  });

  it('rejects a bad status filter and unknown device ids', async () => {
    expectProblem(await invoke(listDevices, { method: 'GET', path: '/api/devices?status=gone', headers: admin }), 400, 'invalid_request');
    expectProblem(await invoke(approveDevice, { path: '/x', headers: admin, params: { id: '3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a' } }), 404, 'not_found');
  });
});

describe('GET /api/devices paging', () => {
  beforeAll(async () => {
    const own = await installTestServices();
    for (let i = 0; i < 3; i++) {
      const call = await deviceCall(await createDeviceIdentity('ec'), '/api/register/internal', { now: own.clock.now() });
      expect((await invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '127.0.0.1' } })).status).toBe(201);
    }
  });

  it('pages with limit and continuation, and rejects a garbled continuation', async () => {
    const pageOne = await invoke(listDevices, { method: 'GET', path: '/api/devices?limit=2', headers: admin });
    expect(pageOne.status).toBe(200);
    expect((pageOne.body.items as unknown[]).length).toBe(2);
    const next = pageOne.body.continuation as string;
    expect(typeof next).toBe('string');
    const pageTwo = await invoke(listDevices, { method: 'GET', path: `/api/devices?limit=2&continuation=${encodeURIComponent(next)}`, headers: admin });
    expect(pageTwo.status).toBe(200);
    const ids = (answer: Answer) => (answer.body.items as Array<{ deviceId: string }>).map((item) => item.deviceId);
    expect(ids(pageTwo).some((id) => ids(pageOne).includes(id))).toBe(false);
    expectProblem(await invoke(listDevices, { method: 'GET', path: '/api/devices?continuation=%%%', headers: admin }), 400, 'invalid_request');
    expectProblem(await invoke(listDevices, { method: 'GET', path: '/api/devices?limit=0', headers: admin }), 400, 'invalid_request');
  });
});

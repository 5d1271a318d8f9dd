import { createDeviceIdentity, signProof } from '../cli/device/identity.js';
import { startLocalHostPair, type LocalHost } from './support/localHost.js';

/** Two local host processes on the same storage, as two instances of the function app. */
let first: LocalHost;
let second: LocalHost;

beforeAll(async () => {
  [first, second] = await startLocalHostPair();
}, 40_000);

afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop()]);
});

async function post(host: LocalHost, path: string, bearerToken: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${host.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('two instances started at once on a new data folder', () => {
  it('agree on one admin key and one signing key (whichever process created each first)', async () => {
    expect(first.adminKey).toMatch(/^[0-9a-f]{64}$/);
    expect(second.adminKey).toBe(first.adminKey);
    const jwks = await Promise.all([first, second].map(async (host) => (await fetch(`${host.url}/api/.well-known/jwks.json`)).json()));
    expect(jwks[1]).toEqual(jwks[0]);
  });
});

describe('replay protection across instances', () => {
  it('a proof used on one host is refused by the other: 201, then 401 proof_replayed', async () => {
    const bulk = await post(first, '/api/bulk-tokens', first.adminKey, { lifetimeMinutes: 60 });
    expect(bulk.status).toBe(201);
    const token = bulk.body.token as string;
    const device = await createDeviceIdentity('ec');
    const proof = await signProof(device, { method: 'POST', url: `${first.url}/api/register`, bearerToken: token });

    const accepted = await post(first, '/api/register', token, { proof });
    expect(accepted.status).toBe(201);
    const replayed = await post(second, '/api/register', token, { proof });
    expect(replayed).toMatchObject({ status: 401, body: { code: 'proof_replayed' } });
  });

  it('internal registration over real HTTP: the host supplies the caller address (loopback is internal)', async () => {
    const device = await createDeviceIdentity('rsa');
    const proof = await signProof(device, { method: 'POST', url: `${second.url}/api/register/internal` });
    const response = await fetch(`${second.url}/api/register/internal`, {
      method: 'POST',
      // A forged header is ignored: the host appends the real peer, and only the last entry counts.
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify({ proof }),
    });
    expect(response.status).toBe(201);
  });
});

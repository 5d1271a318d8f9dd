import { constants, createPublicKey, randomUUID, verify } from 'node:crypto';
import { CryptographyClient } from '@azure/keyvault-keys';
import { decodeProtectedHeader } from 'jose';
import { createBulkToken } from '../functions/createBulkToken.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { deviceTokenLifetimeSeconds } from '../shared/devices/deviceTokens.js';
import { UnavailableError } from '../shared/errors.js';
import {
  KeyVaultSigner,
  maxTokenLifetimeSeconds,
  planKeyVersions,
  retentionSeconds,
  type KeyVaultSignerOptions,
} from '../shared/signing/keyVaultSigner.js';
import type { PublicJwk, SigningAlg } from '../shared/signing/signer.js';
import { signJwt, tokenTypes } from '../shared/tokens/jws.js';
import { TokenVerifier } from '../shared/tokens/verifier.js';
import { bearer, invoke } from './support/invoke.js';
import { KeyVaultStandIn, type StandInOptions } from './support/keyVaultStandIn.js';
import { installTestServices, testAdminKey, TestClock } from './support/services.js';

const issuer = 'cmg-token-auth';
const audience = 'cmg-token-auth';
const refreshIntervalSeconds = 300;
/** The default: one refresh interval plus the JWKS's 300 s cache lifetime. */
const activationDelaySeconds = refreshIntervalSeconds + 300;
const day = 86_400;

const standIns: KeyVaultStandIn[] = [];

afterAll(async () => {
  await Promise.all(standIns.map((standIn) => standIn.close()));
});

async function startStandIn(options: StandInOptions = {}): Promise<KeyVaultStandIn> {
  const standIn = await KeyVaultStandIn.start(options);
  standIns.push(standIn);
  return standIn;
}

function signerOptions(standIn: KeyVaultStandIn, clock: TestClock, extra: Partial<KeyVaultSignerOptions> = {}): KeyVaultSignerOptions {
  return standIn.signerOptions({ clock, refreshIntervalSeconds, ...extra });
}

/** A stand-in whose first version is a year old (so it is active), and a signer on it. */
async function vaultAndSigner(
  options: StandInOptions = {},
  extra: Partial<KeyVaultSignerOptions> = {},
): Promise<{ standIn: KeyVaultStandIn; signer: KeyVaultSigner; clock: TestClock }> {
  const clock = new TestClock();
  const standIn = await startStandIn({ now: () => clock.now(), createdOn: clock.now() - 365 * day, ...options });
  const signer = await KeyVaultSigner.create(signerOptions(standIn, clock, extra));
  return { standIn, signer, clock };
}

async function issue(signer: KeyVaultSigner, clock: TestClock, lifetimeSeconds = 3600): Promise<string> {
  const now = clock.now();
  return signJwt(signer, tokenTypes.bulk, { iss: issuer, aud: audience, jti: randomUUID(), iat: now, nbf: now, exp: now + lifetimeSeconds });
}

function kidOf(token: string): string | undefined {
  return decodeProtectedHeader(token).kid;
}

/** node:crypto alone, as a gateway without jose would verify. */
function verifiesIndependently(token: string, jwk: PublicJwk): boolean {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  const data = Buffer.from(`${header}.${payload}`, 'ascii');
  const bytes = Buffer.from(signature, 'base64url');
  switch (jwk.alg) {
    case 'RS256':
      return verify('sha256', data, key, bytes);
    case 'PS256':
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, bytes);
    case 'ES256':
      return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, bytes);
  }
}

async function jwkFor(signer: KeyVaultSigner, kid: string | undefined): Promise<PublicJwk> {
  const jwk = (await signer.publicKeys()).find((candidate) => candidate.kid === kid);
  if (!jwk) throw new Error(`kid ${kid} is not published`);
  return jwk;
}

async function publishedKids(signer: KeyVaultSigner): Promise<string[]> {
  return (await signer.publicKeys()).map((jwk) => jwk.kid);
}

describe.each<[SigningAlg, StandInOptions['keyType'], SigningAlg | undefined]>([
  ['RS256', 'RSA', undefined],
  ['PS256', 'RSA', 'PS256'],
  ['ES256', 'EC', undefined],
])('%s through the real Key Vault client', (alg, keyType, configured) => {
  let standIn: KeyVaultStandIn;
  let signer: KeyVaultSigner;
  let clock: TestClock;

  beforeAll(async () => {
    ({ standIn, signer, clock } = await vaultAndSigner({ keyType }, { alg: configured }));
  });

  it('signs tokens that jose (TokenVerifier) and node:crypto both verify', async () => {
    const token = await issue(signer, clock);
    expect(decodeProtectedHeader(token)).toEqual({ alg, kid: standIn.versionIds()[0], typ: tokenTypes.bulk });
    // The SDK went through Key Vault's bearer challenge and asked for the vault's scope.
    expect(standIn.challenges).toBeGreaterThan(0);
    expect(standIn.tokenRequests[0]).toEqual(['https://vault.azure.net/.default']);
    const verifier = new TokenVerifier(signer, { issuer, audience, clock });
    await expect(verifier.verify(token, tokenTypes.bulk, 'bulk token')).resolves.toMatchObject({ iss: issuer });
    expect(verifiesIndependently(token, await jwkFor(signer, kidOf(token)))).toBe(true);
    // A signature over other bytes does not verify: the check above is not vacuous.
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from('{"iss":"x"}').toString('base64url')}.${signature}`;
    expect(verifiesIndependently(forged, await jwkFor(signer, kidOf(token)))).toBe(false);
  });

  it('publishes a standard public JWK whose kid is the Key Vault version', async () => {
    const [jwk] = await signer.publicKeys();
    expect(jwk).toMatchObject({ kid: standIn.versionIds()[0], alg, use: 'sig', kty: keyType });
    expect(Object.keys(jwk!).sort()).toEqual(
      keyType === 'RSA' ? ['alg', 'e', 'kid', 'kty', 'n', 'use'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
    );
    if (keyType === 'EC') expect(jwk!.crv).toBe('P-256');
    else expect(Buffer.from(jwk!.n!, 'base64url').length).toBe(256);
  });

  it('makes exactly one sign call per token, and no Key Vault call per verification after warm-up', async () => {
    await issue(signer, clock);
    standIn.resetCounts();
    const tokens = [];
    for (let i = 0; i < 5; i++) tokens.push(await issue(signer, clock));
    expect(standIn.counts).toEqual({ get: 0, list: 0, sign: 5 });
    expect(standIn.challenges).toBe(0);

    standIn.resetCounts();
    const verifier = new TokenVerifier(signer, { issuer, audience, clock });
    for (const token of tokens) {
      await verifier.verify(token, tokenTypes.bulk, 'bulk token');
      expect(verifiesIndependently(token, await jwkFor(signer, kidOf(token)))).toBe(true);
    }
    expect(standIn.counts).toEqual({ get: 0, list: 0, sign: 0 });
  });
});

describe('rotation', () => {
  it('publishes a new version ahead of use, then signs with it; tokens of the old version still verify', async () => {
    const { standIn, signer, clock } = await vaultAndSigner();
    const [v1] = standIn.versionIds();
    const verifier = new TokenVerifier(signer, { issuer, audience, clock });
    const old = await issue(signer, clock, 90 * day);
    expect(kidOf(old)).toBe(v1);

    const v2 = standIn.rotate();
    standIn.resetCounts();
    clock.advance(refreshIntervalSeconds - 1);
    expect(kidOf(await issue(signer, clock))).toBe(v1);
    expect(await publishedKids(signer)).toEqual([v1]);
    expect(standIn.counts.list).toBe(0); // the interval has not passed: no refresh

    clock.advance(1);
    expect(await publishedKids(signer)).toEqual([v2, v1]);
    expect(standIn.counts).toMatchObject({ list: 1, get: 1 }); // one list, one read of the new version
    // Published before use, so every instance and every gateway's cached JWKS knows it first.
    expect(kidOf(await issue(signer, clock))).toBe(v1);

    clock.advance(activationDelaySeconds - refreshIntervalSeconds);
    const fresh = await issue(signer, clock);
    expect(kidOf(fresh)).toBe(v2);
    expect(await publishedKids(signer)).toEqual([v2, v1]);
    expect(standIn.counts).toMatchObject({ list: 2, get: 1 }); // each version is read once

    for (const token of [old, fresh]) {
      await expect(verifier.verify(token, tokenTypes.bulk, 'bulk token')).resolves.toBeDefined();
      expect(verifiesIndependently(token, await jwkFor(signer, kidOf(token)))).toBe(true);
    }
  });

  it('drops a version superseded more than 90 days + 300 s ago, and not before', async () => {
    const { standIn, signer, clock } = await vaultAndSigner();
    const [v1] = standIn.versionIds();
    const v2 = standIn.rotate();
    const supersededAt = clock.now() + activationDelaySeconds; // when v2 starts signing
    clock.advance(refreshIntervalSeconds);
    // The last token v1 signs: a device token living the full 90 days.
    const last = await issue(signer, clock, 90 * day);
    expect(kidOf(last)).toBe(v1);

    clock.seconds = supersededAt;
    expect(kidOf(await issue(signer, clock))).toBe(v2);

    clock.seconds = supersededAt + retentionSeconds;
    expect(await publishedKids(signer)).toEqual([v2, v1]);
    // Even a fresh verifier (another instance) still accepts v1's last token at its very end.
    const lateVerifier = new TokenVerifier(signer, { issuer, audience, clock: { now: () => decodeExp(last) + 299 } });
    await expect(lateVerifier.verify(last, tokenTypes.bulk, 'bulk token')).resolves.toBeDefined();

    clock.advance(refreshIntervalSeconds);
    expect(await publishedKids(signer)).toEqual([v2]);
    expect(retentionSeconds).toBe(90 * day + 300);
    // The retention follows the longest token the service signs.
    expect(maxTokenLifetimeSeconds).toBe(deviceTokenLifetimeSeconds);
  });

  it('neither signs with nor publishes a disabled version; disabling the signing version moves signing on', async () => {
    const { standIn, signer, clock } = await vaultAndSigner();
    const [v1] = standIn.versionIds();
    const v2 = standIn.rotate({ createdOn: clock.now() - 30 * day });
    const v3 = standIn.rotate({ createdOn: clock.now() - day, enabled: false });
    clock.advance(refreshIntervalSeconds);
    expect(await publishedKids(signer)).toEqual([v2, v1]);
    expect(kidOf(await issue(signer, clock))).toBe(v2);
    expect(await publishedKids(signer)).not.toContain(v3);

    // An operator disables a compromised version: at the next refresh it is gone at once.
    standIn.setEnabled(v2, false);
    clock.advance(refreshIntervalSeconds);
    expect(await publishedKids(signer)).toEqual([v1]);
    expect(kidOf(await issue(signer, clock))).toBe(v1);
  });

  it('shares one refresh among concurrent callers', async () => {
    const { standIn, signer, clock } = await vaultAndSigner();
    standIn.rotate();
    standIn.delay(150);
    standIn.resetCounts();
    clock.advance(refreshIntervalSeconds);
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => signer.signingKey()),
      ...Array.from({ length: 5 }, () => signer.publicKeys()),
    ]);
    expect(answers).toHaveLength(10);
    expect(standIn.counts).toEqual({ list: 1, get: 1, sign: 0 });
    standIn.delay(0);
  });

  it('keeps serving the cached keys when a refresh fails, logs why without secrets, and waits an interval to try again', async () => {
    const warnings: string[] = [];
    const { standIn, signer, clock } = await vaultAndSigner({}, { warn: (message) => warnings.push(message) });
    const [v1] = standIn.versionIds();
    standIn.rotate();
    standIn.failAlways(500, undefined, 'list');
    clock.advance(refreshIntervalSeconds);
    standIn.resetCounts();

    const token = await issue(signer, clock);
    expect(kidOf(token)).toBe(v1);
    expect(await publishedKids(signer)).toEqual([v1]);
    expect(standIn.counts).toEqual({ list: 4, get: 0, sign: 1 }); // one refresh: 1 try + 3 retries
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/refresh failed; still using the cached keys: .*Key Vault is unavailable.*HTTP 500/);
    expect(warnings.join('\n')).not.toContain(KeyVaultStandIn.accessToken);

    standIn.heal();
    clock.advance(refreshIntervalSeconds - 1);
    await signer.publicKeys();
    expect(standIn.counts.list).toBe(4);
    clock.advance(1);
    expect(await publishedKids(signer)).toHaveLength(2);
  });
});

describe('Key Vault failures', () => {
  let standIn: KeyVaultStandIn;
  let signer: KeyVaultSigner;
  let clock: TestClock;

  beforeAll(async () => {
    ({ standIn, signer, clock } = await vaultAndSigner());
    await issue(signer, clock);
  });

  beforeEach(() => {
    standIn.heal();
    standIn.delay(0);
    standIn.resetCounts();
  });

  it('retries 429 three times, then signs', async () => {
    standIn.failNext(3, 429, 0, 'sign');
    const token = await issue(signer, clock);
    expect(verifiesIndependently(token, await jwkFor(signer, kidOf(token)))).toBe(true);
    expect(standIn.counts.sign).toBe(4);
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    standIn.failNext(1, 429, 1, 'sign');
    const started = Date.now();
    await issue(signer, clock);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(standIn.counts.sign).toBe(2);
  });

  it('gives up on 500 after the bounded retries: UnavailableError (503) with the Retry-After Key Vault sent', async () => {
    standIn.failAlways(500, 7, 'sign');
    const failure = await issue(signer, clock).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect(failure).toMatchObject({ status: 503, code: 'unavailable', retryAfterSeconds: 7 });
    expect(standIn.counts.sign).toBe(4);
  });

  it('gives up on 500 without Retry-After: UnavailableError with the default retryAfterSeconds', async () => {
    standIn.failAlways(500);
    await expect(issue(signer, clock)).rejects.toMatchObject({ name: 'UnavailableError', retryAfterSeconds: 5 });
  });

  it('bounds one operation, retries included, by operationTimeoutMs: UnavailableError', async () => {
    // Set-up: on a loaded machine the signer's own start (list and read the key) can overrun
    // the 200 ms bound too; that is the bound working, so start it again.
    let impatient: KeyVaultSigner | undefined;
    for (let attempt = 1; !impatient; attempt++) {
      impatient = await KeyVaultSigner.create(signerOptions(standIn, clock, { operationTimeoutMs: 200 })).catch((error: unknown) => {
        if (!(error instanceof UnavailableError) || attempt >= 20) throw error;
        return undefined;
      });
    }
    // Key Vault does not answer until released: only the bound can end the operation.
    standIn.hold();
    const started = Date.now();
    try {
      await expect(issue(impatient, clock)).rejects.toBeInstanceOf(UnavailableError);
      expect(standIn.heldCount).toBeGreaterThan(0);
      // A hang guard, far above the 200 ms bound, not a timing assertion.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      standIn.release();
    }
  });

  it('fails to start with UnavailableError when Key Vault does not answer at all', async () => {
    const gone = await KeyVaultStandIn.start();
    const options = signerOptions(gone, new TestClock());
    await gone.close();
    await expect(KeyVaultSigner.create(options)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('treats a missing key as a configuration error, not as unavailable', async () => {
    const failure = await KeyVaultSigner.create({ ...signerOptions(standIn, clock), keyName: 'no-such-key' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(UnavailableError);
    expect((failure as Error).message).toMatch(/Key Vault could not list the key versions \(Key Vault key no-such-key\): HTTP 404/);
  });
});

describe('key types refused at start', () => {
  it.each<[string, StandInOptions, SigningAlg | undefined, RegExp]>([
    ['an EC P-384 key', { keyType: 'EC', curve: 'P-384' }, undefined, /uses curve P-384; only P-256 \(ES256\) is supported/],
    ['an RSA key configured for ES256', { keyType: 'RSA' }, 'ES256', /is an RSA key; ES256 needs an EC P-256 key/],
    ['an EC P-256 key configured for PS256', { keyType: 'EC' }, 'PS256', /is an EC P-256 key, which signs ES256, not PS256/],
  ])('%s', async (_name, options, alg, message) => {
    const clock = new TestClock();
    const standIn = await startStandIn({ now: () => clock.now(), ...options });
    await expect(KeyVaultSigner.create(signerOptions(standIn, clock, { alg }))).rejects.toThrow(message);
  });
});

describe('the Key Vault stand-in', () => {
  it('serves the versionless key id forms the SDK sends: GET /keys/{name}/ and POST /keys/{name}//sign', async () => {
    const clock = new TestClock();
    const standIn = await startStandIn({ now: () => clock.now(), keyType: 'EC' });
    const client = new CryptographyClient(`${standIn.url}/keys/${standIn.keyName}`, standIn.credential, standIn.clientOptions());
    const data = Buffer.from('versionless');
    const { result, keyID } = await client.signData('ES256', data);
    expect(standIn.requests).toEqual([`GET /keys/${standIn.keyName}/`, `POST /keys/${standIn.keyName}//sign`]);
    expect(keyID).toBe(standIn.keyId(standIn.versionIds()[0]!)); // the SDK resolved the current version
    const signer = await KeyVaultSigner.create(signerOptions(standIn, clock));
    const [jwk] = await signer.publicKeys();
    const key = createPublicKey({ key: { ...jwk! }, format: 'jwk' });
    expect(verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, result)).toBe(true);
  });

  it('is trusted only by clients given its agent, never process-wide', async () => {
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).not.toBe('0');
    const clock = new TestClock();
    const standIn = await startStandIn({ now: () => clock.now() });
    const { agent: _trusting, ...untrusting } = standIn.clientOptions();
    const failure = await KeyVaultSigner.create(signerOptions(standIn, clock, { clientOptions: untrusting })).catch(
      (error: unknown) => error,
    );
    expect((failure as Error).cause).toMatchObject({ name: 'RestError', code: expect.stringMatching(/CERT/) });
    expect(standIn.requests).toEqual([]);
  });
});

describe('planKeyVersions', () => {
  const now = 1_800_000_000;
  const delay = 600;

  it('with one version, signs with it even before its activation delay', () => {
    const plan = planKeyVersions([{ version: 'a', createdOn: now }], now, delay);
    expect(plan?.signing.version).toBe('a');
  });

  it('skips versions not yet valid or expired for signing, and keeps newer ones published', () => {
    const plan = planKeyVersions(
      [
        { version: 'old', createdOn: now - 100 * day },
        { version: 'expired', createdOn: now - 10 * day, expiresOn: now - 1 },
        { version: 'future', createdOn: now - day, notBefore: now + day },
      ],
      now,
      delay,
    );
    expect(plan?.signing.version).toBe('old');
    // "old" was superseded by "expired" 10 days ago, so it stays published.
    expect(plan?.published.map((v) => v.version)).toEqual(['future', 'expired', 'old']);
  });

  it('returns undefined when nothing can sign', () => {
    expect(planKeyVersions([], now, delay)).toBeUndefined();
    expect(planKeyVersions([{ version: 'x', createdOn: now - day, expiresOn: now }], now, delay)).toBeUndefined();
  });
});

describe('POST /api/bulk-tokens with the Key Vault signer', () => {
  const admin = bearer(testAdminKey);

  async function listedCount(): Promise<number> {
    const answer = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
    expect(answer.status).toBe(200);
    return (answer.body.items as unknown[]).length;
  }

  it('issues tokens signed in Key Vault, and answers 503 with Retry-After, storing nothing, when Key Vault fails', async () => {
    const { standIn, signer } = await vaultAndSigner();
    const services = await installTestServices({ overrides: { signer } });

    const issued = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin });
    expect(issued.status).toBe(201);
    const token = issued.body.token as string;
    expect(kidOf(token)).toBe(standIn.versionIds()[0]);
    await expect(services.verifier.verify(token, tokenTypes.bulk, 'bulk token')).resolves.toMatchObject({ jti: issued.body.id });

    const before = await listedCount();
    standIn.failAlways(500, 9);
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 60 } });
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('9');
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.body).toMatchObject({ status: 503, code: 'unavailable' });
    expect(answer.text).not.toContain(KeyVaultStandIn.accessToken);
    standIn.heal();
    expect(await listedCount()).toBe(before);
  });
});

function decodeExp(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return payload.exp;
}

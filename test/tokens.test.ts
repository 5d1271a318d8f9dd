import { createHmac } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { SigningAlg } from '../shared/config.js';
import { ServiceError } from '../shared/errors.js';
import { generatePrivateKey, LocalKeySigner } from '../shared/signing/localKeySigner.js';
import { base64url, signJwt, tokenTypes } from '../shared/tokens/jws.js';
import { TokenVerifier } from '../shared/tokens/verifier.js';
import { TestClock } from './support/services.js';

const issuer = 'cmg-token-auth';
const audience = 'cmg-token-auth';

async function setup(alg: SigningAlg) {
  const clock = new TestClock();
  const signer = await LocalKeySigner.fromPrivateKey(generatePrivateKey(alg), alg);
  const verifier = new TokenVerifier(signer, { issuer, audience, clock });
  const now = clock.now();
  const claims = { iss: issuer, aud: audience, jti: 'a1b2c3d4-0000-4000-8000-000000000001', iat: now, nbf: now, exp: now + 3600 };
  return { clock, signer, verifier, claims };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; detail: string }> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

describe.each<SigningAlg>(['RS256', 'PS256', 'ES256'])('tokens signed %s', (alg) => {
  it('verify with jose against the published key', async () => {
    const { signer, verifier, claims } = await setup(alg);
    const token = await signJwt(signer, tokenTypes.bulk, claims);
    await expect(verifier.verify(token, tokenTypes.bulk, 'bulk token')).resolves.toMatchObject({ jti: claims.jti });
  });

  it('are accepted up to 300 s after exp and rejected as token_expired after', async () => {
    const { clock, signer, verifier, claims } = await setup(alg);
    const token = await signJwt(signer, tokenTypes.bulk, claims);
    clock.advance(3600 + 299);
    await expect(verifier.verify(token, tokenTypes.bulk, 'bulk token')).resolves.toBeDefined();
    clock.advance(1);
    expect(await rejection(verifier.verify(token, tokenTypes.bulk, 'bulk token'))).toMatchObject({ code: 'token_expired' });
  });
});

describe('token verification rejects', () => {
  it('a token of another typ (a device token offered as a bulk token)', async () => {
    const { signer, verifier, claims } = await setup('RS256');
    const token = await signJwt(signer, tokenTypes.device, claims);
    const error = await rejection(verifier.verify(token, tokenTypes.bulk, 'bulk token'));
    expect(error).toMatchObject({ code: 'invalid_token' });
    expect(error.detail).toMatch(/wrong type \(typ must be bulk-registration\+jwt\)/);
  });

  it('a token not valid yet beyond the 300 s skew', async () => {
    const { signer, verifier, claims } = await setup('RS256');
    const token = await signJwt(signer, tokenTypes.bulk, { ...claims, nbf: claims.nbf + 301 });
    expect(await rejection(verifier.verify(token, tokenTypes.bulk, 'bulk token'))).toMatchObject({
      code: 'invalid_token',
      detail: expect.stringMatching(/not valid yet/),
    });
  });

  it.each([
    ['iss', { iss: 'someone-else' }],
    ['aud', { aud: 'another-service' }],
  ])('a wrong %s', async (_claim, change) => {
    const { signer, verifier, claims } = await setup('RS256');
    const token = await signJwt(signer, tokenTypes.bulk, { ...claims, ...change });
    expect(await rejection(verifier.verify(token, tokenTypes.bulk, 'bulk token'))).toMatchObject({ code: 'invalid_token' });
  });

  it('alg none', async () => {
    const { verifier, claims, signer } = await setup('RS256');
    const { kid } = await signer.signingKey();
    const header = base64url(JSON.stringify({ alg: 'none', kid, typ: tokenTypes.bulk }));
    const token = `${header}.${base64url(JSON.stringify(claims))}.`;
    expect(await rejection(verifier.verify(token, tokenTypes.bulk, 'bulk token'))).toMatchObject({ code: 'invalid_token' });
  });

  it('HS256 keyed with the public key', async () => {
    const { verifier, claims, signer } = await setup('RS256');
    const [jwk] = await signer.publicKeys();
    const header = base64url(JSON.stringify({ alg: 'HS256', kid: jwk?.kid, typ: tokenTypes.bulk }));
    const input = `${header}.${base64url(JSON.stringify(claims))}`;
    const mac = createHmac('sha256', JSON.stringify(jwk)).update(input).digest();
    const error = await rejection(verifier.verify(`${input}.${base64url(mac)}`, tokenTypes.bulk, 'bulk token'));
    expect(error).toMatchObject({ code: 'invalid_token' });
  });

  it("an alg other than the key's (ES256 header on an RSA key)", async () => {
    const { verifier, claims, signer } = await setup('RS256');
    const key = await signer.signingKey();
    const header = base64url(JSON.stringify({ alg: 'ES256', kid: key.kid, typ: tokenTypes.bulk }));
    const input = `${header}.${base64url(JSON.stringify(claims))}`;
    const signature = await key.sign(Buffer.from(input));
    const error = await rejection(verifier.verify(`${input}.${base64url(signature)}`, tokenTypes.bulk, 'bulk token'));
    expect(error).toMatchObject({ code: 'invalid_token', detail: expect.stringMatching(/alg does not match its key/) });
  });

  it('an unknown kid, and a token signed by another key under our kid', async () => {
    const { verifier, claims, signer } = await setup('RS256');
    const other = await LocalKeySigner.fromPrivateKey(generatePrivateKey('RS256'), 'RS256');
    const foreign = await signJwt(other, tokenTypes.bulk, claims);
    expect(await rejection(verifier.verify(foreign, tokenTypes.bulk, 'bulk token'))).toMatchObject({
      code: 'invalid_token',
      detail: expect.stringMatching(/key this service does not know/),
    });
    const ourKid = (await signer.signingKey()).kid;
    const [, payload, signature] = foreign.split('.');
    const forged = `${base64url(JSON.stringify({ alg: 'RS256', kid: ourKid, typ: tokenTypes.bulk }))}.${payload}.${signature}`;
    expect(await rejection(verifier.verify(forged, tokenTypes.bulk, 'bulk token'))).toMatchObject({
      code: 'invalid_token',
      detail: expect.stringMatching(/signature does not verify/),
    });
  });

  it('garbage and oversize input, as invalid_token', async () => {
    const { verifier } = await setup('RS256');
    for (const token of ['', 'a.b.c', 'not-a-jwt', `${'a'.repeat(9000)}.b.c`]) {
      expect(await rejection(verifier.verify(token, tokenTypes.bulk, 'bulk token'))).toMatchObject({ code: 'invalid_token' });
    }
  });

  it('nothing: a freshly signed token carries alg, kid and typ in its header', async () => {
    const { signer, claims } = await setup('ES256');
    const token = await signJwt(signer, tokenTypes.bulk, claims);
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, string>;
    expect(header).toEqual({ alg: 'ES256', kid: (await signer.signingKey()).kid, typ: 'bulk-registration+jwt' });
    expect(decodeJwt(token)).toEqual(claims);
  });
});

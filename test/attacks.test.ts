// The module object itself (not an interop copy), so that a spy on its verify sees shared/'s calls.
import nodeCrypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { HttpHandler } from '@azure/functions';
import { approveDevice } from '../functions/approveDevice.js';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { blockBulkToken } from '../functions/blockBulkToken.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { listAudit } from '../functions/listAudit.js';
import { listDevices } from '../functions/listDevices.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { renewDeviceToken } from '../functions/renewDeviceToken.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { unblockBulkToken } from '../functions/unblockBulkToken.js';
import { createDeviceIdentity, signProof, thumbprintOf, type DeviceIdentity } from '../cli/device/identity.js';
import { oversizedExponentKey, rsaIdentity, rsaKey, withTrailingBytes } from '../testkit/attackCertificates.js';
import { ConfigError, configWarnings, loadConfig } from '../shared/config.js';
import { deviceIdFor } from '../shared/devices/deviceId.js';
import { DeviceTokenIssuer } from '../shared/devices/deviceTokens.js';
import { NetworkSet } from '../shared/network/cidr.js';
import { DeviceCertificateChecker } from '../shared/proof/certificate.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices, type Services } from '../shared/services.js';
import { KeyVaultSigner } from '../shared/signing/keyVaultSigner.js';
import { KeyVaultStandIn } from './support/keyVaultStandIn.js';
import { DeviceState } from '../cli/device/state.js';
import { errorLine } from '../cli/runCli.js';
import { deviceCall, serviceUrl } from './support/devices.js';
import { problemViolation, tableChanges } from './support/fuzzKit.js';
import { b64url, certificateBase64, decodeSegment, proofParts, segment, serviceSigned, signProofParts } from './support/jwsForge.js';
import { bearer, invoke, type Answer, type CallOptions } from './support/invoke.js';
import { projectRoot, startLocalHost, startLocalHostPair, type LocalHost } from './support/localHost.js';
import { importFunctionFiles, rawRequest, startInProcessHost, type InProcessHost, type RawAnswer } from './support/inProcessHost.js';
import { registeredFunctions, triggerOf } from '../host/functionsCore.js';
import { adminRunCredential } from '../host/server.js';
import { installTestServices, testAdminKey, testConfig, TestClock, type TestServices } from './support/services.js';
import { dumpTables } from './support/tables.js';
import { TableAuditStore } from '../shared/audit/tableAuditStore.js';

/**
 * One test per attack on the protocol (RFC 8725's list and this service's own), each with
 * the exact status and code the attacker must get, and nothing stored by the attempt.
 * Attacks already covered elsewhere are listed here too, by name, so this file is the
 * complete catalogue; those tests say which file covers the same ground.
 */

const day = 86_400;
let services: TestServices;
let bulk: { id: string; token: string };
let deviceA: DeviceIdentity;
let deviceB: DeviceIdentity;
let tokenA: string;
let deviceIdA: string;

beforeAll(async () => {
  services = await installTestServices();
  bulk = await newBulkToken({ lifetimeMinutes: 10_080 });
  [deviceA, deviceB] = await Promise.all([createDeviceIdentity('ec'), createDeviceIdentity('ec')]);
  const registered = await invoke(registerDevice, await deviceCall(deviceA, '/api/register', { bearer: bulk.token, now: services.clock.now() }));
  expect(registered.status).toBe(201);
  tokenA = registered.body.token as string;
  deviceIdA = registered.body.deviceId as string;
}, 30_000);

async function newBulkToken(body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; token: string };
}

/**
 * Runs an attack and checks its refusal: the exact status and code, a well-formed problem,
 * and no table changed. `replayMayGrow` where the proof itself was valid, so it may take its
 * place in the replay cache before a later check refuses (see test/fuzz.test.ts).
 */
async function refused(attack: () => Promise<Answer>, status: number, code: string, options: { replayMayGrow?: boolean } = {}): Promise<Answer> {
  return refusedIn(services.config.tablePrefix, attack, status, code, options);
}

/** `refused`, against the tables under `prefix`. */
async function refusedIn(prefix: string, attack: () => Promise<Answer>, status: number, code: string, options: { replayMayGrow?: boolean } = {}): Promise<Answer> {
  const before = await dumpTables(prefix);
  const answer = await attack();
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
  expect(problemViolation(answer)).toBeUndefined();
  const after = await dumpTables(prefix);
  const changes = tableChanges(before, after, prefix).filter((key) => !(options.replayMayGrow && key.startsWith('replay|')));
  // A refusal may be recorded in the audit trail (decision 0009) - as exactly this refusal,
  // one new entry at most - and changes nothing else.
  const audited = changes.filter((key) => key.startsWith(`${TableAuditStore.tableName}|`));
  expect(audited.length).toBeLessThanOrEqual(1);
  for (const key of audited) {
    const entry = after[`${prefix}${TableAuditStore.tableName}`]?.find((row) => `${TableAuditStore.tableName}|${String(row.partitionKey)}|${String(row.rowKey)}` === key);
    expect({ outcome: entry?.outcome, status: entry?.status, code: entry?.code }).toEqual({ outcome: 'refused', status, code });
  }
  expect(changes.filter((key) => !audited.includes(key))).toEqual([]);
  return answer;
}

/** A device request with a fresh, correct proof by `identity` for whatever token is presented. */
async function deviceRequest(handler: HttpHandler, path: string, token: string | undefined, identity: DeviceIdentity = deviceA): Promise<Answer> {
  return invoke(handler, await deviceCall(identity, path, { ...(token === undefined ? {} : { bearer: token }), now: services.clock.now() }));
}

const renew = (token: string, identity?: DeviceIdentity) => deviceRequest(renewDeviceToken, '/api/renew', token, identity);
const authenticate = (token: string, identity?: DeviceIdentity) => deviceRequest(authenticateDevice, '/api/authenticate', token, identity);
const register = (token: string, identity?: DeviceIdentity) => deviceRequest(registerDevice, '/api/register', token, identity);

function parts(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; payload: string; signature: string } {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return { header: decodeSegment(header), claims: decodeSegment(payload), payload, signature };
}

/** The token with a new header (and optionally claims), signed by the service's own key. */
async function resigned(token: string, header: Record<string, unknown>, claims?: Record<string, unknown>): Promise<string> {
  const { payload } = parts(token);
  return serviceSigned(services.signer, header, claims === undefined ? payload : segment(claims));
}

// ---------------------------------------------------------------------------------------

describe('algorithm attacks on tokens', () => {
  it('alg none, unsigned, on a device token: 401 invalid_token', async () => {
    const { header, payload } = parts(tokenA);
    await refused(() => authenticate(`${segment({ ...header, alg: 'none' })}.${payload}.`), 401, 'invalid_token');
  });

  it('alg none on a bulk token, keeping the original signature: 401 invalid_token', async () => {
    const { header, payload, signature } = parts(bulk.token);
    await refused(() => register(`${segment({ ...header, alg: 'none' })}.${payload}.${signature}`, deviceB), 401, 'invalid_token');
  });

  async function hs256With(secret: string | Buffer): Promise<string> {
    const { header, payload } = parts(tokenA);
    const input = `${segment({ ...header, alg: 'HS256' })}.${payload}`;
    return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`;
  }

  it('HS256 signed with the public key as JWK JSON: 401 invalid_token', async () => {
    const [jwk] = await services.signer.publicKeys();
    await refused(async () => renew(await hs256With(JSON.stringify(jwk))), 401, 'invalid_token');
  });

  it('HS256 signed with the public key as PEM text: 401 invalid_token', async () => {
    const [jwk] = await services.signer.publicKeys();
    const pem = createPublicKey({ key: { ...jwk }, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
    await refused(async () => renew(await hs256With(pem)), 401, 'invalid_token');
  });

  it('an RS256 signature under an ES256 header (algorithm substitution): 401 invalid_token', async () => {
    const { header } = parts(tokenA);
    expect(header.alg).toBe('RS256');
    const answer = await refused(async () => authenticate(await resigned(tokenA, { ...header, alg: 'ES256' })), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/alg does not match its key/);
  });

  it('a critical header extension the service does not understand: 401 invalid_token', async () => {
    const { header } = parts(tokenA);
    await refused(async () => authenticate(await resigned(tokenA, { ...header, crit: ['exp'], exp: 1 })), 401, 'invalid_token');
  });
});

describe('key-id attacks', () => {
  it('an unknown kid: 401 invalid_token', async () => {
    const { header } = parts(tokenA);
    const answer = await refused(async () => authenticate(await resigned(tokenA, { ...header, kid: 'not-a-key-of-this-service' })), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/key this service does not know/);
  });

  it.each([
    ['a path traversal', '../../etc/passwd'],
    ['a very long kid (4,000 characters)', 'k'.repeat(4000)],
    ['a kid with NUL', 'abc\u0000def'],
    ["our kid with a NUL and more after it (truncation)", 'KID\u0000../../etc/passwd'],
    ['a URL', 'http://127.0.0.1:9/keys/1'],
  ])('kid as %s: 401 invalid_token', async (_name, kid) => {
    const { header } = parts(tokenA);
    const ourKid = String(header.kid);
    await refused(async () => authenticate(await resigned(tokenA, { ...header, kid: kid.replace('KID', ourKid) })), 401, 'invalid_token');
  });

  it('no kid at all: 401 invalid_token', async () => {
    const { header } = parts(tokenA);
    const { kid: _dropped, ...withoutKid } = header;
    await refused(async () => authenticate(await resigned(tokenA, withoutKid)), 401, 'invalid_token');
  });
});

describe('token-type confusion', () => {
  it('a device token as the bulk token on /api/register: 401 invalid_token (also in registration.test.ts)', async () => {
    const answer = await refused(() => register(tokenA, deviceB), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/typ must be bulk-registration\+jwt/);
  });

  it('a bulk token as the device token on /api/renew: 401 invalid_token (also in renewal.test.ts)', async () => {
    const answer = await refused(() => renew(bulk.token), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/typ must be device\+jwt/);
  });

  it('a bulk token as the device token on /api/authenticate: 401 invalid_token', async () => {
    await refused(() => authenticate(bulk.token), 401, 'invalid_token');
  });

  it("a device's proof JWS as the device token: 401 invalid_token", async () => {
    const proof = await signProof(deviceA, { method: 'POST', url: `${serviceUrl}/api/renew`, iat: services.clock.now() });
    await refused(() => renew(proof), 401, 'invalid_token');
  });

  it("a device's proof JWS as the bulk token: 401 invalid_token", async () => {
    const proof = await signProof(deviceB, { method: 'POST', url: `${serviceUrl}/api/register`, iat: services.clock.now() });
    await refused(() => register(proof, deviceB), 401, 'invalid_token');
  });

  it('a token signed by the service with a generic typ (JWT): 401 invalid_token', async () => {
    const { header } = parts(tokenA);
    await refused(async () => authenticate(await resigned(tokenA, { ...header, typ: 'JWT' })), 401, 'invalid_token');
  });

  it('the device token itself as the proof: 400 invalid_proof', async () => {
    await refused(() => invoke(authenticateDevice, { path: '/api/authenticate', headers: bearer(tokenA), body: { proof: tokenA } }), 400, 'invalid_proof');
  });
});

describe('token lifetime, issuer and audience', () => {
  it('an expired device token (90 days + 301 s): 401 token_expired', async () => {
    services.clock.advance(90 * day + 301);
    try {
      await refused(() => authenticate(tokenA), 401, 'token_expired');
    } finally {
      services.clock.advance(-(90 * day + 301));
    }
  });

  it('a device token whose nbf is an hour ahead: 401 invalid_token', async () => {
    const { header, claims } = parts(tokenA);
    const now = services.clock.now();
    const answer = await refused(async () => authenticate(await resigned(tokenA, header, { ...claims, iat: now + 3600, nbf: now + 3600, exp: now + 90 * day })), 401, 'invalid_token');
    expect(answer.body.detail).toMatch(/not valid yet/);
  });

  it.each([
    ['iss', { iss: 'https://attacker.example' }],
    ['aud', { aud: 'another-service' }],
    ['aud (an array without ours)', { aud: ['another-service'] }],
  ])('a device token with a wrong %s: 401 invalid_token', async (_claim, change) => {
    const { header, claims } = parts(tokenA);
    await refused(async () => authenticate(await resigned(tokenA, header, { ...claims, ...change })), 401, 'invalid_token');
  });
});

describe('keys advertised by the token are ignored', () => {
  let server: Server;
  let url: string;
  let hits: string[];
  let attacker: { privateKey: KeyObject; jwk: Record<string, unknown> };

  beforeAll(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    attacker = { privateKey, jwk: { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'attacker', alg: 'RS256', use: 'sig' } };
    hits = [];
    // The attacker's key server: any fetch of it by the service would show here.
    server = createServer((request, response) => {
      hits.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [attacker.jwk] }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((done) => server.close(() => done()));
  });

  function attackerToken(extraHeader: Record<string, unknown>, kid: 'ours' | 'theirs'): string {
    const { header, payload } = parts(tokenA);
    const input = `${segment({ ...header, alg: 'RS256', kid: kid === 'ours' ? header.kid : 'attacker', ...extraHeader })}.${payload}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), attacker.privateKey))}`;
  }

  it.each(['theirs', 'ours'] as const)('jku pointing at the attacker’s JWKS (kid %s): 401 invalid_token, and the URL is never fetched', async (kid) => {
    await refused(() => authenticate(attackerToken({ jku: `${url}/jwks.json` }, kid)), 401, 'invalid_token');
    expect(hits).toEqual([]);
  });

  it.each(['theirs', 'ours'] as const)('x5u pointing at the attacker’s certificate (kid %s): 401 invalid_token, and the URL is never fetched', async (kid) => {
    await refused(() => authenticate(attackerToken({ x5u: `${url}/cert.pem` }, kid)), 401, 'invalid_token');
    expect(hits).toEqual([]);
  });

  it.each(['theirs', 'ours'] as const)('an embedded jwk with the attacker’s public key (kid %s): 401 invalid_token', async (kid) => {
    await refused(() => authenticate(attackerToken({ jwk: attacker.jwk }, kid)), 401, 'invalid_token');
  });

  it('an x5c certificate chain in a token header: 401 invalid_token', async () => {
    await refused(() => authenticate(attackerToken({ x5c: [certificateBase64(deviceB)] }, 'ours')), 401, 'invalid_token');
  });
});

describe('proof attacks', () => {
  it('a proof made for /api/authenticate presented to /api/renew: 401 proof_rejected (renewal.test.ts covers the reverse)', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, now: services.clock.now() });
    await refused(() => invoke(renewDeviceToken, { ...call, path: '/api/renew' }), 401, 'proof_rejected');
  });

  it('a proof made for /api/register presented to /api/register/internal: 401 proof_rejected', async () => {
    const call = await deviceCall(deviceB, '/api/register', { now: services.clock.now() });
    await refused(() => invoke(registerInternal, { ...call, path: '/api/register/internal', headers: { 'x-forwarded-for': '127.0.0.1' } }), 401, 'proof_rejected');
  });

  it('a proof for another method (GET): 401 proof_rejected', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, now: services.clock.now(), proof: { method: 'GET' } });
    await refused(() => invoke(authenticateDevice, call), 401, 'proof_rejected');
  });

  it('a proof with iat a year in the future: 401 proof_rejected', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, proof: { iat: services.clock.now() + 365 * day } });
    await refused(() => invoke(authenticateDevice, call), 401, 'proof_rejected');
  });

  it('a proof with iat a year in the past: 401 proof_rejected', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, proof: { iat: services.clock.now() - 365 * day } });
    await refused(() => invoke(authenticateDevice, call), 401, 'proof_rejected');
  });

  it('the same proof twice on one instance: 401 proof_replayed (also in renewal.test.ts)', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, now: services.clock.now() });
    expect((await invoke(authenticateDevice, call)).status).toBe(200);
    await refused(() => invoke(authenticateDevice, call), 401, 'proof_replayed');
  });

  it('a proof carrying the ath of another token: 401 proof_rejected', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, now: services.clock.now(), proof: { bearerToken: bulk.token } });
    await refused(() => invoke(authenticateDevice, call), 401, 'proof_rejected');
  });

  it('a proof signed alg none by a holder of the certificate only: 400 invalid_proof', async () => {
    const { header, claims } = proofParts(deviceA, { path: '/api/authenticate', iat: services.clock.now(), jti: 'none-alg-proof-0001', bearer: tokenA });
    const proof = `${segment({ ...header, alg: 'none' })}.${segment(claims)}.`;
    await refused(() => invoke(authenticateDevice, { path: '/api/authenticate', headers: bearer(tokenA), body: { proof } }), 400, 'invalid_proof');
  });

  it('a proof HMAC-signed with the certificate as the secret: 400 invalid_proof', async () => {
    const { header, claims } = proofParts(deviceA, { path: '/api/authenticate', iat: services.clock.now(), jti: 'hmac-alg-proof-0001', bearer: tokenA });
    const input = `${segment({ ...header, alg: 'HS256' })}.${segment(claims)}`;
    const proof = `${input}.${b64url(createHmac('sha256', deviceA.certificateDer).update(input).digest())}`;
    await refused(() => invoke(authenticateDevice, { path: '/api/authenticate', headers: bearer(tokenA), body: { proof } }), 400, 'invalid_proof');
  });

  it('a certificate whose public key cannot be decoded (SPKI algorithm altered): 400 invalid_certificate, not 500', async () => {
    const der = Buffer.from(deviceB.certificateDer);
    const ecPublicKeyOid = Buffer.from('06072a8648ce3d0201', 'hex');
    der[der.indexOf(ecPublicKeyOid) + ecPublicKeyOid.length - 1] = 0x09;
    const { header, claims } = proofParts(deviceB, { path: '/api/register/internal', iat: services.clock.now(), jti: 'bad-spki-proof-00001' });
    const proof = signProofParts(deviceB, { ...header, x5c: [der.toString('base64')] }, segment(claims));
    await refused(() => invoke(registerInternal, { path: '/api/register/internal', headers: { 'x-forwarded-for': '127.0.0.1' }, body: { proof } }), 400, 'invalid_certificate');
  });
});

describe('stolen tokens and swapped keys', () => {
  it('the certificate swapped after registration (token bound to A, proof by a valid certificate B): 401 key_mismatch', async () => {
    await refused(() => renew(tokenA, deviceB), 401, 'key_mismatch');
  });

  it("renewal by a party holding the token but not the key (A's certificate, the thief's signature): 401 proof_rejected", async () => {
    const thief = await createDeviceIdentity('ec');
    // A's certificate is public: it travels in every proof A sends. Its private key is not.
    await refused(() => renew(tokenA, { ...thief, certificateDer: deviceA.certificateDer }), 401, 'proof_rejected');
  });

  it('authentication by a party holding the token but not the key: 401 proof_rejected', async () => {
    const thief = await createDeviceIdentity('ec');
    await refused(() => authenticate(tokenA, { ...thief, certificateDer: deviceA.certificateDer }), 401, 'proof_rejected');
  });
});

describe('bulk registration tokens', () => {
  it('a blocked bulk token: 401 token_blocked (also in registration.test.ts)', async () => {
    const blocked = await newBulkToken();
    await invoke(blockBulkToken, { path: '/x', headers: bearer(testAdminKey), params: { id: blocked.id } });
    await refused(() => register(blocked.token, deviceB), 401, 'token_blocked');
  });

  it('a used-up bulk token: 401 token_used_up (also in registration.test.ts)', async () => {
    const once = await newBulkToken({ maxUses: 1 });
    expect((await register(once.token, await createDeviceIdentity('ec'))).status).toBe(201);
    await refused(() => register(once.token, deviceB), 401, 'token_used_up');
  });
});

describe('request bodies', () => {
  it('an oversize body (17 KiB): 413 payload_too_large', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, now: services.clock.now() });
    const padded = JSON.stringify(call.body).padEnd(17 * 1024, ' ');
    await refused(() => invoke(authenticateDevice, { ...call, body: undefined, rawBody: padded, headers: { ...call.headers, 'content-type': 'application/json' } }), 413, 'payload_too_large');
  });

  it('a Content-Length declaring a huge body: 413 payload_too_large before reading it', async () => {
    const call = await deviceCall(deviceA, '/api/authenticate', { bearer: tokenA, now: services.clock.now() });
    await refused(() => invoke(authenticateDevice, { ...call, headers: { ...call.headers, 'content-length': String(2 ** 31) } }), 413, 'payload_too_large');
  });

  it('5,000 nested arrays inside 16 KiB: 400 invalid_request, promptly', async () => {
    const nested = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const started = Date.now();
    await refused(() => invoke(renewDeviceToken, { path: '/api/renew', headers: { ...bearer(tokenA), 'content-type': 'application/json' }, rawBody: nested }), 400, 'invalid_request');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('5,000 nested arrays as the proof value: 400 invalid_request', async () => {
    const body = `{"proof":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(body.length).toBeLessThan(16 * 1024);
    await refused(
      () => invoke(registerInternal, { path: '/api/register/internal', headers: { 'x-forwarded-for': '127.0.0.1', 'content-type': 'application/json' }, rawBody: body }),
      400,
      'invalid_request',
    );
  });

  it('a proof whose signed payload is 5,000 nested arrays: 400 invalid_proof', async () => {
    const { header } = proofParts(deviceA, { path: '/api/authenticate', iat: services.clock.now(), jti: 'unused-jti-000001', bearer: tokenA });
    const proof = signProofParts(deviceA, header, b64url(`${'['.repeat(5000)}${']'.repeat(5000)}`));
    await refused(() => invoke(authenticateDevice, { path: '/api/authenticate', headers: bearer(tokenA), body: { proof } }), 400, 'invalid_proof');
  });

  it('5,000 nested arrays as an admin body: 400 invalid_request', async () => {
    await refused(
      () => invoke(createBulkToken, { path: '/api/bulk-tokens', headers: { ...bearer(testAdminKey), 'content-type': 'application/json' }, rawBody: `${'['.repeat(5000)}${']'.repeat(5000)}` }),
      400,
      'invalid_request',
    );
  });
});

describe('admin routes', () => {
  const someId = '3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a';
  const routes: Array<[string, HttpHandler, Partial<CallOptions>]> = [
    ['POST /api/bulk-tokens', createBulkToken, { path: '/api/bulk-tokens', body: {} }],
    ['GET /api/bulk-tokens', listBulkTokens, { method: 'GET', path: '/api/bulk-tokens' }],
    ['POST /api/bulk-tokens/{id}/block', blockBulkToken, { path: `/api/bulk-tokens/${someId}/block`, params: { id: someId } }],
    ['POST /api/bulk-tokens/{id}/unblock', unblockBulkToken, { path: `/api/bulk-tokens/${someId}/unblock`, params: { id: someId } }],
    ['GET /api/devices', listDevices, { method: 'GET', path: '/api/devices' }],
    ['POST /api/devices/{id}/approve', approveDevice, { path: `/api/devices/${someId}/approve`, params: { id: someId } }],
    ['POST /api/devices/{id}/revoke', revokeDevice, { path: `/api/devices/${someId}/revoke`, params: { id: someId } }],
  ];

  const call = (handler: HttpHandler, options: Partial<CallOptions>, headers: Record<string, string>) =>
    invoke(handler, { path: '/', ...options, headers });

  it.each(routes)('%s without a credential: 401 missing_credential', async (_name, handler, options) => {
    const answer = await refused(() => call(handler, options, {}), 401, 'missing_credential');
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="cmg-token-auth"');
  });

  it.each(routes)('%s with a wrong credential: 401 invalid_token', async (_name, handler, options) => {
    await refused(() => call(handler, options, bearer(`${testAdminKey.slice(0, -1)}${testAdminKey.endsWith('A') ? 'B' : 'A'}`)), 401, 'invalid_token');
  });

  it.each(routes)('%s with a device token as the admin credential: 401 invalid_token', async (_name, handler, options) => {
    await refused(() => call(handler, options, bearer(tokenA)), 401, 'invalid_token');
  });

  it.each(routes)('%s with a bulk registration token as the admin credential: 401 invalid_token', async (_name, handler, options) => {
    await refused(() => call(handler, options, bearer(bulk.token)), 401, 'invalid_token');
  });

  it('a revoke by a device token does not revoke: the device still authenticates', async () => {
    await refused(() => invoke(revokeDevice, { path: '/x', headers: bearer(tokenA), params: { id: deviceIdA } }), 401, 'invalid_token');
    expect((await authenticate(tokenA)).status).toBe(200);
  });
});

describe('proof replay across two service processes', () => {
  let first: LocalHost;
  let second: LocalHost;

  beforeAll(async () => {
    [first, second] = await startLocalHostPair();
  }, 40_000);

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
  });

  async function post(host: LocalHost, path: string, headers: Record<string, string>, proof: string): Promise<{ status: number; code: unknown; token: unknown }> {
    const response = await fetch(`${host.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ proof }) });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, code: body.code, token: body.token };
  }

  async function registeredOn(host: LocalHost, device: DeviceIdentity): Promise<string> {
    const proof = await signProof(device, { method: 'POST', url: `${host.url}/api/register/internal` });
    const answer = await post(host, '/api/register/internal', {}, proof);
    expect(answer.status).toBe(201);
    return answer.token as string;
  }

  it('an authenticate proof used on one instance and replayed on the other: 200, then 401 proof_replayed (registration.e2e.test.ts covers register)', async () => {
    const device = await createDeviceIdentity('ec');
    const token = await registeredOn(first, device);
    const proof = await signProof(device, { method: 'POST', url: `${first.url}/api/authenticate`, bearerToken: token });
    expect((await post(first, '/api/authenticate', bearer(token), proof)).status).toBe(200);
    expect(await post(second, '/api/authenticate', bearer(token), proof)).toMatchObject({ status: 401, code: 'proof_replayed' });
  });

  it('a renew proof raced on both instances at once: exactly one 200, the other 401 proof_replayed', async () => {
    const device = await createDeviceIdentity('ec');
    const token = await registeredOn(second, device);
    const proof = await signProof(device, { method: 'POST', url: `${second.url}/api/renew`, bearerToken: token });
    const answers = await Promise.all([post(first, '/api/renew', bearer(token), proof), post(second, '/api/renew', bearer(token), proof)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
    expect(answers.find((answer) => answer.status === 401)?.code).toBe('proof_replayed');
  });

  // The same two processes, for what only `npm start` itself wires up (host/main.ts).
  it('TRACE /api/health and TRACE /api/no-such-thing on the local host process: the host’s empty 404, not an empty 500', async () => {
    const port = Number(new URL(first.url).port);
    for (const path of ['/api/health', '/api/no-such-thing']) {
      const answer = await rawRequest(port, `TRACE ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}`);
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 404, body: '' });
    }
    expect(first.output()).not.toMatch(/Failed|TypeError/);
  });

  it('Host: evil.example on the local host process: 400 invalid_request; a cross-site POST to its admin API: 403 forbidden', async () => {
    const port = Number(new URL(second.url).port);
    const rebound = await rawRequest(port, `GET /api/health HTTP/1.1\r\nHost: evil.example:${port}`);
    expect({ status: rebound.status, code: (JSON.parse(rebound.body) as { code?: string }).code }).toEqual({ status: 400, code: 'invalid_request' });
    const crossSite = await rawRequest(port, `POST /admin/functions/purgeExpired HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: https://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 1`, 'x');
    expect({ status: crossSite.status, code: (JSON.parse(crossSite.body) as { code?: string }).code }).toEqual({ status: 403, code: 'forbidden' });
  });
});

describe('hostile input: local host', () => {
  // The local host once answered these with 500; each must be a 400 problem+json
  // (or, for the admin endpoint off loopback, a 401), with nothing run. In process, over HTTP,
  // through the listener npm start serves (test/support/inProcessHost.ts).
  let open: InProcessHost;
  let guarded: InProcessHost;

  beforeAll(async () => {
    useServices(services);
    open = await startInProcessHost();
    // As main.ts configures it when HOST is not a loopback address.
    guarded = await startInProcessHost({ adminKey: adminRunCredential('0.0.0.0', testAdminKey) ?? '' });
  });

  afterAll(async () => {
    await Promise.all([open?.close(), guarded?.close()]);
  });

  async function refusedByHost(head: string): Promise<void> {
    const answer = await rawRequest(open.port, head);
    expect({ status: answer.status, type: answer.headers['content-type'] }).toEqual({ status: 400, type: 'application/problem+json' });
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, code: 'invalid_request' });
  }

  it('Host: [ (an unclosed IPv6 literal): 400 invalid_request, not 500', async () => {
    await refusedByHost('GET /api/health HTTP/1.1\r\nHost: [');
  });

  it('an empty Host: 400 invalid_request, not 500', async () => {
    await refusedByHost('GET /api/health HTTP/1.1\r\nHost: ');
  });

  it('Host: u@x (user info): 400 invalid_request, not 500', async () => {
    await refusedByHost('GET /api/health HTTP/1.1\r\nHost: u@x');
  });

  it('Host: x:99999 (port out of range): 400 invalid_request, not 500', async () => {
    await refusedByHost('GET /api/health HTTP/1.1\r\nHost: x:99999');
  });

  it('POST /admin/functions/%E0 (an escape that is not UTF-8): 400 invalid_request, not 500', async () => {
    await refusedByHost(`POST /admin/functions/%E0 HTTP/1.1\r\nHost: 127.0.0.1:${open.port}\r\nContent-Length: 0`);
  });

  it('a bare "%" in the path: 400 invalid_request, not 500', async () => {
    await refusedByHost(`GET /api/devices/%/approve HTTP/1.1\r\nHost: 127.0.0.1:${open.port}`);
  });

  it('POST /admin/functions/purgeExpired on a host bound beyond loopback without the admin key: 401 and the purge does not run', async () => {
    guarded.logs.length = 0;
    const none = await fetch(`${guarded.url}/admin/functions/purgeExpired`, { method: 'POST' });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'missing_credential' });
    const wrong = await fetch(`${guarded.url}/admin/functions/purgeExpired`, { method: 'POST', headers: bearer(`${testAdminKey}x`) });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'invalid_token' });
    expect(guarded.logs.filter((line) => /purgeExpired/.test(line))).toEqual([]);
    const allowed = await fetch(`${guarded.url}/admin/functions/purgeExpired`, {
      method: 'POST',
      headers: { ...bearer(testAdminKey), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(allowed.status).toBe(202);
  });

  it('the admin endpoint is open only when HOST is a loopback address', () => {
    expect(adminRunCredential(undefined, 'k')).toBeUndefined();
    expect(adminRunCredential('127.0.0.1', 'k')).toBeUndefined();
    expect(adminRunCredential('::1', 'k')).toBeUndefined();
    expect(adminRunCredential('localhost', 'k')).toBeUndefined();
    expect(adminRunCredential('0.0.0.0', 'k')).toBe('k');
    expect(adminRunCredential('::', 'k')).toBe('k');
    expect(adminRunCredential('192.168.1.5', 'k')).toBe('k');
    // No admin key at all off loopback: nothing can run the admin endpoint.
    expect(adminRunCredential('0.0.0.0', undefined)).toBe('');
  });
});

describe('hostile input: proofs, keys, revocation, networks', () => {
  /** Runs `work` with `instance` as the process's services (what the handlers use), then puts the file's own back. */
  async function on<T>(instance: Services, work: () => Promise<T>): Promise<T> {
    useServices(instance);
    try {
      return await work();
    } finally {
      useServices(services);
    }
  }

  /** A device request through the handler, with a correct proof by `identity` signed at `now`. */
  async function callAs(handler: HttpHandler, path: string, identity: DeviceIdentity, now: number, token?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const call = await deviceCall(identity, path, { ...(token === undefined ? {} : { bearer: token }), now });
    return invoke(handler, { ...call, headers: { ...call.headers, ...headers } });
  }

  /** Counts certificate key reads and signature verifications (X.509 self-signatures and proofs) while `work` runs. */
  async function cryptoWork<T>(work: () => Promise<T>): Promise<{ result: T; keyReads: number; verifications: number }> {
    const keyReads = jest.spyOn(X509Certificate.prototype, 'publicKey', 'get');
    const selfSignatures = jest.spyOn(X509Certificate.prototype, 'verify');
    const proofSignatures = jest.spyOn(nodeCrypto, 'verify');
    try {
      const result = await work();
      return { result, keyReads: keyReads.mock.calls.length, verifications: selfSignatures.mock.calls.length + proofSignatures.mock.calls.length };
    } finally {
      keyReads.mockRestore();
      selfSignatures.mockRestore();
      proofSignatures.mockRestore();
    }
  }

  describe('bounded proof work', () => {
    let hugeExponent: DeviceIdentity;

    beforeAll(async () => {
      // The review's attacker: RSA 3072 with a 3,070-bit public exponent, validly self-signed.
      hugeExponent = await rsaIdentity(oversizedExponentKey(3072, 3070));
    }, 60_000);

    it('an RSA certificate with a 3,070-bit public exponent, at registration: 400 invalid_certificate, before its self-signature is verified', async () => {
      const { result, verifications } = await cryptoWork(() => refused(() => register(bulk.token, hugeExponent), 400, 'invalid_certificate', { replayMayGrow: true }));
      expect(result.body.detail).toMatch(/public exponent is a 3070-bit number; only 65537 is accepted/);
      expect(verifications).toBe(0);
    });

    it('an RSA 2048 certificate with public exponent 3: 400 invalid_certificate', async () => {
      const answer = await refused(async () => register(bulk.token, await rsaIdentity(rsaKey(2048, 3))), 400, 'invalid_certificate');
      expect(answer.body.detail).toMatch(/exponent is 3; only 65537/);
    });

    it('an RSA certificate with a 4,160-bit modulus: 400 invalid_certificate', async () => {
      // A key kept in test/fixtures: making a 4,160-bit key takes 2 to 5 s of CPU each run.
      const key = createPrivateKey(readFileSync(join(projectRoot, 'test', 'fixtures', 'keys', 'rsa-4160-attacker.pem')));
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(4160);
      const answer = await refused(async () => register(bulk.token, await rsaIdentity(key)), 400, 'invalid_certificate');
      expect(answer.body.detail).toMatch(/4160 bits; at most 4096/);
    });

    it('three bytes after the certificate DER in x5c[0]: 400 invalid_certificate', async () => {
      const answer = await refused(() => register(bulk.token, withTrailingBytes(deviceB, Buffer.from([1, 2, 3]))), 400, 'invalid_certificate');
      expect(answer.body.detail).toMatch(/exactly one DER certificate with nothing after it/);
    });

    it('two certificates back to back in x5c[0] (the second one a valid device certificate): 400 invalid_certificate', async () => {
      const other = await createDeviceIdentity('ec');
      await refused(
        () => callAs(registerInternal, '/api/register/internal', withTrailingBytes(deviceB, other.certificateDer), services.clock.now(), undefined, { 'x-forwarded-for': '127.0.0.1' }),
        400,
        'invalid_certificate',
      );
    });

    it('the oversized-exponent certificate with a stolen device token, fresh trailing bytes each time: 401 key_mismatch, with no certificate key read and no signature verified', async () => {
      for (const extra of [[1], [2, 3], [4, 5, 6]]) {
        const attacker = withTrailingBytes(hugeExponent, Buffer.from(extra));
        const { result, keyReads, verifications } = await cryptoWork(() => refused(() => authenticate(tokenA, attacker), 401, 'key_mismatch'));
        expect(result.body.code).toBe('key_mismatch');
        expect({ keyReads, verifications }).toEqual({ keyReads: 0, verifications: 0 });
      }
    });

    it("a device token with an x5c that is not a certificate at all: 401 key_mismatch (the cnf binding is checked before parsing)", async () => {
      const { header, claims } = proofParts(deviceA, { path: '/api/renew', iat: services.clock.now(), jti: 'not-a-certificate-0001', bearer: tokenA });
      const proof = signProofParts(deviceA, { ...header, x5c: [Buffer.from('not a certificate').toString('base64')] }, segment(claims));
      await refused(() => invoke(renewDeviceToken, { path: '/api/renew', headers: bearer(tokenA), body: { proof } }), 401, 'key_mismatch');
    });

    it('variants of a certificate with bytes after it neither parse nor evict the device’s remembered certificate', () => {
      const checker = new DeviceCertificateChecker(1);
      const now = services.clock.now();
      const selfSignatures = jest.spyOn(X509Certificate.prototype, 'verify');
      try {
        checker.check([certificateBase64(deviceB)], now);
        for (const extra of [[0], [0, 1], [0, 1, 2]]) {
          expect(() => checker.check([certificateBase64(withTrailingBytes(deviceB, Buffer.from(extra)))], now)).toThrow(expect.objectContaining({ code: 'invalid_certificate' }));
        }
        expect(checker.check([certificateBase64(deviceB)], now).thumbprint).toBe(thumbprintOf(deviceB));
        expect(selfSignatures).toHaveBeenCalledTimes(1);
      } finally {
        selfSignatures.mockRestore();
      }
    });

    it('the same certificate spelled without its base64 padding is remembered, not parsed again (the cache is keyed by the SHA-256 of the DER)', async () => {
      let device = deviceB;
      while (device.certificateDer.length % 3 === 0) device = await createDeviceIdentity('ec');
      const padded = certificateBase64(device);
      expect(padded).toMatch(/=$/);
      const checker = new DeviceCertificateChecker(4);
      const selfSignatures = jest.spyOn(X509Certificate.prototype, 'verify');
      try {
        checker.check([padded], services.clock.now());
        checker.check([padded.replace(/=+$/, '')], services.clock.now());
        expect(selfSignatures).toHaveBeenCalledTimes(1);
      } finally {
        selfSignatures.mockRestore();
      }
    });
  });

  describe('a withdrawn signing key', () => {
    const refreshIntervalSeconds = 60;
    let standIn: KeyVaultStandIn;
    let clock: TestClock;
    let instances: Services[];
    let versionA: string;
    let seen: { device: DeviceIdentity; token: string };
    let unseen: { device: DeviceIdentity; token: string };

    beforeAll(async () => {
      clock = new TestClock(services.clock.now());
      standIn = await KeyVaultStandIn.start({ keyType: 'RSA', createdOn: clock.now() - 365 * day, now: () => clock.now() });
      [versionA] = standIn.versionIds() as [string];
      // Two instances, each with its own signer and caches, as two Functions workers have.
      instances = await Promise.all(
        [0, 1].map(async () => {
          const signer = await KeyVaultSigner.create(
            standIn.signerOptions({ clock, refreshIntervalSeconds, retryOptions: { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 50 } }),
          );
          return createServices(services.config, { clock, signer, admin: services.admin });
        }),
      );
      const [first] = instances as [Services];
      const registerOnFirst = async () => {
        const bulkToken = await first.bulkTokens.create({ lifetimeMinutes: 60 });
        const device = await createDeviceIdentity('ec');
        const answer = await on(first, () => callAs(registerDevice, '/api/register', device, clock.now(), bulkToken.token));
        expect(answer.status).toBe(201);
        expect(parts(answer.body.token as string).header.kid).toBe(versionA);
        return { device, token: answer.body.token as string };
      };
      seen = await registerOnFirst();
      unseen = await registerOnFirst();
      // Both instances verify (and remember) the first token while A is good.
      for (const instance of instances) expect((await on(instance, () => callAs(authenticateDevice, '/api/authenticate', seen.device, clock.now(), seen.token))).status).toBe(200);

      // Rotate: B is published after one refresh, signs after its activation delay; then A is disabled.
      standIn.rotate({ createdOn: clock.now() });
      clock.advance(2 * refreshIntervalSeconds + 300 + 2);
      for (const instance of instances) expect((await instance.signer.signingKey()).kid).not.toBe(versionA);
      standIn.setEnabled(versionA, false);
      clock.advance(refreshIntervalSeconds + 1);
    }, 60_000);

    afterAll(async () => {
      await standIn?.close();
    });

    it.each([0, 1])("a token of the disabled version A that instance %i had verified before: 401 invalid_token within the refresh interval", async (index) => {
      const instance = instances[index] as Services;
      const answer = await on(instance, () => refusedOn(instance, () => callAs(authenticateDevice, '/api/authenticate', seen.device, clock.now(), seen.token), 401, 'invalid_token'));
      expect(answer.body.detail).toMatch(/no longer publishes/);
    });

    it.each([0, 1])('a token of the disabled version A that instance %i never saw: 401 invalid_token within the refresh interval', async (index) => {
      const instance = instances[index] as Services;
      await on(instance, () => refusedOn(instance, () => callAs(renewDeviceToken, '/api/renew', unseen.device, clock.now(), unseen.token), 401, 'invalid_token'));
    });
  });

  /** `refused`, against another instance's tables. */
  function refusedOn(instance: Services, attack: () => Promise<Answer>, status: number, code: string, options: { replayMayGrow?: boolean } = {}): Promise<Answer> {
    return refusedIn(instance.config.tablePrefix, attack, status, code, options);
  }

  describe('a revoked certificate after the purge removed its pairing', () => {
    // Its own tables and clock: the purge on day 97 and day 177 must not touch the file's other devices.
    let instance: Services;
    let clock: TestClock;
    let device: DeviceIdentity;
    let deviceId: string;
    let bulkToken: { id: string; token: string };
    const dayNumber = (n: number) => start + n * day;
    let start: number;
    const admin = bearer(testAdminKey);
    const usesOf = async (id: string) => {
      const listed = await on(instance, () => invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin }));
      return (listed.body.items as Array<{ id: string; uses: number }>).find((item) => item.id === id)?.uses;
    };
    const mintedToken = async () =>
      (await new DeviceTokenIssuer(instance.signer, clock, { issuer: instance.config.issuer, audience: instance.config.audience }).issue({ deviceId, thumbprint: thumbprintOf(device), registration: 'bulk', bulkTokenId: bulkToken.id })).token;

    beforeAll(async () => {
      clock = new TestClock(services.clock.now());
      start = clock.now();
      instance = await createServices(testConfig(), { clock, signer: services.signer, admin: services.admin });
      device = await createDeviceIdentity('ec', { validDays: 3650 });
      bulkToken = (await on(instance, () => invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 10_080 } }))).body as { id: string; token: string };
      const registered = await on(instance, () => callAs(registerDevice, '/api/register', device, clock.now(), bulkToken.token));
      expect(registered.status).toBe(201);
      deviceId = registered.body.deviceId as string;
      expect(deviceId).toBe(deviceIdFor(thumbprintOf(device)));
      clock.seconds = dayNumber(85);
      expect((await on(instance, () => invoke(revokeDevice, { path: `/api/devices/${deviceId}/revoke`, headers: admin, params: { id: deviceId } }))).status).toBe(200);
      // Day 97 and two hours: past the 7 days' retention (and skew) of the pairing that lapsed on day 90.
      clock.seconds = dayNumber(97) + 7200;
      const purged = await instance.purge.run();
      expect(purged.removed.devices).toBe(1);
      // A fresh bulk token, as an attacker holding any valid one would use.
      bulkToken = (await on(instance, () => invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 10_080 } }))).body as { id: string; token: string };
    }, 60_000);

    it('day 97, pairing purged: registering the same certificate with a bulk token is 403 device_revoked, and spends no use of the bulk token', async () => {
      await on(instance, () => refusedOn(instance, () => callAs(registerDevice, '/api/register', device, clock.now(), bulkToken.token), 403, 'device_revoked', { replayMayGrow: true }));
      expect(await usesOf(bulkToken.id)).toBe(0);
    });

    it('day 97, pairing purged: registering the same certificate from an internal network is 403 device_revoked', async () => {
      await on(instance, () =>
        refusedOn(instance, () => callAs(registerInternal, '/api/register/internal', device, clock.now(), undefined, { 'x-forwarded-for': '127.0.0.1' }), 403, 'device_revoked', { replayMayGrow: true }),
      );
    });

    describe('day 177, after the purge ran again', () => {
      beforeAll(async () => {
        clock.seconds = dayNumber(177);
        bulkToken = (await on(instance, () => invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 10_080 } }))).body as { id: string; token: string };
        await instance.purge.run();
      });

      it('a token bound to the revoked certificate (as one issued on a re-registration would be): authenticate 403 device_revoked', async () => {
        const token = await mintedToken();
        await on(instance, () => refusedOn(instance, () => callAs(authenticateDevice, '/api/authenticate', device, clock.now(), token), 403, 'device_revoked', { replayMayGrow: true }));
      });

      it('the same: renew 403 device_revoked', async () => {
        const token = await mintedToken();
        await on(instance, () => refusedOn(instance, () => callAs(renewDeviceToken, '/api/renew', device, clock.now(), token), 403, 'device_revoked', { replayMayGrow: true }));
      });

      it('registering the certificate again with a bulk token: 403 device_revoked, no use spent', async () => {
        await on(instance, () => refusedOn(instance, () => callAs(registerDevice, '/api/register', device, clock.now(), bulkToken.token), 403, 'device_revoked', { replayMayGrow: true }));
        expect(await usesOf(bulkToken.id)).toBe(0);
      });

      it('registering it again from an internal network: 403 device_revoked', async () => {
        await on(instance, () =>
          refusedOn(instance, () => callAs(registerInternal, '/api/register/internal', device, clock.now(), undefined, { 'x-forwarded-for': '127.0.0.1' }), 403, 'device_revoked', { replayMayGrow: true }),
        );
      });
    });
  });

  describe('INTERNAL_NETWORKS', () => {
    const storage = { STORAGE_CONNECTION: 'UseDevelopmentStorage=true' };
    const configProblems = (networks: string): string[] => {
      try {
        loadConfig({ ...storage, INTERNAL_NETWORKS: networks });
        return [];
      } catch (error) {
        return error instanceof ConfigError ? [...error.problems] : [String(error)];
      }
    };

    it.each([
      ['::/8 (covers ::ffff:0:0/96: every IPv4 caller)', '::/8', '8.8.8.8'],
      ['::/0', '::/0', '203.0.113.9'],
      ['::ffff:0:0/96 itself', '::ffff:0:0/96', '198.51.100.7'],
      ['::ffff:10.0.0.0/104 (inside the mapped space)', '::ffff:10.0.0.0/104', '10.1.2.3'],
    ])('an IPv6 range that reaches IPv4-mapped space, %s: refused by the configuration, and never matches an IPv4 caller', (_name, range, caller) => {
      expect(configProblems(`10.20.0.0/16,${range}`)).toEqual([expect.stringMatching(/^INTERNAL_NETWORKS: .*overlaps the IPv4-mapped space ::ffff:0:0\/96/)]);
      const networks = new NetworkSet([range]);
      expect([networks.contains(caller), networks.contains(`::ffff:${caller}`)]).toEqual([false, false]);
    });

    it('private, unique-local and link-local ranges draw a warning at start unless INTERNAL_NETWORKS_PRIVATE_ENDPOINT=true; the config error no longer suggests fd00::/8', () => {
      const warnings = (env: Record<string, string>) => configWarnings(loadConfig({ ...storage, ...env }));
      const listed = '203.0.113.0/24,10.0.0.0/8,172.20.0.0/16,192.168.1.0/24,169.254.0.0/16,fd12:3456::/32,fe80::/10,2001:db8::/32';
      expect(warnings({ INTERNAL_NETWORKS: listed }).map((warning) => warning.split(' is in ')[0])).toEqual(
        ['10.0.0.0/8', '172.20.0.0/16', '192.168.1.0/24', '169.254.0.0/16', 'fd12:3456::/32', 'fe80::/10'].map((cidr) => `INTERNAL_NETWORKS: ${cidr}`),
      );
      expect(warnings({ INTERNAL_NETWORKS: listed, INTERNAL_NETWORKS_PRIVATE_ENDPOINT: 'true' })).toEqual([]);
      expect(warnings({})).toEqual([]);
      expect(configProblems('10.0.0.0/33').join('\n')).not.toMatch(/fd00::\/8/);
    });

    it('the local host says so in its start-up banner, once per private range', async () => {
      const host = await startLocalHost({ INTERNAL_NETWORKS: '127.0.0.0/8,10.0.0.0/8,fd12:3456::/32' });
      try {
        const warnings = host.output().split('\n').filter((line) => line.includes('warning: INTERNAL_NETWORKS'));
        expect(warnings).toEqual([expect.stringContaining('10.0.0.0/8 is in private (10.0.0.0/8)'), expect.stringContaining('fd12:3456::/32 is in unique-local (fc00::/7)')]);
        expect(warnings[0]).toMatch(/only when devices reach this app through a private endpoint.*INTERNAL_NETWORKS_PRIVATE_ENDPOINT=true/);
      } finally {
        await host.stop();
      }
    }, 40_000);
  });
});

/** A saved device token for the state-folder attacks: what the folder's guard protects. */
const tokenState = {
  url: 'http://127.0.0.1:1/',
  deviceId: '7d3f4a52-1111-4222-8333-944455566677',
  token: 'a.b.c',
  expiresAt: '2030-01-01T00:00:00.000Z',
  renewAfter: '2029-11-01T00:00:00.000Z',
  registration: 'bulk' as const,
};

/** How cmg-client reports a refused state folder: an Error, shown as one line. */
async function stateRefusal(attempt: Promise<unknown>): Promise<string> {
  const error = await attempt.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  const line = errorLine('cmg-client', error);
  expect(line).not.toContain('\n');
  return line;
}

describe('hostile input: device state folder', () => {
  // cmg-client keeps the device key and token in its state folder. Whoever can write there
  // can swap them, so a folder writable by group or others, or owned by another user, is
  // refused with one line; a folder cmg-client creates is 0700; an existing folder's mode is
  // never changed (it used to be chmod-ed to 0700: `--state /tmp` would lock /tmp).
  function folder(mode: number, files: Record<string, string> = {}): string {
    const dir = join(mkdtempSync(join(tmpdir(), 'cmg-state-attack-')), 'state');
    mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    chmodSync(dir, mode);
    return dir;
  }

  function modeOf(dir: string): number {
    return statSync(dir).mode & 0o7777;
  }

  it('a folder cmg-client creates is 0700, parents included, whatever the umask', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cmg-state-attack-'));
    const dir = join(base, 'nested', 'state');
    const umask = process.umask(0);
    try {
      await new DeviceState(dir).saveToken(tokenState);
    } finally {
      process.umask(umask);
    }
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(base, 'nested'))).toBe(0o700);
    expect(statSync(join(dir, 'token.json')).mode & 0o777).toBe(0o600);
  });

  it('an existing private folder keeps its mode (0750 stays 0750, not chmod-ed to 0700)', async () => {
    const dir = folder(0o750);
    await new DeviceState(dir).saveToken(tokenState);
    expect(modeOf(dir)).toBe(0o750);
    expect(readdirSync(dir)).toContain('token.json');
  });

  it('a shared folder (1777, holding another file) is refused with one line, left as it was, nothing written', async () => {
    const dir = folder(0o1777, { 'someone-elses-file': 'x' });
    const line = await stateRefusal(new DeviceState(dir).saveToken(tokenState));
    expect(line).toMatch(/^cmg-client: refusing the state folder: .* is writable by group and others \(mode 1777\)/);
    expect(modeOf(dir)).toBe(0o1777);
    expect(readdirSync(dir)).toEqual(['someone-elses-file']);
  });

  it('a group-writable folder (0770) is refused, left as it was, nothing written', async () => {
    const dir = folder(0o770);
    const line = await stateRefusal(new DeviceState(dir).saveToken(tokenState));
    expect(line).toMatch(/is writable by group \(mode 0770\)/);
    expect(modeOf(dir)).toBe(0o770);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a token planted in a folder writable by others is not read', async () => {
    const dir = folder(0o777, { 'token.json': JSON.stringify(tokenState) });
    const line = await stateRefusal(new DeviceState(dir).loadToken());
    expect(line).toMatch(/refusing the state folder: .* writable by group and others/);
  });

  it('a folder owned by another user is refused, its owner and mode unchanged', async () => {
    // As root, a folder handed to "nobody"; otherwise a folder root owns (/usr): either way
    // not this user's.
    const isRoot = process.getuid?.() === 0;
    const dir = isRoot ? folder(0o755) : '/usr';
    if (isRoot) chownSync(dir, 65534, 65534);
    const before = statSync(dir);
    const line = await stateRefusal(new DeviceState(dir).saveToken(tokenState));
    expect(line).toMatch(/refusing the state folder: .* belongs to user \d+, not to this user/);
    const after = statSync(dir);
    expect({ uid: after.uid, mode: after.mode }).toEqual({ uid: before.uid, mode: before.mode });
    expect(readdirSync(dir)).not.toContain('token.json');
  });
});

describe('attack review: bulk-token refusals before proof work, and their audit cap', () => {
  // A blocked, expired or used-up bulk token is refused on one read of its record, before
  // the proof is looked at (decision 0012): its holder gets no proof verification, no
  // replay-cache row, and at most a capped number of audit rows (decision 0009).
  const admin = bearer(testAdminKey);
  /** The rows of every table whose name starts with `table` (the replay cache has shards). */
  const rowsOf = async (table: string) =>
    Object.entries(await dumpTables(services.config.tablePrefix))
      .filter(([name]) => name.startsWith(`${services.config.tablePrefix}${table}`))
      .flatMap(([, rows]) => rows);
  const garbageProof = (token: string) => invoke(registerDevice, { path: '/api/register', headers: bearer(token), body: { proof: 'not-a-jws' } });

  /** Counts signature verifications (X.509 self-signatures and proofs) while `work` runs. */
  async function verificationsDuring<T>(work: () => Promise<T>): Promise<{ result: T; verifications: number }> {
    const selfSignatures = jest.spyOn(X509Certificate.prototype, 'verify');
    const signatures = jest.spyOn(nodeCrypto, 'verify');
    try {
      const result = await work();
      return { result, verifications: selfSignatures.mock.calls.length + signatures.mock.calls.length };
    } finally {
      selfSignatures.mockRestore();
      signatures.mockRestore();
    }
  }

  async function blockedToken(): Promise<{ id: string; token: string }> {
    const token = await newBulkToken();
    expect((await invoke(blockBulkToken, { path: '/x', headers: admin, params: { id: token.id } })).status).toBe(200);
    return token;
  }

  it('a blocked bulk token with a valid proof: 401 token_blocked, no replay-cache row, no proof signature verified', async () => {
    const token = await blockedToken();
    const call = await deviceCall(await createDeviceIdentity('ec'), '/api/register', { bearer: token.token, now: services.clock.now() });
    // One verification is the bulk token's own signature (its cached verification may make it none).
    const { verifications } = await verificationsDuring(() => refused(() => invoke(registerDevice, call), 401, 'token_blocked'));
    expect(verifications).toBeLessThanOrEqual(1);
  });

  it('a blocked bulk token with a proof that is not even a JWS: 401 token_blocked (the token is refused before the proof is read)', async () => {
    const token = await blockedToken();
    await refused(() => garbageProof(token.token), 401, 'token_blocked');
  });

  it('a used-up bulk token, a new device, a proof that is not even a JWS: 401 token_used_up', async () => {
    const once = await newBulkToken({ maxUses: 1 });
    expect((await register(once.token, await createDeviceIdentity('ec'))).status).toBe(201);
    await refused(() => garbageProof(once.token), 401, 'token_used_up');
  });

  it('a used-up bulk token, a new device with a valid proof: 401 token_used_up, no replay-cache row', async () => {
    const once = await newBulkToken({ maxUses: 1 });
    expect((await register(once.token, await createDeviceIdentity('ec'))).status).toBe(201);
    await refused(async () => register(once.token, await createDeviceIdentity('ec')), 401, 'token_used_up');
  });

  it('a used-up bulk token still registers again the device that used it (a repeated registration takes no use): 201', async () => {
    const once = await newBulkToken({ maxUses: 1 });
    const device = await createDeviceIdentity('ec');
    expect((await register(once.token, device)).status).toBe(201);
    expect((await register(once.token, device)).status).toBe(201);
  });

  it('a bulk token unblocked again registers at once on this instance: 201', async () => {
    const token = await blockedToken();
    await refused(() => garbageProof(token.token), 401, 'token_blocked');
    expect((await invoke(unblockBulkToken, { path: '/x', headers: admin, params: { id: token.id } })).status).toBe(200);
    expect((await register(token.token, await createDeviceIdentity('ec'))).status).toBe(201);
  });

  it('a refusal is remembered 10 s per instance: an unblock on another instance takes effect there after that, a block at once', async () => {
    const clock = new TestClock(services.clock.now());
    const other = await createServices(services.config, { clock, signer: services.signer, admin: services.admin });
    const token = await blockedToken();
    const onOther = async (work: () => Promise<Answer>) => {
      useServices(other);
      try {
        return await work();
      } finally {
        useServices(services);
      }
    };
    const registerOnOther = async () => onOther(async () => invoke(registerDevice, await deviceCall(await createDeviceIdentity('ec'), '/api/register', { bearer: token.token, now: clock.now() })));
    expect((await registerOnOther()).body.code).toBe('token_blocked');
    expect((await invoke(unblockBulkToken, { path: '/x', headers: admin, params: { id: token.id } })).status).toBe(200);
    expect((await registerOnOther()).body.code).toBe('token_blocked');
    clock.advance(10);
    expect((await registerOnOther()).status).toBe(201);
    // Active tokens are never remembered: a block elsewhere refuses at once.
    expect((await invoke(blockBulkToken, { path: '/x', headers: admin, params: { id: token.id } })).status).toBe(200);
    expect((await registerOnOther()).body.code).toBe('token_blocked');
  });

  it('a flood of 1,000 registrations with a blocked bulk token, each with a fresh valid proof: all 401 token_blocked, at most 10 audit rows, no replay-cache row', async () => {
    const token = await blockedToken();
    const device = await createDeviceIdentity('ec');
    const calls = await Promise.all(Array.from({ length: 1000 }, () => deviceCall(device, '/api/register', { bearer: token.token, now: services.clock.now() })));
    const replayBefore = (await rowsOf('replay')).length;
    const auditBefore = (await rowsOf(TableAuditStore.tableName)).length;
    const statuses = new Map<string, number>();
    for (let i = 0; i < calls.length; i += 25) {
      const answers = await Promise.all(calls.slice(i, i + 25).map((call) => invoke(registerDevice, call)));
      for (const answer of answers) statuses.set(`${answer.status} ${String(answer.body.code)}`, (statuses.get(`${answer.status} ${String(answer.body.code)}`) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ '401 token_blocked': 1000 });
    const audit = await rowsOf(TableAuditStore.tableName);
    const refusalsOfToken = audit.filter((row) => String(row.details ?? '').includes(token.id));
    expect(refusalsOfToken.length).toBeGreaterThanOrEqual(1);
    expect(refusalsOfToken.length).toBeLessThanOrEqual(10);
    expect(audit.length - auditBefore).toBe(refusalsOfToken.length);
    expect((await rowsOf('replay')).length).toBe(replayBefore);
  }, 60_000);
});

describe('attack review: token pacing (docs/protocol.md, fleet operations)', () => {
  // A device renewing in a loop: only TOKEN_ISSUE_BURST tokens are issued per window; the
  // rest are 429 rate_limited with Retry-After, make no Key Vault signature and store
  // nothing but their proof's replay-cache row.
  const burst = 3;
  const windowMinutes = 60;
  let standIn: KeyVaultStandIn;
  let instance: Services;
  let clock: TestClock;

  beforeAll(async () => {
    clock = new TestClock(services.clock.now());
    standIn = await KeyVaultStandIn.start({ keyType: 'RSA', createdOn: clock.now() - 365 * day, now: () => clock.now() });
    const signer = await KeyVaultSigner.create(standIn.signerOptions({ clock, refreshIntervalSeconds: 3600 }));
    instance = await createServices(testConfig({ TOKEN_ISSUE_BURST: String(burst), TOKEN_ISSUE_WINDOW_MINUTES: String(windowMinutes) }), { clock, signer, admin: services.admin });
  }, 60_000);

  afterAll(async () => {
    useServices(services);
    await standIn?.close();
  });

  it(`a burst of renewals from one device: ${burst} issued, the rest 429 rate_limited with Retry-After, no signature made and nothing stored for them`, async () => {
    useServices(instance);
    try {
      const device = await createDeviceIdentity('ec');
      const registered = await invoke(registerInternal, { ...(await deviceCall(device, '/api/register/internal', { now: clock.now() })), headers: { 'x-forwarded-for': '127.0.0.1' } });
      expect(registered.status).toBe(201);
      // A whole window later, so the registration's own token is out of the count whatever its shape.
      clock.advance(windowMinutes * 60 + 1);
      let token = registered.body.token as string;
      const renewOnce = async () => invoke(renewDeviceToken, await deviceCall(device, '/api/renew', { bearer: token, now: clock.now() }));
      for (let i = 0; i < burst; i++) {
        const renewed = await renewOnce();
        expect(renewed.status).toBe(200);
        token = renewed.body.token as string;
      }
      const signsBefore = standIn.counts.sign;
      for (let i = 0; i < 5; i++) {
        // The proof verified, so its jti takes its place in the replay cache, as for every
        // refusal after the proof (decision 0012); nothing else is written.
        const answer = await refusedIn(instance.config.tablePrefix, renewOnce, 429, 'rate_limited', { replayMayGrow: true });
        const retryAfter = Number(answer.headers.get('retry-after'));
        expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowMinutes * 60).toBe(true);
      }
      expect(standIn.counts.sign).toBe(signsBefore);
    } finally {
      useServices(services);
    }
  }, 60_000);
});

describe('attack review: TRACE and methods the library cannot represent', () => {
  let host: InProcessHost;

  beforeAll(async () => {
    useServices(services);
    host = await startInProcessHost();
  });

  afterAll(async () => {
    await host?.close();
  });

  it('no function lists a method @azure/functions cannot build a request for (TRACE, CONNECT)', async () => {
    await importFunctionFiles();
    const unrepresentable: string[] = [];
    for (const registration of registeredFunctions()) {
      const trigger = triggerOf(registration);
      for (const method of trigger?.type === 'httpTrigger' ? (trigger.methods ?? []) : []) {
        try {
          new Request('http://localhost/', { method });
        } catch {
          unrepresentable.push(`${registration.name}: ${method}`);
        }
      }
    }
    expect(unrepresentable).toEqual([]);
  });

  it.each(['/api/health', '/api/devices', '/api/no-such-thing', '/api'])('TRACE %s through the local host: the host’s empty 404 (no function takes it), nothing logged as failed', async (path) => {
    host.logs.length = 0;
    const answer = await rawRequest(host.port, `TRACE ${path} HTTP/1.1\r\nHost: 127.0.0.1:${host.port}`);
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 404, body: '' });
    expect(host.logs.filter((line) => /Failed|error/.test(line))).toEqual([]);
  });
});

describe('attack review: DNS rebinding and cross-site requests to the local host', () => {
  // A page on evil.example whose name is re-pointed at 127.0.0.1 reaches the local host with
  // `Host: evil.example`; a page anywhere can send a simple cross-site POST to it.
  let host: InProcessHost;
  let named: InProcessHost;

  beforeAll(async () => {
    useServices(services);
    host = await startInProcessHost();
    // As main.ts configures it for HOST=devbox.example.
    named = await startInProcessHost({ hostSetting: 'devbox.example' });
  });

  afterAll(async () => {
    await Promise.all([host?.close(), named?.close()]);
  });

  async function refusedRaw(port: number, head: string, body: string, status: number, code: string): Promise<RawAnswer> {
    const before = await dumpTables(services.config.tablePrefix);
    const answer = await rawRequest(port, head, body);
    expect({ status: answer.status, type: answer.headers['content-type'] }).toEqual({ status, type: 'application/problem+json' });
    expect(JSON.parse(answer.body)).toMatchObject({ status, code });
    expect(tableChanges(before, await dumpTables(services.config.tablePrefix), services.config.tablePrefix)).toEqual([]);
    return answer;
  }

  async function internalRegistration(): Promise<string> {
    const call = await deviceCall(await createDeviceIdentity('ec'), '/api/register/internal', { now: services.clock.now() });
    return JSON.stringify(call.body);
  }

  it('POST /api/register/internal with Host: evil.example (a rebound name): 400 invalid_request, no token, nothing stored', async () => {
    const body = await internalRegistration();
    const answer = await refusedRaw(host.port, `POST /api/register/internal HTTP/1.1\r\nHost: evil.example:${host.port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}`, body, 400, 'invalid_request');
    expect(JSON.parse(answer.body).detail).toMatch(/evil\.example/);
  });

  it.each(['evil.example', 'localhost.evil.example', '127.0.0.1.nip.io', 'devbox.example'])('GET /api/health with Host: %s on a loopback host: 400 invalid_request', async (name) => {
    await refusedRaw(host.port, `GET /api/health HTTP/1.1\r\nHost: ${name}:${host.port}`, '', 400, 'invalid_request');
  });

  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '[::1]'])('GET /api/health with Host: %s (a loopback name): 200', async (name) => {
    expect((await rawRequest(host.port, `GET /api/health HTTP/1.1\r\nHost: ${name}:${host.port}`)).status).toBe(200);
  });

  it('the configured HOST name is accepted beside the loopback names, and nothing else', async () => {
    expect((await rawRequest(named.port, `GET /api/health HTTP/1.1\r\nHost: devbox.example:${named.port}`)).status).toBe(200);
    expect((await rawRequest(named.port, `GET /api/health HTTP/1.1\r\nHost: localhost:${named.port}`)).status).toBe(200);
    await refusedRaw(named.port, `GET /api/health HTTP/1.1\r\nHost: evil.example:${named.port}`, '', 400, 'invalid_request');
  });

  it('POST /admin/functions/purgeExpired with Host: evil.example: 400 invalid_request, the purge does not run', async () => {
    host.logs.length = 0;
    await refusedRaw(host.port, `POST /admin/functions/purgeExpired HTTP/1.1\r\nHost: evil.example:${host.port}\r\nContent-Length: 0`, '', 400, 'invalid_request');
    expect(host.logs.filter((line) => /purgeExpired/.test(line))).toEqual([]);
  });

  it.each([
    ['Origin: https://evil.example, text/plain (a simple cross-site POST)', 'Origin: https://evil.example\r\nContent-Type: text/plain', 403, 'forbidden'],
    ['Origin: https://evil.example, no body', 'Origin: https://evil.example', 403, 'forbidden'],
    ['Origin: null (a sandboxed page)', 'Origin: null', 403, 'forbidden'],
    ['Sec-Fetch-Site: cross-site, no Origin', 'Sec-Fetch-Site: cross-site', 403, 'forbidden'],
    ['Sec-Fetch-Site: same-site (another port of this machine)', 'Sec-Fetch-Site: same-site', 403, 'forbidden'],
  ])('POST /admin/functions/purgeExpired, %s: refused, the purge does not run', async (_name, headers, status, code) => {
    host.logs.length = 0;
    await refusedRaw(host.port, `POST /admin/functions/purgeExpired HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\n${headers}\r\nContent-Type: application/json\r\nContent-Length: 2`, '{}', status, code);
    expect(host.logs.filter((line) => /purgeExpired/.test(line))).toEqual([]);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'POST /admin/functions/purgeExpired with the body a simple cross-site request can carry (%s), no Origin: the host’s empty 415, the purge does not run',
    async (type) => {
      host.logs.length = 0;
      const before = await dumpTables(services.config.tablePrefix);
      const answer = await rawRequest(host.port, `POST /admin/functions/purgeExpired HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nContent-Type: ${type}\r\nContent-Length: 2`, '{}');
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 415, body: '' });
      expect(tableChanges(before, await dumpTables(services.config.tablePrefix), services.config.tablePrefix)).toEqual([]);
      expect(host.logs.filter((line) => /purgeExpired/.test(line))).toEqual([]);
    },
  );

  it('POST /admin/functions/purgeExpired from curl (no Origin, a JSON body) or from the host’s own origin: 202', async () => {
    const origin = `http://127.0.0.1:${host.port}`;
    const json = { 'content-type': 'application/json' };
    expect((await fetch(`${origin}/admin/functions/purgeExpired`, { method: 'POST', headers: json, body: '{}' })).status).toBe(202);
    expect((await fetch(`${origin}/admin/functions/purgeExpired`, { method: 'POST', headers: { ...json, origin, 'sec-fetch-site': 'same-origin' }, body: '{}' })).status).toBe(202);
  });
});

describe('attack review: forged list continuations', () => {
  const admin = bearer(testAdminKey);
  const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  const listWith = (continuation: string) => invoke(listDevices, { method: 'GET', path: `/api/devices?continuation=${encodeURIComponent(continuation)}`, headers: admin });
  const auditWith = (continuation: string) => invoke(listAudit, { method: 'GET', path: `/api/audit?continuation=${encodeURIComponent(continuation)}`, headers: admin });

  it.each([
    ['nextRowKey an object', { nextPartitionKey: 'a', nextRowKey: {} }],
    ['nextRowKey an array', { nextPartitionKey: 'a', nextRowKey: [1] }],
    ['nextRowKey a number', { nextPartitionKey: 'a', nextRowKey: 1 }],
    ['nextRowKey null', { nextPartitionKey: 'a', nextRowKey: null }],
    ['nextPartitionKey an object', { nextPartitionKey: {}, nextRowKey: 'device' }],
    ['another key beside them', { nextPartitionKey: 'a', nextRowKey: 'device', filter: "PartitionKey ne ''" }],
    ['a 1,100-character nextPartitionKey', { nextPartitionKey: 'a'.repeat(1100), nextRowKey: 'device' }],
    ['an array', [1]],
    ['an empty object', {}],
    ['a string', 'nextPartitionKey'],
  ])('GET /api/devices with a continuation whose %s: 400 invalid_request naming continuation', async (_name, value) => {
    const answer = await refused(() => listWith(forged(value)), 400, 'invalid_request');
    expect(answer.body.detail).toMatch(/continuation/);
  });

  it('GET /api/devices with a continuation a previous page returned: 200', async () => {
    const first = await invoke(listDevices, { method: 'GET', path: '/api/devices?limit=1', headers: admin });
    expect(first.status).toBe(200);
    if (first.body.continuation !== undefined) expect((await listWith(first.body.continuation as string)).status).toBe(200);
    // Without rows after the first, a hand-made one of the right shape still reads.
    expect((await listWith(forged({ nextPartitionKey: 'a', nextRowKey: 'device' }))).status).toBe(200);
  });

  it.each([
    ['r an object', { d: '2026-01-01', r: {} }],
    ['d an array', { d: ['2026-01-01'] }],
    ['another key', { d: '2026-01-01', x: 1 }],
    ['an array', [1]],
  ])('GET /api/audit with a continuation whose %s: 400 invalid_request naming continuation', async (_name, value) => {
    const answer = await refused(() => auditWith(Buffer.from(JSON.stringify(value)).toString('base64url')), 400, 'invalid_request');
    expect(answer.body.detail).toMatch(/continuation/);
  });
});

describe('attack review: a state folder reached through a folder others can write', () => {
  // Whoever can write to any folder on the way to the state folder can swap what comes after
  // it (a symlink, or the folder itself), so every folder from the state folder up is checked.
  /** base/ (0700) holding a private state folder base/real/state and a folder base/shared of `mode`. */
  function layout(sharedMode: number): { base: string; real: string; shared: string } {
    const base = mkdtempSync(join(tmpdir(), 'cmg-state-parents-'));
    const real = join(base, 'real', 'state');
    mkdirSync(real, { recursive: true, mode: 0o700 });
    chmodSync(join(base, 'real'), 0o700);
    const shared = join(base, 'shared');
    mkdirSync(shared);
    chmodSync(shared, sharedMode);
    return { base, real, shared };
  }

  it('a symlink to a private state folder, inside a world-writable non-sticky folder: refused naming that folder, nothing written', async () => {
    const { real, shared } = layout(0o777);
    symlinkSync(real, join(shared, 'link'));
    const line = await stateRefusal(new DeviceState(join(shared, 'link')).saveToken(tokenState));
    expect(line).toMatch(new RegExp(`refusing the state folder: .*${shared.replace(/[/.]/g, '\\$&')} .*writable by group and others \\(mode 0777\\)`));
    expect(readdirSync(real)).toEqual([]);
  });

  it('the same symlink read from: refused before the token is read', async () => {
    const { real, shared } = layout(0o777);
    writeFileSync(join(real, 'token.json'), JSON.stringify(tokenState), { mode: 0o600 });
    symlinkSync(real, join(shared, 'link'));
    expect(await stateRefusal(new DeviceState(join(shared, 'link')).loadToken())).toMatch(/refusing the state folder: .*writable by group and others/);
  });

  it('a private state folder inside a world-writable non-sticky folder (no symlink): refused', async () => {
    const { shared } = layout(0o777);
    const dir = join(shared, 'state');
    mkdirSync(dir, { mode: 0o700 });
    expect(await stateRefusal(new DeviceState(dir).saveToken(tokenState))).toMatch(/refusing the state folder: .*writable by group and others \(mode 0777\)/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a private state folder two levels below a group-writable folder: refused', async () => {
    const { shared } = layout(0o775);
    const dir = join(shared, 'mine', 'state');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(join(shared, 'mine'), 0o700);
    expect(await stateRefusal(new DeviceState(dir).saveToken(tokenState))).toMatch(/writable by group \(mode 0775\)/);
  });

  it('a state folder to be created inside a world-writable non-sticky folder: refused, nothing created', async () => {
    const { shared } = layout(0o777);
    expect(await stateRefusal(new DeviceState(join(shared, 'new', 'state')).saveToken(tokenState))).toMatch(/writable by group and others/);
    expect(readdirSync(shared)).toEqual([]);
  });

  it('a symlink inside a root-owned sticky folder that belongs to another user: refused', async () => {
    const { real, shared } = layout(0o1777);
    const link = join(shared, 'link');
    symlinkSync(real, link);
    // The symlink's owner may replace it in a sticky folder: as root, hand it to "nobody".
    if (process.getuid?.() !== 0) return;
    lchownSync(link, 65534, 65534);
    expect(await stateRefusal(new DeviceState(link).saveToken(tokenState))).toMatch(/refusing the state folder: .*link.* belongs to user 65534/);
  });

  it('a state folder inside a sticky world-writable folder owned by another user (its owner may replace it): refused', async () => {
    if (process.getuid?.() !== 0) return;
    const { shared } = layout(0o1777);
    chownSync(shared, 65534, 65534);
    const dir = join(shared, 'state');
    mkdirSync(dir, { mode: 0o700 });
    expect(await stateRefusal(new DeviceState(dir).saveToken(tokenState))).toMatch(/belongs to user 65534/);
  });

  it('a private state folder under the root-owned sticky temporary folder, or reached by a private symlink: accepted', async () => {
    const { base, real } = layout(0o755);
    await new DeviceState(real).saveToken(tokenState);
    symlinkSync(real, join(base, 'link'));
    expect(await new DeviceState(join(base, 'link')).loadToken()).toEqual(tokenState);
  });
});

describe('attack review: cleartext and the admin key on the command line', () => {
  // Failed before the fix: both admin CLIs sent the admin key to any http:// host (exit 0 or 1,
  // the listener saw the key), and --admin-key was the only way to give a key on the command line.
  const key = 'c'.repeat(64);
  const seen: string[] = [];
  let listener: Server;
  let port = 0;
  // An address of this machine that is not loopback, where one exists: the listener is reached
  // over a real interface, as a service on the network would be.
  const external = Object.values(networkInterfaces()).flat().find((address) => address && !address.internal && address.family === 'IPv4')?.address;

  beforeAll(async () => {
    listener = createServer((request, response) => {
      seen.push(request.headers.authorization ?? '');
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
    });
    await new Promise<void>((done) => listener.listen(0, '0.0.0.0', done));
    port = (listener.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((done) => listener.close(done));
  });

  function cli(tool: string, args: string[], input?: string): Promise<{ code: number | null; stderr: string; spawnargs: string[] }> {
    return new Promise((done, fail) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CMG_')));
      const child = spawn(process.execPath, [join(projectRoot, 'dist', 'cli', tool), ...args], { cwd: mkdtempSync(join(tmpdir(), 'cmg-cleartext-')), env, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', fail);
      child.once('close', (code) => done({ code, stderr, spawnargs: child.spawnargs }));
      child.stdin.end(input ?? '');
    });
  }

  it('the admin key over http:// to another machine: both admin CLIs exit 2 and send nothing; --allow-http is needed to send it', async () => {
    const url = `http://${external ?? 'cmg.example.invalid'}:${port}`;
    const before = seen.length;
    for (const [tool, args] of [['bulkRegistrationToken.js', ['list']], ['cmgAdmin.js', ['tokens', 'list']]] as const) {
      const refused = await cli(tool, [...args, '--url', url, '--admin-key', key]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/--url is http:\/\/ to .*, which is not this machine: the admin credential would travel in clear; use https:\/\/.*, or pass --allow-http/);
    }
    expect(seen.length).toBe(before);
    if (external !== undefined) {
      expect((await cli('cmgAdmin.js', ['tokens', 'list', '--url', url, '--admin-key', key, '--allow-http'])).code).toBe(0);
      expect(seen.slice(before)).toEqual([`Bearer ${key}`]);
    }
  });

  it('--admin-key-file - takes the key from standard input: the service gets it, the process list never shows it', async () => {
    const before = seen.length;
    const ran = await cli('cmgAdmin.js', ['tokens', 'list', '--url', `http://127.0.0.1:${port}`, '--admin-key-file', '-'], `${key}\n`);
    expect(ran.code).toBe(0);
    expect(seen.slice(before)).toEqual([`Bearer ${key}`]);
    expect(ran.spawnargs.join(' ')).not.toContain(key);
  });
});

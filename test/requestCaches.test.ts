import { createDeviceIdentity, type DeviceIdentity } from '../cli/device/identity.js';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { maxClockSkewSeconds } from '../shared/clock.js';
import { DeviceCertificateChecker } from '../shared/proof/certificate.js';
import { verifyCompactJws } from '../shared/proof/jwsSignature.js';
import { tokenTypes } from '../shared/tokens/jws.js';
import { deviceCall, opensslIdentity } from './support/devices.js';
import { adminBulkToken, enrolledDevice } from './support/enrol.js';
import { invoke } from './support/invoke.js';
import { b64url, certificateBase64, proofParts, segment, signProofParts } from './support/jwsForge.js';
import { installTestServices, type TestServices } from './support/services.js';

const day = 86_400;
let services: TestServices;
let bulkToken: string;
let start: number;

beforeAll(async () => {
  services = await installTestServices();
  start = services.clock.now();
  bulkToken = await adminBulkToken();
});

afterEach(() => {
  services.clock.seconds = start;
});

const authenticate = async (device: DeviceIdentity, token: string) =>
  invoke(authenticateDevice, await deviceCall(device, '/api/authenticate', { bearer: token, now: services.clock.now() }));

describe('remembered device tokens (TokenVerifier)', () => {
  it('a token verified once still expires on time: accepted until exp + 299 s, token_expired from exp + 300 s', async () => {
    const { device, token } = await enrolledDevice(bulkToken, services.clock.now());
    expect((await authenticate(device, token)).status).toBe(200);
    services.clock.advance(90 * day + maxClockSkewSeconds - 1);
    expect((await services.verifier.verify(token, tokenTypes.device, 'device token')).sub).toBeDefined();
    services.clock.advance(1);
    await expect(services.verifier.verify(token, tokenTypes.device, 'device token')).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('a device token remembered as verified is still refused where a bulk token is expected', async () => {
    const { token } = await enrolledDevice(bulkToken, services.clock.now());
    await services.verifier.verify(token, tokenTypes.device, 'device token');
    await expect(services.verifier.verify(token, tokenTypes.bulk, 'bulk token')).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('remembered certificates (DeviceCertificateChecker)', () => {
  it('checks the validity period on every use, even for a certificate it has seen', () => {
    const device = opensslIdentity(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const x5c = [certificateBase64(device)];
    const checker = new DeviceCertificateChecker(4);
    const now = services.clock.now();
    expect(checker.check(x5c, now).algorithms).toEqual(['ES256']);
    // The openssl certificate is valid for 30 days.
    expect(() => checker.check(x5c, now + 31 * day)).toThrow(expect.objectContaining({ code: 'invalid_certificate' }));
  });

  it('refuses a certificate that is not self-signed however often it is sent, and stays bounded', () => {
    const checker = new DeviceCertificateChecker(2);
    const good = [0, 1, 2].map(() => opensslIdentity(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']));
    for (const device of good) checker.check([certificateBase64(device)], services.clock.now());
    // Three certificates through a cache of two: each is still checked correctly.
    for (const device of good) expect(checker.check([certificateBase64(device)], services.clock.now()).algorithms).toEqual(['ES256']);
    const der = Buffer.from(good[0]?.certificateDer ?? []);
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
    for (let i = 0; i < 2; i++) expect(() => checker.check([der.toString('base64')], services.clock.now())).toThrow(expect.objectContaining({ code: 'invalid_certificate' }));
  });
});

describe('proof signatures (verifyCompactJws)', () => {
  const parts = (device: DeviceIdentity) => proofParts(device, { path: '/api/authenticate', iat: services.clock.now(), jti: 'jti-0123456789abcdef' });

  it('verifies RS256, PS256 and ES256 proofs made the way devices make them', async () => {
    for (const [keyType, alg] of [['rsa', 'RS256'], ['rsa', 'PS256'], ['ec', 'ES256']] as const) {
      const device = await createDeviceIdentity(keyType);
      const { header, claims } = parts(device);
      const jws = signProofParts(device, { ...header, alg }, segment(claims));
      const publicKey = new DeviceCertificateChecker().check(header.x5c, services.clock.now()).publicKey;
      expect(JSON.parse(verifyCompactJws(jws, alg, publicKey, { ...header, alg }).toString('utf8'))).toMatchObject(claims);
    }
  });

  it('refuses crit and b64 headers, standard-base64 or padded segments, and a DER-encoded ECDSA signature', async () => {
    const device = await createDeviceIdentity('ec');
    const { header, claims } = parts(device);
    const publicKey = new DeviceCertificateChecker().check(header.x5c, services.clock.now()).publicKey;
    const good = signProofParts(device, header, segment(claims));
    const [h, p, s] = good.split('.') as [string, string, string];
    const code = (jws: string, extra: Record<string, unknown> = {}) => {
      try {
        verifyCompactJws(jws, 'ES256', publicKey, { ...header, ...extra });
        return 'accepted';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(code(good)).toBe('accepted');
    expect(code(good, { crit: ['exp'] })).toBe('invalid_proof');
    expect(code(good, { b64: false })).toBe('invalid_proof');
    expect(code(`${h}.${p}.${s}=`)).toBe('invalid_proof');
    expect(code(`${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(s) ? '' : '+'}`)).toBe('invalid_proof');
    expect(code(`${h}.${p}`)).toBe('invalid_proof');
    const { sign } = await import('node:crypto');
    const der = sign('sha256', Buffer.from(`${h}.${p}`), device.privateKey);
    expect(code(`${h}.${p}.${b64url(der)}`)).toBe('proof_rejected');
    expect(code(`${h}.${p}.${s.slice(0, -4)}AAAA`)).toBe('proof_rejected');
  });
});

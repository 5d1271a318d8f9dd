import 'reflect-metadata';
import { createECDH, createHash, createPrivateKey, createPublicKey, sign, webcrypto, type JsonWebKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { signProof, type DeviceIdentity } from '../cli/device/identity.js';
import { callHost } from './hostProcess.js';
import type { LoadRequest } from './loadGenerator.js';
import type { SeededRandom } from './random.js';
import { seededRsaKey } from '../testkit/seededRsa.js';

// node's WebCrypto is the standard one; only the DOM type name differs (as in cli/device/identity.ts).
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A device of the bench: an identity whose key comes from the seeded generator. */
export interface BenchDevice {
  identity: DeviceIdentity;
  /** base64url JSON of the proof header, the same for every proof this device signs. */
  proofHeader: string;
  /** Set once the device has registered. */
  deviceId?: string;
  token?: string;
}

/** The device key types of the bench: cmg-client's default (RSA 2048, RS256) and its `--key-type ec` (P-256, ES256). */
export type BenchKeyType = 'rsa' | 'ec';

export const keyTypeNames: Record<BenchKeyType, string> = { rsa: 'RSA 2048 (RS256)', ec: 'EC P-256 (ES256)' };

const webAlgorithms = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ec: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

/**
 * A device identity like `createDeviceIdentity(keyType)` makes, but with its private key
 * drawn from `random`, so a seed fixes the keys. (The certificate still differs between
 * runs: it carries the run's time, and ECDSA signatures are randomised.)
 */
export async function seededDevice(random: SeededRandom, label: string, keyType: BenchKeyType = 'rsa', key?: JsonWebKey): Promise<BenchDevice> {
  // `key`: another device's private key, for a new certificate (and so a new device) on a known key.
  const privateJwk = key ?? (keyType === 'rsa' ? seededRsaKey(random).export({ format: 'jwk' }) : seededEcJwk(random));
  const publicJwk = createPublicKey({ key: privateJwk, format: 'jwk' }).export({ format: 'jwk' });
  const algorithm = webAlgorithms[keyType];
  const keys = {
    privateKey: await webcrypto.subtle.importKey('jwk', privateJwk, algorithm, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']),
  };
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `1${random.bytes(15).toString('hex')}`,
    name: `CN=cmg-bench-device-${label}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 30 * 86_400_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const identity: DeviceIdentity = {
    privateKey: createPrivateKey({ key: privateJwk as Parameters<typeof createPrivateKey>[0] & JsonWebKey, format: 'jwk' }),
    certificateDer: Buffer.from(certificate.rawData),
    alg: keyType === 'rsa' ? 'RS256' : 'ES256',
  };
  return { identity, proofHeader: proofHeaderOf(identity) };
}

function seededEcJwk(random: SeededRandom): JsonWebKey {
  const ecdh = createECDH('prime256v1');
  for (let attempt = 0; ; attempt++) {
    try {
      ecdh.setPrivateKey(random.bytes(32));
      break;
    } catch (error) {
      // A 32-byte value at or above the curve order (odds about 2^-32): draw again.
      if (attempt > 10) throw error;
    }
  }
  const point = ecdh.getPublicKey();
  return {
    kty: 'EC',
    crv: 'P-256',
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33, 65).toString('base64url'),
    d: ecdh.getPrivateKey().toString('base64url'),
  };
}

function proofHeaderOf(identity: DeviceIdentity): string {
  // The key order signProof (jose) writes: alg, typ, x5c.
  const header = { alg: identity.alg, typ: 'device-proof+jwt', x5c: [identity.certificateDer.toString('base64')] };
  return Buffer.from(JSON.stringify(header)).toString('base64url');
}

export function athOf(bearerToken: string): string {
  return createHash('sha256').update(bearerToken, 'ascii').digest('base64url');
}

/**
 * Signs a proof exactly as `signProof` (cli/device/identity.ts) does, with node:crypto
 * directly: about three times as fast as jose's SignJWT here, which matters when 100,000
 * proofs are signed ahead of a run. `checkProofSigner` holds the two to the same output.
 */
export function fastProof(
  device: BenchDevice,
  claims: { htm: string; htu: string; iat: number; jti: string; ath?: string | undefined },
): string {
  const ordered = { htm: claims.htm, htu: claims.htu, iat: claims.iat, jti: claims.jti, ...(claims.ath === undefined ? {} : { ath: claims.ath }) };
  const signingInput = `${device.proofHeader}.${Buffer.from(JSON.stringify(ordered)).toString('base64url')}`;
  // JWS ECDSA signatures are r || s (ignored for RSA).
  const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), { key: device.identity.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Fails unless fastProof's header and claims are byte for byte what signProof writes. */
export async function checkProofSigner(device: BenchDevice): Promise<void> {
  const options = { method: 'POST', url: 'http://127.0.0.1/api/authenticate', bearerToken: 'token', jti: 'bench-check-0000000001', iat: 1_700_000_000 };
  const reference = await signProof(device.identity, options);
  const ours = fastProof(device, { htm: 'POST', htu: options.url, iat: options.iat, jti: options.jti, ath: athOf(options.bearerToken) });
  const [refHeader, refPayload] = reference.split('.');
  const [ourHeader, ourPayload] = ours.split('.');
  if (refHeader !== ourHeader || refPayload !== ourPayload) {
    throw new Error(
      `the bench's proof signer no longer matches signProof:\n  ${JSON.stringify(decodeProtectedHeader(reference))} ${JSON.stringify(decodeJwt(reference))}\n` +
        `  ${JSON.stringify(decodeProtectedHeader(ours))} ${JSON.stringify(decodeJwt(ours))}`,
    );
  }
}

/** Hands out jtis that are unique within a run and fixed by the seed. */
export class JtiSource {
  private counter = 0;
  constructor(private readonly random: SeededRandom) {}

  next(): string {
    return `bench-${(this.counter++).toString(36).padStart(6, '0')}-${this.random.bytes(9).toString('base64url')}`;
  }
}

/** One device request (`POST /api/<path>` with `{"proof"}` and a bearer token), proof signed now. */
export function deviceRequest(origin: string, path: string, device: BenchDevice, bearer: string, jtis: JtiSource, ath = athOf(bearer)): LoadRequest {
  const proof = fastProof(device, { htm: 'POST', htu: `${origin}/api/${path}`, iat: Math.floor(Date.now() / 1000), jti: jtis.next(), ath });
  return {
    method: 'POST',
    path: `/api/${path}`,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ proof })),
  };
}

/**
 * `count` authenticate requests, each with a fresh proof, spread over `devices` in an order
 * the seed fixes (every device equally often, shuffled).
 */
export function authenticateRequests(origin: string, devices: readonly BenchDevice[], count: number, random: SeededRandom, jtis: JtiSource): LoadRequest[] {
  const order = random.shuffle(Array.from({ length: count }, (_, i) => i % devices.length));
  const aths = devices.map((device) => athOf(tokenOf(device)));
  return order.map((index) => {
    const device = devices[index] as BenchDevice;
    return deviceRequest(origin, 'authenticate', device, tokenOf(device), jtis, aths[index]);
  });
}

export function tokenOf(device: BenchDevice): string {
  if (device.token === undefined) throw new Error('the device has not registered');
  return device.token;
}

/** Makes `count` seeded devices (labels `<prefix>-<n>`). */
export async function seededDevices(random: SeededRandom, prefix: string, count: number, keyType: BenchKeyType = 'rsa'): Promise<BenchDevice[]> {
  const devices: BenchDevice[] = [];
  for (let i = 0; i < count; i++) devices.push(await seededDevice(random, `${prefix}-${i}`, keyType));
  return devices;
}

/** A bulk registration token from the host's admin API. */
export async function createBulkToken(origin: string, adminKey: string, description: string): Promise<string> {
  const { token } = await callHost<{ token: string }>(origin, 'POST', 'bulk-tokens', {
    bearer: adminKey,
    body: { lifetimeMinutes: 120, description },
    expect: 201,
  });
  return token;
}

/** Registers `devices` (set-up, not measured), a few at a time, and keeps their device tokens. */
export async function enrolDevices(origin: string, adminKey: string, devices: BenchDevice[], jtis: JtiSource): Promise<void> {
  const bulkToken = await createBulkToken(origin, adminKey, 'bench set-up');
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < devices.length; index = next++) {
      const device = devices[index] as BenchDevice;
      const { body } = deviceRequest(origin, 'register', device, bulkToken, jtis);
      const answer = await callHost<{ deviceId: string; token: string }>(origin, 'POST', 'register', {
        bearer: bulkToken,
        body: JSON.parse(String(body)) as unknown,
        expect: 201,
      });
      device.deviceId = answer.deviceId;
      device.token = answer.token;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

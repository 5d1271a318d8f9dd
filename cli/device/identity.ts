import 'reflect-metadata';
import { createPrivateKey, randomBytes, randomUUID, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SignJWT } from 'jose';
import { createHash } from 'node:crypto';

export type KeyType = 'rsa' | 'ec';

/** A device's key pair and its self-signed certificate. */
export interface DeviceIdentity {
  privateKey: KeyObject;
  certificateDer: Buffer;
  /** The proof algorithm this key signs with. */
  alg: 'RS256' | 'PS256' | 'ES256' | 'ES384';
}

// node's WebCrypto is the standard one; only the DOM type name differs.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const algorithms = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ec: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

/**
 * Makes a key pair and a self-signed certificate for it, as a device does once before it
 * registers. RSA 2048 (RS256) or EC P-256 (ES256).
 */
export async function createDeviceIdentity(
  keyType: KeyType = 'rsa',
  options: { commonName?: string; validDays?: number; notBefore?: Date } = {},
): Promise<DeviceIdentity> {
  const algorithm = algorithms[keyType];
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']));
  const notBefore = options.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? 3650) * 86_400_000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${options.commonName ?? `cmg-device-${randomUUID()}`}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    certificateDer: Buffer.from(certificate.rawData),
    alg: keyType === 'rsa' ? 'RS256' : 'ES256',
  };
}

/** Loads an identity from PEM (a PKCS#8 or traditional private key and a certificate). */
export function identityFromPem(privateKeyPem: string, certificatePem: string, alg?: DeviceIdentity['alg']): DeviceIdentity {
  const privateKey = createPrivateKey(privateKeyPem);
  const certificate = new X509Certificate(certificatePem);
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  return {
    privateKey,
    certificateDer: certificate.raw,
    alg: alg ?? (privateKey.asymmetricKeyType === 'ec' ? (curve === 'secp384r1' ? 'ES384' : 'ES256') : 'RS256'),
  };
}

export function identityToPem(identity: DeviceIdentity): { privateKeyPem: string; certificatePem: string } {
  const base64 = identity.certificateDer.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return {
    privateKeyPem: identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    certificatePem: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`,
  };
}

/** base64url SHA-256 of the certificate's DER: what the device token's cnf.x5t#S256 holds. */
export function thumbprintOf(identity: DeviceIdentity): string {
  return createHash('sha256').update(identity.certificateDer).digest('base64url');
}

export interface ProofOptions {
  method: string;
  url: string;
  bearerToken?: string;
  /** For tests: a fixed jti or iat. */
  jti?: string;
  iat?: number;
}

/** Signs a proof of possession for one request (docs/protocol.md section 3). */
export async function signProof(identity: DeviceIdentity, options: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: options.method.toUpperCase(),
    htu: options.url,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    jti: options.jti ?? randomUUID(),
  };
  if (options.bearerToken !== undefined) {
    claims.ath = createHash('sha256').update(options.bearerToken, 'ascii').digest('base64url');
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: identity.alg, typ: 'device-proof+jwt', x5c: [identity.certificateDer.toString('base64')] })
    .sign(identity.privateKey);
}

import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, generatePrimeSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { DeviceIdentity } from '../cli/device/identity.js';
import { gcd, rsaKeyFromPrimes } from './seededRsa.js';

// node's WebCrypto is the standard one; only the DOM type name differs (as in cli/device/identity.ts).
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * Device identities an attacker would make, for the attack tests and the bench's attackCost
 * part: self-signed certificates whose RSA keys are outside what the service accepts (an
 * exponent other than 65537, a modulus above 4096 bits), made with real keys that really
 * sign, so that only the service's own bounds refuse them.
 */

/**
 * An RSA key of `modulusBits` whose public exponent is a random odd number of `exponentBits`
 * bits: as expensive to verify with as an exponent can be (OpenSSL refuses exponents over 64
 * bits only for moduli above 3072 bits, so 3072 is the attacker's size).
 */
export function oversizedExponentKey(modulusBits = 3072, exponentBits = 3070): KeyObject {
  for (;;) {
    const p = generatePrimeSync(modulusBits / 2, { bigint: true });
    const q = generatePrimeSync(modulusBits / 2, { bigint: true });
    if (p === q || (p * q).toString(2).length !== modulusBits) continue;
    const phi = (p - 1n) * (q - 1n);
    for (let attempt = 0; attempt < 100; attempt++) {
      const random = BigInt(`0x${randomBytes(Math.ceil(exponentBits / 8)).toString('hex')}`) % (1n << BigInt(exponentBits));
      const e = random | (1n << BigInt(exponentBits - 1)) | 1n;
      if (gcd(e, phi) !== 1n) continue;
      return rsaKeyFromPrimes(p, q, e);
    }
  }
}

/** An RSA key as node makes one, with any modulus length and a small exponent (3, 17, 65537...). */
export function rsaKey(modulusBits: number, publicExponent = 65537): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: modulusBits, publicExponent }).privateKey;
}

/** A device identity (RS256) whose self-signed certificate carries `privateKey`'s public key. */
export async function rsaIdentity(privateKey: KeyObject, options: { validDays?: number; notBefore?: Date } = {}): Promise<DeviceIdentity> {
  const privateJwk = privateKey.export({ format: 'jwk' });
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const keys = {
    privateKey: await webcrypto.subtle.importKey('jwk', privateJwk, algorithm, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', createPublicKey(privateKey).export({ format: 'jwk' }), algorithm, true, ['verify']),
  };
  const notBefore = options.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `1${randomBytes(15).toString('hex')}`,
    name: `CN=cmg-attacker-${randomBytes(4).toString('hex')}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validDays ?? 30) * 86_400_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return { privateKey, certificateDer: Buffer.from(certificate.rawData), alg: 'RS256' };
}

/** The identity with `extra` bytes after its certificate's DER: what OpenSSL's parser ignores. */
export function withTrailingBytes(identity: DeviceIdentity, extra: Uint8Array): DeviceIdentity {
  return { ...identity, certificateDer: Buffer.concat([identity.certificateDer, extra]) };
}

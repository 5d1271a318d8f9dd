import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { maxClockSkewSeconds } from '../clock.js';
import { ServiceError } from '../errors.js';

/** What a device certificate may carry, and the proof algorithms each key allows. */
const ecCurves: Record<string, { alg: 'ES256' | 'ES384' }> = {
  prime256v1: { alg: 'ES256' },
  secp384r1: { alg: 'ES384' },
};
export const minRsaBits = 2048;
/** Larger than any certificate a device makes for itself; bounds the parser's work. */
const maxCertificateBytes = 8192;

export interface DeviceCertificate {
  /** base64url SHA-256 of the DER: the `x5t#S256` a device token is bound to (RFC 8705). */
  thumbprint: string;
  publicKey: KeyObject;
  /** Proof algorithms this key may sign with. */
  algorithms: string[];
}

/**
 * Checks a device's self-signed certificate: parses as X.509, carries RSA >= 2048 bits or
 * EC P-256/P-384, is inside its validity period, and is self-signed by its own key.
 */
export function checkDeviceCertificate(x5c: unknown, nowSeconds: number): DeviceCertificate {
  if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== 'string') {
    throw new ServiceError('invalid_proof', 'the proof header must carry x5c: [<base64 DER of the device certificate>]');
  }
  const encoded = x5c[0];
  if (encoded.length > (maxCertificateBytes * 4) / 3 + 4 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new ServiceError('invalid_certificate', 'x5c[0] must be the certificate DER in standard base64, at most 8 KiB');
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(encoded, 'base64'));
  } catch {
    throw new ServiceError('invalid_certificate', 'x5c[0] does not parse as an X.509 certificate');
  }
  let publicKey: KeyObject;
  try {
    publicKey = certificate.publicKey;
  } catch {
    // It parsed as X.509, but node cannot decode its key (say, an unknown algorithm OID).
    throw new ServiceError('invalid_certificate', "the certificate's public key cannot be read; use RSA (2048+ bits) or EC P-256/P-384");
  }
  const algorithms = allowedAlgorithms(publicKey);
  const notBefore = Date.parse(certificate.validFrom) / 1000;
  const notAfter = Date.parse(certificate.validTo) / 1000;
  // The same ±300 s skew as for tokens: a device whose clock runs a little ahead makes a
  // certificate that starts "in the future" by the server's clock.
  if (!(nowSeconds + maxClockSkewSeconds >= notBefore && nowSeconds - maxClockSkewSeconds <= notAfter)) {
    throw new ServiceError(
      'invalid_certificate',
      `the certificate is outside its validity period (${certificate.validFrom} to ${certificate.validTo}); make a new one`,
    );
  }
  if (!certificate.verify(publicKey)) {
    throw new ServiceError('invalid_certificate', 'the certificate is not self-signed by its own key');
  }
  return { thumbprint: certificateThumbprint(certificate.raw), publicKey, algorithms };
}

export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

function allowedAlgorithms(key: KeyObject): string[] {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength ?? 0;
    if (bits < minRsaBits) {
      throw new ServiceError('invalid_certificate', `the certificate's RSA key has ${bits} bits; at least ${minRsaBits} are required`);
    }
    return ['RS256', 'PS256'];
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = ecCurves[details?.namedCurve ?? ''];
    if (!curve) {
      throw new ServiceError('invalid_certificate', `the certificate's EC curve ${details?.namedCurve ?? '(unknown)'} is not P-256 or P-384`);
    }
    return [curve.alg];
  }
  throw new ServiceError(
    'invalid_certificate',
    `the certificate's key type ${key.asymmetricKeyType ?? '(unknown)'} is not accepted; use RSA (2048+ bits) or EC P-256/P-384`,
  );
}

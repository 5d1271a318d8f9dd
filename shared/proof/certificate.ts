import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { maxClockSkewSeconds } from '../clock.js';
import { BoundedCache } from '../cache/boundedCache.js';
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

/** A certificate that parsed, carries an accepted key and is signed by it: all that does not depend on the time. */
interface ParsedCertificate extends DeviceCertificate {
  notBefore: number;
  notAfter: number;
  validFrom: string;
  validTo: string;
}

/** Distinct certificates remembered per instance: one per device that talks to it, ~2 KB each. */
export const defaultCertificateCacheSize = 10_000;

/**
 * Checks a device's self-signed certificate: parses as X.509, carries RSA >= 2048 bits or
 * EC P-256/P-384, is inside its validity period, and is self-signed by its own key.
 */
export function checkDeviceCertificate(x5c: unknown, nowSeconds: number): DeviceCertificate {
  return checkValidity(parseDeviceCertificate(certificateText(x5c)), nowSeconds);
}

/**
 * The same check, remembering certificates that passed. A device sends the same certificate
 * with every proof, and parsing it, verifying its self-signature and importing its key cost
 * more than the rest of a request; none of that depends on anything but the certificate's
 * bytes, so the exact x5c text is the key. The validity period is checked against the clock
 * on every call. Only certificates that passed are kept: filling the cache costs an attacker
 * a valid self-signed certificate per entry, and the bound caps what that achieves.
 * Keeping the same KeyObject also lets jose reuse the WebCrypto key it made from it.
 */
export class DeviceCertificateChecker {
  private readonly cache: BoundedCache<string, ParsedCertificate>;

  constructor(capacity = defaultCertificateCacheSize) {
    this.cache = new BoundedCache(capacity);
  }

  check(x5c: unknown, nowSeconds: number): DeviceCertificate {
    const text = certificateText(x5c);
    let parsed = this.cache.get(text);
    if (!parsed) {
      parsed = parseDeviceCertificate(text);
      this.cache.set(text, parsed);
    }
    return checkValidity(parsed, nowSeconds);
  }
}

function certificateText(x5c: unknown): string {
  if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== 'string') {
    throw new ServiceError('invalid_proof', 'the proof header must carry x5c: [<base64 DER of the device certificate>]');
  }
  const encoded = x5c[0];
  if (encoded.length > (maxCertificateBytes * 4) / 3 + 4 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new ServiceError('invalid_certificate', 'x5c[0] must be the certificate DER in standard base64, at most 8 KiB');
  }
  return encoded;
}

function parseDeviceCertificate(encoded: string): ParsedCertificate {
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
  if (!certificate.verify(publicKey)) {
    throw new ServiceError('invalid_certificate', 'the certificate is not self-signed by its own key');
  }
  return {
    thumbprint: certificateThumbprint(certificate.raw),
    publicKey,
    algorithms,
    notBefore: Date.parse(certificate.validFrom) / 1000,
    notAfter: Date.parse(certificate.validTo) / 1000,
    validFrom: certificate.validFrom,
    validTo: certificate.validTo,
  };
}

function checkValidity(certificate: ParsedCertificate, nowSeconds: number): DeviceCertificate {
  // The same ±300 s skew as for tokens: a device whose clock runs a little ahead makes a
  // certificate that starts "in the future" by the server's clock.
  if (!(nowSeconds + maxClockSkewSeconds >= certificate.notBefore && nowSeconds - maxClockSkewSeconds <= certificate.notAfter)) {
    throw new ServiceError(
      'invalid_certificate',
      `the certificate is outside its validity period (${certificate.validFrom} to ${certificate.validTo}); make a new one`,
    );
  }
  return { thumbprint: certificate.thumbprint, publicKey: certificate.publicKey, algorithms: certificate.algorithms };
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

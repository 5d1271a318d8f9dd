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
/**
 * The largest RSA modulus accepted. With the exponent fixed at 65537 a verification costs
 * about the square of the modulus length, so 4096 bits bounds it at a few times RSA 2048's.
 */
export const maxRsaBits = 4096;
/**
 * The only RSA public exponent accepted: what every key generator uses. Verification time
 * grows with the exponent's length; without this bound a 3,070-bit exponent made one
 * verification cost 200 times RSA 2048's (docs/performance.md).
 */
export const rsaExponent = 65537n;
/** Larger than any certificate a device makes for itself; bounds the parser's work. */
const maxCertificateBytes = 8192;

export interface DeviceCertificate {
  /** base64url SHA-256 of the DER: the `x5t#S256` a device token is bound to (RFC 8705). */
  thumbprint: string;
  publicKey: KeyObject;
  /** Proof algorithms this key may sign with. */
  algorithms: string[];
  /** The end of the certificate's validity period, seconds since the epoch. */
  notAfter: number;
  /** Upper-case hex SHA-1 of the DER: the thumbprint Windows shows (certlm.msc, Cert:\). */
  thumbprintSha1: string;
  /** The subject's CN as written, if it has one; the device's name when it sends none. */
  commonName: string | undefined;
}

/**
 * A proof's `x5c` as sent, decoded but not parsed: its DER and that DER's thumbprint. Both
 * cost a base64 decode and one SHA-256 of at most 8 KiB, so a route that knows which
 * certificate to expect (a device token's `cnf`) compares the thumbprint before any
 * certificate parsing or signature verification.
 */
export interface PresentedCertificate {
  der: Buffer;
  thumbprint: string;
}

/** A certificate that parsed, carries an accepted key and is signed by it: all that does not depend on the time. */
interface ParsedCertificate extends DeviceCertificate {
  notBefore: number;
  validFrom: string;
  validTo: string;
}

/** Distinct certificates remembered per instance: one per device that talks to it, ~2 KB each. */
export const defaultCertificateCacheSize = 10_000;

/**
 * Checks a device's self-signed certificate: one DER certificate with nothing after it,
 * carrying RSA 2048-4096 bits with exponent 65537 or EC P-256/P-384, inside its validity
 * period, and self-signed by its own key.
 */
export function checkDeviceCertificate(x5c: unknown, nowSeconds: number): DeviceCertificate {
  return checkValidity(parseDeviceCertificate(presentedCertificate(x5c)), nowSeconds);
}

/**
 * The same check, remembering certificates that passed. A device sends the same certificate
 * with every proof, and parsing it, verifying its self-signature and importing its key cost
 * more than the rest of a request; none of that depends on anything but the certificate's
 * bytes, so the SHA-256 of the DER (its thumbprint) is the key - not the x5c text, of which
 * an attacker can make many spellings of one certificate (or of one certificate with bytes
 * after it), each a miss that evicts a device's entry. The validity period is checked
 * against the clock on every call. Only certificates that passed are kept: filling the
 * cache costs an attacker a valid self-signed certificate per entry, and the bound caps what
 * that achieves. Keeping the same KeyObject also lets jose reuse the WebCrypto key it made
 * from it.
 */
export class DeviceCertificateChecker {
  private readonly cache: BoundedCache<string, ParsedCertificate>;

  constructor(capacity = defaultCertificateCacheSize) {
    this.cache = new BoundedCache(capacity);
  }

  check(x5c: unknown, nowSeconds: number): DeviceCertificate {
    return this.checkPresented(presentedCertificate(x5c), nowSeconds);
  }

  checkPresented(presented: PresentedCertificate, nowSeconds: number): DeviceCertificate {
    let parsed = this.cache.get(presented.thumbprint);
    if (!parsed) {
      parsed = parseDeviceCertificate(presented);
      this.cache.set(presented.thumbprint, parsed);
    }
    return checkValidity(parsed, nowSeconds);
  }
}

/** Checks the shape of `x5c` (one standard-base64 entry of at most 8 KiB) and decodes it. */
export function presentedCertificate(x5c: unknown): PresentedCertificate {
  if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== 'string') {
    throw new ServiceError('invalid_proof', 'the proof header must carry x5c: [<base64 DER of the device certificate>]');
  }
  const encoded = x5c[0];
  if (encoded.length > (maxCertificateBytes * 4) / 3 + 4 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new ServiceError('invalid_certificate', 'x5c[0] must be the certificate DER in standard base64, at most 8 KiB');
  }
  const der = Buffer.from(encoded, 'base64');
  return { der, thumbprint: certificateThumbprint(der) };
}

function parseDeviceCertificate({ der, thumbprint }: PresentedCertificate): ParsedCertificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    throw new ServiceError('invalid_certificate', 'x5c[0] does not parse as an X.509 certificate');
  }
  // OpenSSL parses the first certificate and ignores whatever follows it; the DER it keeps
  // must be all that was sent, or one certificate would have endless thumbprints.
  if (!certificate.raw.equals(der)) {
    throw new ServiceError('invalid_certificate', 'x5c[0] must hold exactly one DER certificate with nothing after it');
  }
  let publicKey: KeyObject;
  try {
    publicKey = certificate.publicKey;
  } catch {
    // It parsed as X.509, but node cannot decode its key (say, an unknown algorithm OID).
    throw new ServiceError('invalid_certificate', `the certificate's public key cannot be read; use ${acceptedKeys}`);
  }
  // The key is checked before the self-signature: verifying with an unbounded key is the cost to avoid.
  const algorithms = allowedAlgorithms(publicKey);
  if (!certificate.verify(publicKey)) {
    throw new ServiceError('invalid_certificate', 'the certificate is not self-signed by its own key');
  }
  return {
    thumbprint,
    publicKey,
    algorithms,
    notBefore: Date.parse(certificate.validFrom) / 1000,
    notAfter: Date.parse(certificate.validTo) / 1000,
    validFrom: certificate.validFrom,
    validTo: certificate.validTo,
    // Computed once per certificate (the result is cached), never per request.
    thumbprintSha1: certificateSha1(der),
    commonName: subjectCommonName(certificate.subject),
  };
}

/**
 * What registration and renewal store about a proof's certificate that the proof check
 * does not hand on: for a renewal, whose proof was already checked against the token's
 * `cnf`, from the same `x5c`.
 */
export function certificateFacts(x5c: unknown): { thumbprint: string; thumbprintSha1: string; commonName: string | undefined; notAfter: number } {
  const { der, thumbprint } = presentedCertificate(x5c);
  const certificate = new X509Certificate(der);
  return { thumbprint, thumbprintSha1: certificateSha1(der), commonName: subjectCommonName(certificate.subject), notAfter: Date.parse(certificate.validTo) / 1000 };
}

/** Upper-case hex SHA-1 of a certificate's DER, as Windows shows thumbprints. */
export function certificateSha1(der: Uint8Array): string {
  return createHash('sha1').update(der).digest('hex').toUpperCase();
}

/**
 * The first CN of a subject as node prints it (one RDN per line, RFC 4514 escapes such as
 * `\,`), unescaped. Undefined when there is none.
 */
export function subjectCommonName(subject: string): string | undefined {
  const line = subject.split('\n').find((part) => part.startsWith('CN='));
  if (line === undefined) return undefined;
  return line.slice(3).replace(/\\([0-9A-Fa-f]{2}|.)/g, (_, escaped: string) =>
    escaped.length === 2 ? String.fromCharCode(parseInt(escaped, 16)) : escaped,
  );
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
  return {
    thumbprint: certificate.thumbprint,
    publicKey: certificate.publicKey,
    algorithms: certificate.algorithms,
    notAfter: certificate.notAfter,
    thumbprintSha1: certificate.thumbprintSha1,
    commonName: certificate.commonName,
  };
}

export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

const acceptedKeys = 'RSA (2048 to 4096 bits, exponent 65537) or EC P-256/P-384';

function allowedAlgorithms(key: KeyObject): string[] {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength ?? 0;
    if (bits < minRsaBits) {
      throw new ServiceError('invalid_certificate', `the certificate's RSA key has ${bits} bits; at least ${minRsaBits} are required`);
    }
    if (bits > maxRsaBits) {
      throw new ServiceError('invalid_certificate', `the certificate's RSA key has ${bits} bits; at most ${maxRsaBits} are accepted`);
    }
    if (details?.publicExponent !== rsaExponent) {
      const exponent = details?.publicExponent;
      const shown = exponent === undefined ? '(unknown)' : exponent < 2n ** 32n ? String(exponent) : `a ${exponent.toString(2).length}-bit number`;
      throw new ServiceError('invalid_certificate', `the certificate's RSA public exponent is ${shown}; only ${rsaExponent} is accepted`);
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
  throw new ServiceError('invalid_certificate', `the certificate's key type ${key.asymmetricKeyType ?? '(unknown)'} is not accepted; use ${acceptedKeys}`);
}

import { constants, verify, type KeyObject } from 'node:crypto';
import { ServiceError } from '../errors.js';

/** How each proof algorithm verifies with node:crypto (RFC 7518 section 3). */
const algorithms: Record<string, { hash: string; options: { padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' } }> = {
  RS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PADDING } },
  // RFC 7518 3.5: the salt is as long as the hash; verification insists on exactly that.
  PS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  // JWS ECDSA signatures are r || s of fixed length, not DER.
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
};

/** Three base64url segments, checked in one pass. */
const compactJws = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * Verifies the signature of a compact JWS by `key` with `alg`, which the caller has already
 * chosen from the key's own allow-list, and returns the payload's bytes. Tokens the service
 * issues are verified with jose; a device's proof - a fresh one per request - is verified
 * here, with one synchronous node:crypto call: jose verifies through WebCrypto, whose every
 * call is an asynchronous job handed to libuv's thread pool, and on the request path that
 * hand-off cost more than the ECDSA verification itself (docs/performance.md).
 *
 * What jose would refuse is refused here too: anything but three base64url segments, and
 * the `crit` and `b64` header parameters (RFC 7515 4.1.11, RFC 7797), whose extensions this
 * service does not implement.
 */
export function verifyCompactJws(jws: string, alg: string, key: KeyObject, header: Record<string, unknown>): Buffer {
  const parameters = algorithms[alg];
  if (!parameters) throw new ServiceError('invalid_proof', `the proof's alg ${alg} is not supported`);
  if ('crit' in header || 'b64' in header) {
    throw new ServiceError('invalid_proof', 'the proof header must not carry crit or b64: no JWS extensions are accepted');
  }
  if (!compactJws.test(jws)) {
    throw new ServiceError('invalid_proof', 'the proof is not a compact JWS (three base64url segments)');
  }
  const first = jws.indexOf('.');
  const second = jws.indexOf('.', first + 1);
  let valid: boolean;
  try {
    valid = verify(parameters.hash, Buffer.from(jws.slice(0, second), 'ascii'), { key, ...parameters.options }, Buffer.from(jws.slice(second + 1), 'base64url'));
  } catch {
    // OpenSSL refuses, rather than rejects, some malformed signatures (wrong length, say).
    valid = false;
  }
  if (!valid) throw new ServiceError('proof_rejected', "the proof's signature does not verify with the certificate's key");
  return Buffer.from(jws.slice(first + 1, second), 'base64url');
}


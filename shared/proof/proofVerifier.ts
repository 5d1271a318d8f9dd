import { createHash } from 'node:crypto';
import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import { BoundedCache } from '../cache/boundedCache.js';
import { constantTimeEqual } from '../crypto/constantTime.js';
import { maxClockSkewSeconds, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { tokenTypes } from '../tokens/jws.js';
import { DeviceCertificateChecker, presentedCertificate, type DeviceCertificate } from './certificate.js';
import { verifyCompactJws } from './jwsSignature.js';
import type { ReplayCache } from './replayCache.js';

/** Longer than any proof: a certificate of up to 8 KiB plus claims. */
const maxProofLength = 14_000;
const minJtiLength = 16;
const maxJtiLength = 256;

export interface ProofExpectation {
  /** The request's method and URL; only the URL's path is compared (a gateway may rewrite the host). */
  method: string;
  url: string;
  /** The bearer token sent with the request, if any: the proof must then carry its `ath`. */
  bearerToken?: string | undefined;
  /** The certificate thumbprint the bearer token is bound to (`cnf.x5t#S256`), if any. */
  boundThumbprint?: string | undefined;
  /** base64url SHA-256 of `bearerToken`, where the caller has it already (TokenVerifier.verifyToken). */
  bearerTokenSha256?: string | undefined;
}

// Stateless between calls (no `stream`), so one serves every proof.
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Paths of the URLs requests and proofs name; a device names the same few every time. */
const paths = new BoundedCache<string, string | undefined>(256);

export interface VerifiedProof {
  certificate: DeviceCertificate;
  jti: string;
  iat: number;
}

/**
 * Checks a device's proof of possession (docs/protocol.md section 3): the JWS is signed by the
 * key of the certificate in its own `x5c`, is bound to this request's method, path and bearer
 * token, is fresh, and is used once — across every instance, through the replay cache.
 *
 * The order bounds what a refused request costs. Where the route knows which certificate to
 * expect (a device token's `cnf`), the thumbprint of the DER sent is compared with it first:
 * a hash of at most 8 KiB, before any parsing or signature. Then the certificate (its key
 * type and size are checked before its self-signature is verified), then the proof's
 * signature, then its claims. The replay claim comes last, after the signature: claiming
 * before it would let anyone who holds a token (or, on the registration routes, anyone at
 * all) write a row to the replay table per request and use up jtis of proofs they did not
 * sign, to save a verification that costs tens of microseconds now that keys are bounded.
 * A resent invalid proof is therefore refused for what is wrong with it, each time, at the
 * cost of the check that refuses it.
 */
export class ProofVerifier {
  constructor(
    private readonly clock: Clock,
    private readonly replay: ReplayCache,
    private readonly certificates = new DeviceCertificateChecker(),
  ) {}

  async verify(proof: string, expected: ProofExpectation): Promise<VerifiedProof> {
    const verified = await this.verifyWithoutReplayCheck(proof, expected);
    // Last, so that only proofs that are otherwise valid take a place in the cache.
    await this.replay.claim(verified.jti, verified.iat + maxClockSkewSeconds);
    return verified;
  }

  async verifyWithoutReplayCheck(proof: string, expected: ProofExpectation): Promise<VerifiedProof> {
    const now = this.clock.now();
    if (proof.length > maxProofLength) throw new ServiceError('invalid_proof', `the proof is longer than ${maxProofLength} characters`);
    const header = protectedHeader(proof);
    if (header.typ !== tokenTypes.proof) {
      throw new ServiceError('invalid_proof', `the proof header's typ must be ${tokenTypes.proof}`);
    }
    const certificate =
      (expected.boundThumbprint === undefined ? undefined : this.certificates.rememberedAs(header.x5c, expected.boundThumbprint, now)) ??
      this.checkedCertificate(header.x5c, expected.boundThumbprint, now);
    if (typeof header.alg !== 'string' || !certificate.algorithms.includes(header.alg)) {
      throw new ServiceError(
        'invalid_proof',
        `the proof's alg ${String(header.alg)} is not allowed for the certificate's key (use ${certificate.algorithms.join(' or ')})`,
      );
    }
    const claims = verifiedClaims(proof, certificate, header.alg, header);

    if (claims.htm !== expected.method.toUpperCase()) {
      throw new ServiceError('proof_rejected', `the proof is for ${describe(claims.htm)}, not ${expected.method.toUpperCase()}`);
    }
    const path = urlPath(expected.url);
    if (path === undefined || urlPath(claims.htu) !== path) {
      throw new ServiceError('proof_rejected', `the proof's htu is for another path than ${path}`);
    }
    if (Math.abs(now - claims.iat) > maxClockSkewSeconds) {
      throw new ServiceError(
        'proof_rejected',
        `the proof's iat is ${claims.iat - now} s from the server's time; it must be within ±${maxClockSkewSeconds} s (check the device clock)`,
      );
    }
    if (expected.bearerToken !== undefined) {
      if (claims.ath === undefined) {
        throw new ServiceError('invalid_proof', 'the proof must carry ath (base64url SHA-256 of the bearer token) when a bearer token is sent');
      }
      const digest = expected.bearerTokenSha256 ?? createHash('sha256').update(expected.bearerToken, 'ascii').digest('base64url');
      if (!constantTimeEqual(claims.ath, digest)) {
        throw new ServiceError('proof_rejected', "the proof's ath does not match the bearer token sent");
      }
    }
    return { certificate, jti: claims.jti, iat: claims.iat };
  }

  /** The full path: decode the x5c, compare its thumbprint with the bound one first, then check it. */
  private checkedCertificate(x5c: unknown, boundThumbprint: string | undefined, now: number): DeviceCertificate {
    const presented = presentedCertificate(x5c);
    if (boundThumbprint !== undefined && !constantTimeEqual(presented.thumbprint, boundThumbprint)) {
      throw new ServiceError('key_mismatch', "the proof's certificate is not the one the token is bound to (cnf)");
    }
    return this.certificates.checkPresented(presented, now);
  }
}

/**
 * The thumbprint of the certificate a proof carries, as sent - decoded, hashed, neither
 * parsed nor verified - or undefined when the proof has none to give. For choosing what to
 * check next, never for trusting: only `verify` says the proof is the certificate's.
 */
export function presentedThumbprint(proof: string): string | undefined {
  if (proof.length > maxProofLength) return undefined;
  try {
    return presentedCertificate(decodeProtectedHeader(proof).x5c).thumbprint;
  } catch {
    return undefined;
  }
}

interface ProofClaims {
  htm: string;
  htu: string;
  iat: number;
  jti: string;
  ath: string | undefined;
}

function protectedHeader(proof: string): ProtectedHeaderParameters & { x5c?: unknown } {
  try {
    return decodeProtectedHeader(proof);
  } catch {
    throw new ServiceError('invalid_proof', 'the proof is not a compact JWS');
  }
}

function verifiedClaims(proof: string, certificate: DeviceCertificate, alg: string, header: Record<string, unknown>): ProofClaims {
  const payload = verifyCompactJws(proof, alg, certificate.publicKey, header);
  let claims: unknown;
  try {
    claims = JSON.parse(utf8.decode(payload));
  } catch {
    throw new ServiceError('invalid_proof', "the proof's payload is not JSON");
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new ServiceError('invalid_proof', "the proof's payload must be a JSON object");
  }
  const { htm, htu, iat, jti, ath } = claims as Record<string, unknown>;
  if (
    typeof htm === 'string' &&
    typeof htu === 'string' &&
    typeof iat === 'number' &&
    Number.isInteger(iat) &&
    typeof jti === 'string' &&
    (ath === undefined || typeof ath === 'string') &&
    jti.length >= minJtiLength &&
    jti.length <= maxJtiLength
  ) {
    return { htm, htu, iat, jti, ath };
  }
  const missing = [
    typeof htm === 'string' ? undefined : 'htm (string)',
    typeof htu === 'string' ? undefined : 'htu (string)',
    typeof iat === 'number' && Number.isInteger(iat) ? undefined : 'iat (whole seconds)',
    typeof jti === 'string' ? undefined : 'jti (string)',
    ath === undefined || typeof ath === 'string' ? undefined : 'ath (string)',
  ].filter((problem) => problem !== undefined);
  if (missing.length > 0) throw new ServiceError('invalid_proof', `the proof lacks or mistypes: ${missing.join(', ')}`);
  const id = jti as string;
  if (id.length < minJtiLength || id.length > maxJtiLength) {
    throw new ServiceError('invalid_proof', `the proof's jti must be ${minJtiLength} to ${maxJtiLength} characters`);
  }
  return { htm: htm as string, htu: htu as string, iat: iat as number, jti: id, ath: ath as string | undefined };
}

function urlPath(url: string): string | undefined {
  let path = paths.get(url);
  if (path === undefined) {
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
    paths.set(url, path);
  }
  return path;
}

function describe(value: string): string {
  return JSON.stringify(value.replace(/[^\x20-\x7e]/g, '?').slice(0, 10));
}

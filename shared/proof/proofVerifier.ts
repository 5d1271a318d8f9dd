import { createHash } from 'node:crypto';
import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
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
}

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
    const presented = presentedCertificate(header.x5c);
    if (expected.boundThumbprint !== undefined && !constantTimeEqual(presented.thumbprint, expected.boundThumbprint)) {
      throw new ServiceError('key_mismatch', "the proof's certificate is not the one the token is bound to (cnf)");
    }
    const certificate = this.certificates.checkPresented(presented, now);
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
    const path = new URL(expected.url).pathname;
    if (proofPath(claims.htu) !== path) {
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
      if (!constantTimeEqual(claims.ath, createHash('sha256').update(expected.bearerToken, 'ascii').digest('base64url'))) {
        throw new ServiceError('proof_rejected', "the proof's ath does not match the bearer token sent");
      }
    }
    return { certificate, jti: claims.jti, iat: claims.iat };
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
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new ServiceError('invalid_proof', "the proof's payload is not JSON");
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new ServiceError('invalid_proof', "the proof's payload must be a JSON object");
  }
  const { htm, htu, iat, jti, ath } = claims as Record<string, unknown>;
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

function proofPath(htu: string): string | undefined {
  try {
    return new URL(htu).pathname;
  } catch {
    return undefined;
  }
}

function describe(value: string): string {
  return JSON.stringify(value.replace(/[^\x20-\x7e]/g, '?').slice(0, 10));
}

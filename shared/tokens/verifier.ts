import { createHash } from 'node:crypto';
import { errors, importJWK, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BoundedCache } from '../cache/boundedCache.js';
import { maxClockSkewSeconds, type Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import { signingAlgs, type PublicJwk, type TokenSigner } from '../signing/signer.js';
import type { TokenType } from './jws.js';

/** Longer than any token this service issues; anything longer is rejected before parsing. */
const maxTokenLength = 8192;

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;

/** Tokens whose signature was checked, remembered per instance: about one per active device. */
export const defaultVerifiedTokenCacheSize = 10_000;

interface VerifiedToken {
  payload: Readonly<JWTPayload>;
  kid: string;
  nbf: number;
  exp: number;
}

/**
 * Verifies the service's own tokens with jose: the key is chosen by `kid` among the keys the
 * signer publishes, and only that key's algorithm is allowed, so `none`, HMAC, algorithm
 * substitution and unknown `kid`s all fail.
 */
export class TokenVerifier {
  private imported = new Map<string, { jwk: PublicJwk; key: Promise<ImportedKey> }>();
  private readonly verified: BoundedCache<string, VerifiedToken>;

  constructor(
    private readonly signer: TokenSigner,
    private readonly options: { issuer: string; audience: string; clock: Clock; cacheSize?: number },
  ) {
    this.verified = new BoundedCache(options.cacheSize ?? defaultVerifiedTokenCacheSize);
  }

  /**
   * Returns the verified claims (not to be changed: they may be shared with other callers)
   * or throws a ServiceError (`invalid_token`, `token_expired`).
   *
   * A device presents the same token with every request for a month. Everything about a
   * token but its time window depends only on its bytes and on the key its kid names, so a
   * token that verified once is remembered under the SHA-256 of its exact text (and the
   * type asked for): later calls check the time window against the clock and that the key is
   * still one this instance trusts, and skip the signature. Only tokens that verified are
   * kept, and the cache is bounded.
   */
  async verify(token: string, typ: TokenType, what: string): Promise<JWTPayload> {
    if (token.length > maxTokenLength) {
      throw new ServiceError('invalid_token', `the ${what} is longer than any token this service issues`);
    }
    const cacheKey = `${typ} ${createHash('sha256').update(token, 'utf8').digest('base64url')}`;
    const known = this.verified.get(cacheKey);
    if (known && this.imported.has(known.kid)) return this.checkTimes(known, what);
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.keyFor, {
        typ,
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: [...signingAlgs],
        clockTolerance: maxClockSkewSeconds,
        currentDate: new Date(this.options.clock.now() * 1000),
        requiredClaims: ['jti', 'iat', 'exp', 'nbf'],
      });
      // jwtVerify has checked kid, nbf and exp are present and of the right types.
      this.verified.set(cacheKey, { payload: Object.freeze(payload), kid: protectedHeader.kid as string, nbf: payload.nbf as number, exp: payload.exp as number });
      return payload;
    } catch (error) {
      throw toServiceError(error, what, typ);
    }
  }

  /** jose's own rule for nbf and exp, with the same tolerance and the same answers. */
  private checkTimes(token: VerifiedToken, what: string): JWTPayload {
    const now = this.options.clock.now();
    if (token.nbf > now + maxClockSkewSeconds) {
      throw new ServiceError('invalid_token', `the ${what} is not valid yet (nbf is in the future)`);
    }
    if (token.exp <= now - maxClockSkewSeconds) throw new ServiceError('token_expired', `the ${what} has expired`);
    return token.payload;
  }

  private readonly keyFor: JWTVerifyGetKey = async (header) => {
    const kid = header.kid;
    if (typeof kid !== 'string') throw new ServiceError('invalid_token', 'the token header has no kid');
    const entry = await this.lookup(kid);
    if (!entry) throw new ServiceError('invalid_token', 'the token was signed by a key this service does not know (kid)');
    if (header.alg !== entry.jwk.alg) {
      throw new ServiceError('invalid_token', `the token's alg does not match its key (expected ${entry.jwk.alg})`);
    }
    return entry.key;
  };

  private async lookup(kid: string): Promise<{ jwk: PublicJwk; key: Promise<ImportedKey> } | undefined> {
    const known = this.imported.get(kid);
    if (known) return known;
    // The signer caches its key set; asking again picks up a rotation another instance made.
    const jwk = (await this.signer.publicKeys()).find((candidate) => candidate.kid === kid);
    if (!jwk) return undefined;
    const entry = { jwk, key: importJWK(jwk, jwk.alg) };
    this.imported.set(kid, entry);
    return entry;
  }

  /** Drops keys no longer published (after a rotation's retention ran out). */
  async prune(): Promise<void> {
    const live = new Set((await this.signer.publicKeys()).map((jwk) => jwk.kid));
    for (const kid of this.imported.keys()) if (!live.has(kid)) this.imported.delete(kid);
    this.verified.retain((token) => live.has(token.kid));
  }
}

function toServiceError(error: unknown, what: string, typ: TokenType): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof errors.JWTExpired) {
    return new ServiceError('token_expired', `the ${what} has expired`, { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const detail =
      error.claim === 'typ'
        ? `the ${what} has the wrong type (typ must be ${typ})`
        : error.claim === 'nbf' || error.claim === 'iat'
          ? `the ${what} is not valid yet (${error.claim} is in the future)`
          : `the ${what}'s ${error.claim} claim is not acceptable: ${error.reason === 'missing' ? 'missing' : 'unexpected value'}`;
    return new ServiceError('invalid_token', detail, { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new ServiceError('invalid_token', `the ${what}'s alg is not allowed`, { cause: error });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new ServiceError('invalid_token', `the ${what}'s signature does not verify`, { cause: error });
  }
  if (error instanceof errors.JOSEError) {
    return new ServiceError('invalid_token', `the ${what} is malformed`, { cause: error });
  }
  throw error;
}

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

/** A token whose signature verified, and what a caller may need of it again. */
export interface VerifiedToken {
  payload: Readonly<JWTPayload>;
  typ: TokenType;
  kid: string;
  nbf: number;
  exp: number;
  /** base64url SHA-256 of the token's text: what a proof's `ath` must carry (RFC 9449). */
  sha256: string;
}

/**
 * Verifies the service's own tokens with jose: the key is chosen by `kid` among the keys the
 * signer publishes, and only that key's algorithm is allowed, so `none`, HMAC, algorithm
 * substitution and unknown `kid`s all fail.
 *
 * Only keys the signer publishes NOW verify. Every call reads the signer's current set (the
 * Key Vault signer keeps it in memory and re-lists versions at most once per refresh
 * interval, so this costs no Key Vault call per request), and when the set has changed the
 * keys and remembered tokens of versions no longer in it are dropped. A version an operator
 * disables after a leak thus stops verifying on every instance within one refresh interval,
 * for tokens an instance has seen and for those it has not (docs/deployment.md).
 */
export class TokenVerifier {
  private imported = new Map<string, { jwk: PublicJwk; key: Promise<ImportedKey> }>();
  private readonly verified: BoundedCache<string, VerifiedToken>;
  /** The kids of the published set the caches were last pruned against, in the signer's order. */
  private publishedKids = '';
  private lastPublished: readonly PublicJwk[] | undefined;

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
   * token that verified once is remembered under its exact text (with the type it was
   * verified as, which later calls must ask for): later calls check the time window against the clock and that its key
   * is still published, and skip the signature. Only tokens that verified are kept, and the
   * cache is bounded.
   */
  async verify(token: string, typ: TokenType, what: string): Promise<JWTPayload> {
    return (await this.verifyToken(token, typ, what)).payload;
  }

  /**
   * The same check, answering the remembered entry itself: its payload and the token's
   * SHA-256, so that a caller checking a proof's `ath` against this token hashes nothing
   * again. Tokens are remembered under their exact text (a Map hashes a string far more
   * cheaply than SHA-256, and the text is what the entry's digest was computed from).
   */
  async verifyToken(token: string, typ: TokenType, what: string): Promise<Readonly<VerifiedToken>> {
    if (token.length > maxTokenLength) {
      throw new ServiceError('invalid_token', `the ${what} is longer than any token this service issues`);
    }
    const published = await this.publishedKeys();
    const known = this.verified.get(token);
    if (known?.typ === typ && isPublished(published, known.kid)) return this.checkTimes(known, what);
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.keyFor(published), {
        typ,
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: [...signingAlgs],
        clockTolerance: maxClockSkewSeconds,
        currentDate: new Date(this.options.clock.now() * 1000),
        requiredClaims: ['jti', 'iat', 'exp', 'nbf'],
      });
      // jwtVerify has checked kid, nbf and exp are present and of the right types.
      const verified: VerifiedToken = {
        payload: Object.freeze(payload),
        typ,
        kid: protectedHeader.kid as string,
        nbf: payload.nbf as number,
        exp: payload.exp as number,
        sha256: createHash('sha256').update(token, 'utf8').digest('base64url'),
      };
      this.verified.set(token, verified);
      return verified;
    } catch (error) {
      throw toServiceError(error, what, typ);
    }
  }

  /** jose's own rule for nbf and exp, with the same tolerance and the same answers. */
  private checkTimes(token: VerifiedToken, what: string): VerifiedToken {
    const now = this.options.clock.now();
    if (token.nbf > now + maxClockSkewSeconds) {
      throw new ServiceError('invalid_token', `the ${what} is not valid yet (nbf is in the future)`);
    }
    if (token.exp <= now - maxClockSkewSeconds) throw new ServiceError('token_expired', `the ${what} has expired`);
    return token;
  }

  private keyFor(published: readonly PublicJwk[]): JWTVerifyGetKey {
    return async (header) => {
      const kid = header.kid;
      if (typeof kid !== 'string') throw new ServiceError('invalid_token', 'the token header has no kid');
      const jwk = published.find((candidate) => candidate.kid === kid);
      if (!jwk) throw new ServiceError('invalid_token', 'the token was signed by a key this service does not know or no longer publishes (kid)');
      if (header.alg !== jwk.alg) {
        throw new ServiceError('invalid_token', `the token's alg does not match its key (expected ${jwk.alg})`);
      }
      let entry = this.imported.get(kid);
      if (!entry) {
        entry = { jwk, key: importJWK(jwk, jwk.alg) };
        this.imported.set(kid, entry);
      }
      return entry.key;
    };
  }

  /**
   * The signer's published keys, after dropping what this instance remembers of versions no
   * longer among them. The set changes only when the signer refreshes it, so the drop runs
   * once per change, not per call.
   */
  private async publishedKeys(): Promise<readonly PublicJwk[]> {
    // The signer caches its key set; asking again picks up a rotation another instance made.
    const published = await this.signer.publicKeys();
    // The signers hand out the same array until their set changes: nothing to compare then.
    if (published === this.lastPublished) return published;
    this.lastPublished = published;
    const kids = published.map((jwk) => jwk.kid).join(' ');
    if (kids !== this.publishedKids) {
      const live = new Set(published.map((jwk) => jwk.kid));
      for (const kid of this.imported.keys()) if (!live.has(kid)) this.imported.delete(kid);
      this.verified.retain((token) => live.has(token.kid));
      this.publishedKids = kids;
    }
    return published;
  }
}

function isPublished(published: readonly PublicJwk[], kid: string): boolean {
  for (const jwk of published) if (jwk.kid === kid) return true;
  return false;
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

import type { HttpRequest } from '@azure/functions';
import { createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify, type FetchImplementation, type JWTPayload } from 'jose';
import { maxClockSkewSeconds, type Clock } from '../clock.js';
import { ServiceError, UnavailableError } from '../errors.js';
import { guidPattern } from '../guid.js';
import { bearerCredential } from '../http/bearer.js';
import { PrincipalRefusedError, type AdminAuthorizer, type AdminPrincipal } from './adminAuthorizer.js';

export interface EntraAdminAuthorizerOptions {
  /** The Entra tenant (directory) id the admins belong to. */
  tenantId: string;
  /** The token's expected `aud`: the Application ID URI (v1 tokens) or client id (v2 tokens). */
  audience: string;
  /** The app role an admin must hold (the `roles` claim). */
  appRole: string;
  /**
   * Accepted `iss` value(s). Default: the tenant's v2.0 issuer and its v1 issuer, because
   * which one a token carries depends on the API registration's accessTokenAcceptedVersion.
   */
  issuer?: string | readonly string[];
  /** Default: the tenant's v2.0 signing keys (the same keys sign v1 and v2 tokens). */
  jwksUri?: string;
  /** Knobs for the key-set download; tests use them to point at a local issuer. */
  fetchOptions?: EntraFetchOptions;
  /** Time source; default the system clock. */
  clock?: Clock;
}

export interface EntraFetchOptions {
  /** Abort a key-set download after this many milliseconds (default 5,000). */
  timeoutMs?: number;
  /** How long a downloaded key set is used without re-download (default 10 minutes). */
  cacheMaxAgeMs?: number;
  /** Minimum wait between downloads triggered by an unknown `kid` (default 30 s). */
  cooldownMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: FetchImplementation;
}


/** Failures of the key-set download, kept apart from failures of the token itself. */
class KeySetUnavailable extends Error {
  constructor(cause: unknown) {
    super('the signing keys of Microsoft Entra ID could not be fetched', { cause });
    this.name = 'KeySetUnavailable';
  }
}

/**
 * Admin auth in Azure: `Authorization: Bearer <Microsoft Entra ID access token>` issued for
 * the admin API (`aud`) in the configured tenant (`iss`), signed RS256 with a key from the
 * tenant's published key set, and carrying the admin app role in `roles`.
 */
export class EntraAdminAuthorizer implements AdminAuthorizer {
  private readonly audience: string;
  private readonly appRole: string;
  private readonly issuers: string[];
  private readonly clock: Clock | undefined;
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(options: EntraAdminAuthorizerOptions) {
    const tenantId = options.tenantId.toLowerCase();
    if (!guidPattern.test(tenantId)) throw new TypeError('tenantId must be a GUID');
    if (options.audience.trim() === '') throw new TypeError('audience must not be empty');
    if (options.appRole.trim() === '') throw new TypeError('appRole must not be empty');
    this.audience = options.audience;
    this.appRole = options.appRole;
    this.clock = options.clock;
    const issuer = options.issuer ?? [
      `https://login.microsoftonline.com/${tenantId}/v2.0`,
      `https://sts.windows.net/${tenantId}/`,
    ];
    this.issuers = typeof issuer === 'string' ? [issuer] : [...issuer];
    const jwksUri = new URL(options.jwksUri ?? `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`);
    const fetchOptions = options.fetchOptions ?? {};
    this.keys = createRemoteJWKSet(jwksUri, {
      timeoutDuration: fetchOptions.timeoutMs ?? 5_000,
      // Entra rolls its keys over weeks, announcing new ones well ahead; an unknown kid still
      // forces a refetch, at most once per cooldown, so a flood of forged kids costs one
      // download per cooldown and no more.
      cacheMaxAge: fetchOptions.cacheMaxAgeMs ?? 10 * 60_000,
      cooldownDuration: fetchOptions.cooldownMs ?? 30_000,
      ...(fetchOptions.fetch === undefined ? {} : { [customFetch]: fetchOptions.fetch }),
    });
  }

  async authorize(request: HttpRequest): Promise<AdminPrincipal> {
    const token = bearerCredential(request, 'Entra ID access token');
    const claims = await this.verify(token);
    const principal = principalOf(claims);
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    if (!roles.includes(this.appRole)) {
      throw new PrincipalRefusedError(principal, `the access token does not carry the app role "${this.appRole}"`);
    }
    return principal;
  }

  private async verify(token: string): Promise<JWTPayload> {
    // A token from another issuer is refused before any key download: it could never
    // verify, and refusing it early keeps foreign tokens from costing a network call.
    if (!this.issuers.includes(unverifiedIssuer(token))) {
      throw new ServiceError('invalid_token', 'the Entra ID access token is not valid: the "iss" claim is not acceptable');
    }
    try {
      const { payload } = await jwtVerify(token, (header, input) => this.key(header, input), {
        algorithms: ['RS256'],
        audience: this.audience,
        issuer: this.issuers,
        clockTolerance: maxClockSkewSeconds,
        requiredClaims: ['exp'],
        ...(this.clock === undefined ? {} : { currentDate: new Date(this.clock.now() * 1000) }),
      });
      return payload;
    } catch (error) {
      if (error instanceof KeySetUnavailable) throw new UnavailableError('Microsoft Entra ID', error.cause);
      if (error instanceof errors.JWTExpired) {
        throw new ServiceError('token_expired', 'the Entra ID access token has expired; get a new one', { cause: error });
      }
      if (error instanceof errors.JOSEError) {
        throw new ServiceError('invalid_token', `the Entra ID access token is not valid: ${reason(error)}`, { cause: error });
      }
      throw error;
    }
  }

  /** Resolves the verification key; anything but "no such key" means the key set is unreachable. */
  private async key(...args: Parameters<ReturnType<typeof createRemoteJWKSet>>) {
    try {
      return await this.keys(...args);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new KeySetUnavailable(error);
    }
  }
}

function unverifiedIssuer(token: string): string {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : '';
  } catch {
    return '';
  }
}

/**
 * The caller for the audit trail: a stable id (object id, else the client app's id, else the
 * UPN) and a name a person recognises (display name, else sign-in name, else UPN, else the id).
 */
function principalOf(claims: JWTPayload): AdminPrincipal {
  const id = firstClaim(claims, ['oid', 'appid', 'azp', 'upn']);
  if (id === undefined) throw new ServiceError('invalid_token', 'the Entra ID access token names no caller (no oid, appid, azp or upn claim)');
  return { kind: 'entra', id, name: firstClaim(claims, ['name', 'preferred_username', 'upn']) ?? id };
}

function firstClaim(claims: JWTPayload, names: readonly string[]): string | undefined {
  for (const claim of names) {
    const value = claims[claim];
    // Bounded: a name is shown in the console and stored in every audit entry of the caller.
    if (typeof value === 'string' && value.trim() !== '') return value.trim().slice(0, 256);
  }
  return undefined;
}

/** Says which check failed without echoing token content (jose's messages name only the claim). */
function reason(error: InstanceType<typeof errors.JOSEError>): string {
  if (error instanceof errors.JWTClaimValidationFailed) return `the "${error.claim}" claim is not acceptable`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'only RS256 signatures are accepted';
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is not signed by a key of the tenant';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  return 'it is not a well-formed signed JWT';
}

import type { HttpRequest } from '@azure/functions';
import { constantTimeEqual } from '../crypto/constantTime.js';
import { ServiceError } from '../errors.js';
import { bearerCredential } from '../http/bearer.js';

/** Who made an admin call, for the audit trail. Never holds the credential itself. */
export interface AdminPrincipal {
  readonly kind: 'admin-key' | 'entra';
  /** Entra only: the object id (`oid`), or the client app's id for an app-only token. */
  readonly id?: string;
  /** Entra: `name`, `preferred_username` or `upn` (else the id); the admin key: "admin key". */
  readonly name: string;
}

/**
 * A refusal of a credential that did identify its holder (a valid Entra token without the
 * admin role): the audit trail records who was refused, not just that someone was.
 */
export class PrincipalRefusedError extends ServiceError {
  constructor(
    readonly principal: AdminPrincipal,
    detail: string,
  ) {
    super('forbidden', detail);
    this.name = 'PrincipalRefusedError';
  }
}

/** The admin-credential port: every admin route calls `authorize` and nothing else. */
export interface AdminAuthorizer {
  authorize(request: HttpRequest): Promise<AdminPrincipal>;
}

/** Local admin auth: `Authorization: Bearer <ADMIN_KEY>`, compared in constant time. */
export class AdminKeyAuthorizer implements AdminAuthorizer {
  constructor(private readonly expected: string | undefined) {}

  async authorize(request: HttpRequest): Promise<AdminPrincipal> {
    const credential = bearerCredential(request, 'admin credential');
    if (this.expected === undefined) {
      throw new ServiceError('forbidden', 'no admin credential is configured on this service (set ADMIN_KEY)');
    }
    if (!constantTimeEqual(credential, this.expected)) {
      throw new ServiceError('invalid_token', 'the admin credential is not valid');
    }
    return { kind: 'admin-key', name: 'admin key' };
  }
}

/**
 * Both credentials at once (a developer with ADMIN_KEY and an Entra app registration): a
 * JWT-shaped credential goes to Entra ID, anything else to the admin key.
 */
export class EitherAdminAuthorizer implements AdminAuthorizer {
  constructor(
    private readonly key: AdminAuthorizer,
    private readonly entra: AdminAuthorizer,
  ) {}

  async authorize(request: HttpRequest): Promise<AdminPrincipal> {
    const credential = bearerCredential(request, 'admin credential');
    return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential) ? this.entra.authorize(request) : this.key.authorize(request);
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import { ServiceError } from '../errors.js';
import { bearerCredential } from '../http/bearer.js';

/** Who made an admin call, for audit logs. Never holds the credential itself. */
export interface AdminPrincipal {
  readonly name: string;
}

/** The admin-credential port: every admin route calls `authorize` and nothing else. */
export interface AdminAuthorizer {
  authorize(request: HttpRequest): Promise<AdminPrincipal>;
}

/**
 * Local admin auth: `Authorization: Bearer <ADMIN_KEY>`. Both sides are hashed to SHA-256
 * first so the constant-time comparison sees equal lengths and leaks not even the length.
 */
export class AdminKeyAuthorizer implements AdminAuthorizer {
  private readonly expected: Buffer | undefined;

  constructor(adminKey: string | undefined) {
    this.expected = adminKey === undefined ? undefined : sha256(adminKey);
  }

  async authorize(request: HttpRequest): Promise<AdminPrincipal> {
    const credential = bearerCredential(request, 'admin credential');
    if (this.expected === undefined) {
      throw new ServiceError('forbidden', 'no admin credential is configured on this service (set ADMIN_KEY)');
    }
    if (!timingSafeEqual(sha256(credential), this.expected)) {
      throw new ServiceError('invalid_token', 'the admin credential is not valid');
    }
    return { name: 'admin-key' };
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

import type { HttpRequest } from '@azure/functions';
import { ServiceError } from '../errors.js';

/** The credential of an `Authorization: Bearer <credential>` header. */
export function bearerCredential(request: HttpRequest, what: string): string {
  const header = request.headers.get('authorization');
  if (header === null || header.trim() === '') {
    throw new ServiceError('missing_credential', `send ${what} as Authorization: Bearer <${what}>`);
  }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match?.[1]) {
    throw new ServiceError('invalid_token', `the Authorization header must be "Bearer <${what}>"`);
  }
  return match[1];
}

import type { HttpResponseInit } from '@azure/functions';
import { errorCodes, ServiceError } from '../errors.js';

// A URN rather than a URL: the codes are documented in docs/errors.md, and no host is implied.
const problemTypeBase = 'urn:cmg-token-auth:problem:';

/** The RFC 9457 body and headers for a ServiceError; the one place codes become HTTP. */
export function problemResponse(error: ServiceError, instance?: string): HttpResponseInit {
  const meta: { status: number; title: string; challenge?: string } = errorCodes[error.code];
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  };
  if (meta.challenge !== undefined) {
    // RFC 6750 section 3.1: no error attribute when no credential was sent at all.
    headers['www-authenticate'] =
      meta.challenge === '' ? 'Bearer realm="cmg-token-auth"' : `Bearer realm="cmg-token-auth", error="${meta.challenge}"`;
  }
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return {
    status: meta.status,
    headers,
    body: JSON.stringify({
      type: `${problemTypeBase}${error.code}`,
      title: meta.title,
      status: meta.status,
      detail: error.detail,
      code: error.code,
      ...(instance === undefined ? {} : { instance }),
    }),
  };
}

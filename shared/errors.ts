/**
 * The one error model of the service. Every failure a caller can cause or see has a stable
 * string `code`; the HTTP status, the problem `title` and the `WWW-Authenticate` challenge
 * follow from the code alone, so handlers never pick statuses themselves.
 */

export const errorCodes = {
  invalid_request: { status: 400, title: 'The request is malformed' },
  invalid_proof: { status: 400, title: 'The proof of possession is malformed' },
  invalid_certificate: { status: 400, title: 'The device certificate is not acceptable' },
  invalid_token: { status: 401, title: 'The token is not valid', challenge: 'invalid_token' },
  token_expired: { status: 401, title: 'The token has expired', challenge: 'invalid_token' },
  token_blocked: { status: 401, title: 'The bulk registration token is blocked', challenge: 'invalid_token' },
  token_used_up: { status: 401, title: 'The bulk registration token has no uses left', challenge: 'invalid_token' },
  proof_rejected: { status: 401, title: 'The proof of possession was rejected', challenge: 'invalid_token' },
  proof_replayed: { status: 401, title: 'The proof of possession was already used', challenge: 'invalid_token' },
  key_mismatch: { status: 401, title: 'The proof key does not match the token', challenge: 'invalid_token' },
  missing_credential: { status: 401, title: 'No bearer credential was sent', challenge: '' },
  network_forbidden: { status: 403, title: 'The caller is not on an internal network' },
  device_revoked: { status: 403, title: 'The device has been revoked' },
  forbidden: { status: 403, title: 'The credential lacks the required role' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  length_required: { status: 411, title: 'The request body must be sent with Content-Length' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request body must be JSON' },
  rate_limited: { status: 429, title: 'Too many tokens issued to this device' },
  unavailable: { status: 503, title: 'A backing service is unavailable' },
  misconfigured: { status: 503, title: 'The service is misconfigured' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string; challenge?: string }>;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

/** A failure with a stable code; `detail` is shown to the caller, so it never holds a secret. */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** Seconds a client should wait before retrying (503 and 429 only). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(`${code}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.code = code;
    this.detail = detail;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  get status(): number {
    return errorCodes[this.code].status;
  }
}

/** A backing service (Table Storage, Key Vault) did not answer after bounded retries. */
export class UnavailableError extends ServiceError {
  constructor(what: string, cause: unknown, retryAfterSeconds = 5) {
    super('unavailable', `${what} is unavailable; retry later`, { cause, retryAfterSeconds });
    this.name = 'UnavailableError';
  }
}

import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';
import { ServiceError } from '../errors.js';

export const maxBodyBytes = 16 * 1024;
// Stateless between calls (no `stream`), so one serves every request.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a JSON request body: 415 unless the content type is JSON, 413 past 16 KiB, 400 if it
 * does not parse or does not match `schema` (the detail names each bad field). An empty
 * body counts as `{}` only when `emptyAllowed`, for routes whose fields are all optional.
 * 411 when the body was announced as chunked: the host never delivers such a body.
 */
export async function readJsonBody<T>(
  request: HttpRequest,
  schema: z.ZodType<T>,
  options: { emptyAllowed?: boolean } = {},
): Promise<T> {
  // The Functions host forwards a body to the worker only when it has a Content-Length above
  // zero (azure-functions-host GrpcMessageConversionExtensions.ToRpcHttp); a chunked one
  // arrives empty, with its Transfer-Encoding header. Taking that for an empty body would, for
  // a route whose fields are all optional, act on a request nobody sent: refuse it instead.
  if (request.headers.has('transfer-encoding') && !request.headers.has('content-length')) {
    throw new ServiceError('length_required', 'the body was sent without Content-Length (chunked), so it cannot be read; send it with Content-Length');
  }
  const declaredLength = Number(request.headers.get('content-length') ?? '0');
  if (declaredLength > maxBodyBytes) throw tooLarge();
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBodyBytes) throw tooLarge();

  if (bytes.byteLength === 0 && options.emptyAllowed) return validate(schema, {});
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new ServiceError(
      'unsupported_media_type',
      contentType === '' ? 'send the body with Content-Type: application/json' : `Content-Type ${clip(contentType)} is not JSON; send application/json`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new ServiceError('invalid_request', 'the body is not valid UTF-8 JSON');
  }
  return validate(schema, value);
}

export function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  throw new ServiceError('invalid_request', problems.join('; '));
}

function tooLarge(): ServiceError {
  return new ServiceError('payload_too_large', `the body is larger than ${maxBodyBytes} bytes (16 KiB)`);
}

/** Shortens caller-supplied text before echoing it in an error detail. */
export function clip(text: string, max = 60): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max)}…` : printable);
}

import type { IncomingMessage } from 'node:http';

/**
 * The Functions host's answers to `POST /admin/functions/<name>` before anything runs,
 * from azure-functions-host src/WebJobs.Script.WebHost/Controllers/FunctionsController.cs
 * (commit 89dc438, after v4.1036.2), `Invoke(string name, [FromBody] FunctionInvocation invocation, ...)`:
 * - the body is model-bound by MVC's JSON input formatter: a request whose Content-Type is no
 *   JSON type finds no formatter and MVC's UnsupportedContentTypeFilter answers 415; an empty
 *   or unreadable JSON body leaves `invocation` null, and line 106-108
 *   `if (invocation == null) { return BadRequest(); }` answers 400 — both with no body;
 * - line 111-115: `GetFunctionOrNull(name)` (names compare case-insensitively), else
 *   `NotFound()`, an empty 404 — a function in error (a schedule that does not resolve) is not
 *   among the host's functions either;
 * - line 127 `Task.Run(...)` then line 159 `return Accepted()`: 202 at once, before the run
 *   ends, whatever the run does (a failing purge is still 202; the failure is only logged).
 */

/** The largest invocation body read; the host's own limit is far larger, nothing needs more. */
const maxInvocationBytes = 64 * 1024;

export type InvocationBody = { ok: true; input: unknown } | { ok: false; status: 400 | 415 };

/** The JSON media types MVC's JSON input formatter reads: application/json, text/json, application/*+json. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType === 'text/json' || /^application\/[^/]+\+json$/.test(mediaType);
}

/** Reads and binds the `{"input": ...}` body as the host's controller does. */
export async function readInvocationBody(req: IncomingMessage): Promise<InvocationBody> {
  if (!isJsonMediaType(req.headers['content-type'])) {
    req.resume();
    return { ok: false, status: 415 };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > maxInvocationBytes) {
      req.resume();
      return { ok: false, status: 400 };
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, status: 400 };
  }
  // FunctionInvocation is an object with an optional Input; null, arrays and scalars do not bind.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, status: 400 };
  const input: unknown = Object.entries(parsed as Record<string, unknown>).find(([key]) => key.toLowerCase() === 'input')?.[1];
  return { ok: true, input };
}

import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

/**
 * Bench only (served when the local host is started with EXTRA_FUNCTIONS_DIR): the trivial
 * handler whose cost is the baseline for /api/authenticate. It reads the request body as
 * authenticate does (the whole stream, into one buffer), so that the HTTP share of the two
 * is alike, and answers a small JSON body; it does not decode or validate the body, which
 * the bench's floor counts as a part of its own.
 */
export async function benchNoop(request: HttpRequest): Promise<HttpResponseInit> {
  const body = await request.arrayBuffer();
  return { status: 200, jsonBody: { ok: true, bytes: body.byteLength } };
}

app.http('benchNoop', {
  methods: ['POST'],
  route: 'bench/noop',
  authLevel: 'anonymous',
  handler: benchNoop,
});

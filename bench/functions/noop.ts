import { app, type HttpResponseInit } from '@azure/functions';

/**
 * Bench only (served when the local host is started with EXTRA_FUNCTIONS_DIR): the trivial
 * handler whose throughput is the baseline for /api/authenticate. It answers a small JSON
 * body like authenticate does, and leaves the request body alone (the host has read it).
 */
export async function benchNoop(): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: { ok: true } };
}

app.http('benchNoop', {
  methods: ['POST'],
  route: 'bench/noop',
  authLevel: 'anonymous',
  handler: benchNoop,
});

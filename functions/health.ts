import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/http/handle.js';
import { json } from '../shared/http/responses.js';

export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ tables, signer }) => {
    // "ok" only once both backing services answer; a failure surfaces as 503 unavailable.
    await Promise.all([tables.ping('bulktokens'), signer.signingKey()]);
    return json(200, { status: 'ok' });
  });
}

app.http('health', {
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: health,
});

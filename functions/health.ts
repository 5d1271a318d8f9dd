import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ServiceError } from '../shared/errors.js';
import { handle } from '../shared/runtime/handle.js';
import { problemResponse } from '../shared/http/problem.js';
import { configurationProblems } from '../shared/services.js';
import { json } from '../shared/http/responses.js';

export async function health(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const answer = await handle(request, context, async ({ tables, signer }) => {
    // "ok" only once both backing services answer; a failure surfaces as 503 unavailable.
    await Promise.all([tables.ping('bulktokens'), signer.signingKey()]);
    return json(200, { status: 'ok' });
  });
  const problems = configurationProblems();
  // Invalid settings: health names each one and why (never its value), for the operator;
  // every other route only says the service is misconfigured.
  if (problems.length > 0) return problemResponse(new ServiceError('misconfigured', `invalid settings: ${problems.join('; ')}`, { retryAfterSeconds: 60 }));
  return answer;
}

app.http('health', {
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: health,
});

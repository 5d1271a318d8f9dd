import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { createBulkTokenRequest } from '../shared/bulkTokens/bulkTokenRequests.js';
import { readJsonBody } from '../shared/http/body.js';
import { handle } from '../shared/http/handle.js';
import { json } from '../shared/http/responses.js';

export async function createBulkToken(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ admin, bulkTokens }) => {
    const principal = await admin.authorize(request);
    const input = await readJsonBody(request, createBulkTokenRequest, { emptyAllowed: true });
    const issued = await bulkTokens.create(input);
    // The token itself is never logged: only its tracking id.
    context.info(`bulk token ${issued.id} created by ${principal.name}, lifetime ${issued.lifetimeMinutes} min`);
    return json(201, issued);
  });
}

app.http('createBulkToken', {
  methods: ['POST'],
  route: 'bulk-tokens',
  authLevel: 'anonymous',
  handler: createBulkToken,
});

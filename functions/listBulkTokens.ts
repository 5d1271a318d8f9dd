import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/http/handle.js';
import { json } from '../shared/http/responses.js';

export async function listBulkTokens(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ admin, bulkTokens }) => {
    await admin.authorize(request);
    return json(200, { items: await bulkTokens.list() });
  });
}

app.http('listBulkTokens', {
  methods: ['GET'],
  route: 'bulk-tokens',
  authLevel: 'anonymous',
  handler: listBulkTokens,
});

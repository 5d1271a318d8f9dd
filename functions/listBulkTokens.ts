import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { json } from '../shared/http/responses.js';

export async function listBulkTokens(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { bulkTokens } }) => {
    return json(200, { items: await bulkTokens.list() });
  });
}

app.http('listBulkTokens', {
  methods: ['GET'],
  route: 'bulk-tokens',
  authLevel: 'anonymous',
  handler: listBulkTokens,
});

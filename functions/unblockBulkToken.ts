import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/http/handle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function unblockBulkToken(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ admin, bulkTokens }) => {
    const principal = await admin.authorize(request);
    const id = guidParam(request.params.id, 'the bulk token id');
    const result = await bulkTokens.setBlocked(id, false);
    context.info(`bulk token ${id} unblocked by ${principal.name}`);
    return json(200, result);
  });
}

app.http('unblockBulkToken', {
  methods: ['POST'],
  route: 'bulk-tokens/{id}/unblock',
  authLevel: 'anonymous',
  handler: unblockBulkToken,
});

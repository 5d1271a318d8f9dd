import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/http/handle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function blockBulkToken(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ admin, bulkTokens }) => {
    const principal = await admin.authorize(request);
    const id = guidParam(request.params.id, 'the bulk token id');
    const result = await bulkTokens.setBlocked(id, true);
    context.info(`bulk token ${id} blocked by ${principal.name}`);
    return json(200, result);
  });
}

app.http('blockBulkToken', {
  methods: ['POST'],
  route: 'bulk-tokens/{id}/block',
  authLevel: 'anonymous',
  handler: blockBulkToken,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function unblockBulkToken(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { audit, bulkTokens }, audit: call }) => {
    const id = guidParam(request.params.id, 'the bulk token id');
    const result = await audit.adminAction(call, { action: 'bulk-token.unblock', target: { kind: 'bulk-token', id } }, async () => ({
      result: await bulkTokens.setBlocked(id, false),
      status: 200,
    }));
    return json(200, result);
  });
}

app.http('unblockBulkToken', {
  methods: ['POST'],
  route: 'bulk-tokens/{id}/unblock',
  authLevel: 'anonymous',
  handler: unblockBulkToken,
});

import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { createBulkTokenRequest } from '../shared/bulkTokens/bulkTokenRequests.js';
import { defaultLifetimeMinutes } from '../shared/bulkTokens/bulkTokenService.js';
import { readJsonBody } from '../shared/http/body.js';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { json } from '../shared/http/responses.js';

export async function createBulkToken(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { audit, bulkTokens }, audit: call }) => {
    const input = await readJsonBody(request, createBulkTokenRequest, { emptyAllowed: true });
    // The id is chosen first so that the entry written before the token exists names it.
    const id = randomUUID();
    const details = {
      lifetimeMinutes: input.lifetimeMinutes ?? defaultLifetimeMinutes,
      ...(input.maxUses === undefined ? {} : { maxUses: input.maxUses }),
    };
    // The token itself is never logged or audited: only its tracking id.
    const issued = await audit.adminAction(call, { action: 'bulk-token.create', target: { kind: 'bulk-token', id }, details }, async () => ({
      result: await bulkTokens.create(input, id),
      status: 201,
    }));
    return json(201, issued);
  });
}

app.http('createBulkToken', {
  methods: ['POST'],
  route: 'bulk-tokens',
  authLevel: 'anonymous',
  handler: createBulkToken,
});

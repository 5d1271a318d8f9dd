import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { namePrefix } from '../shared/devices/deviceDescription.js';
import { validate } from '../shared/http/body.js';
import { pageParams } from '../shared/http/params.js';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { json } from '../shared/http/responses.js';

const listQuery = z.object({
  status: z.enum(['pending', 'active', 'revoked'], { error: 'status must be pending, active or revoked' }).optional(),
  // A prefix, compared without case.
  name: namePrefix.optional(),
  ...pageParams,
});

export async function listDevices(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { deviceAdmin } }) => {
    const query = validate(listQuery, Object.fromEntries(request.query.entries()));
    return json(200, await deviceAdmin.list({ status: query.status, namePrefix: query.name }, query.limit ?? 100, query.continuation));
  });
}

app.http('listDevices', {
  methods: ['GET'],
  route: 'devices',
  authLevel: 'anonymous',
  handler: listDevices,
});

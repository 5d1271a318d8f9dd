import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { maxNameLength } from '../shared/devices/deviceDescription.js';
import { validate } from '../shared/http/body.js';
import { pageParams } from '../shared/http/params.js';
import { handleAdmin } from '../shared/http/adminHandle.js';
import { json } from '../shared/http/responses.js';

const listQuery = z.object({
  status: z.enum(['pending', 'active', 'revoked'], { error: 'status must be pending, active or revoked' }).optional(),
  // A prefix, compared without case; the same length bound as a name.
  name: z
    .string()
    .refine((value) => [...value].length >= 1 && [...value].length <= maxNameLength, `name must be 1 to ${maxNameLength} characters (a prefix of the device name)`)
    .optional(),
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

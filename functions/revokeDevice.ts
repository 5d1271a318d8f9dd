import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/http/handle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function revokeDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ admin, deviceAdmin }) => {
    const principal = await admin.authorize(request);
    const deviceId = guidParam(request.params.id, 'the device id');
    const result = await deviceAdmin.revoke(deviceId);
    context.info(`device ${deviceId} revoked by ${principal.name}`);
    return json(200, result);
  });
}

app.http('revokeDevice', {
  methods: ['POST'],
  route: 'devices/{id}/revoke',
  authLevel: 'anonymous',
  handler: revokeDevice,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/http/handle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function approveDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ admin, deviceAdmin }) => {
    const principal = await admin.authorize(request);
    const deviceId = guidParam(request.params.id, 'the device id');
    const result = await deviceAdmin.approve(deviceId);
    context.info(`device ${deviceId} approved by ${principal.name}`);
    return json(200, result);
  });
}

app.http('approveDevice', {
  methods: ['POST'],
  route: 'devices/{id}/approve',
  authLevel: 'anonymous',
  handler: approveDevice,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function approveDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { audit, deviceAdmin }, audit: call }) => {
    const deviceId = guidParam(request.params.id, 'the device id');
    const result = await audit.adminAction(call, { action: 'device.approve', target: { kind: 'device', id: deviceId } }, async () => ({
      result: await deviceAdmin.approve(deviceId),
      status: 200,
    }));
    return json(200, result);
  });
}

app.http('approveDevice', {
  methods: ['POST'],
  route: 'devices/{id}/approve',
  authLevel: 'anonymous',
  handler: approveDevice,
});

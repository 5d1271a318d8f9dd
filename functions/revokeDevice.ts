import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { guidParam } from '../shared/http/params.js';
import { json } from '../shared/http/responses.js';

export async function revokeDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { audit, deviceAdmin }, audit: call }) => {
    const deviceId = guidParam(request.params.id, 'the device id');
    const result = await audit.adminAction(call, { action: 'device.revoke', target: { kind: 'device', id: deviceId } }, async () => ({
      result: await deviceAdmin.revoke(deviceId),
      status: 200,
    }));
    return json(200, result);
  });
}

app.http('revokeDevice', {
  methods: ['POST'],
  route: 'devices/{id}/revoke',
  authLevel: 'anonymous',
  handler: revokeDevice,
});

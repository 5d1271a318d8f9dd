import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ServiceError } from '../shared/errors.js';
import { guidPattern } from '../shared/guid.js';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { json } from '../shared/http/responses.js';

/** base64url of a SHA-256 digest, without padding. */
const thumbprint = /^[A-Za-z0-9_-]{43}$/;

/** One device, by its id or by its certificate's thumbprint (the id is derived from it). */
export async function getDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { deviceAdmin } }) => {
    const id = request.params.id ?? '';
    let found;
    if (guidPattern.test(id)) found = await deviceAdmin.get({ deviceId: id.toLowerCase() });
    else if (thumbprint.test(id)) found = await deviceAdmin.get({ thumbprint: id });
    else {
      throw new ServiceError(
        'invalid_request',
        'the device must be named by its id (a GUID) or its certificate thumbprint (base64url SHA-256, 43 characters)',
      );
    }
    if (!found) throw new ServiceError('not_found', `no device has the id or certificate thumbprint ${id}`);
    return json(200, found);
  });
}

app.http('getDevice', {
  methods: ['GET'],
  route: 'devices/{id}',
  authLevel: 'anonymous',
  handler: getDevice,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ServiceError } from '../shared/errors.js';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { json } from '../shared/http/responses.js';

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** base64url of a SHA-256 digest, without padding. */
const thumbprint = /^[A-Za-z0-9_-]{43}$/;
/** Hex SHA-1 of the certificate: the thumbprint Windows shows, in either case. */
const thumbprintSha1 = /^[0-9A-Fa-f]{40}$/;

/** One device, by its id, by its certificate's thumbprint (the id is derived from it), or by the certificate's SHA-1. */
export async function getDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { deviceAdmin } }) => {
    const id = request.params.id ?? '';
    let found;
    if (guid.test(id)) found = await deviceAdmin.get({ deviceId: id.toLowerCase() });
    else if (thumbprint.test(id)) found = await deviceAdmin.get({ thumbprint: id });
    else if (thumbprintSha1.test(id)) found = await deviceAdmin.get({ thumbprintSha1: id.toUpperCase() });
    else {
      throw new ServiceError(
        'invalid_request',
        'the device must be named by its id (a GUID), its certificate thumbprint (base64url SHA-256, 43 characters) or the SHA-1 thumbprint Windows shows (40 hex digits)',
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

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { decodeProtectedHeader } from 'jose';
import { describedProofRequest } from '../shared/devices/deviceDescription.js';
import { ServiceError } from '../shared/errors.js';
import { bearerCredential } from '../shared/http/bearer.js';
import { readJsonBody } from '../shared/http/body.js';
import { handle } from '../shared/runtime/handle.js';
import { json } from '../shared/http/responses.js';
import { certificateFacts } from '../shared/proof/certificate.js';

/** A device renews its token (about monthly) with the token and a proof by the bound key. */
export async function renewDeviceToken(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ deviceAuth, registration }) => {
    const token = bearerCredential(request, 'device token');
    const { proof, device: description } = await readJsonBody(request, describedProofRequest);
    const device = await deviceAuth.authenticate(token, proof, { method: request.method, url: request.url }).catch((error: unknown) => {
      if (error instanceof ServiceError && error.code === 'token_expired') {
        throw new ServiceError('token_expired', 'the device token has expired and cannot be renewed; the device must register again', {
          cause: error,
        });
      }
      throw error;
    });
    // The proof has been checked, its certificate matched to the token's cnf.
    const answer = await registration.renew(device, certificateFacts(decodeProtectedHeader(proof).x5c), description);
    context.info(`device ${answer.deviceId} renewed its token`);
    return json(200, answer);
  });
}

app.http('renewDeviceToken', {
  methods: ['POST'],
  route: 'renew',
  authLevel: 'anonymous',
  handler: renewDeviceToken,
});

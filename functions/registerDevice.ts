import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { auditedRegistration } from '../shared/audit/registrationAudit.js';
import { bearerCredential } from '../shared/http/bearer.js';
import { readJsonBody } from '../shared/http/body.js';
import { handle } from '../shared/runtime/handle.js';
import { json } from '../shared/http/responses.js';
import { describedProofRequest } from '../shared/devices/deviceDescription.js';
import { tokenTypes } from '../shared/tokens/jws.js';

/** Internet registration: a bulk registration token and a proof by the device's key. */
export async function registerDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ verifier, proofs, registration, audit }) => {
    const bulkToken = bearerCredential(request, 'bulk registration token');
    const { proof, device } = await readJsonBody(request, describedProofRequest);
    const claims = await verifier.verify(bulkToken, tokenTypes.bulk, 'bulk registration token');
    const { certificate } = await proofs.verify(proof, { method: request.method, url: request.url, bearerToken: bulkToken });
    const bulkTokenId = String(claims.jti);
    const result = await auditedRegistration(audit, request, context, { thumbprint: certificate.thumbprint, details: { registration: 'bulk', bulkTokenId } }, () =>
      registration.registerWithBulkToken(bulkTokenId, certificate, device),
    );
    if (result.kind !== 'issued') throw new Error('bulk registration never waits for approval');
    return json(201, result.answer);
  });
}

app.http('registerDevice', {
  methods: ['POST'],
  route: 'register',
  authLevel: 'anonymous',
  handler: registerDevice,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { auditedRegistration } from '../shared/audit/registrationAudit.js';
import { ServiceError } from '../shared/errors.js';
import { readJsonBody } from '../shared/http/body.js';
import { handle } from '../shared/runtime/handle.js';
import { json } from '../shared/http/responses.js';
import { callerAddress } from '../shared/network/clientAddress.js';
import { describedProofRequest } from '../shared/devices/deviceDescription.js';

/** Registration from the organisation's network, under the approval policy. */
export async function registerInternal(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ internalNetworks, proofs, registration, audit }) => {
    if (underCoreTools()) {
      // Under `func start` no front end appends the caller's address to X-Forwarded-For, so
      // the header holds only what the caller wrote: trusting it would let anyone who reaches
      // that host claim to be internal. Refused outright (docs/decisions/0005-caller-address.md).
      throw new ServiceError(
        'network_forbidden',
        'internal registration is not available under Azure Functions Core Tools (func start), where nothing records the caller\'s address — use npm start, or register with a bulk token',
      );
    }
    const address = callerAddress(request);
    if (address === undefined || !internalNetworks.contains(address)) {
      throw new ServiceError(
        'network_forbidden',
        `internal registration is only open to INTERNAL_NETWORKS; the caller ${address ?? '(address unknown)'} is outside them — register with a bulk token instead`,
      );
    }
    const { proof, device } = await readJsonBody(request, describedProofRequest);
    const { certificate } = await proofs.verify(proof, { method: request.method, url: request.url });
    const result = await auditedRegistration(audit, request, context, { thumbprint: certificate.thumbprint, details: { registration: 'internal' } }, () =>
      registration.registerInternal(certificate, device),
    );
    if (result.kind === 'pending') return json(202, { deviceId: result.deviceId, status: 'pending' }, { 'retry-after': '60' });
    return json(201, result.answer);
  });
}

/**
 * Core Tools (`func start`) sets FUNCTIONS_CORETOOLS_ENVIRONMENT=true for the host and the
 * worker it starts (azure-functions-core-tools, src/Cli/func/Program.cs); neither Azure nor
 * the local host sets it. Read per request, as every setting is read after loading.
 */
function underCoreTools(): boolean {
  return process.env.FUNCTIONS_CORETOOLS_ENVIRONMENT?.toLowerCase() === 'true';
}

app.http('registerInternal', {
  methods: ['POST'],
  route: 'register/internal',
  authLevel: 'anonymous',
  handler: registerInternal,
});

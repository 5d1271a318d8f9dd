import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { isoTime } from '../shared/clock.js';
import { renewAfterSeconds } from '../shared/devices/deviceTokens.js';
import { bearerCredential } from '../shared/http/bearer.js';
import { readJsonBody } from '../shared/http/body.js';
import { handle } from '../shared/runtime/handle.js';
import { json } from '../shared/http/responses.js';
import { proofRequest } from '../shared/proof/proofRequest.js';

/** The gateway's per-request check: device token, proof of possession, and revocation. */
export async function authenticateDevice(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ deviceAuth, lastSeen }) => {
    const token = bearerCredential(request, 'device token');
    const { proof } = await readJsonBody(request, proofRequest);
    const claims = await deviceAuth.authenticate(token, proof, { method: request.method, url: request.url });
    // Not waited for: at most one Table write per device per granularity window (lastSeen.ts).
    lastSeen.seen(claims.deviceId);
    return json(200, {
      deviceId: claims.deviceId,
      expiresAt: isoTime(claims.expiresAt),
      renewAfter: isoTime(claims.issuedAt + renewAfterSeconds),
      registration: claims.registration,
    });
  });
}

app.http('authenticateDevice', {
  methods: ['POST'],
  route: 'authenticate',
  authLevel: 'anonymous',
  handler: authenticateDevice,
});

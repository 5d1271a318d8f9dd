import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handle } from '../shared/runtime/handle.js';
import { json } from '../shared/http/responses.js';

export async function jwks(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, context, async ({ signer }) => {
    // Public and cacheable, but briefly: after a rotation, verifiers must see the new key
    // before the first token it signs reaches them.
    return json(200, { keys: await signer.publicKeys() }, { 'cache-control': 'public, max-age=300' });
  });
}

app.http('jwks', {
  methods: ['GET'],
  route: '.well-known/jwks.json',
  authLevel: 'anonymous',
  handler: jwks,
});

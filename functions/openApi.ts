import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { json } from '../shared/http/responses.js';
import { openApiDocument } from '../shared/openapi/openApiDocument.js';

const body = openApiDocument;

export async function openApi(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return json(200, body, { 'cache-control': 'public, max-age=3600' });
}

app.http('openApi', {
  methods: ['GET'],
  route: 'openapi.json',
  authLevel: 'anonymous',
  handler: openApi,
});

import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ServiceError } from '../shared/errors.js';
import { clip } from '../shared/http/body.js';
import { problemResponse } from '../shared/http/problem.js';
import { openApiDocument } from '../shared/openapi/openApiDocument.js';

/**
 * Every request under /api that no other function takes: 405 problem+json with `Allow` when
 * the path is an endpoint's under another method, 404 problem+json otherwise. Without it the
 * Functions host answers both with an empty 404, since it treats a route's methods as a
 * routing constraint (WebScriptHostHttpRoutesManager, HttpMethodRouteConstraint).
 *
 * It only ever sees what no other route matched because the host (4.1037) tries the routes in
 * the order of the functions' names, case-insensitively (FunctionMetadataManager orders
 * them; WebJobsRouteBuilder keeps that order), and `{*path}` matches everything: hence the
 * "zz", and a test that fails if another function's name sorts after it. The endpoints and
 * their methods come from the OpenAPI document, which a test holds equal to the
 * registrations. It reads no configuration, so it answers the same with bad settings.
 */
const endpoints = Object.entries(openApiDocument.paths).map(([template, operations]) => ({
  segments: template.split('/').filter((part) => part !== ''),
  methods: Object.keys(operations).map((method) => method.toUpperCase()),
}));

export async function zzUnmatchedRoute(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const path = request.params.path ?? '';
  const parts = path.split('/').filter((part) => part !== '');
  const allowed = [
    ...new Set(
      endpoints
        .filter(({ segments }) => segments.length === parts.length && segments.every((segment, i) => segment.startsWith('{') || segment.toLowerCase() === parts[i]?.toLowerCase()))
        .flatMap(({ methods }) => methods),
    ),
  ];
  const shown = clip(`/api/${path}`);
  if (allowed.length === 0 || allowed.includes(request.method.toUpperCase())) {
    return problemResponse(new ServiceError('not_found', `no endpoint at ${shown}; GET /api/openapi.json lists them`));
  }
  const problem = problemResponse(new ServiceError('method_not_allowed', `${clip(request.method)} is not allowed on ${shown}; use ${allowed.join(', ')}`));
  return { ...problem, headers: { ...(problem.headers as Record<string, string>), allow: allowed.join(', ') } };
}

app.http('zzUnmatchedRoute', {
  // Every method the library can build a request for: a function with no methods would get
  // GET and POST only. Not TRACE or CONNECT: the library builds each request as a fetch
  // Request, which refuses them ("'TRACE' HTTP method is unsupported"), so a function listing
  // them fails every such request with an empty 500 before its code runs. Left out, no route
  // takes them and the host answers its own empty 404.
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  route: '{*path}',
  authLevel: 'anonymous',
  handler: zzUnmatchedRoute,
});

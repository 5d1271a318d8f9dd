import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registeredFunctions, triggerOf } from '../host/functionsCore.js';
import { hostOrder } from '../host/routes.js';
import { openApi } from '../functions/openApi.js';
import { errorCodes } from '../shared/errors.js';
import { invoke } from './support/invoke.js';

beforeAll(async () => {
  // Every function file registers itself on import, as under the Functions host.
  const dir = join(__dirname, '..', 'functions');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) await import(join(dir, file));
});

/** The catch-all that answers unmatched paths and methods (functions/zzUnmatchedRoute.ts): no endpoint of its own. */
const catchAll = 'zzUnmatchedRoute';
/**
 * The console (`/api/console/...`: a page, its files and its sign-in settings) is a client of
 * the API served beside it, not part of it: it is left out of the document, and only it.
 */
const consoleRoute = 'get /console/{*path}';

function registeredRoutes(): string[] {
  return registeredFunctions()
    .filter((registration) => registration.name !== catchAll)
    .map((registration) => triggerOf(registration))
    .filter((trigger) => trigger?.type === 'httpTrigger')
    .flatMap((trigger) => (trigger?.methods ?? []).map((method) => `${method.toLowerCase()} /${trigger?.route}`))
    .filter((route) => route !== consoleRoute)
    .sort();
}

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3.1 document describing exactly the registered routes and methods', async () => {
    const answer = await invoke(openApi, { method: 'GET', path: '/api/openapi.json' });
    expect(answer.status).toBe(200);
    const document = answer.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    expect(registeredRoutes().length).toBeGreaterThan(10);
    expect(registeredFunctions().map((registration) => triggerOf(registration)).filter((trigger) => trigger?.route?.startsWith('console'))).toEqual([
      expect.objectContaining({ type: 'httpTrigger', route: 'console/{*path}', methods: ['GET'] }),
    ]);
    expect(documented).toEqual(registeredRoutes());
  });

  it('the catch-all route sorts after every other function, so the Functions host tries it last', () => {
    // The host (4.1037) tries routes in the order of function names, case-insensitively
    // (azure-functions-host FunctionMetadataManager.cs; WebJobsRouteBuilder.Build keeps that
    // order): a function named after the catch-all would never be reached in Azure.
    const names = hostOrder(registeredFunctions()).map((registration) => registration.name);
    expect(names.length).toBeGreaterThan(10);
    expect(names[names.length - 1]).toBe(catchAll);
    const trigger = triggerOf(registeredFunctions().find((registration) => registration.name === catchAll)!);
    expect(trigger?.route).toBe('{*path}');
  });

  it('gives every operation a success answer, and problem+json for every error it lists', async () => {
    const document = (await invoke(openApi, { method: 'GET', path: '/api/openapi.json' })).body as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
    };
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses);
        expect({ route: `${method} ${path}`, success: statuses.some((status) => status.startsWith('2')) }).toEqual({ route: `${method} ${path}`, success: true });
        for (const status of statuses.filter((code) => Number(code) >= 400)) {
          expect({ route: `${method} ${path} ${status}`, types: Object.keys(operation.responses[status]?.content ?? {}) }).toEqual({
            route: `${method} ${path} ${status}`,
            types: ['application/problem+json'],
          });
        }
      }
    }
  });

  it('docs/errors.md documents every error code with its status', () => {
    const doc = readFileSync(join(__dirname, '..', 'docs', 'errors.md'), 'utf8');
    for (const [code, meta] of Object.entries(errorCodes)) {
      expect({ code, documented: doc.includes(`| \`${code}\` | ${meta.status} |`) }).toEqual({ code, documented: true });
    }
  });

  it('lists every error code the service can answer with', () => {
    // Loaded when this test runs, after the function modules above have registered.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const document = require('../shared/openapi/openApiDocument.js').openApiDocument as {
      components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } };
    };
    expect([...document.components.schemas.Problem.properties.code.enum].sort()).toEqual(Object.keys(errorCodes).sort());
  });
});

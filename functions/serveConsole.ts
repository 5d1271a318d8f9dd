import { fileURLToPath } from 'node:url';
import { app, type HttpHandler, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ConsoleFiles } from '../shared/console/consoleFiles.js';
import { consoleCsp, consoleSignIn } from '../shared/console/consoleSignIn.js';
import { ServiceError } from '../shared/errors.js';
import { handle } from '../shared/runtime/handle.js';
import { json } from '../shared/http/responses.js';

/**
 * The administrators' console: `GET /api/console` is the page, `GET /api/console/config` tells
 * it how to sign in, and `GET /api/console/<name>` serves the files the build produced
 * (dist/console, listed in its manifest). The console calls the admin API like any client;
 * it is not part of the API, so it is not in the OpenAPI document.
 */
export function consoleHandler(dir: string): HttpHandler {
  let files: Promise<ConsoleFiles> | undefined;
  const load = () => {
    if (!files) {
      const loading = ConsoleFiles.load(dir);
      files = loading;
      // A missing build is reported on each request rather than remembered.
      loading.catch(() => {
        if (files === loading) files = undefined;
      });
    }
    return files;
  };

  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    handle(request, context, async ({ config }) => {
      const signIn = consoleSignIn(config);
      const security = {
        'content-security-policy': consoleCsp(signIn),
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      };
      const path = request.params.path ?? '';
      if (path === 'config') return json(200, signIn, security);

      let built: ConsoleFiles;
      try {
        built = await load();
      } catch (error) {
        throw new ServiceError('not_found', 'the console is not built into this deployment (npm run build makes dist/console)', { cause: error });
      }
      const file = built.get(path === '' ? 'index.html' : path);
      if (!file) throw new ServiceError('not_found', `the console has no file ${JSON.stringify(path.slice(0, 100))}`);
      return {
        status: 200,
        headers: {
          'content-type': file.contentType,
          'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
          ...security,
        },
        body: file.body,
      };
    });
}

// Compiled to dist/functions/serveConsole.js; the build writes the console to dist/console.
export const serveConsole = consoleHandler(fileURLToPath(new URL('../console/', import.meta.url)));

app.http('serveConsole', {
  methods: ['GET'],
  // One catch-all route, which also matches /api/console itself: two functions on "console"
  // and "console/{*path}" would overlap on that URL. Function routes may not start with "admin".
  route: 'console/{*path}',
  authLevel: 'anonymous',
  handler: serveConsole,
});

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import functions, { type HttpResponseInit, type LogLevel } from '@azure/functions';
import { ServiceError } from '../shared/errors.js';
import { problemResponse } from '../shared/http/problem.js';
import { triggerOf, type FunctionRegistration } from './functionsCore.js';
import { httpRoutes, matchRoute, routePrefix } from './routes.js';

/** The local host's own cap, far above the service's 16 KiB, so handlers still decide. */
const maxHostBodyBytes = 1024 * 1024;

export type HostLog = (line: string) => void;

export interface HostOptions {
  log: HostLog;
  /** Lowest handler log level printed. */
  logLevel: LogLevel;
}

// The library's bundle hides these from ESM's named-export detection; `app` is the exception.
const { HttpRequest, HttpResponse, InvocationContext } = functions;
type HttpResponse = InstanceType<typeof HttpResponse>;

const levelOrder: Record<LogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6 };

/**
 * Serves registered functions as the Functions host does: HTTP triggers under `/api/<route>`,
 * and `POST /admin/functions/<name>` to run any other function (the purge timer) at once.
 */
export function createRequestListener(registrations: readonly FunctionRegistration[], options: HostOptions) {
  const routes = httpRoutes(registrations);
  const byName = new Map(registrations.map((registration) => [registration.name.toLowerCase(), registration]));

  const contextFor = (functionName: string) =>
    new InvocationContext({
      invocationId: randomUUID(),
      functionName,
      logHandler: (level, ...args) => {
        if (levelOrder[level] >= levelOrder[options.logLevel]) options.log(`[${functionName}] ${level}: ${args.map(String).join(' ')}`);
      },
    });

  return async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      const method = (req.method ?? 'GET').toUpperCase();
      const path = url.pathname;

      const admin = /^\/admin\/functions\/([^/]+)\/?$/.exec(path);
      if (admin) {
        await drain(req);
        const registration = byName.get(decodeURIComponent(admin[1] ?? '').toLowerCase());
        if (method !== 'POST' || !registration || triggerOf(registration)?.type === 'httpTrigger') {
          return send(res, problemResponse(new ServiceError('not_found', `no non-HTTP function at ${path} (POST /admin/functions/<name>)`)));
        }
        await registration.handler({ isPastDue: false, scheduleStatus: undefined }, contextFor(registration.name));
        return send(res, { status: 202 });
      }

      const prefix = `/${routePrefix}/`;
      if (!path.toLowerCase().startsWith(prefix)) {
        await drain(req);
        return send(res, problemResponse(new ServiceError('not_found', `nothing is served at ${path}; the API is under /${routePrefix}/`)));
      }
      const match = matchRoute(routes, method, path.slice(prefix.length));
      if (match.kind !== 'found') {
        await drain(req);
        if (match.kind === 'wrong-method') {
          const response = problemResponse(new ServiceError('method_not_allowed', `${method} is not allowed on ${path}; use ${match.allowed.join(', ')}`));
          return send(res, { ...response, headers: { ...(response.headers as Record<string, string>), allow: match.allowed.join(', ') } });
        }
        return send(res, problemResponse(new ServiceError('not_found', `no endpoint at ${path}`)));
      }

      const body = await readBody(req);
      if (body === undefined) {
        return send(res, problemResponse(new ServiceError('payload_too_large', `the body is larger than ${maxHostBodyBytes} bytes`)));
      }
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers: platformHeaders(req),
        params: match.params,
        ...(body.byteLength > 0 ? { body: { bytes: body } } : {}),
      });
      const started = performance.now();
      const result = (await match.route.handler(request, contextFor(match.route.name))) as HttpResponseInit | HttpResponse | undefined;
      const response = await send(res, result ?? { status: 204 });
      if (levelOrder[options.logLevel] <= levelOrder.information) {
        options.log(`${method} ${path} ${response} ${(performance.now() - started).toFixed(1)} ms`);
      }
    } catch (error) {
      options.log(`local host: unhandled error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) await send(res, problemResponse(new ServiceError('internal', 'the local host failed; see its console')));
      else res.destroy();
    }
  };
}

/**
 * The request's headers as a handler behind the platform would see them. The platform's
 * front end adds the caller's address to X-Forwarded-For; the local host plays that part,
 * appending the socket's address so handlers find the caller where they would in Azure.
 */
function platformHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const peer = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > maxHostBodyBytes) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function drain(req: IncomingMessage): Promise<void> {
  req.resume();
}

/** Writes a handler's answer; returns the status sent. */
async function send(res: ServerResponse, result: HttpResponseInit | HttpResponse): Promise<number> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, { ...headers, 'content-length': String(body.byteLength) });
  res.end(body);
  return response.status;
}

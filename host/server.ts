import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LogLevel } from '@azure/functions';
import { constantTimeEqual } from '../shared/crypto/constantTime.js';
import { ServiceError } from '../shared/errors.js';
import { problemResponse } from '../shared/http/problem.js';
import { triggerOf, type FunctionRegistration } from './functionsCore.js';
import { MalformedRequest, printable, requestTarget, rpcHttpRequest } from './hostRequest.js';
import { bodyBytes, httpResult, invokeAsWorker, type InvocationLog, type RpcHttpData } from './invocation.js';
import { parseSchedule, type Schedule } from './ncrontab.js';
import { httpRoutes, matchRoute, routePrefix } from './routes.js';

/** The local host's own cap, far above the service's 16 KiB, so handlers still decide. */
const maxHostBodyBytes = 1024 * 1024;

export type HostLog = (line: string) => void;

export interface HostOptions {
  log: HostLog;
  /** Lowest handler log level printed. */
  logLevel: LogLevel;
  /**
   * The app settings `%NAME%` binding expressions resolve from (the timer's schedule), as the
   * host resolves them: from settings only, never from a default in the code.
   */
  settings: Record<string, string | undefined>;
  /**
   * The admin credential `POST /admin/functions/<name>` requires; undefined leaves it open,
   * which main.ts does only when the host listens on loopback alone.
   */
  adminKey?: string;
  /** The clock for the timer's schedule status (tests). */
  now?: () => Date;
}

/**
 * The credential `POST /admin/functions/<name>` takes, from the HOST setting: none when the
 * host listens on loopback alone (only this machine reaches it, as with Core Tools), the admin
 * key otherwise. A tunnel or reverse proxy on this machine defeats the first case: see README.
 */
export function adminRunCredential(hostSetting: string | undefined, adminKey: string | undefined): string | undefined {
  return hostSetting === undefined || isLoopback(hostSetting) ? undefined : (adminKey ?? '');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const levelOrder: Record<LogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6 };

type TimerState = { schedule: Schedule; expression: string; last: Date } | { error: string };

/**
 * Serves registered functions as the Functions host does: HTTP triggers under `/api/<route>`,
 * routed in the host's order with methods as a constraint, each request turned into the
 * invocation the host sends and run through `@azure/functions`' own invocation model
 * (invocation.ts); and `POST /admin/functions/<name>` to run a timer at once, with the
 * payload the host hands it.
 */
export function createRequestListener(registrations: readonly FunctionRegistration[], options: HostOptions) {
  const routes = httpRoutes(registrations);
  const byName = new Map(registrations.map((registration) => [registration.name.toLowerCase(), registration]));
  const now = options.now ?? (() => new Date());
  const timers = new Map<string, TimerState>();
  for (const registration of registrations) {
    const trigger = triggerOf(registration);
    if (trigger?.type !== 'timerTrigger') continue;
    const state = timerState(trigger.schedule ?? '', options.settings, now());
    timers.set(registration.name, state);
    if ('error' in state) options.log(`[${registration.name}] error: ${state.error}; the Functions host would not run this function either`);
  }

  const logFor =
    (functionName: string): InvocationLog =>
    (level, category, message) => {
      if (category === 'user' || levelOrder[level] >= levelOrder.warning) {
        if (levelOrder[level] >= levelOrder[options.logLevel]) options.log(`[${functionName}] ${level}: ${message}`);
      }
    };

  const failed = (name: string, error: unknown) =>
    // As the host logs a failed invocation: the function's name and the error with its stack.
    options.log(`[${name}] error: Executed '${name}' (Failed): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);

  return async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    try {
      let target;
      try {
        target = requestTarget(req);
      } catch (error) {
        if (!(error instanceof MalformedRequest)) throw error;
        req.resume();
        return await send(res, problemResponse(new ServiceError('invalid_request', error.message)));
      }
      const method = (req.method ?? 'GET').toUpperCase();

      const admin = /^\/admin\/functions\/([^/]+)\/?$/i.exec(target.rawPath);
      if (admin) {
        req.resume();
        return await runByAdmin(req, res, method, admin[1] ?? '');
      }

      const prefix = `/${routePrefix}`;
      const lowerPath = target.rawPath.toLowerCase();
      const below = lowerPath === prefix ? '' : lowerPath.startsWith(`${prefix}/`) ? target.rawPath.slice(prefix.length + 1) : undefined;
      const match = below === undefined ? undefined : matchRoute(routes, method, below);
      if (!match) {
        // No route: the host's own answer, an empty 404 (a wrong method is no route either).
        req.resume();
        return await send(res, { status: 404, headers: {}, body: Buffer.alloc(0) });
      }

      const body = await readBody(req);
      if (body === 'too-large') {
        return await send(res, problemResponse(new ServiceError('payload_too_large', `the body is larger than ${maxHostBodyBytes} bytes`)));
      }
      const started = performance.now();
      const registration = match.route.registration;
      let answer: RpcHttpData | undefined;
      try {
        const response = await invokeAsWorker(registration, { http: rpcHttpRequest(req, target, match.params, body) }, logFor(registration.name));
        answer = httpResult(response);
      } catch (error) {
        failed(registration.name, error);
        // The host answers a failed invocation with an empty 500.
        return await send(res, { status: 500, headers: {}, body: Buffer.alloc(0) });
      }
      const status = await send(res, rpcAnswer(answer));
      if (levelOrder[options.logLevel] <= levelOrder.information) {
        options.log(`${method} ${target.rawPath} ${status} ${(performance.now() - started).toFixed(1)} ms`);
      }
      return status;
    } catch (error) {
      options.log(`local host: unhandled error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) return await send(res, problemResponse(new ServiceError('internal', 'the local host failed; see its console')));
      res.destroy();
      return undefined;
    }
  };

  async function runByAdmin(req: IncomingMessage, res: ServerResponse, method: string, encodedName: string): Promise<number> {
    if (options.adminKey !== undefined) {
      // Open on loopback only; bound elsewhere, running a function takes the admin credential.
      const authorization = req.headersDistinct.authorization ?? [];
      const credential = authorization.length === 1 ? /^Bearer ([^\s]+)$/i.exec(authorization[0] ?? '')?.[1] : undefined;
      if (credential === undefined) {
        return send(res, problemResponse(new ServiceError('missing_credential', 'POST /admin/functions/<name> takes the admin credential when the local host listens beyond loopback')));
      }
      if (options.adminKey === '' || !constantTimeEqual(credential, options.adminKey)) {
        return send(res, problemResponse(new ServiceError('invalid_token', 'the admin credential is not valid')));
      }
    }
    let name: string;
    try {
      name = decodeURIComponent(encodedName);
    } catch {
      return send(res, problemResponse(new ServiceError('invalid_request', `${printable(encodedName)} is not a percent-encoded function name`)));
    }
    const registration = byName.get(name.toLowerCase());
    if (method !== 'POST' || !registration || triggerOf(registration)?.type === 'httpTrigger') {
      return send(res, problemResponse(new ServiceError('not_found', `no non-HTTP function named ${printable(name)} (POST /admin/functions/<name>)`)));
    }
    const timer = timers.get(registration.name);
    if (timer && 'error' in timer) {
      return send(res, problemResponse(new ServiceError('misconfigured', `${registration.name} is in error: ${timer.error}`)));
    }
    const trigger = timer ? { json: JSON.stringify(timerInfo(timer, now())) } : { string: '' };
    try {
      await invokeAsWorker(registration, trigger, logFor(registration.name));
    } catch (error) {
      failed(registration.name, error);
      return await send(res, problemResponse(new ServiceError('internal', `${registration.name} failed; see the local host's log`)));
    } finally {
      if (timer) timer.last = now();
    }
    return send(res, { status: 202, headers: {}, body: Buffer.alloc(0) });
  }
}

/**
 * A timer function's schedule, with `%NAME%` resolved from the settings alone, as the host
 * resolves binding expressions (an unset setting leaves the function in error).
 */
function timerState(expression: string, settings: Record<string, string | undefined>, started: Date): TimerState {
  let unresolved: string | undefined;
  const resolved = expression.replace(/%([^%]+)%/g, (_whole, name: string) => {
    const value = settings[name];
    if (value === undefined || value === '') unresolved ??= name;
    return value ?? '';
  });
  if (unresolved !== undefined) return { error: `the schedule '${expression}' names the setting ${unresolved}, which is not set` };
  try {
    return { schedule: parseSchedule(resolved), expression: resolved, last: started };
  } catch (error) {
    return { error: `the schedule is not valid: ${(error as Error).message}` };
  }
}

/**
 * The host's TimerInfo as it serialises it for the worker (Microsoft.Azure.WebJobs.Extensions
 * Timers: Schedule, ScheduleStatus {Last, Next, LastUpdated}, IsPastDue); the library
 * camel-cases it to `{schedule, scheduleStatus, isPastDue}`. A run by the admin endpoint is
 * never past due (TimerTriggerBinding.BindAsync). `Last` is this host's previous run, or its
 * start before the first.
 */
function timerInfo(timer: { schedule: Schedule; last: Date }, at: Date) {
  return {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: timer.last.toISOString(), Next: timer.schedule.next(at).toISOString(), LastUpdated: timer.last.toISOString() },
    IsPastDue: false,
  };
}

/** The HTTP answer the host writes for an RPC response (RawScriptResult.ExecuteResultAsync). */
function rpcAnswer(http: RpcHttpData | undefined): { status: number; headers: Record<string, string>; body: Buffer } {
  if (!http) return { status: 204, headers: {}, body: Buffer.alloc(0) };
  if (http.cookies && http.cookies.length > 0) throw new Error('the local host does not write cookies, and no function sets one');
  return { status: Number(http.statusCode ?? '200'), headers: { ...(http.headers ?? {}) }, body: bodyBytes(http.body) };
}

/**
 * The body as the host forwards it: read only when Content-Length is above zero; a chunked
 * body is drained and dropped (GrpcMessageConversionExtensions.ToRpcHttp).
 */
async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (!(declared > 0)) {
    req.resume();
    return undefined;
  }
  if (declared > maxHostBodyBytes) {
    req.resume();
    return 'too-large';
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes an answer; returns the status sent. */
async function send(
  res: ServerResponse,
  answer: { status?: number; headers?: ConstructorParameters<typeof Headers>[0]; body?: unknown },
): Promise<number> {
  const status = answer.status ?? 200;
  let body: Buffer;
  if (Buffer.isBuffer(answer.body)) body = answer.body;
  else if (typeof answer.body === 'string') body = Buffer.from(answer.body);
  else body = Buffer.alloc(0);
  const headers: Record<string, string> = {};
  new Headers(answer.headers).forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(status, { ...headers, 'content-length': String(body.byteLength) });
  res.end(body);
  return status;
}

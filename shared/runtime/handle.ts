import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ServiceError } from '../errors.js';
import { getServices, type Services } from '../services.js';
import { problemResponse } from '../http/problem.js';

export type RouteWork = (services: Services) => Promise<HttpResponseInit>;

/**
 * Runs a handler's work and turns every failure into a problem+json answer. ServiceErrors
 * carry their own status; anything else is a bug: it is logged with the invocation id and
 * the caller sees only that id, never a stack trace.
 */
export async function handle(request: HttpRequest, context: InvocationContext, work: RouteWork): Promise<HttpResponseInit> {
  try {
    return await work(await getServices((bad) => context.error(`invalid configuration; every route answers 503 misconfigured until it is corrected: ${bad.problems.join('; ')}`)));
  } catch (error) {
    if (error instanceof ServiceError) {
      // A misconfiguration is logged once per instance (above), not on every request.
      if (error.status >= 500 && error.code !== 'misconfigured') context.warn(`${request.method} ${new URL(request.url).pathname}: ${error.message}`, describeCause(error));
      return problemResponse(error);
    }
    context.error(`${request.method} ${new URL(request.url).pathname} failed`, error);
    return problemResponse(
      new ServiceError('internal', `an unexpected error occurred; the operator can find it in the logs under invocation ${context.invocationId}`),
    );
  }
}

function describeCause(error: ServiceError): string {
  const cause = error.cause;
  if (cause instanceof Error) return `cause: ${cause.name}: ${cause.message}`;
  return '';
}

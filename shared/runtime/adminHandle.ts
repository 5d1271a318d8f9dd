import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { PrincipalRefusedError, type AdminPrincipal } from '../admin/adminAuthorizer.js';
import { anonymousActor } from '../audit/auditEntry.js';
import type { AuditCall } from '../audit/auditTrail.js';
import { ServiceError } from '../errors.js';
import { callerAddress } from '../network/clientAddress.js';
import type { Services } from '../services.js';
import { handle } from './handle.js';

export interface AdminRequest {
  services: Services;
  principal: AdminPrincipal;
  /** The caller's part of every audit entry this request writes. */
  audit: AuditCall;
}

/**
 * `handle()` for admin routes: the admin credential is checked before any work, and a
 * refusal of it (401, 403) is recorded in the audit trail as `admin.refused` - here, once,
 * for every admin route, so that no route can forget it.
 */
export async function handleAdmin(
  request: HttpRequest,
  context: InvocationContext,
  work: (admin: AdminRequest) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  return handle(request, context, async (services) => {
    const address = callerAddress(request);
    const call = (actor: AuditCall['actor']): AuditCall => ({ actor, callerAddress: address, invocationId: context.invocationId, log: context });
    let principal: AdminPrincipal;
    try {
      principal = await services.admin.authorize(request);
    } catch (error) {
      if (error instanceof ServiceError && (error.status === 401 || error.status === 403)) {
        const actor = error instanceof PrincipalRefusedError ? actorOf(error.principal) : anonymousActor;
        await services.audit.refused(call(actor), routeOf(request), error);
      }
      throw error;
    }
    return work({ services, principal, audit: call(actorOf(principal)) });
  });
}

function actorOf(principal: AdminPrincipal): AuditCall['actor'] {
  return { kind: principal.kind, ...(principal.id === undefined ? {} : { id: principal.id }), name: principal.name };
}

/** "METHOD /api/path": never the query, and at most 200 characters of a caller's path. */
function routeOf(request: HttpRequest): string {
  return `${request.method} ${new URL(request.url).pathname.slice(0, 200)}`;
}

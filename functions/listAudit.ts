import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { auditActions } from '../shared/audit/auditEntry.js';
import { nowMs } from '../shared/clock.js';
import { ServiceError } from '../shared/errors.js';
import { validate } from '../shared/http/body.js';
import { pageParams } from '../shared/http/params.js';
import { handleAdmin } from '../shared/runtime/adminHandle.js';
import { json } from '../shared/http/responses.js';

const dayMs = 86_400_000;
export const defaultAuditWindowDays = 7;
export const maxAuditWindowDays = 366;

/** An ISO 8601 instant with its offset, between the years 2000 and 2199. */
function instant(name: string) {
  const message = `${name} must be an ISO 8601 instant with a time zone, such as 2026-12-01T08:00:00Z`;
  return z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i, message)
    .transform((value) => Date.parse(value))
    .pipe(z.number({ error: message }).min(Date.UTC(2000, 0, 1), `${name} must be in the years 2000 to 2199`).max(Date.UTC(2200, 0, 1), `${name} must be in the years 2000 to 2199`));
}

const listQuery = z.object({
  from: instant('from').optional(),
  to: instant('to').optional(),
  action: z.enum(auditActions, { error: `action must be one of ${auditActions.join(', ')}` }).optional(),
  ...pageParams,
});

/** The audit trail, newest first: `from` inclusive, `to` exclusive, by default the last 7 days. */
export async function listAudit(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAdmin(request, context, async ({ services: { audit, clock } }) => {
    const query = validate(listQuery, Object.fromEntries(request.query.entries()));
    const to = query.to ?? nowMs(clock) + 1;
    const from = query.from ?? to - defaultAuditWindowDays * dayMs;
    if (from >= to) throw new ServiceError('invalid_request', 'from must be earlier than to');
    if (to - from > maxAuditWindowDays * dayMs) throw new ServiceError('invalid_request', `from and to must be at most ${maxAuditWindowDays} days apart`);
    const page = await audit.list({ from, to, action: query.action, limit: query.limit ?? 100, continuation: query.continuation });
    return json(200, { items: page.items, ...(page.continuation === undefined ? {} : { continuation: page.continuation }) });
  });
}

app.http('listAudit', {
  methods: ['GET'],
  route: 'audit',
  authLevel: 'anonymous',
  handler: listAudit,
});

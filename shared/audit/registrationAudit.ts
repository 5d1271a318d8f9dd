import type { HttpRequest, InvocationContext } from '@azure/functions';
import { deviceIdFor } from '../devices/deviceId.js';
import type { RegistrationResult } from '../devices/registrationService.js';
import { ServiceError } from '../errors.js';
import { callerAddress } from '../network/clientAddress.js';
import { anonymousActor, type AuditDetails } from './auditEntry.js';
import type { AuditTrail } from './auditTrail.js';

/**
 * Runs a registration whose proof has verified and records how it ended: `succeeded` (a token
 * was issued), `pending` (the first request of a device awaiting approval - not its polls),
 * `refused` (4xx: revoked, bulk token blocked or used up) or `failed` (5xx). Requests refused
 * before the proof verified are not recorded: anyone can send those, and recording them
 * would turn unauthenticated traffic into table writes (decision 0009). The entry is written
 * after the fact and a failure to write it never changes the device's answer.
 */
export async function auditedRegistration(
  trail: AuditTrail,
  request: HttpRequest,
  context: InvocationContext,
  what: { thumbprint: string; details: AuditDetails },
  register: () => Promise<RegistrationResult>,
): Promise<RegistrationResult> {
  const deviceId = deviceIdFor(what.thumbprint);
  const call = { actor: { kind: 'device' as const, name: deviceId }, callerAddress: callerAddress(request), invocationId: context.invocationId, log: context };
  const record = (outcome: 'succeeded' | 'pending' | 'refused' | 'failed', status: number, code?: string) =>
    trail.registration(call, { outcome, status, ...(code === undefined ? {} : { code }), deviceId, details: what.details });
  let result: RegistrationResult;
  try {
    result = await register();
  } catch (error) {
    const status = error instanceof ServiceError ? error.status : 500;
    await record(status < 500 ? 'refused' : 'failed', status, error instanceof ServiceError ? error.code : 'internal');
    throw error;
  }
  if (result.kind === 'issued') await record('succeeded', 201);
  else if (result.first) await record('pending', 202);
  return result;
}

/**
 * Runs the check that refuses a blocked, expired, used-up or unknown bulk token before the
 * proof is looked at, and records such a refusal: the token's signature verified, so its
 * holder is the one who was given it (or whoever it leaked to), which an administrator
 * wants to know after blocking it. The device is not known yet (its proof is unchecked), so
 * the actor is anonymous; the entry names the bulk token and the caller's address. These
 * entries are capped per token and per instance (AuditTrail.registration), so a flood with
 * a blocked token stores a handful of rows, not one per request.
 */
export async function auditedBulkTokenCheck(
  trail: AuditTrail,
  request: HttpRequest,
  context: InvocationContext,
  bulkTokenId: string,
  check: () => Promise<void>,
): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (error instanceof ServiceError && error.status < 500) {
      const call = { actor: anonymousActor, callerAddress: callerAddress(request), invocationId: context.invocationId, log: context };
      await trail.registration(call, { outcome: 'refused', status: error.status, code: error.code, details: { registration: 'bulk', bulkTokenId } });
    }
    throw error;
  }
}

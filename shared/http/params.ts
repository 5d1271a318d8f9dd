import { z } from 'zod';
import { ServiceError } from '../errors.js';
import { guidPattern } from '../guid.js';

/** A route's `{id}`: a GUID, compared in lower case as the service issues them. */
export function guidParam(value: string | undefined, what: string): string {
  if (value === undefined || !guidPattern.test(value)) {
    throw new ServiceError('invalid_request', `${what} must be a GUID such as 3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a`);
  }
  return value.toLowerCase();
}

/** The paging parameters every admin list takes: `limit` (1 to 1,000) and an opaque `continuation`. */
export const pageParams = {
  limit: z
    .string()
    .regex(/^\d+$/, 'limit must be a whole number from 1 to 1000')
    .transform(Number)
    .pipe(z.number().min(1, 'limit must be at least 1').max(1000, 'limit must be at most 1000'))
    .optional(),
  continuation: z.string().max(2048, 'continuation is too long').optional(),
};

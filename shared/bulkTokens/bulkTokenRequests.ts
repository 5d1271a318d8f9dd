import { z } from 'zod';
import { maxLifetimeMinutes } from './bulkTokenService.js';

const wholeNumber = (min: number, max: number, unit: string) =>
  z.unknown().transform((value, ctx) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a whole number from ${min} to ${max}${unit} (got ${describe(value)})`,
      });
      return z.NEVER;
    }
    return value;
  });

export const createBulkTokenRequest = z.strictObject(
  {
    lifetimeMinutes: wholeNumber(1, maxLifetimeMinutes, ' minutes; 10080 is 7 days').optional(),
    description: z
      .string({ error: 'must be a string' })
      .max(256, 'must be at most 256 characters')
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
      .optional(),
    maxUses: wholeNumber(1, 1_000_000, ' devices').optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : 'the body must be a JSON object') },
);

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

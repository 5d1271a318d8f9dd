import { z } from 'zod';

/** The body of every device request: `{"proof": "<compact JWS>"}`. */
export const proofRequest = z.strictObject(
  { proof: z.string({ error: 'must be the compact JWS proof, as a string' }).min(1, 'must not be empty') },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : 'the body must be a JSON object {"proof": "<JWS>"}',
  },
);

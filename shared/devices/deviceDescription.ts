import { z } from 'zod';
import { proofRequest } from '../proof/proofRequest.js';

/**
 * What a device says about itself when it registers or renews (docs/protocol.md, "Device
 * description"): a name an administrator can recognise, its operating system and the version
 * of its client. All three are the device's own claims - nothing checks them - so the admin
 * views show them as such and nothing in the service decides anything on them.
 */
export interface DeviceDescription {
  name: string | undefined;
  os: string | undefined;
  clientVersion: string | undefined;
}

export const maxNameLength = 64;
export const maxOsLength = 128;
export const maxClientVersionLength = 32;

// C0, DEL and C1 controls: they would let a name rewrite a terminal line or a log line.
const controlCharacter = /\p{Cc}/u;
// With the u flag a surrogate pair is one code point, so only a half pair matches.
const loneSurrogate = /\p{Cs}/u;

/** Length in characters (code points), as a person counts them, not UTF-16 units. */
function characters(text: string): number {
  // A surrogate pair is one character; a lone half is refused separately.
  return text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '_').length;
}

/** Text of 1 to `max` characters with no control character and no unpaired surrogate. */
function plainText(max: number) {
  return z
    .string({ error: 'must be a string' })
    .refine((value) => characters(value) >= 1, 'must not be empty')
    .refine((value) => characters(value) <= max, `must be at most ${max} characters`)
    .refine((value) => !controlCharacter.test(value), 'must not contain control characters')
    // Table Storage and JSON consumers cannot carry half a UTF-16 pair faithfully.
    .refine((value) => !loneSurrogate.test(value), 'must be well-formed Unicode text');
}

const deviceSchema = z.strictObject(
  {
    // Trimmed first, so "  " is refused as empty rather than stored as a blank name.
    name: z.string({ error: 'must be a string' }).trim().pipe(plainText(maxNameLength)).optional(),
    os: plainText(maxOsLength).optional(),
    clientVersion: z
      .string({ error: 'must be a string' })
      .regex(/^[0-9A-Za-z.+-]{1,32}$/, `must be 1 to ${maxClientVersionLength} characters of 0-9 A-Z a-z . + -`)
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field(s): ${issue.keys.join(', ')} (device takes name, os and clientVersion)`
        : 'must be an object {name?, os?, clientVersion?}',
  },
);

/**
 * The body of registration and renewal: the proof, and optionally `device`. Any refusal names
 * the field (`device.name: must be at most 64 characters`) and is a 400 before anything is
 * read or written.
 */
export const describedProofRequest = proofRequest.extend({ device: deviceSchema.optional() });

export type DeviceInput = z.infer<typeof deviceSchema>;

/**
 * The description to store: the device's own fields, its name defaulting to the
 * certificate's subject CN when that is usable as a name.
 */
export function deviceDescription(input: DeviceInput | undefined, commonName: string | undefined): DeviceDescription {
  return {
    name: input?.name ?? usableName(commonName),
    os: input?.os,
    clientVersion: input?.clientVersion,
  };
}

/** A certificate CN as a name: trimmed, 1 to 64 printable characters, else none. */
export function usableName(commonName: string | undefined): string | undefined {
  if (commonName === undefined) return undefined;
  const parsed = plainText(maxNameLength).safeParse(commonName.trim());
  return parsed.success ? parsed.data : undefined;
}

/**
 * The `?name=` of the device list: a prefix of a name, so bound by the same rules (a prefix
 * with a control character could match no name, and is refused before it reaches the store).
 */
export const namePrefix = z
  .string()
  .refine((value) => characters(value) >= 1 && characters(value) <= maxNameLength, `name must be 1 to ${maxNameLength} characters (a prefix of the device name)`)
  .refine((value) => !controlCharacter.test(value) && !loneSurrogate.test(value), 'name must not contain control characters or half a surrogate pair');

/** The key the name search compares: case folded the same way for every caller. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

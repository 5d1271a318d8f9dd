import { constants, createHash, createHmac, sign, type KeyObject } from 'node:crypto';
import { base64url as joseBase64url } from 'jose';
import type { DeviceIdentity } from '../../cli/device/identity.js';
import type { TokenSigner } from '../../shared/signing/signer.js';
import { serviceUrl } from './devices.js';

/**
 * Hand-built compact JWS for attacks and fuzzing. jose refuses to sign most of what an
 * attacker sends (alg none, a header claiming one algorithm over a signature of another,
 * crit lists it does not understand), so the signing input is assembled here and the
 * signature is whatever the attack needs.
 */

export const proofTyp = 'device-proof+jwt';

export function b64url(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

/** A JSON value as a JWS segment. `undefined` becomes the empty segment. */
export function segment(value: unknown): string {
  return value === undefined ? '' : b64url(JSON.stringify(value));
}

export function sha256url(text: string): string {
  return createHash('sha256').update(text, 'ascii').digest('base64url');
}

/** The signature a device key makes over `input`, labelled `alg` whatever the key really is. */
export function deviceSignature(identity: { privateKey: KeyObject }, alg: unknown, input: string): Buffer {
  const data = Buffer.from(input, 'utf8');
  if (alg === 'none') return Buffer.alloc(0);
  if (typeof alg === 'string' && /^HS/i.test(alg)) return createHmac('sha256', 'device-key-as-hmac-secret').update(data).digest();
  if (identity.privateKey.asymmetricKeyType === 'ec') return sign('sha256', data, { key: identity.privateKey, dsaEncoding: 'ieee-p1363' });
  if (alg === 'PS256') {
    return sign('sha256', data, { key: identity.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  }
  return sign('sha256', data, identity.privateKey);
}

/** The algorithms the service lets a certificate's key sign proofs with. */
export function proofAlgorithmsFor(identity: DeviceIdentity): string[] {
  return identity.privateKey.asymmetricKeyType === 'ec' ? ['ES256'] : ['RS256', 'PS256'];
}

export function certificateBase64(identity: { certificateDer: Buffer }): string {
  return identity.certificateDer.toString('base64');
}

export interface ProofParts {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** The header and claims of a correct proof for `path`, before any attack changes them. */
export function proofParts(identity: DeviceIdentity, options: { path: string; iat: number; jti: string; bearer?: string | undefined }): ProofParts {
  const claims: Record<string, unknown> = { htm: 'POST', htu: `${serviceUrl}${options.path}`, iat: options.iat, jti: options.jti };
  if (options.bearer !== undefined) claims.ath = sha256url(options.bearer);
  return { header: { alg: identity.alg, typ: proofTyp, x5c: [certificateBase64(identity)] }, claims };
}

/** Signs `header.payload` with the device key (the header may lie about the algorithm). */
export function signProofParts(identity: DeviceIdentity, header: unknown, payloadSegment: string): string {
  const input = `${segment(header)}.${payloadSegment}`;
  const alg = typeof header === 'object' && header !== null ? (header as Record<string, unknown>).alg : undefined;
  return `${input}.${b64url(deviceSignature(identity, alg, input))}`;
}

/** A JWS signed by the service's own key, with any header and claims: what only the service can make. */
export async function serviceSigned(signer: TokenSigner, header: unknown, payloadSegment: string): Promise<string> {
  const key = await signer.signingKey();
  const input = `${segment(header)}.${payloadSegment}`;
  return `${input}.${b64url(await key.sign(Buffer.from(input, 'utf8')))}`;
}

export function decodeSegment(text: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Whether `candidate` is the same JWS as `original` to a verifier: the same signed input, and
 * a signature segment that decodes to the same bytes. jose decodes leniently (base64 padding
 * bits, whitespace), so a changed signature segment can still be the same signature; the
 * fuzz must not call that an accepted forgery.
 */
export function sameJws(original: string, candidate: string): boolean {
  if (original === candidate) return true;
  const a = original.split('.');
  const b = candidate.split('.');
  if (a.length !== 3 || b.length !== 3 || a[0] !== b[0] || a[1] !== b[1]) return false;
  try {
    return Buffer.from(joseBase64url.decode(a[2] ?? '')).equals(Buffer.from(joseBase64url.decode(b[2] ?? '')));
  } catch {
    return false;
  }
}

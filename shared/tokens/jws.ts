import type { SigningKey, TokenSigner } from '../signing/signer.js';

/** Token types; a token of one type is never accepted where another is expected. */
export const tokenTypes = {
  bulk: 'bulk-registration+jwt',
  device: 'device+jwt',
  proof: 'device-proof+jwt',
} as const;
export type TokenType = (typeof tokenTypes)[keyof typeof tokenTypes];

export function base64url(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * Assembles a compact JWS here and lets the signing port sign it: jose cannot sign with a
 * key that never leaves Key Vault, so the signing input is built by hand and only
 * verification uses jose.
 */
export async function signJwt(signer: TokenSigner, typ: TokenType, claims: object): Promise<string> {
  const key: SigningKey = await signer.signingKey();
  const header = { alg: key.alg, kid: key.kid, typ };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = await key.sign(Buffer.from(signingInput, 'ascii'));
  return `${signingInput}.${base64url(signature)}`;
}

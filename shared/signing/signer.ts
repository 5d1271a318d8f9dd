import type { JWK } from 'jose';
import type { SigningAlg } from '../config.js';

export type { SigningAlg };

/** The algorithms tokens may be signed with; verifiers accept nothing else. */
export const signingAlgs: readonly SigningAlg[] = ['RS256', 'PS256', 'ES256'];

/** A public key as published in the JWKS: always carries its `kid`, `alg` and `use`. */
export type PublicJwk = JWK & { kid: string; alg: SigningAlg; use: 'sig' };

/** The key that signs new tokens right now. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  /** Signs the JWS signing input; returns the signature as JWS wants it (R‖S for ECDSA). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * The signing port. A local key file in development, a Key Vault key in Azure; handlers and
 * the domain see only this.
 */
export interface TokenSigner {
  /** The key for new tokens; after a rotation, the newest version. */
  signingKey(): Promise<SigningKey>;
  /** Every public key whose tokens may still be alive, newest first. */
  publicKeys(): Promise<readonly PublicJwk[]>;
}

import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { createPrivateFileOnce } from '../fs/privateFile.js';
import type { PublicJwk, SigningAlg, SigningKey, TokenSigner } from './signer.js';

/**
 * Signs with a private key kept in a file (PKCS#8 PEM, mode 0600) under the local data folder,
 * generated on first use. For development and tests; in Azure the Key Vault signer is used.
 */
export class LocalKeySigner implements TokenSigner {
  /** One array for the signer's life: the verifier compares it by reference to skip re-checking an unchanged set. */
  private readonly published: readonly PublicJwk[];

  private constructor(
    private readonly key: SigningKey,
    jwk: PublicJwk,
  ) {
    this.published = Object.freeze([jwk]);
  }

  /** Loads the key for `alg` from `dir`, generating it (once) if the file does not exist. */
  static async open(dir: string, alg: SigningAlg): Promise<LocalKeySigner> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `signing-key-${alg}.pem`);
    const privateKey = createPrivateKey(await readOrCreateKeyFile(file, alg));
    return LocalKeySigner.fromPrivateKey(privateKey, alg);
  }

  static async fromPrivateKey(privateKey: KeyObject, alg: SigningAlg): Promise<LocalKeySigner> {
    const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const jwk: PublicJwk = { ...publicJwk, kid, alg, use: 'sig' };
    const key: SigningKey = { kid, alg, sign: async (data) => signWith(privateKey, alg, data) };
    return new LocalKeySigner(key, jwk);
  }

  async signingKey(): Promise<SigningKey> {
    return this.key;
  }

  async publicKeys(): Promise<readonly PublicJwk[]> {
    return this.published;
  }
}

export function generatePrivateKey(alg: SigningAlg): KeyObject {
  return alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

function signWith(privateKey: KeyObject, alg: SigningAlg, data: Uint8Array): Uint8Array {
  switch (alg) {
    case 'RS256':
      return sign('sha256', data, privateKey);
    case 'PS256':
      return sign('sha256', data, {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    case 'ES256':
      // JWS wants the raw R‖S form, not DER.
      return sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  }
}

async function readOrCreateKeyFile(file: string, alg: SigningAlg): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pem = generatePrivateKey(alg).export({ format: 'pem', type: 'pkcs8' }).toString();
  // Of two processes starting at once, the first key made wins and both use it.
  return (await createPrivateFileOnce(file, pem)) ? pem : readFile(file, 'utf8');
}

import { checkPrimeSync, createPrivateKey, type KeyObject } from 'node:crypto';
import type { SeededRandom } from '../bench/random.js';

const e = 65537n;

/**
 * An RSA private key whose primes come from `random`, so that a seed fixes the key, as it
 * does for the bench's EC keys. Candidates are drawn from the generator with the top two
 * bits and the low bit set (so p·q has exactly `bits` bits) and tested with OpenSSL's
 * primality test; e = 65537. For a bench only: the generator is not a secure one.
 */
export function seededRsaKey(random: SeededRandom, bits = 2048): KeyObject {
  for (;;) {
    const p = seededPrime(random, bits / 2);
    const q = seededPrime(random, bits / 2);
    if (p === q) continue;
    const phi = (p - 1n) * (q - 1n);
    if (gcd(e, phi) !== 1n) continue;
    return rsaKeyFromPrimes(p, q, e);
  }
}

/** The private key with primes p and q and public exponent e (coprime to (p-1)(q-1)), in CRT form. */
export function rsaKeyFromPrimes(p: bigint, q: bigint, e: bigint): KeyObject {
  const d = modInverse(e, (p - 1n) * (q - 1n));
  const [big, small] = p > q ? [p, q] : [q, p];
  const jwk = {
    kty: 'RSA',
    n: toBase64url(big * small),
    e: toBase64url(e),
    d: toBase64url(d),
    p: toBase64url(big),
    q: toBase64url(small),
    dp: toBase64url(d % (big - 1n)),
    dq: toBase64url(d % (small - 1n)),
    qi: toBase64url(modInverse(small, big)),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

function seededPrime(random: SeededRandom, bits: number): bigint {
  for (;;) {
    const bytes = random.bytes(bits / 8);
    bytes[0] = (bytes[0] ?? 0) | 0xc0;
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) | 1;
    if (checkPrimeSync(bytes)) return BigInt(`0x${bytes.toString('hex')}`);
  }
}

export function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  return ((oldS % m) + m) % m;
}

export function toBase64url(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Buffer.from(hex, 'hex').toString('base64url');
}

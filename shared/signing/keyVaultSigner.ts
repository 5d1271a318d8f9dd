import { createHash, createPublicKey } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { CryptographyClient, KeyClient, type KeyClientOptions, type KeyVaultKey } from '@azure/keyvault-keys';
import { maxClockSkewSeconds, type Clock } from '../clock.js';
import { UnavailableError } from '../errors.js';
import type { PublicJwk, SigningAlg, SigningKey, TokenSigner } from './signer.js';

/**
 * Signs with a Key Vault key that never leaves the vault, and follows its rotation.
 *
 * The `kid` of a token and of its JWKS entry is the Key Vault key VERSION (32 hex characters),
 * not the full key id URL: versions are random and unique, they keep the vault's host name
 * out of every token and out of the public JWKS, and they keep tokens short. An operator finds
 * the version under the key in the portal (`az keyvault key show --version <kid>`).
 *
 * Rotation (all decisions are taken lazily, at most once per `refreshIntervalSeconds`, when
 * `signingKey()` or `publicKeys()` is called; no timer keeps the process alive):
 * - only enabled versions count; a disabled version is neither used nor published;
 * - a version is "active" from `max(createdOn, notBefore) + activationDelaySeconds`. The
 *   signing key is the newest active version that is usable now (not before its notBefore,
 *   not after its expiresOn); if none is active yet (a brand-new key, or the older versions
 *   were disabled) it is the newest usable version. The delay lets every instance publish a
 *   new version, and gateways' cached JWKS pick it up, before any token carries it;
 * - versions newer than the signing key are published ahead of use;
 * - an older version superseded at time T (T = when the next newer version became active)
 *   stays published until T + 90 days (the longest token lifetime) + 300 s (clock skew),
 *   then is dropped. Published keys are listed newest first.
 */
export interface KeyVaultSignerOptions {
  /** `https://<vault>.vault.azure.net` */
  vaultUrl: string;
  keyName: string;
  credential: TokenCredential;
  /** Versions are re-listed at most this often (lazily, on use). */
  refreshIntervalSeconds: number;
  clock: Clock;
  /**
   * For RSA keys: RS256 (the default) or PS256. EC P-256 keys always sign ES256; passing
   * anything else for one is a configuration error.
   */
  alg?: SigningAlg | undefined;
  /**
   * How long after its creation a new version starts signing. Default: one refresh interval
   * (so every instance has listed it) plus the JWKS's 300 s cache lifetime (so gateways that
   * verify offline have fetched it).
   */
  activationDelaySeconds?: number | undefined;
  /** Upper bound for one Key Vault operation including its retries. Default 15 s. */
  operationTimeoutMs?: number | undefined;
  /**
   * Passed to KeyClient and CryptographyClient (for example an `agent` that trusts a test CA
   * and `disableChallengeResourceVerification`); `retryOptions` here override the defaults.
   */
  clientOptions?: KeyClientOptions | undefined;
  /** Where refresh failures are reported; never given a token or key material. */
  warn?: ((message: string) => void) | undefined;
}

/** The longest-lived token the service signs: a device token (docs/protocol.md section 2). */
export const maxTokenLifetimeSeconds = 90 * 86_400;
/** How long a superseded version stays published after it stopped signing. */
export const retentionSeconds = maxTokenLifetimeSeconds + maxClockSkewSeconds;
/** The JWKS endpoint's `Cache-Control: max-age` (functions/jwks.ts). */
const jwksCacheSeconds = 300;

/**
 * Bounded exponential backoff: 3 retries after about 0.25, 0.5 and 1 s (with jitter, capped
 * at 4 s). The SDK's throttling strategy honours `Retry-After` on 429 and 503 instead.
 */
export const defaultRetryOptions = { maxRetries: 3, retryDelayInMs: 250, maxRetryDelayInMs: 4_000 } as const;
const defaultOperationTimeoutMs = 15_000;

/** A version as listed: everything the rotation rule needs, nothing fetched yet. */
export interface KeyVersionInfo {
  version: string;
  /** Seconds since the epoch. */
  createdOn: number;
  notBefore?: number | undefined;
  expiresOn?: number | undefined;
}

export interface KeyVersionPlan {
  signing: KeyVersionInfo;
  /** Newest first; includes `signing`. */
  published: KeyVersionInfo[];
}

/**
 * The rotation rule (see the class comment) as a pure function of the enabled versions.
 * Returns undefined when no version can sign now.
 */
export function planKeyVersions(
  enabled: readonly KeyVersionInfo[],
  now: number,
  activationDelaySeconds: number,
): KeyVersionPlan | undefined {
  const newestFirst = [...enabled].sort(
    (a, b) => b.createdOn - a.createdOn || (a.version < b.version ? 1 : a.version > b.version ? -1 : 0),
  );
  const activeFrom = (v: KeyVersionInfo): number => Math.max(v.createdOn, v.notBefore ?? 0) + activationDelaySeconds;
  const usable = (v: KeyVersionInfo): boolean =>
    (v.notBefore === undefined || v.notBefore <= now) && (v.expiresOn === undefined || v.expiresOn > now);
  let signingIndex = newestFirst.findIndex((v) => usable(v) && activeFrom(v) <= now);
  if (signingIndex < 0) signingIndex = newestFirst.findIndex(usable);
  const signing = newestFirst[signingIndex];
  if (!signing) return undefined;
  const published = newestFirst.filter((_v, index) => {
    if (index <= signingIndex) return true;
    const newer = newestFirst[index - 1];
    const supersededAt = newer ? activeFrom(newer) : now;
    return now <= supersededAt + retentionSeconds;
  });
  return { signing, published };
}

/** What one version contributes once fetched: its public JWK and a way to sign with it. */
interface LoadedVersion {
  jwk: PublicJwk;
  key: SigningKey;
}

interface KeySet {
  signing: LoadedVersion;
  published: readonly PublicJwk[];
}

/** A version the service cannot sign with (wrong type, curve, size or operations). */
class UnsupportedKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedKeyError';
  }
}

export class KeyVaultSigner implements TokenSigner {
  private readonly keys: KeyClient;
  private readonly activationDelaySeconds: number;
  private readonly operationTimeoutMs: number;
  private readonly warn: (message: string) => void;
  /** Fetched versions, by version; a version's public key never changes, so never re-fetched. */
  private readonly loaded = new Map<string, LoadedVersion>();
  /** Versions found unusable, so they are not fetched again on every refresh. */
  private readonly unsupported = new Set<string>();
  private keySet: KeySet | undefined;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;

  private constructor(private readonly options: KeyVaultSignerOptions) {
    this.activationDelaySeconds = options.activationDelaySeconds ?? options.refreshIntervalSeconds + jwksCacheSeconds;
    this.operationTimeoutMs = options.operationTimeoutMs ?? defaultOperationTimeoutMs;
    this.warn = options.warn ?? ((message) => console.warn(message));
    this.keys = new KeyClient(options.vaultUrl, options.credential, this.pipelineOptions());
  }

  /**
   * Lists the key's versions and fetches the public keys to publish. Fails (UnavailableError
   * when Key Vault does not answer, Error when the key cannot be used) rather than starting
   * without a key.
   */
  static async create(options: KeyVaultSignerOptions): Promise<KeyVaultSigner> {
    validateOptions(options);
    const signer = new KeyVaultSigner(options);
    signer.lastRefreshAt = options.clock.now();
    await signer.refresh();
    return signer;
  }

  async signingKey(): Promise<SigningKey> {
    return (await this.current()).signing.key;
  }

  async publicKeys(): Promise<readonly PublicJwk[]> {
    return (await this.current()).published;
  }

  /** The cached key set, refreshed first when the interval has passed; never fails once started. */
  private async current(): Promise<KeySet> {
    const now = this.options.clock.now();
    if (!this.refreshing && now - this.lastRefreshAt >= this.options.refreshIntervalSeconds) {
      this.lastRefreshAt = now;
      this.refreshing = this.refresh()
        .catch((error: unknown) => this.warn(`Key Vault key refresh failed; still using the cached keys: ${describe(error)}`))
        .finally(() => {
          this.refreshing = undefined;
        });
    }
    if (this.refreshing) await this.refreshing;
    // Set by create() before the signer is handed out.
    if (!this.keySet) throw new Error('KeyVaultSigner used before create() loaded its keys');
    return this.keySet;
  }

  private async refresh(): Promise<void> {
    const now = this.options.clock.now();
    const plan = planKeyVersions(await this.listEnabledVersions(), now, this.activationDelaySeconds);
    if (!plan) {
      throw new Error(`Key Vault key ${this.options.keyName} has no enabled version that can sign now`);
    }
    // The signing version must load; any other version that cannot is left out (it cannot
    // have signed this service's tokens).
    const signing = await this.load(plan.signing.version);
    const published: PublicJwk[] = [];
    for (const info of plan.published) {
      const loaded = info.version === plan.signing.version ? signing : await this.loadIfSupported(info.version);
      if (loaded) published.push(loaded.jwk);
    }
    const live = new Set(plan.published.map((info) => info.version));
    for (const version of this.loaded.keys()) if (!live.has(version)) this.loaded.delete(version);
    this.keySet = { signing, published: Object.freeze(published) };
  }

  private async listEnabledVersions(): Promise<KeyVersionInfo[]> {
    return this.vault('list the key versions', async (abortSignal) => {
      const versions: KeyVersionInfo[] = [];
      for await (const properties of this.keys.listPropertiesOfKeyVersions(this.options.keyName, { abortSignal })) {
        if (properties.enabled === false || !properties.version || !properties.createdOn) continue;
        versions.push({
          version: properties.version,
          createdOn: seconds(properties.createdOn),
          notBefore: properties.notBefore && seconds(properties.notBefore),
          expiresOn: properties.expiresOn && seconds(properties.expiresOn),
        });
      }
      return versions;
    });
  }

  private async loadIfSupported(version: string): Promise<LoadedVersion | undefined> {
    if (this.unsupported.has(version)) return undefined;
    try {
      return await this.load(version);
    } catch (error) {
      if (!(error instanceof UnsupportedKeyError)) throw error;
      this.unsupported.add(version);
      this.warn(`not publishing ${error.message}`);
      return undefined;
    }
  }

  private async load(version: string): Promise<LoadedVersion> {
    const known = this.loaded.get(version);
    if (known) return known;
    const key = await this.vault('read the key', (abortSignal) =>
      this.keys.getKey(this.options.keyName, { version, abortSignal }),
    );
    const described = `version ${version} of Key Vault key ${this.options.keyName}`;
    const alg = algorithmFor(key, this.options.alg, described);
    // Frozen: the same objects go to every caller, and a caller's change must not reach the cache.
    const jwk = Object.freeze(toPublicJwk(key, version, alg, described));
    const loaded: LoadedVersion = { jwk, key: this.signingKeyFor(key, jwk) };
    this.loaded.set(version, loaded);
    return loaded;
  }

  private signingKeyFor(key: KeyVaultKey, jwk: PublicJwk): SigningKey {
    // Built from the fetched key, the client does not GET it again before signing; it is
    // created on first use because most published versions never sign here.
    let client: CryptographyClient | undefined;
    const { alg } = jwk;
    const expectedLength = signatureLength(jwk);
    return {
      kid: jwk.kid,
      alg,
      sign: async (data) => {
        client ??= new CryptographyClient(key, this.options.credential, this.pipelineOptions());
        const digest = createHash('sha256').update(data).digest();
        const signer = client;
        const result = await this.vault('sign', (abortSignal) => signer.sign(alg, digest, { abortSignal }));
        if (result.result.length !== expectedLength) {
          throw new Error(`Key Vault returned a ${result.result.length}-byte ${alg} signature; expected ${expectedLength} bytes`);
        }
        return result.result;
      },
    };
  }

  /** A fresh object each time: the SDK clients write into the options they are given. */
  private pipelineOptions(): KeyClientOptions {
    const given = this.options.clientOptions ?? {};
    return { ...given, retryOptions: { ...defaultRetryOptions, ...given.retryOptions } };
  }

  /** Runs one Key Vault operation under a deadline and turns its failure into the error model. */
  private async vault<T>(what: string, operation: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = new AbortController();
    // Cleared as soon as the operation ends (one timer per token otherwise lingers for the
    // whole timeout), and unref'd so it never keeps the process alive.
    const timer = setTimeout(() => deadline.abort(), this.operationTimeoutMs).unref();
    try {
      return await operation(deadline.signal);
    } catch (error) {
      throw vaultFailure(error, `${what} (Key Vault key ${this.options.keyName})`);
    } finally {
      clearTimeout(timer);
    }
  }
}

function validateOptions(options: KeyVaultSignerOptions): void {
  if (!/^https:\/\//i.test(options.vaultUrl)) throw new Error(`the Key Vault URL must be https://…, got ${options.vaultUrl}`);
  if (!/^[0-9a-zA-Z-]{1,127}$/.test(options.keyName)) throw new Error(`"${options.keyName}" is not a Key Vault key name`);
  if (!(options.refreshIntervalSeconds > 0)) throw new Error('refreshIntervalSeconds must be positive');
  if (options.activationDelaySeconds !== undefined && !(options.activationDelaySeconds >= 0)) {
    throw new Error('activationDelaySeconds must not be negative');
  }
}

function algorithmFor(key: KeyVaultKey, configured: SigningAlg | undefined, described: string): SigningAlg {
  if (key.keyOperations && !key.keyOperations.includes('sign')) {
    throw new UnsupportedKeyError(`${described}: its permitted operations do not include sign`);
  }
  const kty = key.keyType ?? key.key?.kty;
  switch (kty) {
    case 'RSA':
    case 'RSA-HSM':
      if (configured === 'ES256') throw new UnsupportedKeyError(`${described} is an RSA key; ES256 needs an EC P-256 key`);
      return configured ?? 'RS256';
    case 'EC':
    case 'EC-HSM': {
      const curve = key.key?.crv;
      if (curve !== 'P-256') {
        throw new UnsupportedKeyError(`${described} uses curve ${curve ?? '(none)'}; only P-256 (ES256) is supported`);
      }
      if (configured !== undefined && configured !== 'ES256') {
        throw new UnsupportedKeyError(`${described} is an EC P-256 key, which signs ES256, not ${configured}`);
      }
      return 'ES256';
    }
    default:
      throw new UnsupportedKeyError(`${described} has key type ${kty ?? '(none)'}; only RSA and EC P-256 keys can sign tokens`);
  }
}

/** Key Vault's JWK (bytes) as a standard public JWK (base64url), checked by node:crypto. */
function toPublicJwk(key: KeyVaultKey, kid: string, alg: SigningAlg, described: string): PublicJwk {
  const material = key.key;
  let jwk: PublicJwk;
  if (alg === 'ES256') {
    if (!material?.x || !material.y) throw new UnsupportedKeyError(`${described} has no public point`);
    const x = base64url(leftPad(material.x, 32));
    const y = base64url(leftPad(material.y, 32));
    jwk = { kty: 'EC', crv: 'P-256', x, y, kid, alg, use: 'sig' };
  } else {
    if (!material?.n || !material.e) throw new UnsupportedKeyError(`${described} has no public modulus`);
    jwk = { kty: 'RSA', n: base64url(stripLeadingZeros(material.n)), e: base64url(stripLeadingZeros(material.e)), kid, alg, use: 'sig' };
  }
  let details: ReturnType<typeof createPublicKey>['asymmetricKeyDetails'];
  try {
    details = createPublicKey({ key: { ...jwk }, format: 'jwk' }).asymmetricKeyDetails;
  } catch (error) {
    throw new UnsupportedKeyError(`${described} is not a valid public key (${(error as Error).message})`);
  }
  if (jwk.kty === 'RSA' && (details?.modulusLength ?? 0) < 2048) {
    throw new UnsupportedKeyError(`${described} is an RSA key of ${details?.modulusLength} bits; at least 2048 are required`);
  }
  return jwk;
}

function signatureLength(jwk: PublicJwk): number {
  if (jwk.kty === 'EC') return 64;
  return Buffer.from(jwk.n ?? '', 'base64url').length;
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** RFC 7518 6.3.1: the modulus and exponent use the minimum number of octets. */
function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/** RFC 7518 6.2.1.2: x and y are the full coordinate length, even with leading zeros. */
function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length >= length) return bytes;
  const padded = new Uint8Array(length);
  padded.set(bytes, length - bytes.length);
  return padded;
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * The parts of the SDK's RestError read here. Duck-typed rather than imported, because
 * @azure/core-rest-pipeline is only a transitive dependency of this project.
 */
interface RestErrorLike extends Error {
  name: 'RestError';
  code?: string;
  statusCode?: number;
  response?: { headers: { get(name: string): string | undefined } };
}

function isRestError(error: unknown): error is RestErrorLike {
  return error instanceof Error && error.name === 'RestError';
}

/**
 * Throttling, server errors, time-outs and network failures (after the SDK's retries) mean
 * "Key Vault is unavailable": 503 with Retry-After. Anything else (403 for a missing role,
 * 404 for a wrong key name) is a configuration fault the operator must fix.
 */
function vaultFailure(error: unknown, what: string): Error {
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
    return new UnavailableError('Key Vault', error);
  }
  if (!isRestError(error)) {
    return error instanceof Error ? error : new Error(`Key Vault could not ${what}: ${String(error)}`);
  }
  const status = error.statusCode;
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    return new UnavailableError('Key Vault', error, retryAfterSeconds(error));
  }
  return new Error(`Key Vault could not ${what}: HTTP ${status}${error.code ? ` ${error.code}` : ''}`, { cause: error });
}

/** The wait Key Vault asked for, in whole seconds (1 s to 1 h), if it asked. */
function retryAfterSeconds(error: RestErrorLike): number | undefined {
  const headers = error.response?.headers;
  if (!headers) return undefined;
  let seconds: number | undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = Number(headers.get(name) ?? Number.NaN);
    if (Number.isFinite(value)) seconds = value / 1000;
  }
  const retryAfter = headers.get('retry-after');
  if (seconds === undefined && retryAfter !== undefined) {
    const value = /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : (Date.parse(retryAfter) - Date.now()) / 1000;
    if (Number.isFinite(value)) seconds = value;
  }
  return seconds === undefined ? undefined : Math.min(3600, Math.max(1, Math.ceil(seconds)));
}

/** For logs: the kind of failure and the HTTP status, never a token, key or response body. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const cause = error.cause;
  const status = isRestError(cause) ? cause.statusCode : isRestError(error) ? error.statusCode : undefined;
  const code = isRestError(cause) ? cause.code : undefined;
  return `${error.message}${status ? ` (HTTP ${status})` : code ? ` (${code})` : ''}`;
}

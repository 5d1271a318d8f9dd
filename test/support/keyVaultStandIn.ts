// reflect-metadata must load before @peculiar/x509, which uses decorators' metadata.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { p256 } from '@noble/curves/nist.js';
import {
  constants,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  privateEncrypt,
  randomBytes,
  webcrypto,
  type JsonWebKey as NodeJwk,
  type KeyObject,
} from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { KeyClientOptions } from '@azure/keyvault-keys';
import type { KeyVaultSignerOptions } from '../../shared/signing/keyVaultSigner.js';

/**
 * A local HTTPS server speaking the subset of the Key Vault keys REST API that the real
 * @azure/keyvault-keys client uses to list versions, read a key and sign a digest, with real
 * cryptography, Key Vault's bearer challenge, and controls for failures, latency and rotation.
 *
 * Its TLS certificate is generated at start and trusted only by the clients built from
 * `clientOptions()` (an https.Agent with it as the only CA), never process-wide.
 */

export type StandInKeyType = 'RSA' | 'EC';
export type StandInCurve = 'P-256' | 'P-384';
export type Operation = 'get' | 'list' | 'sign';

export interface StandInOptions {
  keyName?: string;
  /** RSA 2048 or EC (P-256 unless `curve` says otherwise); RSA when absent or undefined. */
  keyType?: StandInKeyType | undefined;
  /** Only to test that other curves are refused: P-384 keys are listed and read, never sign. */
  curve?: StandInCurve;
  /** Time source for `createdOn` defaults, seconds since the epoch (a test clock). */
  now?: () => number;
  /** createdOn of the first version; default `now()`. */
  createdOn?: number;
  /** Versions per page of GET /keys/{name}/versions. */
  pageSize?: number;
}

export interface VersionOptions {
  createdOn?: number;
  keyType?: StandInKeyType;
  curve?: StandInCurve;
  enabled?: boolean;
  notBefore?: number;
  expiresOn?: number;
}

interface Version {
  version: string;
  keyType: StandInKeyType;
  curve: StandInCurve | undefined;
  createdOn: number;
  updatedOn: number;
  enabled: boolean;
  notBefore: number | undefined;
  expiresOn: number | undefined;
  privateKey: KeyObject;
  publicJwk: NodeJwk;
}

interface FailureRule {
  remaining: number;
  status: number;
  retryAfterSeconds: number | undefined;
  only: Operation | undefined;
}

/** The access token the stand-in accepts; the test's identity provider hands it out. */
const accessToken = 'stand-in-access-token';
const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const sha256DigestInfo = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export class KeyVaultStandIn {
  /** Authenticated requests that reached each operation, injected failures included. */
  readonly counts: Record<Operation, number> = { get: 0, list: 0, sign: 0 };
  /** `METHOD path` of every authenticated request, in order. */
  readonly requests: string[] = [];
  /** Requests answered with the bearer challenge (no or wrong token). */
  challenges = 0;
  /** Scopes the credential was asked for. */
  readonly tokenRequests: string[][] = [];
  /** A trivial identity provider: always the one token the stand-in accepts. */
  readonly credential: TokenCredential = {
    getToken: async (scopes): Promise<AccessToken> => {
      this.tokenRequests.push(Array.isArray(scopes) ? [...scopes] : [scopes]);
      return { token: accessToken, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: 'Bearer' };
    },
  };
  /** Never sent to the server: tests check it does not appear in logs. */
  static readonly accessToken = accessToken;

  private readonly versions: Version[] = [];
  private readonly failures: FailureRule[] = [];
  private latencyMs = 0;
  private held: Array<() => void> | undefined;
  private readonly agent: Agent;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly keyName: string,
    readonly certificatePem: string,
    private readonly options: Required<Pick<StandInOptions, 'keyType' | 'now' | 'pageSize'>> & StandInOptions,
  ) {
    this.agent = new Agent({ ca: certificatePem });
  }

  static async start(options: StandInOptions = {}): Promise<KeyVaultStandIn> {
    const { certificatePem, keyPem } = await selfSignedCertificate();
    let standIn: KeyVaultStandIn | undefined;
    const server = createServer({ cert: certificatePem, key: keyPem }, (request, response) => {
      // Assigned before listen() resolves, so before any request arrives.
      void standIn!.handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    standIn = new KeyVaultStandIn(server, `https://127.0.0.1:${port}`, options.keyName ?? 'token-signing', certificatePem, {
      keyType: 'RSA',
      now: () => Math.floor(Date.now() / 1000),
      pageSize: 25,
      ...options,
    });
    standIn.rotate({
      ...(options.createdOn === undefined ? {} : { createdOn: options.createdOn }),
      ...(options.curve === undefined ? {} : { curve: options.curve }),
    });
    return standIn;
  }

  /**
   * Options for KeyClient/CryptographyClient: trust this server's certificate (this agent
   * only), accept its local challenge resource, and retry quickly so tests do not wait.
   */
  /**
   * A KeyVaultSigner's options on this vault: its URL, key, credential and HTTPS agent, no
   * warnings printed; `retryOptions` replaces the client's fast test retries, and the rest of
   * `options` (clock, refresh interval, timeouts, alg) is the signer's own.
   */
  signerOptions(
    options: Pick<KeyVaultSignerOptions, 'clock' | 'refreshIntervalSeconds'> & Partial<KeyVaultSignerOptions> & { retryOptions?: KeyClientOptions['retryOptions'] },
  ): KeyVaultSignerOptions {
    const { retryOptions, ...signer } = options;
    return {
      vaultUrl: this.url,
      keyName: this.keyName,
      credential: this.credential,
      clientOptions: { ...this.clientOptions(), ...(retryOptions ? { retryOptions } : {}) },
      warn: () => undefined,
      ...signer,
    };
  }

  clientOptions(): KeyClientOptions {
    return {
      agent: this.agent,
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    };
  }

  /** Creates a new version (the newest) and returns its version id. */
  rotate(options: VersionOptions = {}): string {
    const keyType = options.keyType ?? this.options.keyType ?? 'RSA';
    const curve = keyType === 'EC' ? (options.curve ?? this.options.curve ?? 'P-256') : undefined;
    const privateKey =
      keyType === 'EC'
        ? generateKeyPairSync('ec', { namedCurve: curve! }).privateKey
        : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const createdOn = options.createdOn ?? this.options.now();
    const version: Version = {
      version: randomBytes(16).toString('hex'),
      keyType,
      curve,
      createdOn,
      updatedOn: createdOn,
      enabled: options.enabled ?? true,
      notBefore: options.notBefore,
      expiresOn: options.expiresOn,
      privateKey,
      publicJwk: privateKey.export({ format: 'jwk' }),
    };
    this.versions.push(version);
    return version.version;
  }

  setEnabled(version: string, enabled: boolean): void {
    const found = this.versions.find((candidate) => candidate.version === version);
    if (!found) throw new Error(`no version ${version}`);
    found.enabled = enabled;
  }

  /** Version ids, oldest first. */
  versionIds(): string[] {
    return this.versions.map((version) => version.version);
  }

  keyId(version: string): string {
    return `${this.url}/keys/${this.keyName}/${version}`;
  }

  /** The next `count` authenticated requests (of `only` that operation) get `status`. */
  failNext(count: number, status: number, retryAfterSeconds?: number, only?: Operation): void {
    this.failures.push({ remaining: count, status, retryAfterSeconds, only });
  }

  failAlways(status: number, retryAfterSeconds?: number, only?: Operation): void {
    this.failNext(Number.POSITIVE_INFINITY, status, retryAfterSeconds, only);
  }

  /** Ends every injected failure. */
  heal(): void {
    this.failures.length = 0;
  }

  /** Adds this much latency to every authenticated answer. */
  delay(ms: number): void {
    this.latencyMs = ms;
  }

  /** Holds every authenticated answer until release(): a Key Vault that does not answer. */
  hold(): void {
    this.held ??= [];
  }

  /** How many answers hold() is keeping back. */
  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  /** Lets every held answer go and stops holding. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }

  resetCounts(): void {
    this.counts.get = 0;
    this.counts.list = 0;
    this.counts.sign = 0;
    this.challenges = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.release();
    this.agent.destroy();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const body = await readBody(request);
      if (request.headers.authorization !== `Bearer ${accessToken}`) {
        this.challenges++;
        return send(response, 401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
          'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
        });
      }
      const url = new URL(request.url ?? '/', this.url);
      this.requests.push(`${request.method} ${url.pathname}`);
      const route = this.route(request.method ?? 'GET', url.pathname);
      if (!route) return send(response, 404, { error: { code: 'NotFound', message: `no route for ${request.method} ${url.pathname}` } });
      this.counts[route.operation]++;
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      const held = this.held;
      if (held) await new Promise<void>((go) => held.push(go));
      const failure = this.takeFailure(route.operation);
      if (failure) {
        return send(response, failure.status, { error: { code: failureCode(failure.status), message: 'injected failure' } },
          failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) });
      }
      if (route.keyName !== this.keyName) {
        return send(response, 404, { error: { code: 'KeyNotFound', message: `A key with (name/id) ${route.keyName} was not found in this key vault.` } });
      }
      const version = route.version === '' ? this.latest() : this.versions.find((candidate) => candidate.version === route.version);
      switch (route.operation) {
        case 'list':
          return send(response, 200, this.listPage(url));
        case 'get':
          if (!version) return send(response, 404, { error: { code: 'KeyNotFound', message: `version ${route.version} not found` } });
          return send(response, 200, this.keyBundle(version));
        case 'sign':
          if (!version) return send(response, 404, { error: { code: 'KeyNotFound', message: `version ${route.version} not found` } });
          return this.sign(response, version, body);
      }
    } catch (error) {
      send(response, 500, { error: { code: 'InternalError', message: String(error) } });
    }
  }

  /**
   * `/keys/{name}/versions`, `/keys/{name}[/{version}]` and `/keys/{name}/{version}/sign`;
   * a versionless key id makes the SDK ask for `/keys/{name}/` and `/keys/{name}//sign`.
   */
  private route(method: string, pathname: string): { operation: Operation; keyName: string; version: string } | undefined {
    const parts = pathname.split('/').map(decodeURIComponent);
    if (parts[0] !== '' || parts[1] !== 'keys' || !parts[2]) return undefined;
    const [, , keyName, version = '', action] = parts;
    if (parts.length > 5) return undefined;
    if (method === 'GET' && parts.length === 4 && version === 'versions') return { operation: 'list', keyName, version: '' };
    if (method === 'GET' && parts.length <= 4) return { operation: 'get', keyName, version };
    if (method === 'POST' && parts.length === 5 && action === 'sign') return { operation: 'sign', keyName, version };
    return undefined;
  }

  private takeFailure(operation: Operation): FailureRule | undefined {
    const rule = this.failures.find((candidate) => candidate.remaining > 0 && (candidate.only ?? operation) === operation);
    if (rule) rule.remaining--;
    return rule;
  }

  /** The current version, as Key Vault answers a versionless request: the newest created. */
  private latest(): Version | undefined {
    return [...this.versions].sort((a, b) => b.createdOn - a.createdOn).at(0);
  }

  private listPage(url: URL): object {
    const size = Number(url.searchParams.get('maxresults') ?? this.options.pageSize) || this.options.pageSize;
    const start = Number(url.searchParams.get('$skiptoken') ?? 0);
    const page = this.versions.slice(start, start + size);
    const next = start + size < this.versions.length ? start + size : undefined;
    const apiVersion = url.searchParams.get('api-version') ?? '';
    return {
      value: page.map((version) => ({ kid: this.keyId(version.version), attributes: attributes(version) })),
      nextLink:
        next === undefined
          ? null
          : `${this.url}/keys/${this.keyName}/versions?api-version=${apiVersion}&$skiptoken=${next}&maxresults=${size}`,
    };
  }

  private keyBundle(version: Version): object {
    const jwk = version.publicJwk;
    const key =
      version.keyType === 'RSA'
        ? { kty: 'RSA', key_ops: ['sign', 'verify', 'encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], n: jwk.n, e: jwk.e }
        : { kty: 'EC', key_ops: ['sign', 'verify'], crv: version.curve, x: jwk.x, y: jwk.y };
    return { key: { kid: this.keyId(version.version), ...key }, attributes: attributes(version) };
  }

  private sign(response: ServerResponse, version: Version, body: string): void {
    if (!version.enabled) {
      return send(response, 403, { error: { code: 'Forbidden', message: 'Operation sign is not allowed on a disabled key.' } });
    }
    let request: { alg?: unknown; value?: unknown };
    try {
      request = JSON.parse(body) as { alg?: unknown; value?: unknown };
    } catch {
      return send(response, 400, { error: { code: 'BadParameter', message: 'the body is not JSON' } });
    }
    const digest = typeof request.value === 'string' ? Buffer.from(request.value, 'base64url') : Buffer.alloc(0);
    if (digest.length !== 32) {
      return send(response, 400, { error: { code: 'BadParameter', message: 'value must be a base64url SHA-256 digest' } });
    }
    const signature = signDigest(version, String(request.alg), digest);
    if (!signature) {
      return send(response, 400, { error: { code: 'BadParameter', message: `${String(request.alg)} does not fit this key` } });
    }
    send(response, 200, { kid: this.keyId(version.version), value: signature.toString('base64url') });
  }
}

function attributes(version: Version): object {
  return {
    enabled: version.enabled,
    created: version.createdOn,
    updated: version.updatedOn,
    ...(version.notBefore === undefined ? {} : { nbf: version.notBefore }),
    ...(version.expiresOn === undefined ? {} : { exp: version.expiresOn }),
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays: 90,
    exportable: false,
  };
}

/** Signs a precomputed SHA-256 digest the way Key Vault does; undefined if alg does not fit. */
function signDigest(version: Version, alg: string, digest: Buffer): Buffer | undefined {
  if (version.keyType === 'RSA' && alg === 'RS256') {
    // PKCS#1 v1.5 over a digest: the private-key operation on DigestInfo(SHA-256, digest).
    return privateEncrypt({ key: version.privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([sha256DigestInfo, digest]));
  }
  if (version.keyType === 'RSA' && alg === 'PS256') {
    const modulusBits = version.privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    const encoded = emsaPssEncode(digest, modulusBits - 1, randomBytes(32));
    const modulusBytes = Math.ceil(modulusBits / 8);
    const block = Buffer.concat([Buffer.alloc(modulusBytes - encoded.length), encoded]);
    return privateEncrypt({ key: version.privateKey, padding: constants.RSA_NO_PADDING }, block);
  }
  if (version.keyType === 'EC' && version.curve === 'P-256' && alg === 'ES256') {
    // node's crypto.sign always hashes its input again; noble signs the digest as given,
    // and its compact form is R‖S, as Key Vault answers.
    const secret = Buffer.from(version.publicJwk.d ?? '', 'base64url');
    return Buffer.from(p256.sign(digest, secret, { prehash: false }));
  }
  return undefined;
}

/** EMSA-PSS-ENCODE (RFC 8017 9.1.1) with SHA-256, MGF1-SHA-256 and a 32-byte salt. */
function emsaPssEncode(digest: Buffer, emBits: number, salt: Buffer): Buffer {
  const hashLength = 32;
  const emLength = Math.ceil(emBits / 8);
  const h = createHash('sha256').update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLength - salt.length - hashLength - 2), Buffer.from([1]), salt]);
  const mask = mgf1(h, emLength - hashLength - 1);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLength - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

function mgf1(seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * 32 < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash('sha256').update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function failureCode(status: number): string {
  if (status === 429) return 'Throttled';
  if (status === 503) return 'ServiceUnavailable';
  return status >= 500 ? 'InternalServerError' : 'BadRequest';
}

function send(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-ms-request-id': randomBytes(16).toString('hex'),
    ...headers,
  });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A one-day self-signed certificate for 127.0.0.1 and localhost, acting as its own CA. */
export async function selfSignedCertificate(): Promise<{ certificatePem: string; keyPem: string }> {
  // @peculiar/x509's types name the DOM's Crypto; node's webcrypto implements it.
  const crypto = webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0];
  x509.cryptoProvider.set(crypto);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    name: 'CN=Key Vault stand-in',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: algorithm,
    keys: keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { certificatePem: certificate.toString('pem'), keyPem };
}

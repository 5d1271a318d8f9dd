import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@azure/functions';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { PrincipalRefusedError } from '../shared/admin/adminAuthorizer.js';
import { EntraAdminAuthorizer, type EntraAdminAuthorizerOptions } from '../shared/admin/entraAdminAuthorizer.js';
import { ServiceError, UnavailableError } from '../shared/errors.js';

/**
 * Requirement: in Azure an admin credential is a Microsoft Entra ID access token for the admin
 * API, from the configured tenant, signed RS256 by a key of the tenant's published key set,
 * carrying the admin app role (docs/protocol.md section 4/5: 401 invalid_token or token_expired,
 * 403 forbidden, 503 when Entra ID cannot be reached).
 */

const tenantId = randomUUID();
const audience = 'api://cmg-token-auth-admin';
const appRole = 'CmgTokenAuth.Admin';
const v2Issuer = `https://login.microsoftonline.com/${tenantId}/v2.0`;
const v1Issuer = `https://sts.windows.net/${tenantId}/`;
const now = 1_795_000_000;
const clock = { now: () => now };

/** A stand-in for the tenant's key-set endpoint that counts its downloads. */
class LocalIssuer {
  requests = 0;
  status = 200;
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly jwks: { keys: JWK[] }) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      this.requests += 1;
      if (request.url !== `/${tenantId}/discovery/v2.0/keys` || this.status !== 200) {
        response.writeHead(this.status === 200 ? 404 : this.status).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.jwks));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get jwksUri(): string {
    return `http://127.0.0.1:${this.port}/${tenantId}/discovery/v2.0/keys`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

let signingKey: CryptoKey;
let kid: string;
let publicJwk: JWK;
let issuer: LocalIssuer;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  kid = randomBytes(8).toString('hex');
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid, use: 'sig', alg: 'RS256' };
  issuer = new LocalIssuer({ keys: [publicJwk] });
  await issuer.start();
});

afterAll(async () => {
  await issuer.stop();
});

function authorizer(options: Partial<EntraAdminAuthorizerOptions> = {}): EntraAdminAuthorizer {
  return new EntraAdminAuthorizer({
    tenantId,
    audience,
    appRole,
    jwksUri: issuer.jwksUri,
    clock,
    fetchOptions: { timeoutMs: 2_000 },
    ...options,
  });
}

const objectId = randomUUID();

/** An Entra-style access token; `claims` override the defaults, `undefined` removes one. */
async function accessToken(
  claims: Record<string, unknown> = {},
  options: { key?: CryptoKey; kid?: string } = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    iss: v2Issuer,
    aud: audience,
    iat: now - 60,
    nbf: now - 60,
    exp: now + 3600,
    tid: tenantId,
    oid: objectId,
    upn: 'admin@contoso.example',
    roles: [appRole],
    ver: '2.0',
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: options.kid ?? kid })
    .sign(options.key ?? signingKey);
}

function request(token: string | undefined): HttpRequest {
  return new HttpRequest({
    method: 'GET',
    url: 'http://localhost:7071/api/bulk-tokens',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

describe('EntraAdminAuthorizer', () => {
  it('accepts a v2.0 token of the tenant for the admin audience with the app role, naming the caller by oid and upn', async () => {
    await expect(authorizer().authorize(request(await accessToken()))).resolves.toEqual({ kind: 'entra', id: objectId, name: 'admin@contoso.example' });
  });

  it('names the caller for the audit trail by the display name first, then preferred_username, then upn', async () => {
    const named = await accessToken({ name: 'Ada Admin', preferred_username: 'ada@contoso.example' });
    await expect(authorizer().authorize(request(named))).resolves.toEqual({ kind: 'entra', id: objectId, name: 'Ada Admin' });
    const preferred = await accessToken({ preferred_username: 'ada@contoso.example' });
    await expect(authorizer().authorize(request(preferred))).resolves.toEqual({ kind: 'entra', id: objectId, name: 'ada@contoso.example' });
  });

  it('accepts the v1 issuer (sts.windows.net) of the same tenant too', async () => {
    const token = await accessToken({ iss: v1Issuer, ver: '1.0' });
    await expect(authorizer().authorize(request(token))).resolves.toEqual({ kind: 'entra', id: objectId, name: 'admin@contoso.example' });
  });

  it('names an app-only caller by appid when there is no oid, and never by the token', async () => {
    const appId = randomUUID();
    const token = await accessToken({ oid: undefined, upn: undefined, appid: appId });
    const principal = await authorizer().authorize(request(token));
    expect(principal).toEqual({ kind: 'entra', id: appId, name: appId });
    expect(JSON.stringify(principal)).not.toContain(token.split('.')[2]!);
  });

  it('accepts a token that expired within the 300 s clock skew', async () => {
    const token = await accessToken({ exp: now - 299 });
    await expect(authorizer().authorize(request(token))).resolves.toMatchObject({ id: objectId });
  });

  it('answers 403 forbidden for a valid token without the app role', async () => {
    for (const roles of [undefined, [], ['CmgTokenAuth.Reader'], 'CmgTokenAuth.Admin']) {
      const error = await failure(authorizer().authorize(request(await accessToken({ roles }))));
      expect([error.code, error.status]).toEqual(['forbidden', 403]);
      expect(error.detail).toContain(appRole);
      // The token was genuine, so the audit trail can name who was refused.
      expect(error).toBeInstanceOf(PrincipalRefusedError);
      expect((error as PrincipalRefusedError).principal).toEqual({ kind: 'entra', id: objectId, name: 'admin@contoso.example' });
    }
  });

  it('answers 401 token_expired for a token expired beyond the skew', async () => {
    const error = await failure(authorizer().authorize(request(await accessToken({ exp: now - 301 }))));
    expect([error.code, error.status]).toEqual(['token_expired', 401]);
  });

  it.each([
    ['another tenant\'s issuer', { iss: `https://login.microsoftonline.com/${randomUUID()}/v2.0` }, /"iss" claim/],
    ['the v1 issuer of another tenant', { iss: `https://sts.windows.net/${randomUUID()}/` }, /"iss" claim/],
    ['a wrong audience', { aud: 'api://some-other-api' }, /"aud" claim/],
    ['a token not yet valid beyond the skew', { nbf: now + 301 }, /"nbf" claim/],
    ['a token without exp', { exp: undefined }, /"exp" claim/],
  ])('answers 401 invalid_token for %s', async (_name, claims, detail) => {
    const error = await failure(authorizer().authorize(request(await accessToken(claims))));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
    expect(error.detail).toMatch(detail);
  });

  it('answers 401 invalid_token for an HS256 token, even one keyed with the public key\'s bytes', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const token = await new SignJWT({ iss: v2Issuer, aud: audience, exp: now + 3600, oid: objectId, roles: [appRole] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid })
      .sign(secret);
    const error = await failure(authorizer().authorize(request(token)));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
    expect(error.detail).toMatch(/only RS256/);
  });

  it('answers 401 invalid_token for an unsigned (alg none) token', async () => {
    const token = new UnsecuredJWT({ iss: v2Issuer, aud: audience, exp: now + 3600, oid: objectId, roles: [appRole] }).encode();
    const error = await failure(authorizer().authorize(request(token)));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
  });

  it('answers 401 invalid_token for a token signed by another key under the tenant\'s kid', async () => {
    const forger = await generateKeyPair('RS256');
    const error = await failure(authorizer().authorize(request(await accessToken({}, { key: forger.privateKey }))));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
    expect(error.detail).toMatch(/signature/);
  });

  it('answers 401 invalid_token for a kid the tenant does not publish', async () => {
    const error = await failure(authorizer().authorize(request(await accessToken({}, { kid: 'unknown-kid' }))));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
  });

  it('answers 401 missing_credential without an Authorization header', async () => {
    const error = await failure(authorizer().authorize(request(undefined)));
    expect([error.code, error.status]).toEqual(['missing_credential', 401]);
  });

  it('downloads the key set once for many verifications, including concurrent ones', async () => {
    const admin = authorizer();
    const token = await accessToken();
    const before = issuer.requests;
    await Promise.all(Array.from({ length: 10 }, () => admin.authorize(request(token))));
    for (let i = 0; i < 10; i += 1) await admin.authorize(request(token));
    expect(issuer.requests - before).toBe(1);
  });

  it('answers 503 unavailable when the key set answers an error', async () => {
    issuer.status = 500;
    try {
      const error = await failure(authorizer().authorize(request(await accessToken())));
      expect(error).toBeInstanceOf(UnavailableError);
      expect([error.code, error.status]).toEqual(['unavailable', 503]);
      expect(error.detail).toContain('Microsoft Entra ID');
    } finally {
      issuer.status = 200;
    }
  });

  it('answers 503 unavailable when the key set cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const admin = authorizer({ jwksUri: `http://127.0.0.1:${port}/${tenantId}/discovery/v2.0/keys` });
    const error = await failure(admin.authorize(request(await accessToken())));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.status).toBe(503);
    expect(error.cause).toBeDefined();
  });

  it('rejects a tenant id that is not a GUID as a programming error', () => {
    expect(() => authorizer({ tenantId: 'contoso.onmicrosoft.com' })).toThrow(TypeError);
  });
});

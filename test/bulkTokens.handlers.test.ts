import { decodeJwt, decodeProtectedHeader } from 'jose';
import { blockBulkToken } from '../functions/blockBulkToken.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { unblockBulkToken } from '../functions/unblockBulkToken.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';
import { bearer, invoke } from './support/invoke.js';
import { dumpTables } from './support/tables.js';

let services: TestServices;
const admin = bearer(testAdminKey);

beforeAll(async () => {
  services = await installTestServices();
});

async function listed(): Promise<Array<Record<string, unknown>>> {
  const answer = await invoke(listBulkTokens, { method: 'GET', path: '/api/bulk-tokens', headers: admin });
  expect(answer.status).toBe(200);
  return answer.body.items as Array<Record<string, unknown>>;
}

describe('POST /api/bulk-tokens', () => {
  it('issues a bulk-registration+jwt whose exp - iat is the lifetime, default 4320 minutes', async () => {
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin });
    expect(answer.status).toBe(201);
    expect(answer.body.lifetimeMinutes).toBe(4320);
    const token = answer.body.token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'bulk-registration+jwt', alg: 'RS256' });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(4320 * 60);
    expect(claims.jti).toBe(answer.body.id);
    expect(claims.iat).toBe(services.clock.now());
    expect(answer.body.expiresAt).toBe(new Date(claims.exp! * 1000).toISOString());
  });

  it('takes lifetimeMinutes, description and maxUses', async () => {
    const answer = await invoke(createBulkToken, {
      path: '/api/bulk-tokens',
      headers: admin,
      body: { lifetimeMinutes: 60, description: 'kiosk rollout', maxUses: 50 },
    });
    expect(answer.status).toBe(201);
    const claims = decodeJwt(answer.body.token as string);
    expect(claims.exp! - claims.iat!).toBe(3600);
    const entry = (await listed()).find((item) => item.id === answer.body.id);
    expect(entry).toMatchObject({ lifetimeMinutes: 60, description: 'kiosk rollout', maxUses: 50, uses: 0, status: 'active' });
    expect(entry).not.toHaveProperty('token');
  });

  it.each([
    ['lifetimeMinutes 0', { lifetimeMinutes: 0 }, /lifetimeMinutes: must be a whole number from 1 to 10080/],
    ['lifetimeMinutes 10081', { lifetimeMinutes: 10081 }, /lifetimeMinutes: .*got 10081/],
    ['lifetimeMinutes 1.5', { lifetimeMinutes: 1.5 }, /lifetimeMinutes: .*got 1\.5/],
    ['lifetimeMinutes "abc"', { lifetimeMinutes: 'abc' }, /lifetimeMinutes: .*got "abc"/],
    ['maxUses 0', { maxUses: 0 }, /maxUses: must be a whole number from 1/],
    ['maxUses "3"', { maxUses: '3' }, /maxUses: .*got "3"/],
    ['an unknown field', { lifetime: 60 }, /unknown field\(s\): lifetime/],
    ['a description with a control character', { description: 'a\u0007b' }, /description: must not contain control characters/],
    ['an array body', [1, 2], /the body must be a JSON object/],
  ])('rejects %s with 400 invalid_request naming it, and stores nothing', async (_name, body, detail) => {
    const before = (await listed()).length;
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.body).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(answer.body.detail).toMatch(detail);
    expect((await listed()).length).toBe(before);
  });

  it('rejects a body over 16 KiB with 413 and stores nothing', async () => {
    const before = (await listed()).length;
    const answer = await invoke(createBulkToken, {
      path: '/api/bulk-tokens',
      headers: { ...admin, 'content-type': 'application/json' },
      rawBody: JSON.stringify({ description: 'x'.repeat(20 * 1024) }),
    });
    expect(answer.status).toBe(413);
    expect(answer.body.code).toBe('payload_too_large');
    expect((await listed()).length).toBe(before);
  });

  it('rejects a non-JSON content type with 415 and malformed JSON with 400', async () => {
    const wrongType = await invoke(createBulkToken, {
      path: '/api/bulk-tokens',
      headers: { ...admin, 'content-type': 'text/plain' },
      rawBody: '{}',
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.code).toBe('unsupported_media_type');
    const malformed = await invoke(createBulkToken, {
      path: '/api/bulk-tokens',
      headers: { ...admin, 'content-type': 'application/json' },
      rawBody: '{"lifetimeMinutes": ',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.detail).toMatch(/not valid UTF-8 JSON/);
  });
});

describe('admin credential', () => {
  it.each([
    ['no Authorization header', 401, 'missing_credential', {}],
    ['a wrong admin key', 401, 'invalid_token', bearer('x'.repeat(43))],
    ['a Basic credential', 401, 'invalid_token', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
  ])('%s gets %i %s and stores nothing', async (_name, status, code, headers) => {
    const before = (await listed()).length;
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers, body: {} });
    expect(answer.status).toBe(status);
    expect(answer.body.code).toBe(code);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await listed()).length).toBe(before);
  });
});

describe('block and unblock', () => {
  it('blocks, then unblocks, and the list follows', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 60 } });
    const id = created.body.id as string;
    const path = `/api/bulk-tokens/${id}/block`;
    const blocked = await invoke(blockBulkToken, { path, headers: admin, params: { id } });
    expect(blocked).toMatchObject({ status: 200, body: { id, status: 'blocked' } });
    expect((await listed()).find((item) => item.id === id)?.status).toBe('blocked');
    const unblocked = await invoke(unblockBulkToken, { path, headers: admin, params: { id } });
    expect(unblocked).toMatchObject({ status: 200, body: { id, status: 'active' } });
    expect((await listed()).find((item) => item.id === id)?.status).toBe('active');
  });

  it('an unblocked token past its expiry is expired, not active', async () => {
    const created = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { lifetimeMinutes: 1 } });
    const id = created.body.id as string;
    await invoke(blockBulkToken, { path: '/x', headers: admin, params: { id } });
    services.clock.advance(61);
    try {
      const unblocked = await invoke(unblockBulkToken, { path: '/x', headers: admin, params: { id } });
      expect(unblocked.body).toEqual({ id, status: 'expired' });
    } finally {
      services.clock.advance(-61);
    }
  });

  it('answers 404 for an unknown id and 400 for one that is not a GUID', async () => {
    const unknown = await invoke(blockBulkToken, {
      path: '/x',
      headers: admin,
      params: { id: '3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a' },
    });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'not_found' } });
    const malformed = await invoke(blockBulkToken, { path: '/x', headers: admin, params: { id: '../../etc' } });
    expect(malformed).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
  });
});

describe('what is stored', () => {
  it('keeps the tracking GUID and metadata, and the token nowhere in any table', async () => {
    const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: admin, body: { description: 'audit' } });
    const token = answer.body.token as string;
    const [header, payload, signature] = token.split('.');
    const stored = JSON.stringify(await dumpTables(services.config.tablePrefix));
    expect(stored).toContain(answer.body.id as string);
    for (const part of [token, header, payload, signature]) expect(stored).not.toContain(part);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { projectRoot, startLocalHost, type LocalHost } from './support/localHost.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'dist', 'cli', 'bulkRegistrationToken.js');

let host: LocalHost;

beforeAll(async () => {
  host = await startLocalHost();
});

afterAll(async () => {
  await host?.stop();
});

async function bulkTokenCli(...args: string[]): Promise<string> {
  const { stdout } = await run(cli, [...args, '--url', host.url, '--admin-key', host.adminKey]);
  return stdout;
}

async function listed(): Promise<Array<{ id: string; status: string }>> {
  return (JSON.parse(await bulkTokenCli('list', '--json')) as { items: Array<{ id: string; status: string }> }).items;
}

describe('npm start (the local host)', () => {
  it('serves /api/health', async () => {
    const response = await fetch(`${host.url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('generates a hex admin key, which a command line can never read as an option', () => {
    // A base64url key began with '-' one run in 64 and the CLI refused `--admin-key -…`.
    expect(host.adminKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('bulk-registration-token /new /lifetime:60 prints a GUID, 60 minutes and a JWT verifiable against the served JWKS', async () => {
    const stdout = await bulkTokenCli('/new', '/lifetime:60');
    const id = /Tracking GUID: ([0-9a-f-]{36})/.exec(stdout)?.[1];
    expect(id).toBeDefined();
    expect(stdout).toMatch(/Lifetime:\s+60 minutes/);
    const token = stdout.trim().split('\n').pop() ?? '';
    const jwks = (await (await fetch(`${host.url}/api/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      typ: 'bulk-registration+jwt',
      issuer: 'cmg-token-auth',
      audience: 'cmg-token-auth',
    });
    expect(protectedHeader.typ).toBe('bulk-registration+jwt');
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.jti).toBe(id);
    expect(stdout).toMatch(new RegExp(`Expires:\\s+${new Date(payload.exp! * 1000).toISOString()}`));
  });

  it('takes "/lifetime 120" and ordinary flags alike', async () => {
    const spaced = JSON.parse(await bulkTokenCli('/new', '/lifetime', '120', '--json')) as { token: string; lifetimeMinutes: number };
    expect(spaced.lifetimeMinutes).toBe(120);
    const flags = JSON.parse(await bulkTokenCli('new', '--lifetime', '30', '--max-uses', '5', '--description', 'lab', '--json')) as {
      id: string;
      token: string;
    };
    const claims = decodeJwt(flags.token);
    expect(claims.exp! - claims.iat!).toBe(1800);
    expect((await listed()).find((item) => item.id === flags.id)).toMatchObject({ maxUses: 5, description: 'lab' });
  });

  it('block then unblock shows in the list', async () => {
    const { id } = JSON.parse(await bulkTokenCli('new', '--json')) as { id: string };
    expect(await bulkTokenCli('block', id)).toBe(`${id}: blocked\n`);
    expect((await listed()).find((item) => item.id === id)?.status).toBe('blocked');
    expect(await bulkTokenCli('unblock', id)).toBe(`${id}: active\n`);
    expect((await listed()).find((item) => item.id === id)?.status).toBe('active');
  });

  it('shows a service error as one line and exits 1; bad usage exits 2 without asking the service', async () => {
    const refused = await run(cli, ['block', '00000000-0000-4000-8000-000000000000', '--url', host.url, '--admin-key', host.adminKey]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toMatch(/^bulk-registration-token: 404 [a-z_]+: .*\n$/);
    // The range the help states is checked locally: exit 2, and the service never saw it.
    const tokensBefore = (await listed()).length;
    const outOfRange = await run(cli, ['/new', '/lifetime:10081', '--url', host.url, '--admin-key', host.adminKey]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(outOfRange).toMatchObject({ code: 2, stderr: expect.stringMatching(/^bulk-registration-token: \/lifetime must be a whole number from 1 to 10080 .*10081.*\n$/) });
    expect((await listed()).length).toBe(tokensBefore);
    const usage = await run(cli, ['/frobnicate']).catch((error: { code: number }) => error);
    expect(usage).toMatchObject({ code: 2 });
  });

  it('a refused admin key says where it came from (LOCAL_DATA_DIR, else .local)', async () => {
    const elsewhere = await run(cli, ['list', '--url', host.url], { cwd: tmpdir(), env: { ...process.env, CMG_ADMIN_KEY: '', LOCAL_DATA_DIR: host.dataDir } });
    expect(elsewhere.stdout).toMatch(/^ID +STATUS/);
    const wrongDir = mkdtempSync(join(tmpdir(), 'cmg-other-data-'));
    writeFileSync(join(wrongDir, 'admin-key'), `${'0'.repeat(64)}\n`);
    const refused = await run(cli, ['list', '--url', host.url], { env: { ...process.env, CMG_ADMIN_KEY: '', LOCAL_DATA_DIR: wrongDir } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused).toMatchObject({ code: 1 });
    const stderr = (refused as { stderr: string }).stderr;
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toContain(`401`);
    expect(stderr).toContain(`read from ${join(wrongDir, 'admin-key')} (LOCAL_DATA_DIR=${wrongDir})`);
  });

  it.each([
    ['lifetimeMinutes 0', 400, 'invalid_request', JSON.stringify({ lifetimeMinutes: 0 })],
    ['lifetimeMinutes 10081', 400, 'invalid_request', JSON.stringify({ lifetimeMinutes: 10081 })],
    ['lifetimeMinutes 1.5', 400, 'invalid_request', JSON.stringify({ lifetimeMinutes: 1.5 })],
    ['lifetimeMinutes "abc"', 400, 'invalid_request', JSON.stringify({ lifetimeMinutes: 'abc' })],
    ['a 20 KiB body', 413, 'payload_too_large', JSON.stringify({ description: 'x'.repeat(20 * 1024) })],
  ])('over HTTP, %s gets %i %s as problem+json and stores nothing', async (_name, status, code, body) => {
    const before = (await listed()).length;
    const response = await fetch(`${host.url}/api/bulk-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${host.adminKey}`, 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status, code });
    expect((await listed()).length).toBe(before);
  });

  it('answers a wrong method and an unknown path with problem+json from the catch-all function; outside /api, the host\'s empty 404', async () => {
    // What Azure answers too: the catch-all is an ordinary function (test/hostParity.test.ts).
    const wrong = await fetch(`${host.url}/api/bulk-tokens`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST, GET');
    expect(await wrong.json()).toMatchObject({ code: 'method_not_allowed' });
    const outside = await fetch(`${host.url}/nope`);
    expect(outside.status).toBe(404);
    expect(await outside.text()).toBe('');
    // The host's admin API: an empty 404 for a function it does not have (test/hostParity.test.ts).
    const admin = await fetch(`${host.url}/admin/functions/noSuchFunction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(admin.status).toBe(404);
    expect(await admin.text()).toBe('');
  });

  it('keeps records and the signing key across a restart, and stops cleanly on Ctrl-C', async () => {
    const { id } = JSON.parse(await bulkTokenCli('new', '--json')) as { id: string };
    const kidBefore = ((await (await fetch(`${host.url}/api/.well-known/jwks.json`)).json()) as JSONWebKeySet).keys[0]?.kid;
    expect(await host.stop('SIGINT')).toBe(0);
    expect(host.output()).toMatch(/SIGINT: stopping/);

    host = await startLocalHost({ LOCAL_DATA_DIR: host.dataDir });
    expect((await listed()).map((item) => item.id)).toContain(id);
    const kidAfter = ((await (await fetch(`${host.url}/api/.well-known/jwks.json`)).json()) as JSONWebKeySet).keys[0]?.kid;
    expect(kidAfter).toBe(kidBefore);
  });
});

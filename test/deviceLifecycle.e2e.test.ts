import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot, startLocalHost, type LocalHost } from './support/localHost.js';

const execFileAsync = promisify(execFile);
const cmgClient = join(projectRoot, 'dist', 'cli', 'cmgClient.js');

let host: LocalHost;

beforeAll(async () => {
  host = await startLocalHost({ APPROVAL_MODE: 'manual' });
});

afterAll(async () => {
  await host?.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function client(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(cmgClient, args);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${host.url}/api/${path}`, {
    method,
    headers: { authorization: `Bearer ${host.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as Record<string, unknown>;
}

function stateDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'cmg-client-')), 'state');
}

describe('cmg-client against npm start', () => {
  it('register, status, renew --force, authenticate all succeed; the state folder is private', async () => {
    const { token } = await admin('POST', 'bulk-tokens', { lifetimeMinutes: 60 });
    const state = stateDir();
    const registered = await client('register', '--url', host.url, '--regtoken', String(token), '--state', state);
    expect(registered).toMatchObject({ code: 0, stdout: expect.stringMatching(/^registered: device [0-9a-f-]{36}/) });

    const status = await client('status', '--state', state, '--json');
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { deviceId: string; daysLeft: number; registration: string };
    expect(shown).toMatchObject({ registration: 'bulk', daysLeft: 89 });

    const renewed = await client('renew', '--force', '--state', state);
    expect(renewed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^renewed: token valid until/) });
    const authenticated = await client('authenticate', '--state', state, '--json');
    expect(authenticated.code).toBe(0);
    expect(JSON.parse(authenticated.stdout)).toMatchObject({ deviceId: shown.deviceId, registration: 'bulk' });

    expect(statSync(state).mode & 0o777).toBe(0o700);
    for (const file of readdirSync(state)) {
      expect({ file, mode: statSync(join(state, file)).mode & 0o077 }).toEqual({ file, mode: 0 });
    }
  });

  it('after revoke, authenticate answers 403 device_revoked and renew fails too', async () => {
    const { token } = await admin('POST', 'bulk-tokens', {});
    const state = stateDir();
    await client('register', '--url', host.url, '--regtoken', String(token), '--state', state, '--key-type', 'ec');
    const { deviceId } = JSON.parse((await client('status', '--state', state, '--json')).stdout) as { deviceId: string };
    expect(await admin('POST', `devices/${deviceId}/revoke`)).toEqual({ deviceId, status: 'revoked' });

    const refused = await client('authenticate', '--state', state);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/403 device_revoked/);
    expect((await client('renew', '--force', '--state', state)).stderr).toMatch(/403 device_revoked/);
    const tokenFile = join(state, 'token.json');
    writeFileSync(tokenFile, JSON.stringify({ ...JSON.parse(readFileSync(tokenFile, 'utf8')), renewAfter: '2000-01-01T00:00:00.000Z' }));
    const run = await client('run', '--once', '--state', state);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cmg-client: refused: an administrator revoked this device; .*\(403 device_revoked\); start over with a new key: cmg-client reset --state /m);
  });

  it('run --once renews a token whose renewAfter has passed, and leaves a fresh one alone', async () => {
    const { token } = await admin('POST', 'bulk-tokens', {});
    const state = stateDir();
    await client('register', '--url', host.url, '--key-type', 'ec', '--regtoken', String(token), '--state', state);
    const tokenFile = join(state, 'token.json');
    const before = JSON.parse(readFileSync(tokenFile, 'utf8')) as { token: string; renewAfter: string };
    const untouched = await client('run', '--once', '--state', state);
    expect(untouched.code).toBe(0);
    expect(untouched.stderr).toMatch(/next renewal check at/);
    expect(JSON.parse(readFileSync(tokenFile, 'utf8')).token).toBe(before.token);

    writeFileSync(tokenFile, JSON.stringify({ ...before, renewAfter: '2000-01-01T00:00:00.000Z' }));
    const renewed = await client('run', '--once', '--state', state);
    expect(renewed.code).toBe(0);
    expect(renewed.stderr).toMatch(/renewal due .* renewing[\s\S]*renewed: token valid until/);
    expect(JSON.parse(readFileSync(tokenFile, 'utf8')).token).not.toBe(before.token);
  });

  it('an internal registration waits while approval is pending (exit 3), then gets its token once approved', async () => {
    const state = stateDir();
    const pending = await client('register', '--url', host.url, '--key-type', 'ec', '--internal', '--state', state, '--wait', '1');
    expect(pending.code).toBe(3);
    expect(pending.stderr).toMatch(/still waiting for an administrator's approval/);
    const { items } = (await admin('GET', 'devices?status=pending')) as { items: Array<{ deviceId: string }> };
    expect(items).toHaveLength(1);
    // status is local: it shows the pending registration with exit 3, as register did.
    const status = await client('status', '--state', state, '--json');
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ registered: false, pending: true, deviceId: items[0]?.deviceId, url: `${host.url}/` });
    const authenticate = await client('authenticate', '--state', state);
    expect(authenticate).toMatchObject({ code: 3, stderr: expect.stringMatching(/^cmg-client: device [0-9a-f-]{36} is still waiting for an administrator's approval .*\n$/) });
    await admin('POST', `devices/${items[0]?.deviceId}/approve`);
    const registered = await client('register', '--url', host.url, '--key-type', 'ec', '--internal', '--state', state);
    expect(registered.code).toBe(0);
    expect(registered.stdout).toContain(items[0]?.deviceId);
    expect((await client('status', '--state', state)).code).toBe(0);
    expect(readdirSync(state)).not.toContain('pending.json');
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { release, tmpdir, type } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { projectRoot, startLocalHost, type LocalHost } from './support/localHost.js';

/**
 * cmg-admin and cmg-client end to end: the BUILT CLIs (dist/cli/*.js) as child processes
 * against one local host (Azurite, manual approval) that also trusts a fake Microsoft Entra
 * tenant. The tenant is a key server of this test; the host's requests to the identity
 * platform are sent to it (test/support/entraNetwork.mjs), and a fake `az` on PATH prints
 * an access token signed by its key, as `az account get-access-token` does.
 */

// A hang guard, not a wait: each test spawns several CLIs, and RSA key generation is slow on a busy machine.
jest.setTimeout(120_000);

const bin = {
  admin: join(projectRoot, 'dist', 'cli', 'cmgAdmin.js'),
  bulk: join(projectRoot, 'dist', 'cli', 'bulkRegistrationToken.js'),
  client: join(projectRoot, 'dist', 'cli', 'cmgClient.js'),
};
const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
const tenant = randomUUID();
const apiClientId = randomUUID();
const audience = `api://${apiClientId}`;

let host: LocalHost;
let keyServer: Server;
let signingKey: CryptoKey;
let work: string;
let keyFile: string;
let fakeAzDir: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLIs' environment: none of the test's CMG_ settings, HOME and the current folder a folder of the test's. */
function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(CMG_|LOCAL_DATA_DIR$|XDG_STATE_HOME$|NODE_OPTIONS$)/.test(key)) env[key] = value;
  return { ...env, HOME: work, ...extra };
}

function run(tool: keyof typeof bin, args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin[tool], ...args], { cwd: work, env: environment(options.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
    collect(child, done, fail);
    child.stdin?.end(options.input ?? '');
  });
}

function collect(child: ChildProcess, done: (ran: Ran) => void, fail: (error: Error) => void): void {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.once('error', fail);
  child.once('close', (code) => done({ code, stdout, stderr }));
}

const admin = (...args: string[]) => run('admin', [...args, '--url', host.url, '--admin-key-file', keyFile]);
const client = (...args: string[]) => run('client', args);

async function adminJson<T>(...args: string[]): Promise<T> {
  const ran = await admin(...args, '--json');
  if (ran.code !== 0) throw new Error(`cmg-admin ${args.join(' ')} exited ${ran.code}: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
}

async function deviceIdIn(state: string): Promise<string> {
  const ran = await client('status', '--json', '--state', state);
  return (JSON.parse(ran.stdout) as { deviceId: string }).deviceId;
}

function sha1Of(state: string): string {
  return new X509Certificate(readFileSync(join(state, 'device-cert.pem'))).fingerprint.replace(/:/g, '');
}

/** An access token as Entra ID issues it for the admin API (v2.0), signed by the fake tenant's key. */
async function entraAccessToken(roles: string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tid: tenant, oid: randomUUID(), name: 'Ada Admin', upn: 'ada@contoso.example', roles, ver: '2.0' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'fake-tenant-key' })
    .setIssuer(`https://login.microsoftonline.com/${tenant}/v2.0`)
    .setAudience(audience)
    .setIssuedAt(now - 60)
    .setNotBefore(now - 60)
    .setExpirationTime(now + 3600)
    .sign(signingKey);
}

/** `az` as AzureCliCredential runs it: logs its arguments, prints the JSON of `az account get-access-token`. */
async function writeFakeAz(): Promise<void> {
  fakeAzDir = mkdtempSync(join(tmpdir(), 'cmg-fake-az-'));
  for (const [name, roles] of [['admin', ['CmgTokenAuth.Admin']], ['reader', ['CmgTokenAuth.Reader']]] as const) {
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const answer = { accessToken: await entraAccessToken([...roles]), expiresOn: new Date(expires * 1000).toISOString(), expires_on: expires, tenant, tokenType: 'Bearer' };
    writeFileSync(join(fakeAzDir, `${name}.json`), JSON.stringify(answer));
  }
  const script = ['#!/bin/sh', `printf '%s\\n' "$*" >> "${join(fakeAzDir, 'az.log')}"`, `cat "${fakeAzDir}/\${FAKE_AZ_ACCOUNT:-admin}.json"`, ''].join('\n');
  writeFileSync(join(fakeAzDir, 'az'), script);
  chmodSync(join(fakeAzDir, 'az'), 0o755);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'fake-tenant-key', use: 'sig', alg: 'RS256' }] });
  keyServer = createServer((request, response) => {
    if (request.url === `/${tenant}/discovery/v2.0/keys`) response.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    else response.writeHead(404).end();
  });
  await new Promise<void>((done) => keyServer.listen(0, '127.0.0.1', done));
  const { port } = keyServer.address() as AddressInfo;
  work = mkdtempSync(join(tmpdir(), 'cmg-admin-e2e-'));
  await writeFakeAz();
  host = await startLocalHost({
    APPROVAL_MODE: 'manual',
    TENANT_ID: tenant,
    ADMIN_AUDIENCE: audience,
    FAKE_ENTRA_ORIGIN: `http://127.0.0.1:${port}`,
    NODE_OPTIONS: `--import=${pathToFileURL(join(projectRoot, 'test', 'support', 'entraNetwork.mjs')).href}`,
  });
  keyFile = join(work, 'admin-key.txt');
  writeFileSync(keyFile, `${host.adminKey}\n`, { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await new Promise((done) => keyServer?.close(done));
});

describe('cmg-admin tokens and the device lines it prints', () => {
  it('tokens new prints the cmg-client, ccmsetup and PowerShell lines; the cmg-client line registers a device as printed', async () => {
    const made = await admin('tokens', 'new', '--max-uses', '5', '--description', 'fleet e2e');
    expect(made.code).toBe(0);
    const token = made.stdout.trim().split('\n').pop() ?? '';
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const line = (label: string) => new RegExp(`^ {2}${label}: +(.*)$`, 'm').exec(made.stdout)?.[1] ?? '';
    expect(line('cmg-client')).toBe(`cmg-client register --url ${host.url} --regtoken ${token}`);
    expect(line('ccmsetup')).toMatch(new RegExp(`^ccmsetup\\.exe .*/regtoken:${token}$`));
    expect(line('PowerShell')).toBe(`Register-CmgDevice -ServiceUrl ${host.url} -RegistrationToken ${token}`);

    const [, ...printedArgs] = line('cmg-client').split(' ');
    const registered = await client(...printedArgs, '--name', 'laptop-a', '--state', join(work, 'laptop-a'));
    expect({ code: registered.code, stderr: registered.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/generating an RSA 2048 key/) });
  });

  it('tokens new --json is the service\'s answer plus the device lines; tokens list --json never holds a token', async () => {
    const created = await adminJson<Record<string, unknown>>('tokens', 'new', '--lifetime', '60');
    expect(Object.keys(created).sort()).toEqual(['deviceCommands', 'expiresAt', 'id', 'issuedAt', 'lifetimeMinutes', 'token']);
    expect(Object.keys(created.deviceCommands as object).sort()).toEqual(['ccmsetup', 'cmgClient', 'powerShell']);
    const listed = await adminJson<{ items: Array<Record<string, unknown>> }>('tokens', 'list');
    expect(listed.items.find((item) => item.id === created.id)).toMatchObject({ status: 'active', lifetimeMinutes: 60 });
    expect(JSON.stringify(listed)).not.toContain(created.token as string);
  });

  it('--admin-key-file - reads the key from standard input; bulk-registration-token takes it too (the same code)', async () => {
    const fromStdin = await run('admin', ['tokens', 'list', '--url', host.url, '--admin-key-file', '-'], { input: `${host.adminKey}\n` });
    expect({ code: fromStdin.code, stderr: fromStdin.stderr }).toEqual({ code: 0, stderr: '' });
    expect(fromStdin.stdout).toMatch(/^ID +STATUS/);
    const bulk = await run('bulk', ['list', '--url', host.url, '--admin-key-file', keyFile]);
    expect(bulk.stdout).toBe(fromStdin.stdout);
  });
});

describe('cmg-admin devices', () => {
  beforeAll(async () => {
    const created = await adminJson<{ token: string }>('tokens', 'new');
    const registered = await client('register', '--url', host.url, '--regtoken', created.token, '--key-type', 'ec', '--name', 'laptop-b', '--state', join(work, 'laptop-b'));
    expect(registered.code).toBe(0);
  });

  it('two devices registered with names are told apart in devices list: name, OS and client version per row', async () => {
    const listed = await admin('devices', 'list');
    expect(listed.code).toBe(0);
    const [head, ...rows] = listed.stdout.trim().split('\n');
    expect(head).toMatch(/^NAME +STATUS +OS +VERSION +LAST SEEN +REGISTERED +DEVICE ID$/);
    const os = `${type()} ${release()}`;
    const [a, b] = await Promise.all([deviceIdIn(join(work, 'laptop-a')), deviceIdIn(join(work, 'laptop-b'))]);
    expect(rows.find((row) => row.startsWith('laptop-a '))).toMatch(new RegExp(`^laptop-a +active +${os.replace(/[.+]/g, '\\$&')} +${version.replace(/\./g, '\\.')} +\\d{4}-.* ${a}$`));
    expect(rows.find((row) => row.startsWith('laptop-b '))).toMatch(new RegExp(` ${b}$`));
    expect(a).not.toBe(b);
  });

  it('devices list --name is a case-insensitive prefix; --json carries the device view', async () => {
    const only = await adminJson<{ items: Array<Record<string, unknown>> }>('devices', 'list', '--name', 'LAPTOP-B');
    expect(only.items.map((item) => item.name)).toEqual(['laptop-b']);
    expect(only.items[0]).toEqual(
      expect.objectContaining({
        deviceId: await deviceIdIn(join(work, 'laptop-b')),
        status: 'active',
        registration: 'bulk',
        os: `${type()} ${release()}`,
        clientVersion: version,
        lastSeenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        thumbprintSha1: sha1Of(join(work, 'laptop-b')),
      }),
    );
  });

  it('devices show finds a device by the SHA-1 thumbprint Windows shows, in any case', async () => {
    const shown = await admin('devices', 'show', sha1Of(join(work, 'laptop-a')).toLowerCase());
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^name: +laptop-a$/m);
    expect(shown.stdout).toMatch(new RegExp(`^SHA-1: +${sha1Of(join(work, 'laptop-a'))}$`, 'm'));
  });
});

describe('a pending device and its approval', () => {
  it('run --once asks while pending (exit 3) and picks up the approval (exit 0)', async () => {
    const state = join(work, 'kiosk-1');
    expect((await client('register', '--url', host.url, '--key-type', 'ec', '--internal', '--wait', '0', '--name', 'kiosk-1', '--state', state)).code).toBe(3);
    const stillPending = await client('run', '--once', '--state', state);
    expect({ code: stillPending.code, stderr: stillPending.stderr }).toEqual({ code: 3, stderr: expect.stringMatching(/still waiting for an administrator's approval/) });
    const deviceId = await deviceIdIn(state);
    expect((await admin('devices', 'approve', deviceId)).stdout).toBe(`${deviceId}: active\n`);
    const approved = await client('run', '--once', '--state', state);
    expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/approved: device .* got its token/) });
    expect((await client('status', '--state', state)).code).toBe(0);
  });

  it('run, staying up, keeps asking and picks up the approval without a restart', async () => {
    const state = join(work, 'kiosk-2');
    expect((await client('register', '--url', host.url, '--key-type', 'ec', '--internal', '--wait', '0', '--name', 'kiosk-2', '--state', state)).code).toBe(3);
    const deviceId = await deviceIdIn(state);
    const child = spawn(process.execPath, [bin.client, 'run', '--poll', '1', '--state', state], { cwd: work, env: environment({}), stdio: ['ignore', 'pipe', 'pipe'] });
    const ended = new Promise<Ran>((done, fail) => collect(child, done, fail));
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // Waits for a line in the log (the state of the running client), failing with the log when the client ends or hangs.
    const logged = async (pattern: RegExp) => {
      const deadline = Date.now() + 90_000;
      while (!pattern.test(log)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cmg-client run (exit ${child.exitCode}) did not log ${pattern}: ${log}`);
        await new Promise((done) => setTimeout(done, 50));
      }
    };
    try {
      await logged(/still waits for an administrator's approval/);
      await admin('devices', 'approve', deviceId);
      await logged(/approved: device .* got its token/);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await ended).code).toBe(0);
    expect((await client('status', '--state', state)).code).toBe(0);
  });
});

describe('revocation from the command line', () => {
  let deviceId: string;
  const state = () => join(work, 'desk-9');

  beforeAll(async () => {
    const created = await adminJson<{ token: string }>('tokens', 'new');
    expect((await client('register', '--url', host.url, '--key-type', 'ec', '--regtoken', created.token, '--name', 'desk-9', '--state', state())).code).toBe(0);
    deviceId = await deviceIdIn(state());
  });

  const status = async () => (await adminJson<{ status: string }>('devices', 'show', deviceId)).status;

  it('devices revoke without --yes, not on a terminal: exit 2, nothing sent, the device stays active', async () => {
    const refused = await admin('devices', 'revoke', deviceId);
    expect({ code: refused.code, stderr: refused.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/not a terminal: add --yes/) });
    expect(await status()).toBe('active');
  });

  it('on a terminal it shows the device and asks: "no" keeps it, "yes" revokes it', async () => {
    // `script` gives the CLI a terminal; what is piped to it is what the person types.
    const onTerminal = (answer: string) =>
      new Promise<Ran>((done, fail) => {
        const command = [process.execPath, bin.admin, 'devices', 'revoke', deviceId, '--url', host.url, '--admin-key-file', keyFile].map((word) => `'${word}'`).join(' ');
        const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: work, env: environment({}), stdio: ['pipe', 'pipe', 'pipe'] });
        collect(child, done, fail);
        child.stdin.end(`${answer}\n`);
      });
    const declined = await onTerminal('no');
    expect(declined.code).toBe(1);
    expect(declined.stdout).toMatch(/name: +desk-9[\s\S]*Type yes to revoke/);
    expect(declined.stdout).toMatch(/not revoked: .* \(not confirmed\)/);
    expect(await status()).toBe('active');
    const confirmed = await onTerminal('yes');
    expect(confirmed.code).toBe(0);
    expect(confirmed.stdout).toContain(`${deviceId}: revoked`);
    expect(await status()).toBe('revoked');
  });

  it('the revoked device is told exactly that, and reset starts it over with a new key and a new device id', async () => {
    const refused = await client('authenticate', '--state', state());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^cmg-client: refused: an administrator revoked this device; .*start over with a new key: cmg-client reset --state .*, then cmg-client register\n$/);
    const oldSha1 = sha1Of(state());
    const reset = await client('reset', '--yes', '--state', state());
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(`of device ${deviceId} are gone`);
    const created = await adminJson<{ token: string }>('tokens', 'new');
    expect((await client('register', '--url', host.url, '--key-type', 'ec', '--regtoken', created.token, '--name', 'desk-9', '--state', state())).code).toBe(0);
    expect(await deviceIdIn(state())).not.toBe(deviceId);
    expect(sha1Of(state())).not.toBe(oldSha1);
  });

  it('audit --action device.revoke --json names the revocation and who made it', async () => {
    const audit = await adminJson<{ items: Array<Record<string, unknown>> }>('audit', '--action', 'device.revoke', '--from', '1h');
    expect(audit.items[0]).toMatchObject({ action: 'device.revoke', outcome: 'succeeded', target: { kind: 'device', id: deviceId }, actor: { kind: 'admin-key' } });
  });
});

describe('cmg-admin against a Microsoft Entra tenant (fake az, fake tenant keys)', () => {
  const entraEnv = (account: string) => ({ PATH: `${fakeAzDir}:${process.env.PATH ?? ''}`, FAKE_AZ_ACCOUNT: account });

  it('signs in through the Azure CLI for --audience, and the service records the Entra user as the actor', async () => {
    const state = join(work, 'kiosk-3');
    expect((await client('register', '--url', host.url, '--key-type', 'ec', '--internal', '--wait', '0', '--name', 'kiosk-3', '--state', state)).code).toBe(3);
    const deviceId = await deviceIdIn(state);
    const approved = await run('admin', ['devices', 'approve', deviceId, '--url', host.url, '--audience', audience, '--tenant', tenant], { env: entraEnv('admin') });
    expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
    expect(readFileSync(join(fakeAzDir, 'az.log'), 'utf8')).toContain(`account get-access-token --output json --resource ${audience} --tenant ${tenant}`);
    const audit = await adminJson<{ items: Array<Record<string, unknown>> }>('audit', '--action', 'device.approve', '--from', '1h');
    expect(audit.items.find((entry) => (entry.target as { id: string }).id === deviceId)).toMatchObject({ actor: { kind: 'entra', name: 'Ada Admin' } });
  });

  it('CMG_ADMIN_AUDIENCE works the same without a flag; an account without the admin role gets 403 and the hint', async () => {
    const listed = await run('admin', ['tokens', 'list', '--url', host.url, '--json'], { env: { ...entraEnv('admin'), CMG_ADMIN_AUDIENCE: audience } });
    expect(listed.code).toBe(0);
    const refused = await run('admin', ['tokens', 'list', '--url', host.url], { env: { ...entraEnv('reader'), CMG_ADMIN_AUDIENCE: audience } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^cmg-admin: 403 forbidden: .*; the Entra ID token for api:\/\/.* \(from the Azure CLI login\) was refused; does your account hold the admin app role/);
  });
});

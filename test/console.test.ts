import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleHandler } from '../functions/serveConsole.js';
import { defaultConsoleScope, loadConfig } from '../shared/config.js';
import { consoleCsp, consoleSignIn } from '../shared/console/consoleSignIn.js';
import { installTestServices } from './support/services.js';
import { invoke } from './support/invoke.js';
import { projectRoot } from './support/localHost.js';

/**
 * Requirement: the console is served by the function app from what the build produced —
 * the page and its redirect bridge revalidated on every load, hashed assets cacheable for a
 * year, every answer with a strict CSP and nosniff; any other name (a traversal, the
 * manifest, a source file) is a 404 problem; the config tells the page how to sign in.
 */

const built = join(projectRoot, 'dist', 'console');
const serve = consoleHandler(built);
const get = (path: string) => invoke(serve, { method: 'GET', path: `/api/console/${path}`, params: { path } });
const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const client = '3f2c6a2e-0d0c-4b1a-9f7e-5a4f1c2b9d10';

describe('GET /api/console and its files (admin key sign-in)', () => {
  beforeAll(async () => {
    await installTestServices();
  });

  it('serves the page, revalidated on every load, with the CSP and nosniff', async () => {
    const answer = await get('');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(answer.headers.get('cache-control')).toBe('no-cache');
    expect(answer.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    // No inline script or style: every script is an external module, no style attribute.
    expect(answer.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(answer.text).not.toMatch(/\sstyle=/);
  });

  it('serves every script and stylesheet the page names, hashed and immutable', async () => {
    const page = (await get('')).text;
    const assets = [...page.matchAll(/(?:src|href)="\/api\/console\/([^"]+)"/g)].map((match) => match[1] ?? '');
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const name of assets) {
      expect(name).toMatch(/^[a-z]+-[A-Z0-9]{8}\.(js|css)$/);
      const answer = await get(name);
      expect({ name, status: answer.status, cache: answer.headers.get('cache-control') }).toEqual({ name, status: 200, cache: 'public, max-age=31536000, immutable' });
      expect(answer.headers.get('content-type')).toMatch(name.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(answer.headers.get('content-security-policy')).toContain("script-src 'self'");
    }
  });

  it('weighs under 200 KB gzipped in admin-key mode: the page, its stylesheet and every script it loads without Entra sign-in', async () => {
    const page = (await get('')).text;
    const loaded = new Set<string>();
    const pending = [...page.matchAll(/(?:src|href)="\/api\/console\/([^"]+)"/g)].map((match) => match[1] ?? '');
    while (pending.length > 0) {
      const name = pending.pop() ?? '';
      if (loaded.has(name)) continue;
      loaded.add(name);
      // Static imports load with the page; import() (the MSAL chunk) only for Entra sign-in.
      if (name.endsWith('.js')) for (const match of readFileSync(join(built, name), 'utf8').matchAll(/import\s*(?:[\w{},*\s$]+from\s*)?"\.\/([\w-]+\.js)"/g)) pending.push(match[1] ?? '');
    }
    const entra = readFileSync(join(built, [...loaded].find((name) => name.startsWith('app-')) ?? ''), 'utf8').match(/import\("\.\/([\w-]+\.js)"\)/)?.[1];
    expect(entra).toBeDefined();
    expect(loaded.has(entra ?? '')).toBe(false);
    const gzipped = gzipSync(page).length + [...loaded].reduce((sum, name) => sum + gzipSync(readFileSync(join(built, name))).length, 0);
    expect(gzipped).toBeGreaterThan(10 * 1024);
    expect(gzipped).toBeLessThan(200 * 1024);
  });

  it('serves the redirect bridge page under its fixed name, without a COOP header', async () => {
    const answer = await get('redirect.html');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-cache');
    expect(answer.headers.get('cross-origin-opener-policy')).toBeNull();
    expect(answer.text).toMatch(/<script type="module" src="\/api\/console\/redirect-[A-Z0-9]{8}\.js"><\/script>/);
  });

  it.each(['../package.json', '..%2F..%2Fpackage.json', '%2e%2e/host.json', 'manifest.json', 'index.html/..', 'src/main.ts', 'main.ts', 'app.js', '.', 'nope.js'])(
    'answers 404 problem+json for %s',
    async (path) => {
      const answer = await get(path);
      expect(answer.status).toBe(404);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(answer.body.code).toBe('not_found');
    },
  );

  it('tells the page to ask for the admin key', async () => {
    const answer = await get('config');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ adminKey: true });
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('answers 404 naming the build when the console was not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cmg-console-none-'));
    const answer = await invoke(consoleHandler(empty), { method: 'GET', path: '/api/console', params: { path: '' } });
    expect(answer.status).toBe(404);
    expect(answer.body.detail).toMatch(/not built/);
  });

  it('serves only what the manifest lists, even when other files sit beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmg-console-files-'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files: { 'index.html': { contentType: 'text/html; charset=utf-8', immutable: false } } }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'secret.txt'), 'not listed');
    const handler = consoleHandler(dir);
    expect((await invoke(handler, { method: 'GET', path: '/api/console', params: { path: '' } })).status).toBe(200);
    expect((await invoke(handler, { method: 'GET', path: '/api/console/secret.txt', params: { path: 'secret.txt' } })).status).toBe(404);
  });
});

describe('console sign-in configuration', () => {
  const entraEnv = {
    STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
    TENANT_ID: tenant,
    ADMIN_AUDIENCE: `api://${client}`,
    CONSOLE_CLIENT_ID: client,
  };

  it('in Azure with Entra ID: MSAL settings, no admin key, and the identity platform in connect-src and frame-src', () => {
    const signIn = consoleSignIn(loadConfig({ ...entraEnv, ADMIN_KEY: 'k'.repeat(40) }), { WEBSITE_SITE_NAME: 'func-x' });
    expect(signIn).toEqual({
      adminKey: false,
      entra: {
        tenantId: tenant,
        clientId: client,
        authority: `https://login.microsoftonline.com/${tenant}`,
        scopes: [`api://${client}/user_impersonation`],
        redirectPath: '/api/console/redirect.html',
      },
    });
    expect(consoleCsp(signIn)).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' https://login.microsoftonline.com; frame-src https://login.microsoftonline.com; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
  });

  it('locally with both credentials configured, offers both', () => {
    const signIn = consoleSignIn(loadConfig({ ...entraEnv, ADMIN_KEY: 'k'.repeat(40) }), {});
    expect(signIn.adminKey).toBe(true);
    expect(signIn.entra?.clientId).toBe(client);
  });

  it('derives the scope from ADMIN_AUDIENCE, or takes CONSOLE_API_SCOPE', () => {
    expect(defaultConsoleScope(`api://${client}`)).toBe(`api://${client}/user_impersonation`);
    expect(defaultConsoleScope(client.toUpperCase())).toBe(`api://${client}/user_impersonation`);
    expect(defaultConsoleScope('https://contoso.example/cmg/')).toBe('https://contoso.example/cmg/user_impersonation');
    expect(loadConfig({ ...entraEnv, CONSOLE_API_SCOPE: `api://${client}/Admin.ReadWrite` }).console?.apiScope).toBe(`api://${client}/Admin.ReadWrite`);
  });

  it('refuses CONSOLE_CLIENT_ID without ADMIN_AUDIENCE, a client id that is no GUID, and a scope without a path', () => {
    expect(() => loadConfig({ STORAGE_CONNECTION: 'x', CONSOLE_CLIENT_ID: client })).toThrow(/CONSOLE_CLIENT_ID: needs ADMIN_AUDIENCE/);
    expect(() => loadConfig({ ...entraEnv, CONSOLE_CLIENT_ID: 'my-app' })).toThrow(/CONSOLE_CLIENT_ID: must be the application \(client\) id/);
    expect(() => loadConfig({ ...entraEnv, CONSOLE_API_SCOPE: 'user_impersonation' })).toThrow(/CONSOLE_API_SCOPE/);
  });
});

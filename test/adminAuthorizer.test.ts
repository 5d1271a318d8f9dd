import { generateKeyPair, SignJWT } from 'jose';
import { HttpRequest } from '@azure/functions';
import { loadConfig } from '../shared/config.js';
import { ServiceError } from '../shared/errors.js';
import { createAdminAuthorizer } from '../shared/admin/adminKeyPolicy.js';
import { TestClock } from './support/services.js';

const adminKey = 'k'.repeat(40);
const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';

function request(credential: string): HttpRequest {
  return new HttpRequest({ method: 'GET', url: 'http://localhost/api/bulk-tokens', headers: { authorization: `Bearer ${credential}` } });
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'allowed',
    (error: unknown) => (error instanceof ServiceError ? error.code : String(error)),
  );
}

describe('choosing the admin authorizer', () => {
  const base = { STORAGE_CONNECTION: 'UseDevelopmentStorage=true', ADMIN_KEY: adminKey };

  it('accepts ADMIN_KEY locally', async () => {
    const authorizer = createAdminAuthorizer(loadConfig(base), new TestClock(), {});
    expect(await outcome(authorizer.authorize(request(adminKey)))).toBe('allowed');
  });

  it('refuses ADMIN_KEY in Azure (WEBSITE_SITE_NAME set) unless ALLOW_ADMIN_KEY_IN_AZURE=true', async () => {
    const azure = { WEBSITE_SITE_NAME: 'func-abc' };
    const refused = createAdminAuthorizer(loadConfig(base), new TestClock(), azure);
    expect(await outcome(refused.authorize(request(adminKey)))).toBe('forbidden');
    const allowed = createAdminAuthorizer(loadConfig({ ...base, ALLOW_ADMIN_KEY_IN_AZURE: 'true' }), new TestClock(), azure);
    expect(await outcome(allowed.authorize(request(adminKey)))).toBe('allowed');
  });

  it('in Azure, says the admin key is refused because the app runs there, and names the Entra ID way in', async () => {
    const azure = { WEBSITE_SITE_NAME: 'func-abc' };
    const detailOf = async (config: ReturnType<typeof loadConfig>) =>
      createAdminAuthorizer(config, new TestClock(), azure)
        .authorize(request(adminKey))
        .then(
          () => 'allowed',
          (error: { code?: string; detail?: string }) => `${error.code}: ${error.detail}`,
        );
    const withoutEntra = await detailOf(loadConfig(base));
    expect(withoutEntra).toMatch(/^forbidden: the admin key is refused because the app runs in Azure .*sign in with Microsoft Entra ID/);
    expect(withoutEntra).not.toMatch(/set ADMIN_KEY/);
    const withEntra = await detailOf(loadConfig({ ...base, ADMIN_AUDIENCE: 'api://cmg-token-auth', TENANT_ID: tenant }));
    expect(withEntra).toMatch(/sign in with Microsoft Entra ID: an access token for api:\/\/cmg-token-auth with the app role CmgTokenAuth\.Admin/);
  });

  it('sends JWT-shaped credentials to Entra ID when ADMIN_AUDIENCE is set, and keys to the key check', async () => {
    const config = loadConfig({ ...base, ADMIN_AUDIENCE: 'api://cmg-token-auth', TENANT_ID: tenant });
    const authorizer = createAdminAuthorizer(config, new TestClock(), {});
    expect(await outcome(authorizer.authorize(request(adminKey)))).toBe('allowed');
    const { privateKey } = await generateKeyPair('RS256');
    // Signed by a key Entra never published, for another issuer: refused without a network call to a real tenant.
    const foreign = await new SignJWT({ roles: ['CmgTokenAuth.Admin'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'x' })
      .setIssuer('https://issuer.example/')
      .setAudience('api://cmg-token-auth')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await outcome(authorizer.authorize(request(foreign)))).toBe('invalid_token');
  });

  it('needs the tenant id when ADMIN_AUDIENCE is set', () => {
    expect(() => loadConfig({ ...base, ADMIN_AUDIENCE: 'api://cmg-token-auth' })).toThrow(/TENANT_ID: must be the Microsoft Entra tenant id/);
  });
});

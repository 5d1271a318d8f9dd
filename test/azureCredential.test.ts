import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTableClient } from '../shared/storage/tableService.js';

/**
 * In Azure every table client signs in with the managed identity. One credential for the
 * process means one token request to the identity endpoint per resource, however many
 * tables the service opens: separate credentials would each ask, and an identity endpoint
 * throttles a cold start that asks a dozen times at once.
 */
describe('the Azure credential of the table clients', () => {
  let identityEndpoint: Server;
  const tokenRequests: string[] = [];
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

  beforeAll(async () => {
    // App Service's managed identity endpoint, as the platform announces it to the app.
    identityEndpoint = createServer((request, response) => {
      tokenRequests.push(`${request.url} ${String(request.headers['x-identity-header'])}`);
      response.setHeader('content-type', 'application/json');
      response.end(
        JSON.stringify({ access_token: 'test-access-token', expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: 'https://storage.azure.com', token_type: 'Bearer' }),
      );
    });
    await new Promise<void>((ready) => identityEndpoint.listen(0, '127.0.0.1', ready));
    process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${(identityEndpoint.address() as AddressInfo).port}/msi/token`;
    process.env.IDENTITY_HEADER = 'identity-header';
  });

  afterAll(async () => {
    for (const [name, value] of [['IDENTITY_ENDPOINT', saved.endpoint], ['IDENTITY_HEADER', saved.header]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await new Promise<void>((closed) => identityEndpoint.close(() => closed()));
  });

  it('asks the identity endpoint once for three tables opened at once, and not again later', async () => {
    // Nothing listens on port 1: each request fails after the token is fetched, which is all
    // this test needs; the token is sent only over https, so the endpoint must be https.
    const clients = ['devices', 'replay', 'revocations'].map((table) => createTableClient('https://127.0.0.1:1', table));
    await Promise.all(clients.map((client) => expect(client.createTable()).rejects.toThrow(/ECONNREFUSED/)));
    await expect(createTableClient('https://127.0.0.1:1', 'bulktokens').createTable()).rejects.toThrow(/ECONNREFUSED/);
    expect(tokenRequests).toEqual([expect.stringMatching(/resource=https%3A%2F%2Fstorage\.azure\.com.* identity-header$/)]);
  }, 30_000);
});

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callService } from '../cli/serviceClient.js';

/**
 * Both CLIs (bulk-registration-token and cmg-client) send every request through callService.
 * The Functions host forwards a body only with Content-Length above zero (a chunked one is
 * refused 411 length_required), so every request must carry Content-Length, never
 * Transfer-Encoding — checked here on the wire, as a real server receives it.
 */
let server: Server;
let url: string;
const received: Array<{ method: string; headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
});

describe('the CLIs\' requests carry Content-Length', () => {
  it('a JSON body is sent with its exact Content-Length and no Transfer-Encoding', async () => {
    await callService(url, { method: 'POST', path: '/api/bulk-tokens', bearer: 'k', body: { maxUses: 5, description: 'é' } });
    const last = received.at(-1)!;
    expect(last.headers['transfer-encoding']).toBeUndefined();
    expect(last.headers['content-length']).toBe(String(Buffer.byteLength(last.body)));
    expect(JSON.parse(last.body)).toEqual({ maxUses: 5, description: 'é' });
  });

  it('a POST without a body (block, revoke) says Content-Length: 0, never chunked', async () => {
    await callService(url, { method: 'POST', path: '/api/bulk-tokens/x/block', bearer: 'k' });
    const last = received.at(-1)!;
    expect(last.headers['transfer-encoding']).toBeUndefined();
    expect(last.headers['content-length']).toBe('0');
  });
});

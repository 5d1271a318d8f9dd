import { createServer, request as forward, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { azuriteConnectionString } from '../../host/azurite.js';

/** Which requests the proxy fails: method and path (`/devstoreaccount1/<table>(<keys>)`). */
export type FailWhen = (method: string, path: string) => boolean;

/**
 * A Table Storage that fails some requests: an HTTP proxy in front of the test Azurite that
 * answers 503 ServerBusy to the requests `failWhen` picks (the SDK retries them as it would
 * a real busy account) and passes every other request through unchanged.
 */
export class FailingTableProxy {
  failWhen: FailWhen = () => false;
  /** Requests the proxy failed, as "METHOD path". */
  readonly failed: string[] = [];
  private server: Server | undefined;

  constructor(private readonly target: URL) {}

  static forTestAzurite(): FailingTableProxy {
    const endpoint = /TableEndpoint=([^;]+)/.exec(process.env.TEST_STORAGE_CONNECTION ?? '')?.[1];
    if (!endpoint) throw new Error('TEST_STORAGE_CONNECTION names no TableEndpoint');
    return new FailingTableProxy(new URL(endpoint));
  }

  async start(): Promise<string> {
    this.server = createServer((incoming, outgoing) => {
      const path = incoming.url ?? '/';
      const method = incoming.method ?? 'GET';
      if (this.failWhen(method, decodeURIComponent(path))) {
        this.failed.push(`${method} ${path}`);
        incoming.resume();
        const body = JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: 'The server is busy (injected).' } } });
        outgoing.writeHead(503, { 'content-type': 'application/json;odata=minimalmetadata', 'content-length': Buffer.byteLength(body) }).end(body);
        return;
      }
      const upstream = forward(
        { host: this.target.hostname, port: this.target.port, method, path, headers: { ...incoming.headers, host: this.target.host } },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      upstream.on('error', () => outgoing.destroy());
      incoming.pipe(upstream);
    });
    await new Promise<void>((ready) => this.server!.listen(0, '127.0.0.1', ready));
    return azuriteConnectionString('127.0.0.1', (this.server.address() as AddressInfo).port);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((closed) => (this.server ? this.server.close(() => closed()) : closed()));
  }
}

import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { registeredFunctions } from '../../host/functionsCore.js';
import { createRequestListener, type HostOptions } from '../../host/server.js';

/**
 * The local host's request listener (the one `npm start` serves) in this process, on a free
 * loopback port, serving every function file — each registers itself on import through
 * `@azure/functions`, which jest maps to the local host's functions-core — plus whatever the
 * test registered with `app.*` before. Requests go over real HTTP and through the library's
 * invocation model, as under `npm start`.
 */
export interface InProcessHost {
  url: string;
  port: number;
  logs: string[];
  close(): Promise<void>;
}

export async function importFunctionFiles(): Promise<void> {
  const dir = join(__dirname, '..', '..', 'functions');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts')).sort()) await import(join(dir, file));
}

export async function startInProcessHost(options: Partial<HostOptions> = {}): Promise<InProcessHost> {
  await importFunctionFiles();
  const logs: string[] = [];
  const listener = createRequestListener(registeredFunctions(), {
    log: (line) => logs.push(line),
    logLevel: 'information',
    settings: { PURGE_SCHEDULE: '0 17 * * * *' },
    ...options,
  });
  const server: Server = createServer((req, res) => void listener(req, res));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body` byte for byte
 * over a new connection, for requests fetch will not send: a bad Host, no Host, a chunked
 * body with exact framing. Reads one answer; Connection: close ends it.
 */
export function rawRequest(port: number, head: string, body = ''): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...headerLines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    socket.write(`${head}\r\nConnection: close\r\n\r\n${body}`);
  });
}

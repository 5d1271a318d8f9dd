import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import functions, { type HttpRequest as HttpRequestType, type HttpResponseInit, type InvocationContext as ContextType } from '@azure/functions';
import { provideFunctionsCore } from '../host/coreShim.js';
import { loadConfig, type Config } from '../shared/config.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices, type ServiceOverrides, type Services } from '../shared/services.js';
import type { BenchAzurite } from './azuriteWorker.js';

// The library's bundle hides these from ESM's named-export detection (as in host/server.ts).
const { HttpRequest, HttpResponse, InvocationContext } = functions;

/** A function handler as the host calls it. */
export type Handler = (request: HttpRequestType, context: ContextType) => Promise<HttpResponseInit>;

/**
 * The service's own services in this process, on the bench's Azurite under `tablePrefix`,
 * installed as the process's services so that the function files use them, with a data
 * folder of their own for the local signing key; `work` runs with them, and the folder is
 * removed after.
 */
export async function withServices<T>(
  azurite: BenchAzurite,
  tablePrefix: string,
  overrides: (config: Config) => ServiceOverrides,
  work: (services: Services, config: Config) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cmg-bench-in-process-'));
  try {
    const config = loadConfig({ STORAGE_CONNECTION: azurite.connectionString, TABLE_PREFIX: tablePrefix, LOCAL_DATA_DIR: dataDir });
    const services = await createServices(config, overrides(config));
    useServices(services);
    // The function files register through the host's stand-in module, not the library's test mode.
    provideFunctionsCore();
    return await work(services, config);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One POST to a function in this process (HttpRequest in, HttpResponse out); throws unless it answers `expected`. */
export async function callFunction(handler: Handler, path: string, bearer: string, body: unknown, expected: number): Promise<unknown> {
  const request = new HttpRequest({
    method: 'POST',
    url: `http://127.0.0.1/api/${path}`,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' },
    body: { string: JSON.stringify(body) },
  });
  const context = new InvocationContext({ invocationId: 'bench', functionName: path, logHandler: () => undefined });
  const response = new HttpResponse(await handler(request, context));
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

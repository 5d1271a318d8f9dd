/** Azurite's well-known development account (published in Azurite's README; not a secret). */
export const devAccountName = 'devstoreaccount1';
export const devAccountKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  connectionString: string;
  port: number;
  close(): Promise<void>;
}

interface AzuriteTableServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}

/**
 * Starts Azurite's Table service in this process. `location` keeps its data on disk; without
 * it the data lives in memory. Port 0 picks a free port.
 */
export async function startAzurite(options: { host?: string; port: number; location?: string }): Promise<RunningAzurite> {
  // Azurite ships no type declarations; loaded only when it is needed, so a production
  // install (which has no devDependencies) never touches it.
  const TableServer = defaultExport<new (config: unknown) => AzuriteTableServer>(
    await import('azurite/dist/src/table/TableServer.js'),
  );
  const TableConfiguration = defaultExport<new (...args: unknown[]) => unknown>(
    await import('azurite/dist/src/table/TableConfiguration.js'),
  );
  const host = options.host ?? '127.0.0.1';
  const inMemory = options.location === undefined;
  const dbPath = inMemory ? '__azurite_table_memory__.json' : `${options.location}/__azurite_db_table__.json`;
  // Positional: host, port, keepAlive, dbPath, debugLog, accessLog, accessLogStream,
  // debugLogPath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl,
  // isMemoryPersistence.
  const config = new TableConfiguration(
    host, options.port, undefined, dbPath, false, false, undefined, undefined,
    false, true, '', '', '', undefined, false, inMemory,
  );
  const server = new TableServer(config);
  await server.start();
  const port = Number(new URL(server.getHttpServerAddress()).port);
  return {
    port,
    connectionString: azuriteConnectionString(host, port),
    close: () => server.close(),
  };
}

export function azuriteConnectionString(host: string, port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${devAccountName};AccountKey=${devAccountKey};` +
    `TableEndpoint=http://${host}:${port}/${devAccountName};`
  );
}

/**
 * The class a compiled CommonJS module exports as `default`: node's ESM import wraps
 * module.exports once more than jest's CommonJS interop does.
 */
function defaultExport<T>(module: unknown): T {
  const outer = (module as { default: unknown }).default;
  const inner = (outer as { default?: unknown }).default;
  return (inner ?? outer) as T;
}

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LogLevel } from '@azure/functions';
import { ConfigError, configWarnings, defaultPurgeSchedule, loadConfig, type Config } from '../shared/config.js';
import { createPrivateFileOnce } from '../shared/fs/privateFile.js';
import { localAdminKeyFile, localDataDir } from '../shared/localDataDir.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices } from '../shared/services.js';
import { startAzurite, type RunningAzurite } from './azurite.js';
import { provideFunctionsCore } from './coreShim.js';
import { registeredFunctions } from './functionsCore.js';
import { adminRunCredential, createRequestListener } from './server.js';

/**
 * `npm start`: the local stand-in for `func start`. Serves the very function registrations
 * of `functions/` on http://localhost:7071/api, with an embedded Azurite and a local signing
 * key, both kept under LOCAL_DATA_DIR (default .local/).
 */
async function main(): Promise<void> {
  const started = performance.now();
  const env = process.env;
  const port = parsePort(env.PORT);
  // A busy port is found before Azurite starts on the data folder another host may be using.
  if (port !== 0) await listenOn(() => undefined, env.HOST ?? '127.0.0.1', port).then((probe) => new Promise((done) => probe.close(done)));
  const dataDir = localDataDir(env);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });

  let adminKeySource = 'ADMIN_KEY';
  if (!env.ADMIN_KEY) {
    env.ADMIN_KEY = await localAdminKey(dataDir);
    adminKeySource = localAdminKeyFile(dataDir);
  }

  let azurite: RunningAzurite | undefined;
  if (!env.STORAGE_CONNECTION) {
    const location = join(dataDir, 'azurite');
    await mkdir(location, { recursive: true, mode: 0o700 });
    azurite = await startAzurite({ port: Number(env.AZURITE_PORT ?? 0), location });
    env.STORAGE_CONNECTION = azurite.connectionString;
  }

  // The Functions host resolves the timer's %PURGE_SCHEDULE% from the app settings alone; as
  // Core Tools reads local.settings.json, the local host supplies the documented default in
  // its own settings when it is unset, and says so in its banner.
  let scheduleSource = 'PURGE_SCHEDULE';
  if (!env.PURGE_SCHEDULE) {
    env.PURGE_SCHEDULE = defaultPurgeSchedule;
    scheduleSource = 'local host default; in Azure the app setting must exist';
  }
  env.LOCAL_DATA_DIR = dataDir;

  // Configuration is read as in Azure: by the functions, at first use. A bad setting does not
  // stop the host — it serves, and every route answers 503 misconfigured, as in Azure — but
  // it is said loudly, once, here.
  let config: Config | undefined;
  let badSettings: readonly string[] = [];
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    badSettings = error.settings;
    console.error(
      `WARNING: invalid settings ${badSettings.join(', ')}: every route answers 503 misconfigured until they are corrected (GET /api/health names what is wrong)`,
    );
  }
  if (config) useServices(await createServices(config));

  provideFunctionsCore();
  const functionsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'functions');
  // EXTRA_FUNCTIONS_DIR: compiled function files served beside functions/; only `npm run
  // bench` sets it (dist/bench/functions: a no-op baseline and a heap report). Azure loads
  // dist/functions alone, so these never ship.
  const extraDirs = env.EXTRA_FUNCTIONS_DIR ? [resolve(env.EXTRA_FUNCTIONS_DIR)] : [];
  for (const dir of [functionsDir, ...extraDirs]) {
    for (const file of (await readdir(dir)).filter((name) => name.endsWith('.js')).sort()) {
      await import(pathToFileURL(join(dir, file)).href);
    }
  }

  // Loopback alone: anything that can reach the host is on this machine, as with Core Tools,
  // and running the purge needs no credential. Bound elsewhere, it takes the admin key.
  const adminKey = adminRunCredential(env.HOST, env.ADMIN_KEY);
  const loopbackOnly = adminKey === undefined;
  const listener = createRequestListener(registeredFunctions(), {
    log: (line) => console.log(line),
    logLevel: (env.LOG_LEVEL as LogLevel | undefined) ?? 'information',
    settings: env,
    hostSetting: env.HOST,
    ...(adminKey === undefined ? {} : { adminKey }),
  });
  const servers = await listen(listener, env.HOST, port);
  const address = servers[0]?.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;

  console.log(
    [
      `cmg-token-auth local host listening on http://localhost:${boundPort}/api (${registeredFunctions().length} functions)`,
      `  admin key:   ${badSettings.includes('ADMIN_KEY') ? '(invalid)' : env.ADMIN_KEY}  (from ${adminKeySource})`,
      `  console:     http://localhost:${boundPort}/api/console  (sign in with the admin key)`,
      `  data:        ${dataDir}`,
      `  storage:     ${azurite ? `embedded Azurite on port ${azurite.port}, data in ${join(dataDir, 'azurite')}` : 'STORAGE_CONNECTION'}`,
      `  signing:     ${!config ? '(settings invalid)' : config.keyVault ? `Key Vault key ${config.keyVault.keyName}` : `local ${config.signingAlg ?? 'RS256'} key in ${dataDir}`}`,
      `  purge:       ${env.PURGE_SCHEDULE} (${scheduleSource}); POST /admin/functions/purgeExpired with body {} runs it now${loopbackOnly ? '' : ' (with the admin key)'}`,
      `  ready in ${(performance.now() - started).toFixed(0)} ms; Ctrl-C stops`,
      ...(config ? configWarnings(config) : []).map((warning) => `  warning: ${warning}`),
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
    await azurite?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}


/** Loopback only by default (IPv4 and IPv6): the admin key is printed, so the host is not exposed. */
async function listen(
  listener: ReturnType<typeof createRequestListener>,
  host: string | undefined,
  port: number,
): Promise<Server[]> {
  const first = await listenOn(listener, host ?? '127.0.0.1', port);
  if (host !== undefined) return [first];
  const address = first.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  try {
    return [first, await listenOn(listener, '::1', boundPort)];
  } catch {
    return [first]; // No IPv6 loopback on this machine.
  }
}

function listenOn(listener: (req: IncomingMessage, res: ServerResponse) => unknown, host: string, port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer((req, res) => void listener(req, res));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done(server);
    });
  });
}

async function localAdminKey(dataDir: string): Promise<string> {
  const file = localAdminKeyFile(dataDir);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Hex, not base64url: a base64url key starts with '-' one time in 64, and a command line
  // then reads `--admin-key -Xyz…` as a missing argument followed by another option.
  // Created like the signing key: 0600, whole or not at all; when another host on the same
  // folder creates it first, its key is the one both use.
  await createPrivateFileOnce(file, `${randomBytes(32).toString('hex')}\n`);
  return (await readFile(file, 'utf8')).trim();
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 7071;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError([`PORT: must be a port number from 0 to 65535 (got ${JSON.stringify(value)})`]);
  }
  return port;
}

/** A port already taken or not allowed: one line saying what to do, not a stack. */
function listenProblem(error: unknown): string | undefined {
  const { code, port } = error as NodeJS.ErrnoException & { port?: number };
  if (code === 'EADDRINUSE') return `port ${port} is in use (another npm start?); set PORT=<another port>, e.g. PORT=${(port ?? 7071) + 1} npm start`;
  if (code === 'EACCES') return `port ${port} needs privileges this process does not have; set PORT=<a port above 1023>, e.g. PORT=7071 npm start`;
  if (code === 'EADDRNOTAVAIL') return `HOST=${process.env.HOST ?? ''} is not an address of this machine; unset HOST to listen on loopback`;
  return undefined;
}

main().catch((error: unknown) => {
  const line = error instanceof ConfigError ? error.message : listenProblem(error);
  console.error(line === undefined ? error : `cmg-token-auth: ${line}`);
  process.exit(1);
});

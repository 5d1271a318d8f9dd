import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { uniqueTablePrefix } from './services.js';

export const projectRoot = resolve(__dirname, '..', '..');

export interface LocalHost {
  url: string;
  adminKey: string;
  dataDir: string;
  process: ChildProcess;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the compiled local host (`npm start` without the build) as a child process on a
 * free port and waits for its banner. `env` is added to the test's environment.
 */
export async function startLocalHost(env: Record<string, string> = {}, timeoutMs = 20_000): Promise<LocalHost> {
  const dataDir = env.LOCAL_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'cmg-host-'));
  const child = spawn(process.execPath, [join(projectRoot, 'dist', 'host', 'main.js')], {
    cwd: projectRoot,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'warning', ADMIN_KEY: '', STORAGE_CONNECTION: '', ...env, LOCAL_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const deadline = Date.now() + timeoutMs;
  let match: RegExpExecArray | null = null;
  while (!(match = /listening on (http:\/\/localhost:\d+)\/api[\s\S]*admin key:\s+(\S+)/.exec(output))) {
    if (child.exitCode !== null) throw new Error(`local host exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`local host did not start within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((done) => setTimeout(done, 25));
  }
  return {
    url: (match[1] ?? '').replace('localhost', '127.0.0.1'),
    adminKey: match[2] ?? '',
    dataDir,
    process: child,
    output: () => output,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Two instances of the function app: separate host processes on one storage account (the
 * tests' Azurite, under a table prefix of their own) and one data folder, so one signing key
 * and one admin key. Started at once, as a scale-out starts them.
 */
export async function startLocalHostPair(): Promise<[LocalHost, LocalHost]> {
  const shared = {
    STORAGE_CONNECTION: process.env.TEST_STORAGE_CONNECTION ?? '',
    TABLE_PREFIX: uniqueTablePrefix(),
    LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'cmg-two-hosts-')),
  };
  const [first, second] = await Promise.allSettled([startLocalHost(shared), startLocalHost(shared)]);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  // One failed to start: stop the other rather than leave it running after the tests.
  await Promise.all([first, second].map((started) => (started.status === 'fulfilled' ? started.value.stop() : Promise.resolve())));
  throw [first, second].find((started) => started.status === 'rejected')?.reason;
}

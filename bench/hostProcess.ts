import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root (this file is dist/bench/hostProcess.js once compiled). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled bench-only functions (no-op, heap) the hosts started here also serve. */
export const benchFunctionsDir = join(projectRoot, 'dist', 'bench', 'functions');

export interface HostProcess {
  /** http://127.0.0.1:<port> */
  origin: string;
  adminKey: string;
  dataDir: string;
  child: ChildProcess;
  /** performance.now() in this process just before spawn, and when the banner arrived. */
  spawnedAt: number;
  bannerAt: number;
  output(): string;
  /**
   * SIGINT (the host's own clean stop), then SIGKILL if it has not exited in time; removes the
   * data folder if startHost made it.
   */
  stop(): Promise<number | null>;
}

export interface HostOptions {
  /** Added to the environment; STORAGE_CONNECTION here points the host at the bench's Azurite. */
  env?: Record<string, string>;
  /** Flags for node itself, before the script (--expose-gc, --cpu-prof). */
  nodeArgs?: string[];
  /** An existing data folder (a warm start); a new temporary one otherwise. */
  dataDir?: string;
  timeoutMs?: number;
}

/**
 * Starts `node dist/host/main.js` as a child process on a free loopback port, as `npm start`
 * would, with its own data folder and admin key, and waits for its banner.
 */
export async function startHost(options: HostOptions = {}): Promise<HostProcess> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'cmg-bench-host-'));
  const adminKey = randomBytes(32).toString('base64url');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(projectRoot, 'dist', 'host', 'main.js')], {
    cwd: projectRoot,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warning',
      ADMIN_KEY: adminKey,
      STORAGE_CONNECTION: '',
      // The local signer always: a bench must never reach a real Key Vault or Entra ID.
      KEY_VAULT_URL: '',
      KEY_NAME: '',
      ADMIN_AUDIENCE: '',
      EXTRA_FUNCTIONS_DIR: benchFunctionsDir,
      ...options.env,
      LOCAL_DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const banner = await new Promise<RegExpExecArray>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the local host did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The banner's last line, so that the whole banner (ports, storage) is in `output`.
      const match = /listening on http:\/\/localhost:(\d+)\/api[\s\S]*ready in \d+ ms/.exec(output);
      if (match) {
        clearTimeout(timer);
        done(match);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the local host exited with ${code} before it was ready:\n${output}`));
    });
  });
  const bannerAt = performance.now();

  return {
    origin: `http://127.0.0.1:${banner[1]}`,
    adminKey,
    dataDir,
    child,
    spawnedAt,
    bannerAt,
    output: () => output,
    stop: async () => {
      let code = child.exitCode;
      if (code === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        code = await exited;
        clearTimeout(timer);
      }
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** One JSON request to a host, for set-up steps (not measured). */
export async function callHost<T>(
  origin: string,
  method: string,
  path: string,
  options: { bearer?: string; body?: unknown; expect?: number } = {},
): Promise<T> {
  const response = await fetch(`${origin}/api/${path}`, {
    method,
    headers: {
      ...(options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status !== (options.expect ?? 200)) {
    throw new Error(`${method} /api/${path} answered ${response.status}: ${text.slice(0, 500)}`);
  }
  // A 204 has no body.
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export interface HeapReport {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

/** The host's memory after a forced GC (bench/functions/heap.ts; the host runs with --expose-gc). */
export function hostHeap(origin: string): Promise<HeapReport> {
  return callHost<HeapReport>(origin, 'POST', 'bench/heap');
}

let clockTicks: number | undefined;

/**
 * CPU seconds (user + system) the process `pid` has used so far, all its threads, or only
 * thread `thread`; from /proc, so undefined where there is none (the bench then shows no CPU
 * figures).
 */
export function processCpuSeconds(pid: number | undefined, thread?: number): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

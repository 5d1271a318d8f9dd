import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median, ms, table, type PartReport } from './format.js';
import { projectRoot, startHost } from './hostProcess.js';

const execFileAsync = promisify(execFile);

export interface StartupOptions {
  runs: number;
}

/** The packages the function files load that take the longest, each timed on its own. */
const heavyModules = ['@azure/identity', '@azure/data-tables', '@azure/keyvault-keys', '@azure/functions', 'jose', 'zod'];

/**
 * Part (c): the local host's start-up (spawn to the first answered /api/health), cold (a new
 * data folder, so the signing key is generated) and warm, and how long importing the compiled
 * functions takes in a fresh node process.
 */
export async function startupBench(options: StartupOptions): Promise<PartReport> {
  const rows: string[][] = [];
  const row = (label: string, values: number[]) =>
    rows.push([label, ms(median(values)), ms(Math.min(...values)), ms(Math.max(...values)), String(values.length)]);

  const dataDir = mkdtempSync(join(tmpdir(), 'cmg-bench-startup-'));
  try {
    const cold = await hostStart(dataDir);
    const warm: Array<Awaited<ReturnType<typeof hostStart>>> = [];
    for (let run = 0; run < options.runs; run++) warm.push(await hostStart(dataDir));
    row('host: spawn → first /api/health 200, new data folder (generates the signing key)', [cold.healthMs]);
    row('host: spawn → first /api/health 200, existing data folder', warm.map((run) => run.healthMs));
    row('host: spawn → banner (listening), existing data folder', warm.map((run) => run.bannerMs));
    row("host: its own 'ready in' (main() to listening), existing data folder", warm.map((run) => run.readyMs));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  const script = join(projectRoot, 'dist', 'bench', 'importFunctions.js');
  const functions = await childRuns(options.runs, [script]);
  row(`functions: import all ${functions[0]?.count ?? '?'} dist/functions/*.js (time inside the process)`, functions.map((run) => run.importMs));
  row('functions: node process spawn → exit, importing them', functions.map((run) => run.wallMs));
  const empty = await childRuns(options.runs, ['-e', 'console.log(JSON.stringify({importMs:0,count:0}))']);
  row('node: empty process spawn → exit (the floor)', empty.map((run) => run.wallMs));
  for (const specifier of heavyModules) {
    const alone = await childRuns(Math.min(options.runs, 3), [script, '--only', specifier]);
    row(`  ${specifier} alone (import time in a fresh process)`, alone.map((run) => run.importMs));
  }
  return {
    title: `(c) start-up of the local host (node dist/host/main.js, embedded Azurite) and module load time of the compiled functions`,
    table: table(['measurement', 'median ms', 'min ms', 'max ms', 'runs'], rows),
    notes: [
      'the packages imported alone overlap (they share @azure/core-*), so their times do not add up to the total',
    ],
    ok: true,
  };
}

/** One start of the host on `dataDir`: times from spawn, measured in this process. */
async function hostStart(dataDir: string): Promise<{ bannerMs: number; healthMs: number; readyMs: number }> {
  const host = await startHost({ dataDir, nodeArgs: [], env: { EXTRA_FUNCTIONS_DIR: '' } });
  try {
    let healthAt: number | undefined;
    // Bounded: 200 tries 10 ms apart; the first answer is normally the 200.
    for (let attempt = 0; attempt < 200 && healthAt === undefined; attempt++) {
      const response = await fetch(`${host.origin}/api/health`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      await response?.arrayBuffer();
      if (response?.status === 200) healthAt = performance.now();
      else await new Promise((done) => setTimeout(done, 10));
    }
    if (healthAt === undefined) throw new Error(`the host never answered /api/health with 200:\n${host.output()}`);
    const ready = /ready in (\d+) ms/.exec(host.output());
    return { bannerMs: host.bannerAt - host.spawnedAt, healthMs: healthAt - host.spawnedAt, readyMs: Number(ready?.[1] ?? Number.NaN) };
  } finally {
    await host.stop();
  }
}

async function childRuns(runs: number, args: string[]): Promise<Array<{ importMs: number; count: number; wallMs: number }>> {
  const results: Array<{ importMs: number; count: number; wallMs: number }> = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const { stdout } = await execFileAsync(process.execPath, args, { cwd: projectRoot, timeout: 60_000 });
    const wallMs = performance.now() - started;
    const reported = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { importMs: number; count: number };
    results.push({ ...reported, wallMs });
  }
  return results;
}

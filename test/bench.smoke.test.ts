import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allParts, type Part } from '../bench/options.js';
import { projectRoot } from './support/localHost.js';

/**
 * The bench's smoke run: the BUILT bench (dist/bench/all.js, as `npm run bench` runs it) with
 * every part at tiny sizes, so that a part that no longer starts, prints its title twice or
 * not at all, loses its table or gets its exit code wrong fails `npm test`. It asserts state
 * only - titles, tables, exit codes, counts - never a timing: the figures of a run this small
 * mean nothing, and the bounds that compare timings are set wide open here (the real run
 * keeps their defaults). docs/performance.md describes the full run.
 */

const bench = join(projectRoot, 'dist', 'bench', 'all.js');

/** How each part's title (its report.title line) starts; a Record, so a new part must be added here. */
const titles: Record<Part, string> = {
  authenticate: '(a) POST /api/authenticate',
  breakdown: '(a, breakdown) one authenticate, step by step',
  registration: '(b) POST /api/register',
  startup: '(c) start-up of the local host',
  soak: '(5) memory soak',
  attackCost: '(attackCost) CPU of a refused request',
  throttled: '(throttled) POST /api/authenticate',
  fleet: '(fleet) Table requests per operation',
};

/** The first header cell of each part's table, and how many rows it must have. */
const tables: Record<Part, { header: string; rows: number }> = {
  // One concurrency level, worker storage: a hit and a miss row.
  authenticate: { header: 'concurrency', rows: 2 },
  breakdown: { header: 'step', rows: 14 },
  registration: { header: 'run', rows: 3 },
  // 4 host rows, 3 function rows, 6 packages alone.
  startup: { header: 'measurement', rows: 13 },
  // Before, and at least one checkpoint.
  soak: { header: 'checkpoint', rows: 2 },
  attackCost: { header: 'request (all refused)', rows: 8 },
  // The unlimited run, then 1 and 2 shards.
  throttled: { header: 'REPLAY_SHARDS', rows: 3 },
  // Registration, two renewals, three authenticate rows at one concurrency level.
  fleet: { header: 'operation', rows: 6 },
};

const tiny = [
  ['--parts', allParts.join(',')],
  ['--seed', '7'],
  ['--devices', '2'],
  // EC keys: deriving a seeded RSA key takes a few hundred ms, and five parts make devices.
  ['--device-key', 'ec'],
  ['--concurrency', '1'],
  ['--duration', '0.5'],
  ['--warmup', '0'],
  ['--breakdown-ops', '10'],
  ['--registrations', '2'],
  ['--register-concurrency', '1'],
  ['--startup-runs', '1'],
  ['--soak-requests', '50'],
  ['--soak-concurrency', '1'],
  // Bounds on timings or on the heap of a run this small say nothing: wide open here.
  ['--heap-bound-mb', '1000'],
  ['--attack-requests', '10'],
  ['--attack-bound', '1000'],
  ['--throttle-shards', '1,2'],
  ['--throttle-concurrency', '2'],
  ['--throttle-duration', '0.5'],
  // Enough per device that the last-seen bound (a ratio of counts, not of times) holds:
  // 1 + 1 write / (60 x 2 requests) = 1.008.
  ['--fleet-authenticates', '60'],
  ['--fleet-concurrency', '1'],
].flat();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bench, ...args], { cwd: projectRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The output split at each part's title line: the title, then everything up to the next title. */
function sections(stdout: string): Map<Part, string[]> {
  const found = new Map<Part, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const part = allParts.find((candidate) => line.startsWith(titles[candidate]));
    if (part) {
      current = [line];
      const seen = found.get(part);
      // A title printed twice shows up as a second section under the same part.
      if (seen) seen.push('\u0000second title', ...current);
      else found.set(part, current);
      continue;
    }
    current?.push(line);
  }
  return found;
}

/** The first Markdown table of a section: its header cells and its data rows. */
function firstTable(lines: string[]): { header: string[]; rows: string[][] } | undefined {
  const start = lines.findIndex((line, i) => line.startsWith('| ') && /^\|-+\|/.test(lines[i + 1] ?? ''));
  if (start < 0) return undefined;
  const cells = (line: string) => line.slice(1, -1).split('|').map((cell) => cell.trim());
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && (lines[i] ?? '').startsWith('| '); i++) rows.push(cells(lines[i] as string));
  return { header: cells(lines[start] as string), rows };
}

// Hang guards, not waits: the run normally takes a fraction of this.
const smokeTimeoutMs = 240_000;

describe('npm run bench, smoke run', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runBench(tiny);
  }, smokeTimeoutMs);

  it('runs every part at tiny sizes and exits 0', () => {
    if (run.code !== 0) throw new Error(`the bench exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    expect(run.stdout).toMatch(/\nbench finished in \d+ s\n$/);
  });

  it.each([...allParts])('prints the title of %s exactly once, with its table', (part) => {
    const lines = sections(run.stdout).get(part);
    expect(lines).toBeDefined();
    const section = lines as string[];
    expect(section).not.toContain('\u0000second title');
    expect(run.stdout.split('\n').filter((line) => line.startsWith(titles[part]))).toHaveLength(1);
    const found = firstTable(section);
    expect(found?.header[0]).toBe(tables[part].header);
    expect(found?.rows).toHaveLength(tables[part].rows);
    // Every row has as many cells as the header, none empty.
    for (const row of found?.rows ?? []) {
      expect(row).toHaveLength(found?.header.length ?? 0);
      expect(row.every((cell) => cell.length > 0)).toBe(true);
    }
  });

  it('prints only the titles of the parts it ran, in the order given', () => {
    const order = run.stdout
      .split('\n')
      .map((line) => allParts.find((part) => line.startsWith(titles[part])))
      .filter((part) => part !== undefined);
    expect(order).toEqual([...allParts]);
  });

  it('counts Table requests rather than quoting them, and judges no ratio the set-up bounds', () => {
    const registration = (sections(run.stdout).get('registration') ?? []).join('\n');
    expect(registration).toMatch(/Table requests per first registration, counted .*: \d+\.\d\d each, by table: /);
    const fleet = firstTable(sections(run.stdout).get('fleet') ?? []);
    const authenticate = fleet?.rows.find((row) => row[0]?.startsWith('POST /api/authenticate'));
    // The replay claim and the revocation marker, both counted.
    expect(Number(authenticate?.[2])).toBeGreaterThanOrEqual(2);
    const throttled = (sections(run.stdout).get('throttled') ?? []).join('\n');
    expect(throttled).toMatch(/scaling: 2 shards sustain [\d.]+x .* scaling efficiency \d+%/);
    expect(throttled).not.toMatch(/\bMET\b/);
  });

  it('leaves no temp folders behind', () => {
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('cmg-bench-'))).toEqual([]);
  });
});

describe('npm run bench, exit codes', () => {
  it('exits 2 on an unknown option, naming it', async () => {
    const { code, stdout, stderr } = await runBench(['--frob', '1']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('bench: unknown option --frob; run npm run bench -- --help\n');
  });

  it('exits 2 on an unknown part, naming it', async () => {
    const { code, stdout, stderr } = await runBench(['--parts', 'fleet,flet']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('bench: --parts: unknown part(s) flet; run npm run bench -- --help\n');
  });

  it(
    'exits 1 when a run fails: one authenticate per device and window makes the last-seen write far more than 1% of the requests',
    async () => {
      const { code, stdout } = await runBench(['--parts', 'fleet', '--devices', '2', '--fleet-authenticates', '1', '--fleet-concurrency', '1']);
      expect(code).toBe(1);
      expect(stdout).toMatch(/bound \(concurrency 1\): Table requests per authenticate with last seen <= 1\.01x without: 1\.\d+x -> FAILED/);
      expect(stdout).toMatch(/\nbench finished in \d+ s WITH ERRORS \(see above\)\n$/);
    },
    smokeTimeoutMs,
  );
});

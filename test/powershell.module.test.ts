import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCi } from './support/ci.js';
import { projectRoot, startLocalHost, type LocalHost } from './support/localHost.js';
import { findPester, findPwsh, howToGetPwsh, pesterVersion, pwshVersion, type Found } from './support/pwsh.js';
import { uniqueTablePrefix } from './support/services.js';

/**
 * Requirement: the PowerShell module clients/powershell/CmgTokenAuth passes its Pester suite -
 * its shape, the Windows PowerShell 5.1 language check, the proof and errors against a mocked
 * service, the Windows-only paths against mocks, and the integration tests against npm start's
 * local host, started here once for the whole run: one with automatic approval and one with
 * manual approval, both with the token pacing of the fleet contract (3 tokens per device per
 * 60 minutes).
 *
 * Without PowerShell or Pester the file prints one line and skips; with CI=true that fails
 * instead (.ci/run installs both).
 */

interface PesterSummary {
  passed: number;
  failed: number;
  skipped: number;
  notRun: number;
  total: number;
  failedBlocks: number;
  failedContainers: number;
  durationSeconds: number;
  files: Array<{ file: string; passed: number; failed: number; seconds: number }>;
  failures: Array<{ name: string; message: string }>;
}

/** One line on the console, outside jest's buffered console (which adds a stack trace). */
function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

const pwsh = findPwsh();
const pester = findPester();
if (!pwsh || !pester) {
  const missing = !pwsh ? `PowerShell ${pwshVersion}` : `Pester ${pesterVersion}`;
  if (onCi) throw new Error(`${missing} is missing; CI installs it (.ci/run): ${howToGetPwsh}`);
  say(`powershell.module.test.ts skipped: no ${missing} (${howToGetPwsh})`);
}
const tools = pwsh && pester ? { pwsh, pester } : undefined;
const describeWithPwsh = tools ? describe : describe.skip;

function sum(parts: PesterSummary[], key: 'passed' | 'failed' | 'skipped' | 'notRun' | 'total' | 'failedBlocks' | 'failedContainers'): number {
  return parts.reduce((total, part) => total + part[key], 0);
}

/** Folders this file made, removed after it. */
const temporary: string[] = [];

/** Runs some of the Pester files in one pwsh process and reads the summary it writes. */
async function runPester(found: { pwsh: Found; pester: Found }, files: string[], env: NodeJS.ProcessEnv): Promise<PesterSummary> {
  const folder = mkdtempSync(join(tmpdir(), 'cmg-pester-'));
  temporary.push(folder);
  const summaryPath = join(folder, 'summary.json');
  const script = join(projectRoot, 'clients', 'powershell', 'tests', 'Invoke-CmgTests.ps1');
  const { code, output } = await new Promise<{ code: number; output: string }>((done) => {
    execFile(
      found.pwsh.path,
      ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', script, '-PesterPath', found.pester.path, '-SummaryPath', summaryPath, '-Path', files.join(',')],
      // A hang guard, not a pace: each part takes well under a minute.
      { cwd: projectRoot, timeout: 170_000, maxBuffer: 16 * 1024 * 1024, env },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: `${stdout}${stderr}` }),
    );
  });
  try {
    return JSON.parse(readFileSync(summaryPath, 'utf8').replace(/^\uFEFF/, '')) as PesterSummary;
  } catch {
    throw new Error(`Pester wrote no summary for ${files.join(', ')} (exit ${code}):\n${output}`);
  }
}

describeWithPwsh(`the PowerShell module CmgTokenAuth (Pester ${pesterVersion})`, () => {
  const hosts: LocalHost[] = [];
  let summary: PesterSummary;

  beforeAll(async () => {
    if (!tools) return;
    const pacing = { TOKEN_ISSUE_BURST: '3', TOKEN_ISSUE_WINDOW_MINUTES: '60' };
    const storage = { STORAGE_CONNECTION: process.env.TEST_STORAGE_CONNECTION ?? '' };
    const started = await Promise.allSettled([
      startLocalHost({ ...storage, ...pacing, TABLE_PREFIX: uniqueTablePrefix() }),
      startLocalHost({ ...storage, ...pacing, TABLE_PREFIX: uniqueTablePrefix(), APPROVAL_MODE: 'manual' }),
    ]);
    for (const host of started) if (host.status === 'fulfilled') hosts.push(host.value);
    const failed = started.find((host) => host.status === 'rejected');
    if (failed) throw failed.reason;
    const [auto, manual] = hosts as [LocalHost, LocalHost];

    const env = {
      ...process.env,
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
      NO_COLOR: '1',
      CMG_TEST_SERVICE_URL: auto.url,
      CMG_TEST_ADMIN_KEY: auto.adminKey,
      CMG_TEST_MANUAL_SERVICE_URL: manual.url,
      CMG_TEST_MANUAL_ADMIN_KEY: manual.adminKey,
      CMG_TEST_TOKEN_ISSUE_BURST: pacing.TOKEN_ISSUE_BURST,
      CMG_TEST_PROJECT_ROOT: projectRoot,
      CMG_TEST_NODE: process.execPath,
    };
    // Two pwsh processes side by side: Pester runs its files one after another in one thread,
    // and the integration file mostly waits on the hosts while the others use the other core.
    // (A third process costs another PowerShell start and Pester import, about 2 s of CPU.)
    const tests = join(projectRoot, 'clients', 'powershell', 'tests');
    const groups = [['Integration.Tests.ps1'], ['Unit.Tests.ps1', 'Windows.Tests.ps1', 'Module.Tests.ps1', 'Syntax51.Tests.ps1']];
    const pesterStarted = Date.now();
    const parts = await Promise.all(groups.map((files) => runPester(tools, files.map((file) => join(tests, file)), env)));
    const wallSeconds = (Date.now() - pesterStarted) / 1000;
    summary = {
      passed: sum(parts, 'passed'),
      failed: sum(parts, 'failed'),
      skipped: sum(parts, 'skipped'),
      notRun: sum(parts, 'notRun'),
      total: sum(parts, 'total'),
      failedBlocks: sum(parts, 'failedBlocks'),
      failedContainers: sum(parts, 'failedContainers'),
      durationSeconds: Math.max(...parts.map((part) => part.durationSeconds)),
      files: parts.flatMap((part) => part.files),
      failures: parts.flatMap((part) => part.failures),
    };
    say(
      `Pester ${pesterVersion} on ${tools.pwsh.source}: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped ` +
        `in ${wallSeconds.toFixed(1)} s wall (${summary.files.map((file) => `${file.file} ${file.passed} in ${file.seconds} s`).join(', ')})`,
    );
  }, 240_000);

  afterAll(async () => {
    await Promise.all(hosts.map((host) => host.stop()));
    for (const folder of [...temporary, ...hosts.map((host) => host.dataDir)]) rmSync(folder, { recursive: true, force: true });
  });

  it('passes every Pester test', () => {
    const failures = summary.failures.map((failure) => `${failure.name}\n  ${failure.message}`).join('\n');
    expect({ failed: summary.failed, failedBlocks: summary.failedBlocks, failedContainers: summary.failedContainers, failures }).toEqual({
      failed: 0,
      failedBlocks: 0,
      failedContainers: 0,
      failures: '',
    });
  });

  it('ran all of it, integration tests included: nothing skipped', () => {
    expect(summary.skipped).toBe(0);
    expect(summary.notRun).toBe(0);
    expect(summary.passed).toBeGreaterThan(100);
  });
});

import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isFile, onPath } from './toolLookup.js';

/**
 * Finding and running the Bicep CLI for test/infra.bicep.test.ts. The version .ci/run restores
 * through NuGet (infra/tools/bicep-cli.csproj pins the same one).
 */
export const bicepVersion = '0.49.2';

export const howToGetBicep =
  'dotnet restore infra/tools/bicep-cli.csproj (what .ci/run does), az bicep install, or BICEP_PATH=/path/to/bicep';

export interface BicepCli {
  path: string;
  /** Where it was found, for the log line: BICEP_PATH, PATH, az, NuGet. */
  source: string;
}

/**
 * A NuGet package's files are extracted without the executable bit on some systems; the
 * restore is ours, so set it rather than fail.
 */
function executable(path: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    chmodSync(path, statSync(path).mode | 0o100);
  }
  return path;
}

/**
 * In order: BICEP_PATH, `bicep` on PATH, the Azure CLI's own copy (~/.azure/bin/bicep), the
 * NuGet packages folder (NUGET_PACKAGES or ~/.nuget/packages). BICEP_PATH naming a missing file
 * is an error, not a reason to look elsewhere.
 */
export function findBicep(env: NodeJS.ProcessEnv = process.env): BicepCli | undefined {
  const explicit = env.BICEP_PATH;
  if (explicit) {
    if (!isFile(explicit)) throw new Error(`BICEP_PATH=${explicit} is not a file`);
    return { path: executable(explicit), source: 'BICEP_PATH' };
  }
  const found = onPath('bicep', env);
  if (found) return { path: found, source: 'PATH' };
  const home = env.HOME ?? homedir();
  const azCopy = join(home, '.azure', 'bin', 'bicep');
  if (isFile(azCopy)) return { path: executable(azCopy), source: 'az (~/.azure/bin)' };
  const packages = env.NUGET_PACKAGES ?? join(home, '.nuget', 'packages');
  const restored = join(packages, 'azure.bicep.commandline.linux-x64', bicepVersion, 'tools', 'bicep');
  if (existsSync(restored)) return { path: executable(restored), source: `NuGet (${packages})` };
  return undefined;
}

export interface BicepRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without a shell; kills it after `timeoutMs` (a hung compiler must not hang the suite). */
export function runBicep(cli: BicepCli, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<BicepRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli.path, args, {
      cwd: options.cwd,
      // No telemetry from test runs; the rest of the environment as given.
      env: { ...(options.env ?? process.env), BICEP_TELEMETRY_ENABLED: 'false', DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  level: 'Error' | 'Warning' | 'Info';
  code: string;
  message: string;
}

/** `path(line,col) : Level CODE: message [link]`, the CLI's default diagnostics format. */
const diagnosticLine = /^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([^:]+): (.*)$/;

export function parseDiagnostics(output: string): Diagnostic[] {
  const found: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const line of output.split(/\r?\n/)) {
    const match = diagnosticLine.exec(line.trim());
    if (!match) continue;
    // The CLI can report a module's diagnostic once per file that references it.
    if (seen.has(line.trim())) continue;
    seen.add(line.trim());
    const [, file, row, column, level, code, message] = match;
    found.push({ file: file!, line: Number(row), column: Number(column), level: level as Diagnostic['level'], code: code!, message: message! });
  }
  return found;
}

/** Output lines that are neither diagnostics nor empty: a crash or an unexpected message. */
export function otherOutput(output: string): string[] {
  return output
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !diagnosticLine.test(line));
}

export function formatDiagnostic(diagnostic: Diagnostic): string {
  return `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}: ${diagnostic.level} ${diagnostic.code}: ${diagnostic.message}`;
}

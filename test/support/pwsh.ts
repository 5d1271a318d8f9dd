import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isExecutableFile, isFile, onPath } from './toolLookup.js';

/**
 * Finding PowerShell and Pester for test/powershell.module.test.ts. The versions .ci/run installs:
 * PowerShell as a .NET tool into a fixed tool path, Pester through
 * clients/powershell/tools/pester.csproj into the NuGet packages folder.
 */
export const pwshVersion = '7.6.10';
export const pesterVersion = '5.7.1';

export const howToGetPwsh =
  `dotnet tool install --tool-path ~/.cache/cmg-pwsh PowerShell --version ${pwshVersion} and ` +
  'dotnet restore clients/powershell/tools/pester.csproj (what .ci/run does), or set PWSH_PATH and PESTER_PATH';

export interface Found {
  path: string;
  /** Where it was found, for the log line. */
  source: string;
}

/**
 * In order: PWSH_PATH (naming a missing file is an error, not a reason to look elsewhere), the
 * tool path .ci/run installs to (CMG_PWSH_DIR, by default ~/.cache/cmg-pwsh), `pwsh` on PATH.
 */
export function findPwsh(env: NodeJS.ProcessEnv = process.env): Found | undefined {
  const explicit = env.PWSH_PATH;
  if (explicit) {
    if (!isExecutableFile(explicit)) throw new Error(`PWSH_PATH=${explicit} is not an executable file`);
    return { path: explicit, source: 'PWSH_PATH' };
  }
  const toolDir = env.CMG_PWSH_DIR ?? join(env.HOME ?? homedir(), '.cache', 'cmg-pwsh');
  const tool = join(toolDir, 'pwsh');
  if (isExecutableFile(tool)) return { path: tool, source: `dotnet tool (${toolDir})` };
  const found = onPath('pwsh', env);
  return found ? { path: found, source: 'PATH' } : undefined;
}

/** PESTER_PATH (a Pester.psd1), else the NuGet packages folder (NUGET_PACKAGES or ~/.nuget/packages). */
export function findPester(env: NodeJS.ProcessEnv = process.env): Found | undefined {
  const explicit = env.PESTER_PATH;
  if (explicit) {
    if (!isFile(explicit)) throw new Error(`PESTER_PATH=${explicit} is not a file`);
    return { path: explicit, source: 'PESTER_PATH' };
  }
  const packages = env.NUGET_PACKAGES ?? join(env.HOME ?? homedir(), '.nuget', 'packages');
  const restored = join(packages, 'pester', pesterVersion, 'tools', 'Pester.psd1');
  return existsSync(restored) ? { path: restored, source: `NuGet (${packages})` } : undefined;
}

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

/**
 * Requirement: infra/deploy.sh deploys with the az CLI, says what to do when az is missing or
 * signed out, and passes the operator's choices to the template. A stub `az` on PATH records
 * the calls, so no Azure account is needed.
 */

const repoRoot = resolve(__dirname, '..');
const script = join(repoRoot, 'infra', 'deploy.sh');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const bash = which('bash') ?? '/bin/bash';

function run(args: string[], env: Record<string, string | undefined>): Run {
  const result = spawnSync(bash, [script, ...args], { cwd: repoRoot, env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 10_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'cmg-deploy-test-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('infra/deploy.sh', () => {
  it('is shellcheck-clean', () => {
    const shellcheck = which('shellcheck');
    if (!shellcheck) {
      throw new Error('shellcheck is not installed: apt-get install -y shellcheck (CI installs it in .ci/run)');
    }
    const result = spawnSync(shellcheck, ['--shell=bash', script], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('prints its usage with --help and exits 0, without needing az', () => {
    const result = run(['--help'], { PATH: mkdtempSync(join(workDir, 'empty-')) });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: infra\/deploy\.sh --resource-group/);
    for (const option of ['--location', '--environment', '--key-type', '--approval-mode', '--internal-networks', '--admin-audience', '--what-if']) {
      expect(result.stdout).toContain(option);
    }
  });

  it('without az on PATH, exits non-zero and says how to install it', () => {
    // An empty PATH directory: nothing the script could find, az least of all.
    const result = run(['--resource-group', 'rg-test', '--location', 'westeurope'], { PATH: mkdtempSync(join(workDir, 'empty-')) });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Azure CLI \(az\) is not installed/);
    expect(result.stderr).toContain('https://learn.microsoft.com/cli/azure/install-azure-cli');
    expect(result.stderr).toContain('az login');
  });

  it('rejects a missing resource group and bad option values before calling az', () => {
    const empty = { PATH: mkdtempSync(join(workDir, 'empty-')) };
    expect(run([], empty).stderr).toMatch(/--resource-group is required/);
    expect(run(['-g', 'rg', '--key-type', 'DSA'], empty).stderr).toMatch(/--key-type must be RSA or EC/);
    expect(run(['-g', 'rg', '--approval-mode', 'maybe'], empty).stderr).toMatch(/--approval-mode must be auto or manual/);
    expect(run(['-g', 'rg', '--internal-networks', '10.0.0.0/8;rm -rf'], empty).stderr).toMatch(/CIDR/);
    expect(run(['-g', 'rg', '--bogus'], empty).stderr).toMatch(/unknown argument: --bogus/);
  });

  describe('with a stub az', () => {
    let log: string;
    let stubPath: string;

    beforeAll(() => {
      const bin = mkdtempSync(join(workDir, 'bin-'));
      log = join(workDir, 'az.log');
      const stub = [
        '#!/usr/bin/env bash',
        'printf "%s\\n" "$*" >>"$AZ_LOG"',
        'case "$1 $2" in',
        '  "account show") [[ "${AZ_SIGNED_IN:-true}" == true ]] || { echo "Please run az login" >&2; exit 1; }; echo "Test subscription" ;;',
        '  "group exists") echo "${AZ_GROUP_EXISTS:-false}" ;;',
        '  "group show") echo westeurope ;;',
        '  "deployment group")',
        '    case "$*" in',
        '      *functionAppName*) echo func-abc ;;',
        '      *functionAppUrl*) echo https://func-abc.azurewebsites.net ;;',
        '      *signingKeyId*) echo https://kv-abc.vault.azure.net/keys/token-signing ;;',
        '      *keyVaultName*) echo kv-abc ;;',
        '    esac ;;',
        'esac',
      ].join('\n');
      writeFileSync(join(bin, 'az'), `${stub}\n`);
      chmodSync(join(bin, 'az'), 0o755);
      stubPath = `${bin}${delimiter}${process.env.PATH ?? ''}`;
    });

    beforeEach(() => writeFileSync(log, ''));

    const calls = (): string[] => readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
    const env = (extra: Record<string, string> = {}) => ({ PATH: stubPath, HOME: workDir, AZ_LOG: log, ...extra });

    it('when az is signed out, exits non-zero and says to run az login', () => {
      const result = run(['-g', 'rg-test'], env({ AZ_SIGNED_IN: 'false' }));
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/not signed in/);
      expect(result.stderr).toContain('az login');
    });

    it('--what-if runs az deployment group what-if with the parameters file and the overrides, changing nothing', () => {
      const result = run(
        [
          '-g', 'rg-test', '-e', 'prod', '--what-if', '--key-type', 'EC', '--approval-mode', 'auto',
          '--internal-networks', '203.0.113.0/24,2001:db8::/32', '--admin-audience', 'api://cmg-admin',
        ],
        env({ AZ_GROUP_EXISTS: 'true' }),
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const whatIf = calls().find((call) => call.startsWith('deployment group what-if'));
      expect(whatIf).toBeDefined();
      expect(whatIf).toContain(`--template-file ${join(repoRoot, 'infra', 'main.bicep')}`);
      expect(whatIf).toContain(`--parameters @${join(repoRoot, 'infra', 'main.parameters.json')}`);
      for (const parameter of [
        'environmentName=prod', 'location=westeurope', 'keyType=EC', 'approvalMode=auto',
        'internalNetworks=203.0.113.0/24,2001:db8::/32', 'adminAudience=api://cmg-admin',
      ]) {
        expect(whatIf).toContain(parameter);
      }
      expect(calls().some((call) => /^(group create|deployment group create|functionapp)/.test(call))).toBe(false);
    });

    it('--what-if refuses to create a missing resource group', () => {
      const result = run(['-g', 'rg-new', '--what-if'], env({ AZ_GROUP_EXISTS: 'false' }));
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/does not exist; what-if needs one/);
      expect(calls().some((call) => call.startsWith('group create'))).toBe(false);
    });

    it('creates a missing resource group, deploys the template and prints the endpoints and the next step', () => {
      const result = run(['-g', 'rg-new', '-l', 'swedencentral', '--infra-only', '--admin-audience', 'api://cmg-admin'], env());
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(calls()).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^group create --name rg-new --location swedencentral /),
          expect.stringMatching(/^deployment group create --resource-group rg-new --name cmg-token-auth-rg-new .*environmentName=rg-new location=swedencentral/),
        ]),
      );
      expect(result.stdout).toContain('https://func-abc.azurewebsites.net/api/health');
      expect(result.stdout).toContain('https://func-abc.azurewebsites.net/api/.well-known/jwks.json');
      expect(result.stdout).toContain(
        'CMG_URL=https://func-abc.azurewebsites.net CMG_ADMIN_AUDIENCE=api://cmg-admin npx bulk-registration-token new --lifetime 4320',
      );
    });

    it('leaves an existing resource group alone and deploys into its region', () => {
      const result = run(['-g', 'rg-test', '--infra-only', '--admin-audience', 'api://cmg-admin'], env({ AZ_GROUP_EXISTS: 'true' }));
      expect(result.status).toBe(0);
      expect(calls().some((call) => call.startsWith('group create'))).toBe(false);
      expect(calls().find((call) => call.startsWith('deployment group create'))).toContain('location=westeurope');
    });
  });
});

describe('.funcignore', () => {
  it('keeps tests, infra, local data, Azurite files, bench, docs and source maps out of the package', () => {
    const patterns = readFileSync(join(repoRoot, '.funcignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(patterns).toEqual(
      expect.arrayContaining(['/test', '/infra', '/.local', '__azurite*', '/bench', '/docs', '*.map', 'local.settings.json']),
    );
    // The compiled code and its manifest must stay in.
    for (const kept of ['dist', '/dist', 'host.json', 'package.json', 'node_modules']) expect(patterns).not.toContain(kept);
  });
});

describe('infra/deploy.sh --console-client-id', () => {
  const clientId = '3f2c6a2e-0d0c-4b1a-9f7e-5a4f1c2b9d10';
  let log: string;
  let stubPath: string;

  /** A stub az whose app registration lists the SPA redirect URIs in AZ_SPA_URIS. */
  beforeAll(() => {
    const bin = mkdtempSync(join(workDir, 'console-bin-'));
    log = join(workDir, 'console-az.log');
    const stub = [
      '#!/usr/bin/env bash',
      'printf "%s\\n" "$*" >>"$AZ_LOG"',
      'case "$1 $2" in',
      '  "account show") echo "Test subscription" ;;',
      '  "group exists") echo true ;;',
      '  "group show") echo westeurope ;;',
      '  "ad app") printf "%s\\n" "$AZ_SPA_URIS" ;;',
      '  "deployment group")',
      '    case "$*" in',
      '      *functionAppName*) echo func-abc ;;',
      '      *functionAppUrl*) echo https://func-abc.azurewebsites.net ;;',
      '    esac ;;',
      'esac',
    ].join('\n');
    writeFileSync(join(bin, 'az'), `${stub}\n`);
    chmodSync(join(bin, 'az'), 0o755);
    stubPath = `${bin}${delimiter}${process.env.PATH ?? ''}`;
  });

  beforeEach(() => writeFileSync(log, ''));

  const calls = (): string[] => readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
  const deploy = (spaUris: string, extra: string[] = []) =>
    run(['-g', 'rg-test', '--infra-only', '--admin-audience', `api://${clientId}`, '--console-client-id', clientId, ...extra], {
      PATH: stubPath,
      HOME: workDir,
      AZ_LOG: log,
      AZ_SPA_URIS: spaUris,
    });

  it('passes the client id to the template and adds the bridge page to the SPA redirect URIs, keeping the others', () => {
    const result = deploy('[\n  "https://other.example/callback"\n]');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(calls().find((call) => call.startsWith('deployment group create'))).toContain(`consoleClientId=${clientId}`);
    expect(calls()).toContain(
      `rest --method PATCH --uri https://graph.microsoft.com/v1.0/applications(appId='${clientId}') --headers Content-Type=application/json ` +
        '--body {"spa":{"redirectUris":["https://other.example/callback","https://func-abc.azurewebsites.net/api/console/redirect.html"]}} --output none',
    );
    expect(result.stdout).toContain('Console        https://func-abc.azurewebsites.net/api/console');
  });

  it('changes nothing when the redirect URI is already registered', () => {
    const result = deploy('["https://func-abc.azurewebsites.net/api/console/redirect.html"]');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('is registered');
    expect(calls().some((call) => call.startsWith('rest '))).toBe(false);
  });

  it('refuses a client id that is not a GUID, and one without an admin audience', () => {
    const empty = { PATH: mkdtempSync(join(workDir, 'empty-')) };
    expect(run(['-g', 'rg', '--console-client-id', 'my-app'], empty).stderr).toMatch(/--console-client-id must be an application \(client\) id/);
    const noAudience = mkdtempSync(join(workDir, 'params-'));
    writeFileSync(join(noAudience, 'p.json'), '{"parameters": {}}');
    expect(run(['-g', 'rg', '--console-client-id', clientId, '-p', join(noAudience, 'p.json')], empty).stderr).toMatch(/needs --admin-audience/);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { startLocalHost, type LocalHost } from './support/localHost.js';

/**
 * Requirement: infra/deploy.sh deploys with the az CLI, says what to do when az is missing or
 * signed out, and passes the operator's choices to the template (issue "Infrastructure as code
 * and deployment with the az CLI"); it survives a first deployment: publish retried with
 * exponential backoff for about 10 minutes on permission-propagation errors, every az call
 * bounded by a timeout, a smoke check at the end and with --smoke (issue 13). A stub `az` on
 * PATH records the calls, so no Azure account is needed; a fake clock and sleep (the script's
 * CMG_DEPLOY_CLOCK and CMG_DEPLOY_SLEEP) run ten minutes of retries in a second; the smoke
 * check talks to the real local host or to a loopback stand-in.
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
  const result = spawnSync(bash, [script, ...args], { cwd: repoRoot, env: env, encoding: 'utf8', timeout: 10_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Like run(), without blocking the event loop: the smoke check calls servers in this process. */
function runAsync(args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<Run & { ms: number }> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const child = spawn(bash, [script, ...args], { cwd: repoRoot, env: env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'cmg-deploy-test-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/**
 * A stub `az` in a new folder of the work dir: it appends each call's arguments to $AZ_LOG,
 * then runs `lines`. Returns the log's path and a PATH that finds the stub first.
 */
function stubAz(dir: string, logName: string, lines: string[]): { log: string; stubPath: string } {
  const bin = mkdtempSync(join(workDir, dir));
  const stub = ['#!/usr/bin/env bash', 'printf "%s\\n" "$*" >>"$AZ_LOG"', ...lines].join('\n');
  writeFileSync(join(bin, 'az'), `${stub}\n`);
  chmodSync(join(bin, 'az'), 0o755);
  return { log: join(workDir, logName), stubPath: `${bin}${delimiter}${process.env.PATH ?? ''}` };
}

/** The calls a stub az logged, one line each. */
function loggedCalls(log: string): string[] {
  return readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
}

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
      ({ log, stubPath } = stubAz('bin-', 'az.log', [
        // AZ_HANG: a call containing this text never answers (timeout must cut it).
        'if [[ -n "${AZ_HANG:-}" && "$*" == *"$AZ_HANG"* ]]; then exec sleep 600; fi',
        'advance() { [[ -z "${FAKE_CLOCK_FILE:-}" ]] || echo $(( $(cat "$FAKE_CLOCK_FILE") + $1 )) >"$FAKE_CLOCK_FILE"; }',
        'case "$1 $2" in',
        '  "account show") [[ "${AZ_SIGNED_IN:-true}" == true ]] || { echo "Please run az login" >&2; exit 1; }; echo "Test subscription" ;;',
        '  "group exists") echo "${AZ_GROUP_EXISTS:-false}" ;;',
        '  "group show") echo westeurope ;;',
        '  "deployment group")',
        '    case "$3" in create | what-if) printf "CMG_ENVIRONMENT_NAME=%s\\n" "${CMG_ENVIRONMENT_NAME:-}" >>"$AZ_LOG" ;; esac',
        '    case "$*" in',
        '      *functionAppName*) echo func-abc ;;',
        '      *functionAppUrl*) echo "${AZ_FUNCTION_URL:-https://func-abc.azurewebsites.net}" ;;',
        '      *signingKeyId*) echo https://kv-abc.vault.azure.net/keys/token-signing ;;',
        '      *keyVaultName*) echo kv-abc ;;',
        '    esac ;;',
        // One-deploy: each attempt takes AZ_PUBLISH_SECONDS of fake time; the first
        // AZ_PUBLISH_FAILURES attempts, and every attempt before fake time AZ_PUBLISH_FAIL_UNTIL,
        // fail with AZ_PUBLISH_ERROR.
        '  "functionapp deployment")',
        '    advance "${AZ_PUBLISH_SECONDS:-20}"',
        '    n=$(( $(cat "$AZ_PUBLISH_COUNT" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$AZ_PUBLISH_COUNT"',
        '    fail=false',
        '    [[ "$n" -gt "${AZ_PUBLISH_FAILURES:-0}" ]] || fail=true',
        '    if [[ -n "${AZ_PUBLISH_FAIL_UNTIL:-}" && "$(cat "$FAKE_CLOCK_FILE")" -lt "$AZ_PUBLISH_FAIL_UNTIL" ]]; then fail=true; fi',
        '    if [[ "$fail" == true ]]; then echo "$AZ_PUBLISH_ERROR" >&2; exit 1; fi ;;',
        '  "functionapp config") echo "${AZ_INTERNAL_NETWORKS:-}" ;;',
        'esac',
      ]));
    });

    beforeEach(() => writeFileSync(log, ''));

    const calls = (): string[] => loggedCalls(log);
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
      // The .bicepparam names its template; az compiles both.
      expect(whatIf).not.toContain('--template-file');
      expect(whatIf).toContain(`--parameters ${join(repoRoot, 'infra', 'main.bicepparam')} --parameters environmentName=prod`);
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

    it('exports the environment name for main.bicepparam to read', () => {
      const result = run(['-g', 'rg-test', '-e', 'staging', '--infra-only', '--admin-audience', 'api://cmg-admin'], env({ AZ_GROUP_EXISTS: 'true' }));
      expect(result.status).toBe(0);
      expect(calls()).toContain('CMG_ENVIRONMENT_NAME=staging');
    });

    it('refuses a parameters file that is not a .bicepparam', () => {
      const json = join(workDir, 'old.parameters.json');
      writeFileSync(json, '{}');
      const result = run(['-g', 'rg-test', '-p', json], env());
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/must be a \.bicepparam file/);
    });

    describe('publishing and the smoke check', () => {
      // The platform's answer while the identity's storage role is still propagating: an HTTP
      // 400 from the deployment endpoint wrapping storage's 403.
      const propagationError =
        'ERROR: An error occurred during deployment. Status Code: 400, Details: {"Message":"Failed to upload the package: ' +
        'Status: 403 (This request is not authorized to perform this operation using this permission.) ErrorCode: AuthorizationPermissionMismatch"}';
      const fakeStart = 1_800_000_000;
      let clockFile: string;
      let sleepLog: string;
      let countFile: string;
      let packageZip: string;
      let standIn: { server: Server; url: string; healthStatus: number };

      beforeAll(async () => {
        const bin = mkdtempSync(join(workDir, 'clock-'));
        clockFile = join(bin, 'now');
        sleepLog = join(bin, 'sleeps');
        countFile = join(bin, 'publish-count');
        writeFileSync(join(bin, 'clock'), '#!/usr/bin/env bash\ncat "$FAKE_CLOCK_FILE"\n');
        writeFileSync(
          join(bin, 'sleep'),
          '#!/usr/bin/env bash\necho "$1" >>"$FAKE_SLEEP_LOG"\necho $(( $(cat "$FAKE_CLOCK_FILE") + $1 )) >"$FAKE_CLOCK_FILE"\n',
        );
        chmodSync(join(bin, 'clock'), 0o755);
        chmodSync(join(bin, 'sleep'), 0o755);
        packageZip = join(bin, 'package.zip');
        writeFileSync(packageZip, 'not really a zip: the stub az never opens it');

        // A loopback stand-in of a deployed app, answering like the service does.
        standIn = { server: createServer(), url: '', healthStatus: 200 };
        standIn.server.on('request', (request, response) => {
          const send = (status: number, type: string, body: unknown) => {
            response.writeHead(status, { 'content-type': type });
            response.end(JSON.stringify(body));
          };
          if (request.url === '/api/health') {
            if (standIn.healthStatus === 200) send(200, 'application/json', { status: 'ok' });
            else send(standIn.healthStatus, 'application/problem+json', { type: 'about:blank', code: 'unavailable', status: standIn.healthStatus });
          } else if (request.url === '/api/.well-known/jwks.json') {
            send(200, 'application/json', { keys: [{ kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' }] });
          } else if (request.url === '/api/register/internal' && request.method === 'POST') {
            send(403, 'application/problem+json', {
              code: 'network_forbidden',
              status: 403,
              detail: 'internal registration is only open to INTERNAL_NETWORKS; the caller 198.51.100.23 is outside them — register with a bulk token instead',
            });
          } else {
            response.writeHead(404).end();
          }
        });
        await new Promise<void>((done) => standIn.server.listen(0, '127.0.0.1', done));
        standIn.url = `http://127.0.0.1:${(standIn.server.address() as AddressInfo).port}`;
      });

      afterAll(async () => {
        await new Promise((done) => standIn.server.close(done));
      });

      beforeEach(() => {
        writeFileSync(clockFile, `${fakeStart}\n`);
        writeFileSync(sleepLog, '');
        rmSync(countFile, { force: true });
        standIn.healthStatus = 200;
      });

      const fakeTime = (extra: Record<string, string> = {}) =>
        env({
          AZ_GROUP_EXISTS: 'true',
          AZ_FUNCTION_URL: standIn.url,
          AZ_INTERNAL_NETWORKS: '203.0.113.0/24',
          AZ_PUBLISH_ERROR: propagationError,
          AZ_PUBLISH_COUNT: countFile,
          FAKE_CLOCK_FILE: clockFile,
          FAKE_SLEEP_LOG: sleepLog,
          CMG_DEPLOY_CLOCK: join(clockFile, '..', 'clock'),
          CMG_DEPLOY_SLEEP: join(clockFile, '..', 'sleep'),
          ...extra,
        });
      const sleeps = (): number[] => readFileSync(sleepLog, 'utf8').split('\n').filter((line) => line !== '').map(Number);
      const publishCalls = (): string[] => calls().filter((call) => call.startsWith('functionapp deployment source config-zip'));
      const deployArgs = ['-g', 'rg-test', '--admin-audience', 'api://cmg-admin', '--package'];

      it('a publish failing 4 times with the propagation error, then succeeding, deploys (backoff 15, 30, 60, 120 s)', async () => {
        const result = await runAsync([...deployArgs, packageZip], fakeTime({ AZ_PUBLISH_FAILURES: '4' }));
        expect(result.stderr).not.toMatch(/error:/);
        expect(result.status).toBe(0);
        expect(publishCalls()).toHaveLength(5);
        expect(publishCalls()[0]).toContain(`--src ${packageZip}`);
        expect(sleeps()).toEqual([15, 30, 60, 120]);
        expect(result.stderr.match(/permissions still propagating \(AuthorizationPermissionMismatch\)/g)).toHaveLength(4);
        expect(result.stdout).toContain('Deployed cmg-token-auth');
      });

      it('a publish failing for 11 minutes of fake time gives up after about 10 with a clear message and exit 1', async () => {
        const result = await runAsync([...deployArgs, packageZip], fakeTime({ AZ_PUBLISH_FAIL_UNTIL: String(fakeStart + 11 * 60) }));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/deploy\.sh: error: gave up publishing after \d+ s and \d+ attempts: the app's identity still cannot\s+reach storage/);
        expect(result.stderr).toContain('AuthorizationPermissionMismatch');
        const waited = sleeps().reduce((sum, seconds) => sum + seconds, 0);
        // Exponential, capped at two minutes, within the ten-minute budget.
        expect(sleeps().slice(0, 5)).toEqual([15, 30, 60, 120, 120]);
        expect(waited).toBeLessThanOrEqual(600);
        expect(waited).toBeGreaterThanOrEqual(400);
        expect(Number(readFileSync(clockFile, 'utf8'))).toBeLessThan(fakeStart + 11 * 60);
        // It stopped: no smoke check, no summary.
        expect(result.stdout).not.toContain('Smoke check');
        expect(result.stdout).not.toContain('Deployed cmg-token-auth');
        expect(result.ms).toBeLessThan(20_000);
      });

      it('any other publish error fails at once, showing az\'s message', async () => {
        const result = await runAsync(
          [...deployArgs, packageZip],
          fakeTime({ AZ_PUBLISH_FAILURES: '1', AZ_PUBLISH_ERROR: 'ERROR: Status Code: 400, Details: the package is not a valid zip file' }),
        );
        expect(result.status).toBe(1);
        expect(publishCalls()).toHaveLength(1);
        expect(sleeps()).toEqual([]);
        expect(result.stderr).toContain('the package is not a valid zip file');
        expect(result.stderr).toMatch(/publishing failed \(az exit 1; not a permissions-propagation error/);
      });

      it('a hanging az is cut by the timeout, with a message and exit 1', async () => {
        const result = await runAsync(['-g', 'rg-test', '--infra-only'], fakeTime({ AZ_HANG: 'account show', CMG_DEPLOY_AZ_TIMEOUT: '1' }));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/az account show did not answer within 1 s and was stopped/);
        expect(result.stderr).not.toMatch(/not signed in/);
        expect(result.ms).toBeLessThan(10_000);
      });

      it('a publish that hangs (the post-deployment check waiting forever) is cut by the timeout and not retried', async () => {
        const result = await runAsync([...deployArgs, packageZip], fakeTime({ AZ_HANG: 'config-zip', CMG_DEPLOY_AZ_TIMEOUT: '1' }));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/publishing did not finish within 1 s and az was stopped/);
        expect(result.stderr).toContain('infra/deploy.sh --smoke -g rg-test -e rg-test');
        expect(publishCalls()).toHaveLength(1);
        expect(result.ms).toBeLessThan(10_000);
      });

      it('ends with a smoke check: health, JWKS, and the address the service saw next to INTERNAL_NETWORKS', async () => {
        const result = await runAsync([...deployArgs, packageZip], fakeTime());
        expect(result.status).toBe(0);
        expect(result.stdout).toMatch(/Smoke check of http:\/\/127\.0\.0\.1:\d+/);
        expect(result.stdout).toMatch(/health\s+ok \(\{"status":"ok"\}\)/);
        expect(result.stdout).toMatch(/JWKS\s+1 signing key\(s\)/);
        expect(result.stdout).toMatch(/INTERNAL_NETWORKS\s+203\.0\.113\.0\/24/);
        expect(result.stdout).toMatch(/this machine, as seen\s+198\.51\.100\.23 \(outside INTERNAL_NETWORKS/);
        expect(result.stderr).toMatch(/if 198\.51\.100\.23 is one of your internal egress addresses/);
        expect(calls()).toContain("functionapp config appsettings list --resource-group rg-test --name func-abc --query [?name=='INTERNAL_NETWORKS'].value | [0] --output tsv");
      });

      it('--smoke waits for health with backoff and gives up with exit 1 when it never answers 200', async () => {
        standIn.healthStatus = 503;
        const result = await runAsync(['-g', 'rg-test', '--smoke'], fakeTime());
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/health did not answer 200 within 300 s \(last: 503/);
        expect(result.stderr).toContain('rerun infra/deploy.sh --smoke -g rg-test -e rg-test');
        expect(sleeps()[0]).toBe(10);
        expect(sleeps().reduce((sum, seconds) => sum + seconds, 0)).toBeLessThanOrEqual(300);
        expect(calls().some((call) => /^(group create|deployment group create|functionapp deployment)/.test(call))).toBe(false);
      });

      describe('--smoke against the real local host', () => {
        let host: LocalHost;

        afterEach(async () => {
          await host?.stop();
        });

        const smoke = async (internalNetworks: string) => {
          host = await startLocalHost({ STORAGE_CONNECTION: process.env.TEST_STORAGE_CONNECTION ?? '', INTERNAL_NETWORKS: internalNetworks });
          return runAsync(['-g', 'rg-test', '-e', 'prod', '--smoke'], fakeTime({ AZ_FUNCTION_URL: host.url, AZ_INTERNAL_NETWORKS: internalNetworks }));
        };

        it('names the address the service saw for this machine when it is outside INTERNAL_NETWORKS', async () => {
          const result = await smoke('10.0.0.0/8');
          expect(result.stderr).not.toMatch(/error:/);
          expect(result.status).toBe(0);
          expect(result.stdout).toMatch(/health\s+ok/);
          expect(result.stdout).toMatch(/JWKS\s+[1-9]\d* signing key\(s\)/);
          expect(result.stdout).toMatch(/INTERNAL_NETWORKS\s+10\.0\.0\.0\/8\n/);
          expect(result.stdout).toMatch(/this machine, as seen\s+127\.0\.0\.1 \(outside INTERNAL_NETWORKS: internal registration refused from here\)/);
          // Only the smoke check's calls: nothing deployed, nothing published.
          expect(calls().filter((call) => !call.startsWith('CMG_')).map((call) => call.split(' ').slice(0, 3).join(' '))).toEqual([
            'account show --query',
            'deployment group show',
            'deployment group show',
            'functionapp config appsettings',
          ]);
        }, 60_000);

        it('says internal registration is open from this machine when its address is inside INTERNAL_NETWORKS', async () => {
          const result = await smoke('127.0.0.0/8');
          expect(result.status).toBe(0);
          expect(result.stdout).toMatch(/this machine, as seen\s+inside INTERNAL_NETWORKS: internal registration open from here/);
        }, 60_000);
      });
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
    ({ log, stubPath } = stubAz('console-bin-', 'console-az.log', [
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
    ]));
  });

  beforeEach(() => writeFileSync(log, ''));

  const calls = (): string[] => loggedCalls(log);
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
    writeFileSync(join(noAudience, 'p.bicepparam'), "using 'main.bicep'\nparam approvalMode = 'manual'\n");
    expect(run(['-g', 'rg', '--console-client-id', clientId, '-p', join(noAudience, 'p.bicepparam')], empty).stderr).toMatch(/needs --admin-audience/);
  });
});

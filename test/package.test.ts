import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './support/localHost.js';

/**
 * The files of the zip that infra/deploy.sh publishes: the same copy of the built tree into a
 * staging folder, then deploy.sh's own apply_funcignore (taken from the script, not rewritten)
 * over the real .funcignore, then the listing `zip -r` would take. Only the production
 * `npm ci --omit=dev` of the script is left out (node_modules is not ours to check). Run after
 * the build, as npm test does.
 */

const run = promisify(execFile);
const deployScript = readFileSync(join(projectRoot, 'infra', 'deploy.sh'), 'utf8');

/** What deploy.sh copies into the package: the `cp -R "$repo_root/…" … "$staging/app/"` line. */
function copiedByDeploy(): string[] {
  const line = /^\s*cp -R (.+) "\$staging\/app\/"\s*$/m.exec(deployScript)?.[1];
  if (!line) throw new Error('infra/deploy.sh no longer copies the package with one cp -R line into "$staging/app/"; update this test');
  return [...line.matchAll(/"\$repo_root\/([^"]+)"/g)].map((match) => match[1] ?? '');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe('the deployment package (what infra/deploy.sh would zip)', () => {
  let staging: string;
  let files: string[];

  beforeAll(async () => {
    staging = mkdtempSync(join(tmpdir(), 'cmg-package-'));
    const app = join(staging, 'app');
    for (const item of copiedByDeploy()) cpSync(join(projectRoot, item), join(app, item), { recursive: true });
    const applyFuncignore = /^apply_funcignore\(\) \{\n[\s\S]*?\n\}\n/m.exec(deployScript)?.[0];
    if (!applyFuncignore) throw new Error('infra/deploy.sh has no apply_funcignore function; update this test');
    await run('bash', ['-c', `set -euo pipefail\nwarn() { echo "$*" >&2; }\n${applyFuncignore}\napply_funcignore "$1"`, 'package', app], {
      env: { ...process.env, repo_root: projectRoot },
    });
    files = filesUnder(app);
  });

  afterAll(() => rmSync(staging, { recursive: true, force: true }));

  it('copies the built tree and the manifests', () => {
    expect(copiedByDeploy()).toEqual(expect.arrayContaining(['dist', 'host.json', 'package.json']));
  });

  it('holds no test, test kit, benchmark, local host or source map', () => {
    const unwanted = files.filter((file) => /(^|\/)(test|testkit|bench|host)\//.test(file) || /\.test\.js$/.test(file) || /\.map$/.test(file));
    expect(unwanted).toEqual([]);
  });

  it('holds only the compiled service, the console and the manifests', () => {
    const outside = files.filter((file) => !/^dist\/(functions|shared|cli|console)\//.test(file) && !['host.json', 'package.json', 'package-lock.json'].includes(file));
    expect(outside).toEqual([]);
  });

  it('holds every function and what the console serves', () => {
    const functions = readdirSync(join(projectRoot, 'functions')).filter((name) => name.endsWith('.ts'));
    expect(functions.length).toBeGreaterThan(10);
    for (const name of functions) expect(files).toContain(`dist/functions/${name.replace(/\.ts$/, '.js')}`);
    expect(files).toContain('dist/console/manifest.json');
    expect(files).toContain('host.json');
  });

  it('is built from code that imports no test code (so dist/ holds none): benchmarks share through testkit/', () => {
    const offenders: string[] = [];
    for (const folder of ['functions', 'shared', 'host', 'cli', 'bench', 'testkit']) {
      for (const file of filesUnder(join(projectRoot, folder)).filter((name) => name.endsWith('.ts'))) {
        const text = readFileSync(join(projectRoot, folder, file), 'utf8');
        if (/from '(\.\.\/)+test\//.test(text) || (folder === 'testkit' && /from '(\.\.\/)+bench\//.test(text))) offenders.push(`${folder}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

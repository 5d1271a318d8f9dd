import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './support/localHost.js';

/**
 * The lint gate itself (npm run lint, part of npm test): the real ESLint config and the real
 * compiler options, run as `npm run lint` runs them, over planted mistakes in
 * test/fixtures/lint. A gate that stopped catching them would pass every other test.
 */

const run = promisify(execFile);
const fixtures = join(projectRoot, 'test', 'fixtures', 'lint');
const eslintBin = join(projectRoot, 'node_modules', 'eslint', 'bin', 'eslint.js');
const tscBin = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');

interface LintResult {
  filePath: string;
  messages: Array<{ ruleId: string | null; line: number; severity: number }>;
}

/** Exit code and output, whether the tool passed or failed. */
async function tool(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, args, { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '' };
  }
}

describe('the lint gate', () => {
  let lint: { code: number; byFile: Map<string, Array<{ rule: string | null; line: number }>> };

  beforeAll(async () => {
    // --no-ignore: the planted files are ignored by `npm run lint`, which must stay green.
    const { code, stdout } = await tool([eslintBin, '--no-ignore', '--format', 'json', fixtures]);
    const results = JSON.parse(stdout) as LintResult[];
    const byFile = new Map(
      results.map((r) => [r.filePath.slice(fixtures.length + 1), r.messages.filter((m) => m.severity === 2).map((m) => ({ rule: m.ruleId, line: m.line }))]),
    );
    lint = { code, byFile };
  }, 120_000);

  it('fails on a floating promise', () => {
    expect(lint.code).toBe(1);
    expect(lint.byFile.get('floatingPromise.ts')).toEqual([{ rule: '@typescript-eslint/no-floating-promises', line: 7 }]);
  });

  it('fails on a case that falls through', () => {
    expect(lint.byFile.get('fallThrough.ts')).toEqual([{ rule: 'no-fallthrough', line: 7 }]);
  });

  it('fails on a switch that forgets a member of the union', () => {
    expect(lint.byFile.get('nonExhaustive.ts')).toEqual([{ rule: '@typescript-eslint/switch-exhaustiveness-check', line: 3 }]);
  });

  it('passes the same shapes written correctly (so the failures above are the rules, not a broken config)', () => {
    expect(lint.byFile.get('clean.ts')).toEqual([]);
  });

  it('keeps the promise and switch rules as errors for the project sources', async () => {
    const { code, stdout } = await tool([eslintBin, '--print-config', join(projectRoot, 'shared', 'services.ts')]);
    expect(code).toBe(0);
    const rules = (JSON.parse(stdout) as { rules: Record<string, unknown[]> }).rules;
    for (const rule of [
      '@typescript-eslint/no-floating-promises',
      '@typescript-eslint/no-misused-promises',
      '@typescript-eslint/switch-exhaustiveness-check',
      'no-fallthrough',
    ]) {
      expect({ rule, severity: rules[rule]?.[0] }).toEqual({ rule, severity: 2 });
    }
  });

  it("has the compiler refuse the fall-through too (the project's own tsconfig flags)", async () => {
    const { code, stdout } = await tool([tscBin, '-p', join(fixtures, 'tsconfig.json')]);
    expect(code).not.toBe(0);
    expect(stdout.trim().split('\n')).toEqual(['test/fixtures/lint/fallThrough.ts(5,5): error TS7029: Fallthrough case in switch.']);
  }, 120_000);
});

// @ts-check
/**
 * jest's node environment, plus a temp folder of each test file's own, removed when the file
 * is done (after its own afterAll hooks, so after its hosts have stopped): os.tmpdir() answers
 * that folder while the file runs, and TMPDIR names it for the child processes it starts. The
 * run's root folder (made by the global set-up, which points TMPDIR at it for every worker) is
 * removed by the global teardown too, as a backstop for a file that crashed.
 */
const { mkdirSync, mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const NodeEnvironment = require('jest-environment-node').TestEnvironment;

class TestEnvironmentWithTempDir extends NodeEnvironment {
  /** @type {string | undefined} */ suiteDir;
  /** @type {(() => string) | undefined} */ realTmpdir;

  async setup() {
    await super.setup();
    const runRoot = process.env.CMG_TEST_TMP_ROOT;
    if (!runRoot) return;
    mkdirSync(runRoot, { recursive: true });
    const suiteDir = mkdtempSync(join(runRoot, 'suite-'));
    this.suiteDir = suiteDir;
    this.realTmpdir = os.tmpdir;
    os.tmpdir = () => suiteDir;
    this.global.process.env.TMPDIR = suiteDir;
  }

  async teardown() {
    if (this.realTmpdir) os.tmpdir = this.realTmpdir;
    if (this.suiteDir) rmSync(this.suiteDir, { recursive: true, force: true, maxRetries: 3 });
    await super.teardown();
  }
}

module.exports = TestEnvironmentWithTempDir;

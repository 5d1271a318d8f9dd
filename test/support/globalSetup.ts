import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Global set-up runs outside jest's module map, where `.js` specifiers do not resolve to the
// TypeScript sources; so the source file is named directly and typed from its module.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { azuriteConnectionString, startAzurite } = require('../../host/azurite.ts') as typeof import('../../host/azurite.js');


/**
 * Starts one in-memory Azurite Table service for the whole run, unless AZURITE_TABLE_PORT
 * names one that already answers (then that one is used and left running). Each test file
 * uses its own table prefix, so files never see each other's data.
 */
export default async function globalSetup(): Promise<void> {
  // One temp root for the run (test/support/suiteTempDir.ts gives each file a folder in it).
  const runRoot = mkdtempSync(join(tmpdir(), 'cmg-test-run-'));
  process.env.CMG_TEST_TMP_ROOT = runRoot;
  // The workers, started after this, and every process they start inherit it.
  process.env.TMPDIR = runRoot;
  const existing = process.env.AZURITE_TABLE_PORT;
  if (existing && (await answers(Number(existing)))) {
    process.env.TEST_STORAGE_CONNECTION = azuriteConnectionString('127.0.0.1', Number(existing));
    return;
  }
  const azurite = await startAzurite({ port: 0 });
  process.env.TEST_STORAGE_CONNECTION = azurite.connectionString;
  (globalThis as { __azurite__?: { close(): Promise<void> } }).__azurite__ = azurite;
}

async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

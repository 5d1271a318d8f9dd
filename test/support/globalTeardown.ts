import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __azurite__?: { close(): Promise<void> } }).__azurite__?.close();
  const runRoot = process.env.CMG_TEST_TMP_ROOT;
  if (runRoot) rmSync(runRoot, { recursive: true, force: true, maxRetries: 3 });
}

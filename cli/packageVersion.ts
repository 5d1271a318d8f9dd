import { readFile } from 'node:fs/promises';

/** The version in package.json, read next to the built CLI (dist/cli → the package root). */
export async function packageVersion(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version?: string }).version ?? 'unknown';
}

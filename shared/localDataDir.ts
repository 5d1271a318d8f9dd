import { join, resolve } from 'node:path';

/**
 * Where the local host (`npm start`) keeps its data — the signing key, the admin key and
 * Azurite's files — and where the CLIs look for that admin key: LOCAL_DATA_DIR, else
 * `.local`, relative to the current folder. One resolver, so the two can never disagree.
 */
export function localDataDir(env: Record<string, string | undefined>, cwd: string = process.cwd()): string {
  return resolve(cwd, env.LOCAL_DATA_DIR || '.local');
}

/** The local host's admin key file inside its data folder. */
export function localAdminKeyFile(dataDir: string): string {
  return join(dataDir, 'admin-key');
}

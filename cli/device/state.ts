import { readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkPrivateFolder, ensurePrivateFolder, UnsafeFolderError, writePrivateFile } from '../../shared/fs/privateFile.js';
import { CliError, exitCodes } from '../cliError.js';
import type { DeviceIdentity } from './identity.js';

/** What the device keeps between runs, besides its key and certificate. */
export interface TokenState {
  url: string;
  deviceId: string;
  token: string;
  expiresAt: string;
  renewAfter: string;
  registration: 'internal' | 'bulk';
  /** The name given with --name, told to the service again on every renewal. */
  name?: string;
}

/** An internal registration an administrator has not approved yet. */
export interface PendingState {
  url: string;
  deviceId: string;
  /** When the device first asked. */
  since: string;
  /** The name given with --name. */
  name?: string;
}

const files = { key: 'device-key.pem', certificate: 'device-cert.pem', token: 'token.json', pending: 'pending.json' } as const;

/** The per-user default: $XDG_STATE_HOME (or ~/.local/state) on Unix, %LOCALAPPDATA% on Windows. */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  if (process.platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'cmg-client');
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'cmg-client');
}

/**
 * The state folder: created 0700 when cmg-client creates it, every file in it 0600, every
 * write atomic. An existing folder is never changed: one writable by group or others, or
 * owned by another user, is refused before anything is read from it or written to it —
 * whoever can write there could swap the device's key or token. So is one reached through
 * a folder (or symlink) others can change (shared/fs/privateFile.ts).
 */
export class DeviceState {
  constructor(readonly dir: string) {}

  /** Creates the folder if missing; refuses an unsafe one. */
  async ensure(): Promise<void> {
    await this.guard(() => ensurePrivateFolder(this.dir));
  }

  /** Whether the folder exists; refuses an unsafe one. */
  async exists(): Promise<boolean> {
    return this.guard(() => checkPrivateFolder(this.dir));
  }

  async loadIdentity(): Promise<DeviceIdentity | undefined> {
    if (!(await this.exists())) return undefined;
    const [key, certificate] = await Promise.all([this.read(files.key), this.read(files.certificate)]);
    if (key === undefined || certificate === undefined) return undefined;
    // Loaded when needed: the key libraries cost more start-up time than the rest of the CLI.
    const { identityFromPem } = await import('./identity.js');
    try {
      return identityFromPem(key, certificate);
    } catch (error) {
      throw this.damaged(`${files.key} or ${files.certificate}`, error);
    }
  }

  async saveIdentity(identity: DeviceIdentity): Promise<void> {
    await this.ensure();
    const { identityToPem } = await import('./identity.js');
    const { privateKeyPem, certificatePem } = identityToPem(identity);
    await writePrivateFile(join(this.dir, files.key), privateKeyPem);
    await writePrivateFile(join(this.dir, files.certificate), certificatePem);
  }

  async loadToken(): Promise<TokenState | undefined> {
    return this.loadJson<TokenState>(files.token);
  }

  /** Saves the token; a registration that was pending is not any more. */
  async saveToken(state: TokenState): Promise<void> {
    await this.ensure();
    await writePrivateFile(join(this.dir, files.token), `${JSON.stringify(state, null, 2)}\n`);
    await unlink(join(this.dir, files.pending)).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
  }

  async loadPending(): Promise<PendingState | undefined> {
    return this.loadJson<PendingState>(files.pending);
  }

  async savePending(state: PendingState): Promise<void> {
    await this.ensure();
    await writePrivateFile(join(this.dir, files.pending), `${JSON.stringify(state, null, 2)}\n`);
  }

  /** Whether any of the device's files is in the folder (damaged or not). */
  async hasFiles(): Promise<boolean> {
    if (!(await this.exists())) return false;
    const present = await Promise.all(Object.values(files).map((name) => this.read(name).then((text) => text !== undefined)));
    return present.some(Boolean);
  }

  /** Removes the key, certificate, token and pending registration; the folder stays. */
  async clear(): Promise<void> {
    if (!(await this.exists())) return;
    // The token first: a reset cut short must not leave a token without its key looking valid.
    for (const name of [files.token, files.pending, files.key, files.certificate]) {
      await unlink(join(this.dir, name)).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
  }

  private async loadJson<T>(name: string): Promise<T | undefined> {
    if (!(await this.exists())) return undefined;
    const text = await this.read(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw this.damaged(name, error);
    }
  }

  private damaged(name: string, cause: unknown): CliError {
    return new CliError(`the device state in ${this.dir} is damaged: ${name} cannot be read`, exitCodes.notRegistered, {
      hint: `register again with another --state folder, or remove ${this.dir}`,
      cause,
    });
  }

  private async guard<T>(check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (!(error instanceof UnsafeFolderError)) throw error;
      const hint =
        error.reason === 'writable-by-others'
          ? `use a folder only you can write to, on a path only you (or root) can change: chmod go-w ${error.dir}, or pass --state <a new folder> (cmg-client creates it 0700)`
          : error.reason === 'other-owner'
            ? 'run cmg-client as that user, or pass --state <a folder of yours>'
            : 'pass --state <a folder>';
      const why = error.reason === 'not-a-folder' ? '' : '; whoever can write there could swap the device key or token';
      throw new CliError(`refusing the state folder: ${error.message}${why}`, exitCodes.usage, { hint, cause: error });
    }
  }

  private async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

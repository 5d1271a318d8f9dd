import { chmod, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writePrivateFile } from '../../shared/fs/privateFile.js';
import { identityFromPem, identityToPem, type DeviceIdentity } from './identity.js';

/** What the device keeps between runs, besides its key and certificate. */
export interface TokenState {
  url: string;
  deviceId: string;
  token: string;
  expiresAt: string;
  renewAfter: string;
  registration: 'internal' | 'bulk';
}

const files = { key: 'device-key.pem', certificate: 'device-cert.pem', token: 'token.json' } as const;

/** The per-user default: $XDG_STATE_HOME (or ~/.local/state) on Unix, %LOCALAPPDATA% on Windows. */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  if (process.platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'cmg-client');
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'cmg-client');
}

/** The state folder: private to the user (0700), every file in it 0600, every write atomic. */
export class DeviceState {
  constructor(readonly dir: string) {}

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // mkdir leaves an existing folder's mode alone; the key lives here, so tighten it.
    await chmod(this.dir, 0o700);
  }

  async loadIdentity(): Promise<DeviceIdentity | undefined> {
    const [key, certificate] = await Promise.all([this.read(files.key), this.read(files.certificate)]);
    if (key === undefined || certificate === undefined) return undefined;
    return identityFromPem(key, certificate);
  }

  async saveIdentity(identity: DeviceIdentity): Promise<void> {
    await this.ensure();
    const { privateKeyPem, certificatePem } = identityToPem(identity);
    await writePrivateFile(join(this.dir, files.key), privateKeyPem);
    await writePrivateFile(join(this.dir, files.certificate), certificatePem);
  }

  async loadToken(): Promise<TokenState | undefined> {
    const text = await this.read(files.token);
    return text === undefined ? undefined : (JSON.parse(text) as TokenState);
  }

  async saveToken(state: TokenState): Promise<void> {
    await this.ensure();
    await writePrivateFile(join(this.dir, files.token), `${JSON.stringify(state, null, 2)}\n`);
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

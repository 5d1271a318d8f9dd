import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityFromPem, signProof, type DeviceIdentity, type ProofOptions } from '../../cli/device/identity.js';
import type { CallOptions } from './invoke.js';

export const serviceUrl = 'http://localhost:7071';

/** A device identity made with the openssl command line, as an administrator might script it. */
export function opensslIdentity(keyArgs: string[] = ['-newkey', 'rsa:2048']): DeviceIdentity & { certificateFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cmg-openssl-'));
  const keyFile = join(dir, 'device.key');
  const certificateFile = join(dir, 'device.crt');
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', certificateFile, '-days', '30', '-subj', '/CN=openssl-device'], {
    stdio: 'ignore',
  });
  return { ...identityFromPem(readFileSync(keyFile, 'utf8'), readFileSync(certificateFile, 'utf8')), certificateFile };
}

/** A device request to `path` with a fresh proof (and the bearer token, if any). */
export async function deviceCall(
  identity: DeviceIdentity,
  path: string,
  options: { bearer?: string; proof?: Partial<ProofOptions>; now?: number } = {},
): Promise<CallOptions> {
  const proof = await signProof(identity, {
    method: 'POST',
    url: `${serviceUrl}${path}`,
    ...(options.bearer === undefined ? {} : { bearerToken: options.bearer }),
    ...(options.now === undefined ? {} : { iat: options.now }),
    ...options.proof,
  });
  return {
    path,
    headers: options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` },
    body: { proof },
  };
}

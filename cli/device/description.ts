import { hostname, release, type, version } from 'node:os';
import type { DeviceDescription } from './deviceClient.js';

// eslint-disable-next-line no-control-regex -- control characters are what the service refuses
const control = /[\u0000-\u001f\u007f-\u009f]/g;

/** At most `max` characters, without control characters, trimmed; undefined when nothing is left. */
function fit(text: string, max: number): string | undefined {
  const cleaned = Array.from(text.replace(control, ' ').trim()).slice(0, max).join('').trim();
  return cleaned === '' ? undefined : cleaned;
}

/** The OS as an administrator reads it: "Windows 11 Pro 10.0.22631", "Linux 6.1.0-18-amd64", "Darwin 23.1.0". */
export function operatingSystem(): string {
  return process.platform === 'win32' ? `${version()} ${release()}` : `${type()} ${release()}`;
}

/**
 * What cmg-client tells the service about this device on register and renew: a name (the
 * one given, else the host name), the OS and its own version, each within the service's
 * limits so a long host name never fails a registration.
 */
export function describeThisDevice(name: string | undefined, clientVersion: string | undefined): DeviceDescription {
  const description: DeviceDescription = {};
  const chosen = fit(name ?? hostname(), 64);
  if (chosen !== undefined) description.name = chosen;
  const os = fit(operatingSystem(), 128);
  if (os !== undefined) description.os = os;
  if (clientVersion !== undefined && /^[0-9A-Za-z.+-]{1,32}$/.test(clientVersion)) description.clientVersion = clientVersion;
  return description;
}

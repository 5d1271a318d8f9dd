import { guidPattern } from '../shared/guid.js';
import { usageError } from './cliError.js';

/**
 * Checks of command-line values, run before anything is sent or written. Each failure is a
 * usage error (exit 2) that names the option as the user wrote it and the value given.
 */

/**
 * Ports the Fetch standard ("port blocking") forbids: node's fetch refuses them with a bare
 * "bad port" before connecting, so they are caught here with an explanation instead.
 */
export const fetchBlockedPorts: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115,
  117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601,
  636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697,
  10080,
]);

/** The service's base URL: http or https, a host, a usable port, nothing after the path. */
export function serviceUrl(text: string, source: string): string {
  const shown = JSON.stringify(text);
  const example = 'such as http://localhost:7071 or https://<app>.azurewebsites.net';
  if (text.trim() === '') throw usageError(`${source} is empty`, `give the service URL, ${example}`);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const guess = /^[\w.-]+(:\d+)?(\/.*)?$/.test(text) ? `did you mean http://${text}?` : `give the whole URL, ${example}`;
    throw usageError(`${source} must start with http:// or https:// (got ${shown})`, guess);
  }
  const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*):([^/?#]*)/i.exec(text)?.[1];
  if (port !== undefined && port !== '' && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw usageError(`${source} has port ${JSON.stringify(port)}; a port is a number from 1 to 65535 (got ${shown})`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`${source} is not a valid URL (got ${shown})`, `give the whole URL, ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${source} must be an http:// or https:// URL (got ${shown})`, `give the whole URL, ${example}`);
  }
  if (url.hostname === '') throw usageError(`${source} has no host name (got ${shown})`, example);
  if (url.username !== '' || url.password !== '') {
    throw usageError(`${source} must not carry a user name or password (got a URL with "@")`, 'pass the admin credential with --admin-key or CMG_ADMIN_KEY');
  }
  if (url.search !== '' || url.hash !== '') throw usageError(`${source} must not have a query or fragment (got ${shown})`, example);
  // The CLIs add /api/ themselves (the Functions route prefix); a URL that ends in it would ask /api/api/….
  if (/\/api\/?$/i.test(url.pathname)) {
    throw usageError(`${source} ends in /api, which the CLIs add themselves (got ${shown})`, `did you mean ${url.origin}${url.pathname.replace(/\/api\/?$/i, '')}?`);
  }
  const effectivePort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (fetchBlockedPorts.has(effectivePort)) {
    throw usageError(
      `${source} uses port ${effectivePort}, which fetch refuses to connect to (a "bad port" of the Fetch standard)`,
      'run the service on another port, such as 7071 (npm start) or 443',
    );
  }
  return url.toString();
}

/** A whole number within the range the help states. */
export function wholeNumberIn(text: string, flag: string, min: number, max: number, unit: string): number {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw usageError(`${flag} must be a whole number from ${min} to ${max}${unit} (got ${JSON.stringify(text)})`);
  }
  return value;
}

/** An id the service issued: a GUID. */
export function guid(text: string, what: string, listCommand = 'bulk-registration-token list'): string {
  if (!guidPattern.test(text)) {
    throw usageError(`${what} must be a GUID such as 3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a (got ${JSON.stringify(text)})`, `${listCommand} shows the ids`);
  }
  return text.toLowerCase();
}

export function oneOf<T extends string>(text: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw usageError(`${flag} must be ${choices.join(' or ')} (got ${JSON.stringify(text)})`);
  return text as T;
}

/** A compact JWS (three base64url parts), as bulk registration tokens are. */
export function compactJws(text: string, flag: string, what: string): string {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text)) {
    const looksLikeId = guidPattern.test(text) ? '; that is a tracking GUID, not the token' : '';
    throw usageError(`${flag} must be ${what}: three base64url parts joined by dots${looksLikeId}`, 'use the token printed by bulk-registration-token new');
  }
  return text;
}

export function nonEmpty(text: string, flag: string): string {
  if (text.trim() === '') throw usageError(`${flag} is empty`);
  return text;
}

/** Loopback: what never leaves the machine, so http:// there carries nothing across a network. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^(?:::ffff:)?(\d+)\.\d+\.\d+\.\d+$/.exec(host);
  return v4 !== null && v4[1] === '127';
}

/**
 * Refuses http:// to anything but loopback unless the user said `--allow-http`: the request
 * would carry `what` (the admin credential, a bulk or device token) in clear across a network.
 */
export function refuseCleartext(url: string, source: string, allowHttp: boolean, what: string): void {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || allowHttp || isLoopbackHost(parsed.hostname)) return;
  throw usageError(
    `${source} is http:// to ${parsed.hostname}, which is not this machine: ${what} would travel in clear`,
    `use https://${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}, or pass --allow-http if the network in between is yours`,
  );
}

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { ServiceError } from '../shared/errors.js';
import { printable } from './hostRequest.js';

/**
 * What keeps web pages out of the local host. A page a developer opens can reach it in two
 * ways the Functions host in Azure never meets (there, the front end routes by name and the
 * admin API takes the master key):
 *
 * - DNS rebinding: a page on evil.example re-points its own name at 127.0.0.1, and the
 *   browser then sends it requests - and reads the answers - as same-origin, with
 *   `Host: evil.example`. So the local host answers only requests whose Host names it: the
 *   loopback names, the configured HOST and, when HOST is a wildcard (0.0.0.0, ::), any IP
 *   address (an address is never a re-pointed name: a page at an address is that address's
 *   own origin).
 * - Cross-site requests: any page can send a "simple" POST (text/plain, a form, no body) to
 *   http://127.0.0.1:7071 without reading the answer. Harmless on /api, whose state-changing
 *   routes take a bearer credential a page does not have, but POST /admin/functions/<name>
 *   needs none on loopback. So that API refuses what a browser marks as coming from another
 *   site (Origin other than the host's own, Sec-Fetch-Site other than same-origin or none);
 *   curl sends neither. A body that is not JSON - all a simple request can carry - gets the
 *   host's own 415 besides (adminApi.ts).
 */

/** A wildcard HOST listens on every address, so a request may name any of them. */
function isWildcard(hostSetting: string): boolean {
  return hostSetting === '0.0.0.0' || hostSetting === '::' || hostSetting === '[::]';
}

/** The Host header's name without its port, lower case; an IPv6 address keeps its brackets. */
export function hostName(host: string): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return name.toLowerCase();
}

/** Whether the local host answers to `name` (from hostName), given the HOST setting. */
export function isOwnName(name: string, hostSetting: string | undefined): boolean {
  if (name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return true;
  if (hostSetting === undefined || hostSetting === '') return false;
  const setting = hostSetting.toLowerCase();
  if (isWildcard(setting)) return isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;
  return name === (isIP(setting) === 6 ? `[${setting}]` : setting);
}

/** A 400 for a request whose Host is not one of the local host's names; undefined otherwise. */
export function foreignHostRefusal(host: string, hostSetting: string | undefined): ServiceError | undefined {
  const name = hostName(host);
  if (isOwnName(name, hostSetting)) return undefined;
  const names = ['localhost', '127.0.0.1', '[::1]', ...(hostSetting ? [`HOST (${hostSetting})`] : [])].join(', ');
  return new ServiceError(
    'invalid_request',
    `the Host header ${printable(name)} is not a name of this local host (${names}); a page whose name was re-pointed at this machine (DNS rebinding) is refused`,
  );
}

/** A 403 for a request to the admin API that a browser sent from another site; undefined otherwise. */
export function crossSiteRefusal(req: IncomingMessage, host: string): ServiceError | undefined {
  const origin = req.headersDistinct.origin;
  if (origin !== undefined && !(origin.length === 1 && origin[0]?.toLowerCase() === `http://${host.toLowerCase()}`)) {
    return new ServiceError('forbidden', `POST /admin/functions/<name> does not take requests from web pages of another origin (Origin ${printable(origin.join(','))})`);
  }
  const site = req.headersDistinct['sec-fetch-site'];
  if (site !== undefined && !(site.length === 1 && (site[0] === 'same-origin' || site[0] === 'none'))) {
    return new ServiceError('forbidden', `POST /admin/functions/<name> does not take requests from web pages of another origin (Sec-Fetch-Site ${printable(site.join(','))})`);
  }
  // A body that is not JSON (what a form or a no-cors fetch can send) is the host's own empty
  // 415 (adminApi.ts), as in Azure.
  return undefined;
}

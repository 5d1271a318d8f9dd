import type { HttpRequest } from '@azure/functions';
import { isIP } from 'node:net';

/**
 * The caller's address as the platform saw it. Azure's front end appends the address of the
 * connection it accepted to X-Forwarded-For (the local host does the same), so only the LAST
 * entry is the platform's word; anything to its left was written by the caller and is
 * ignored. Returns undefined when the header is absent or its last entry is not an address.
 */
export function callerAddress(request: HttpRequest): string | undefined {
  const header = request.headers.get('x-forwarded-for');
  if (!header) return undefined;
  const last = header.split(',').pop()?.trim() ?? '';
  return stripPort(last);
}

function stripPort(entry: string): string | undefined {
  if (isIP(entry) !== 0) return normalizeMapped(entry);
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed?.[1] && isIP(bracketed[1]) === 6) return normalizeMapped(bracketed[1]);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(entry);
  if (v4WithPort?.[1] && isIP(v4WithPort[1]) === 4) return v4WithPort[1];
  return undefined;
}

/** ::ffff:10.1.2.3 (an IPv4 caller on a dual-stack socket) is matched as 10.1.2.3. */
function normalizeMapped(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { RpcHttpData, RpcNullableString } from './invocation.js';
import { removeDotSegments } from './pathNormalizer.js';
import { joinStringValues } from './stringValues.js';

/**
 * What the Functions host makes of an HTTP request before a function sees it, from
 * azure-functions-host src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs
 * (ToRpcHttp), with the capabilities the Node.js worker declares (RawHttpBodyBytes,
 * RpcHttpBodyOnly, UseNullableValueDictionaryForHttp):
 * - the URL is scheme://Host + path + query, the path with its dot segments removed as Kestrel
 *   removes them (pathNormalizer.ts);
 * - header names lower-cased, a repeated header's values joined with "," skipping empty ones
 *   (StringValues, stringValues.ts);
 * - a repeated query key's values joined alike: `?status=a&status=b` arrives as "a,b",
 *   `?status=&status=active` as "active"; keys that differ only in case are one key;
 * - route values decoded except `%2F` (routes.ts);
 * - the body, as bytes, only when Content-Length is above zero: a chunked body never arrives.
 */

/** A request the local host refuses before routing, with the reason for a 400 problem. */
export class MalformedRequest extends Error {}

export interface RequestTarget {
  /** The Host header as received (validated). */
  host: string;
  /** The path, still percent-encoded. */
  rawPath: string;
  /** The query string with its `?`, or ''. */
  rawQuery: string;
}

/**
 * The request's Host and target, or a MalformedRequest naming what is wrong: a Host that
 * is empty, has user info, a bad port or characters no host name has; a target that is not
 * a path (`*`, or an absolute URL naming another host).
 */
export function requestTarget(req: IncomingMessage): RequestTarget {
  const hosts = req.headersDistinct.host ?? [];
  if (hosts.length !== 1) throw new MalformedRequest(hosts.length === 0 ? 'the request has no Host header' : 'the request has more than one Host header');
  const host = hosts[0] ?? '';
  if (!validHost(host)) throw new MalformedRequest(`the Host header ${printable(host)} is not a host name or address with an optional port`);
  let target = req.url ?? '';
  if (/^https?:\/\//i.test(target)) {
    // Absolute form (a proxy's request): its path and query, if it names this same host.
    let absolute: URL;
    try {
      absolute = new URL(target);
    } catch {
      throw new MalformedRequest('the request target is not a valid URL');
    }
    if (absolute.host.toLowerCase() !== new URL(`http://${host}`).host.toLowerCase()) throw new MalformedRequest('the request target names another host than Host');
    target = `${absolute.pathname}${absolute.search}`;
  }
  if (!target.startsWith('/')) throw new MalformedRequest(`the request target ${printable(target)} is not a path`);
  const queryAt = target.indexOf('?');
  const sentPath = queryAt < 0 ? target : target.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : target.slice(queryAt);
  if (/%(?![0-9A-Fa-f]{2})/.test(sentPath)) throw new MalformedRequest('the path has a "%" that does not start a percent-escape');
  return { host, rawPath: removeDotSegments(sentPath), rawQuery };
}

/** RFC 9110 Host: reg-name, IPv4 or [IPv6], then an optional port of at most 65535. */
export function validHost(value: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(value);
  if (!match) return false;
  const [, name = '', port] = match;
  if (port !== undefined && (port === '' || port.length > 5 || Number(port) > 65535)) return false;
  if (name.startsWith('[')) return isIP(name.slice(1, -1)) === 6;
  if (name === '') return false;
  return /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/.test(name) && !/[!$&'()*+,;=]/.test(name);
}

/** The RpcHttp data the host would send for this request (body added by the caller). */
export function rpcHttpRequest(
  req: IncomingMessage,
  target: RequestTarget,
  params: Record<string, string>,
  body: Uint8Array | undefined,
): RpcHttpData {
  const headers: Record<string, RpcNullableString> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values === undefined) continue;
    headers[name.toLowerCase()] = { value: joinStringValues(values) };
  }
  // Azure's front end appends the address and port of the connection it accepted to
  // X-Forwarded-For; the local host plays that part (docs/decisions/0005-caller-address.md).
  const peer = formatPeer(req.socket.remoteAddress ?? '', req.socket.remotePort);
  const forwarded = headers['x-forwarded-for']?.value;
  headers['x-forwarded-for'] = { value: forwarded ? `${forwarded}, ${peer}` : peer };

  const query: Record<string, RpcNullableString> = {};
  for (const [key, values] of parseQuery(target.rawQuery)) query[key] = { value: joinStringValues(values) };

  const nullableParams: Record<string, RpcNullableString> = {};
  for (const [key, value] of Object.entries(params)) nullableParams[key] = { value };

  return {
    method: req.method ?? 'GET',
    url: `http://${target.host}${target.rawPath}${target.rawQuery}`,
    nullableHeaders: headers,
    nullableQuery: query,
    nullableParams,
    ...(body !== undefined && body.byteLength > 0 ? { body: { bytes: body } } : {}),
  };
}

/** `ip:port`, IPv6 as `[addr]:port`, as Azure's front end writes X-Forwarded-For entries. */
export function formatPeer(address: string, port: number | undefined): string {
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

/**
 * ASP.NET Core's query parsing (QueryHelpers.ParseQuery): `&`-separated, `+` is a space,
 * escapes decoded (an invalid one kept as sent), a key without `=` has the empty value,
 * values grouped by key in order. Keys are grouped case-insensitively under their first
 * spelling: dotnet/aspnetcore src/Http/Http/src/Features/QueryFeature.cs (commit d1a4541),
 * KvpAccumulator.Append: `new AdaptiveCapacityDictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase)`.
 */
export function parseQuery(rawQuery: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const spelling = new Map<string, string>();
  const text = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const sent = unescapeQuery(equals < 0 ? pair : pair.slice(0, equals));
    const folded = sent.toUpperCase();
    const key = spelling.get(folded) ?? sent;
    spelling.set(folded, key);
    const value = equals < 0 ? '' : unescapeQuery(pair.slice(equals + 1));
    result.set(key, [...(result.get(key) ?? []), value]);
  }
  return result;
}

function unescapeQuery(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

export function printable(text: string, max = 60): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > max ? `${clean.slice(0, max)}…` : clean);
}

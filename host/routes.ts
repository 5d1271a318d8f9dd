import { triggerOf, type FunctionRegistration } from './functionsCore.js';

/** The Functions host's default route prefix (host.json `extensions.http.routePrefix`). */
export const routePrefix = 'api';

export interface HttpRoute {
  registration: FunctionRegistration;
  /** Upper-case methods; undefined means every method (no constraint), as in the host. */
  methods: readonly string[] | undefined;
  template: string;
  segments: readonly Segment[];
}

type Segment = { literal: string } | { param: string; catchAll: boolean; optional: boolean };

/**
 * The HTTP routes in the order the Functions host (4.1037) tries them. The host lists its
 * functions ordered by name, ordinal and case-insensitive (azure-functions-host,
 * src/WebJobs.Script/Host/FunctionMetadataManager.cs), maps one route per HTTP function in
 * that order (WebScriptHostHttpRoutesManager.InitializeHttpFunctionRoutes), and its router
 * (Microsoft.Azure.WebJobs.Extensions.Http 3.2.0, WebJobsRouteBuilder.Build) tries them in
 * exactly that order: the first route whose template matches and whose method constraint
 * (HttpMethodRouteConstraint) accepts the request's method wins. No ranking by specificity,
 * and a wrong method is simply no match.
 */
export function httpRoutes(registrations: readonly FunctionRegistration[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const registration of hostOrder(registrations)) {
    const trigger = triggerOf(registration);
    if (trigger?.type !== 'httpTrigger') continue;
    // As in the host: no route means the function's name; no methods means all of them.
    const template = trigger.route ?? registration.name;
    routes.push({
      registration,
      methods: trigger.methods?.map((method) => method.toUpperCase()),
      template,
      segments: parseTemplate(template),
    });
  }
  return routes;
}

/** Function names ordered as the host orders them (StringComparer.OrdinalIgnoreCase). */
export function hostOrder<T extends { name: string }>(items: readonly T[]): T[] {
  const key = (name: string) => name.toUpperCase();
  return [...items].sort((a, b) => (key(a.name) < key(b.name) ? -1 : key(a.name) > key(b.name) ? 1 : 0));
}

function parseTemplate(template: string): Segment[] {
  return template
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      if (!part.includes('{')) return { literal: part.toLowerCase() };
      const param = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(\??)\}$/.exec(part);
      // Inline constraints, defaults and mixed segments are ASP.NET routing features the
      // function files do not use; refusing them keeps this matcher honest about the host's.
      if (!param) throw new Error(`route template segment "${part}" is not supported by the local host`);
      return { param: param[2] ?? '', catchAll: param[1] === '*', optional: param[3] === '?' };
    });
}

/**
 * Matches a request path below `/api/` (without the prefix, still percent-encoded) and a
 * method against the routes in host order; undefined when nothing matches (the host's
 * empty 404). Route values are decoded as the host decodes a path: every escape except
 * `%2F`, which stays encoded so a value can never add a segment.
 */
export function matchRoute(
  routes: readonly HttpRoute[],
  method: string,
  rawPath: string,
): { route: HttpRoute; params: Record<string, string> } | undefined {
  // A trailing slash matches the route without it, as in ASP.NET routing.
  const trimmed = rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  const parts = trimmed === '' ? [] : trimmed.split('/');
  const upper = method.toUpperCase();
  for (const route of routes) {
    const params = matchSegments(route.segments, parts);
    if (!params) continue;
    if (route.methods && !route.methods.includes(upper)) continue;
    return { route, params };
  }
  return undefined;
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (!segment) return undefined;
    const part = parts[i];
    if ('literal' in segment) {
      if (part === undefined || decodePathSegment(part).toLowerCase() !== segment.literal) return undefined;
      continue;
    }
    if (segment.catchAll) {
      const rest = parts.slice(i).map(decodePathSegment).join('/');
      // An empty catch-all has no value; the host passes no parameter for it.
      if (rest !== '') params[segment.param] = rest;
      return params;
    }
    if (part === undefined || part === '') {
      if (segment.optional && part === undefined) continue;
      return undefined;
    }
    params[segment.param] = decodePathSegment(part);
  }
  return parts.length === segments.length || (parts.length < segments.length && segments.slice(parts.length).every(isOptional)) ? params : undefined;
}

function isOptional(segment: Segment): boolean {
  return 'param' in segment && (segment.optional || segment.catchAll);
}

/**
 * Decodes one path segment as Kestrel decodes a request path: every percent-escape except
 * `%2F`, which stays as it was sent; a segment whose escapes are not valid UTF-8 is left
 * as sent.
 */
export function decodePathSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return segment
      .split(/(%2[Ff])/)
      .map((piece) => (/^%2[Ff]$/.test(piece) ? piece : decodeURIComponent(piece)))
      .join('');
  } catch {
    return segment;
  }
}

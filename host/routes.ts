import { triggerOf, type FunctionRegistration } from './functionsCore.js';

/** The Functions host's default route prefix (host.json `extensions.http.routePrefix`). */
export const routePrefix = 'api';

export interface HttpRoute {
  name: string;
  methods: readonly string[];
  template: string;
  segments: readonly Segment[];
  handler: FunctionRegistration['handler'];
}

type Segment = { literal: string } | { param: string; catchAll: boolean };

export function httpRoutes(registrations: readonly FunctionRegistration[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const registration of registrations) {
    const trigger = triggerOf(registration);
    if (trigger?.type !== 'httpTrigger') continue;
    // As in the host: no route means the function's name; no methods means all of them.
    const template = trigger.route ?? registration.name;
    routes.push({
      name: registration.name,
      methods: (trigger.methods ?? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']).map((m) => m.toUpperCase()),
      template,
      segments: parseTemplate(template),
      handler: registration.handler,
    });
  }
  // Literal segments win over parameters, as in ASP.NET routing.
  return routes.sort((a, b) => specificity(b) - specificity(a));
}

function parseTemplate(template: string): Segment[] {
  return template
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      const param = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\??\}$/.exec(part);
      return param ? { param: param[2] ?? '', catchAll: param[1] === '*' } : { literal: part.toLowerCase() };
    });
}

function specificity(route: HttpRoute): number {
  return route.segments.reduce((score, segment) => score * 2 + ('literal' in segment ? 1 : 0), 1);
}

export type RouteMatch =
  | { kind: 'found'; route: HttpRoute; params: Record<string, string> }
  | { kind: 'wrong-method'; allowed: string[] }
  | { kind: 'none' };

/** Matches a path below `/api/` (without the prefix) and a method. */
export function matchRoute(routes: readonly HttpRoute[], method: string, path: string): RouteMatch {
  const parts = path.split('/').filter((part) => part !== '');
  const allowed: string[] = [];
  for (const route of routes) {
    const params = matchSegments(route.segments, parts);
    if (!params) continue;
    if (route.methods.includes(method)) return { kind: 'found', route, params };
    allowed.push(...route.methods);
  }
  return allowed.length > 0 ? { kind: 'wrong-method', allowed: [...new Set(allowed)] } : { kind: 'none' };
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (!segment) return undefined;
    if ('literal' in segment) {
      if (parts[i]?.toLowerCase() !== segment.literal) return undefined;
      continue;
    }
    if (segment.catchAll) {
      params[segment.param] = parts.slice(i).map(decode).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    params[segment.param] = decode(part);
  }
  return parts.length === segments.length ? params : undefined;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

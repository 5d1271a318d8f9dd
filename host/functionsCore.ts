/**
 * Stands in for the Functions host's `@azure/functions-core` module. `@azure/functions`
 * loads that module at its first `app.*` call and hands it every registration (name,
 * bindings with route, methods and schedule, and the handler) with the library's own
 * defaults. Providing it lets the local host serve exactly what the function files register,
 * with no second table of routes to keep in step.
 */

export interface BindingInfo {
  type: string;
  direction: 'in' | 'out';
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
  [key: string]: unknown;
}

export interface FunctionRegistration {
  name: string;
  bindings: Record<string, BindingInfo>;
  handler: (...args: unknown[]) => unknown;
}

const registrations = new Map<string, FunctionRegistration>();

export function registerFunction(
  metadata: { name: string; bindings: Record<string, BindingInfo> },
  handler: (...args: unknown[]) => unknown,
): { dispose(): void } {
  if (registrations.has(metadata.name)) {
    throw new Error(`a function named "${metadata.name}" is registered twice`);
  }
  registrations.set(metadata.name, { name: metadata.name, bindings: metadata.bindings, handler });
  return { dispose: () => registrations.delete(metadata.name) };
}

let programmingModel: unknown;
export function setProgrammingModel(model: unknown): void {
  programmingModel = model;
}
export function getProgrammingModel(): unknown {
  return programmingModel;
}

/** Hooks are not used by this project; accepted so the library's API works. */
export function registerHook(): { dispose(): void } {
  return { dispose: () => undefined };
}

/** Everything registered so far, in registration order. */
export function registeredFunctions(): FunctionRegistration[] {
  return [...registrations.values()];
}

export function triggerOf(registration: FunctionRegistration): BindingInfo | undefined {
  return Object.values(registration.bindings).find((binding) => binding.direction === 'in' && binding.type.endsWith('Trigger'));
}

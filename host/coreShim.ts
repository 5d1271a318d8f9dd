import Module from 'node:module';
import * as functionsCore from './functionsCore.js';

/**
 * Makes `require('@azure/functions-core')` (done by @azure/functions at its first `app.*`
 * call) return the local host's registry, as the Functions worker does for its own.
 * Must run before any function file is imported.
 */
export function provideFunctionsCore(): void {
  // Module._load is not in node's type declarations; it is the hook every require goes through.
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const originalLoad = loader._load;
  loader._load = function load(this: unknown, request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return functionsCore;
    return originalLoad.call(this, request, ...rest);
  };
}

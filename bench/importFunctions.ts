/**
 * Child process of the start-up bench: imports every compiled function file (as the local
 * host does, through its stand-in for @azure/functions-core), or the modules named by
 * --only, and prints how long the imports took as JSON. Run it in a fresh node process.
 *
 *   node dist/bench/importFunctions.js [--only SPECIFIER]
 */
const started = performance.now();
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { provideFunctionsCore } from '../host/coreShim.js';

const only = process.argv.indexOf('--only');
const setupMs = performance.now() - started;
const importStarted = performance.now();
let count = 0;
if (only >= 0) {
  await import(process.argv[only + 1] ?? '');
  count = 1;
} else {
  provideFunctionsCore();
  const functionsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'functions');
  for (const file of (await readdir(functionsDir)).filter((name) => name.endsWith('.js')).sort()) {
    await import(pathToFileURL(join(functionsDir, file)).href);
    count++;
  }
}
console.log(JSON.stringify({ importMs: performance.now() - importStarted, setupMs, count }));

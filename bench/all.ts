/**
 * `npm run bench`: throughput, latency, start-up and memory of the service on this machine.
 * Each part prints one Markdown table; docs/performance.md explains them.
 *
 *   npm run bench -- --help
 */
import { parseOptions, UsageError } from './options.js';

try {
  const options = parseOptions(process.argv.slice(2));
  // Loaded only once the options are good, so that a usage error answers at once.
  const { runParts } = await import('./runParts.js');
  process.exitCode = (await runParts(options)) ? 0 : 1;
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`bench: ${error.message}; run npm run bench -- --help`);
    process.exitCode = 2;
  } else {
    console.error(error);
    process.exitCode = 1;
  }
}

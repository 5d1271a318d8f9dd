#!/usr/bin/env node
import { runClientCommand } from './cmgClientCommand.js';
import { CliError } from './serviceClient.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

try {
  process.exitCode = await runClientCommand(process.argv.slice(2), {
    env: process.env,
    out: (line) => console.log(line),
    log: (line) => console.error(`${new Date().toISOString()} cmg-client: ${line}`),
    signal: stop.signal,
  });
} catch (error) {
  if (error instanceof CliError) {
    console.error(`cmg-client: ${error.message}`);
    process.exitCode = error.exitCode;
  } else if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    console.error(`cmg-client: ${error.message}; run with --help`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}

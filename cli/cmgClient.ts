#!/usr/bin/env node
import { createInterface } from 'node:readline/promises';
import { runClientCommand } from './cmgClientCommand.js';
import { packageVersion } from './packageVersion.js';
import { runCli } from './runCli.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

/** Asks on the terminal: the question on stderr (stdout stays the command's output), the answer from stdin. */
async function ask(question: string): Promise<string> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await terminal.question(question);
  } finally {
    terminal.close();
  }
}

const argv = process.argv.slice(2);
process.exitCode = await runCli('cmg-client', argv, process.env, async () =>
  runClientCommand(argv, {
    env: process.env,
    out: (line) => console.log(line),
    log: (line) => console.error(`${new Date().toISOString()} cmg-client: ${line}`),
    signal: stop.signal,
    version: await packageVersion(),
    isTerminal: process.stdin.isTTY && process.stderr.isTTY,
    ask,
  }),
);

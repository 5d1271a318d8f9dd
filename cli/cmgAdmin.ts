#!/usr/bin/env node
import { createInterface } from 'node:readline/promises';
import { runAdminCommand } from './adminCommand.js';
import { entraToken } from './entraSignIn.js';
import { packageVersion } from './packageVersion.js';
import { runCli } from './runCli.js';

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
process.exitCode = await runCli('cmg-admin', argv, process.env, async () =>
  runAdminCommand(argv, {
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    cwd: process.cwd(),
    entraToken: (request) => entraToken(request, (line) => console.error(line)),
    version: await packageVersion(),
    isTerminal: process.stdin.isTTY && process.stderr.isTTY,
    ask,
  }),
);

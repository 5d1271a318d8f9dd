#!/usr/bin/env node
import { runAdminCommand } from './adminCommand.js';
import { entraToken } from './entraSignIn.js';
import { packageVersion } from './packageVersion.js';
import { runCli } from './runCli.js';
import { askOnTerminal } from './terminalPrompt.js';

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
    ask: askOnTerminal,
  }),
);

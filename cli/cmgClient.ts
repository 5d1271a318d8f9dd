#!/usr/bin/env node
import { runClientCommand } from './cmgClientCommand.js';
import { packageVersion } from './packageVersion.js';
import { runCli } from './runCli.js';
import { askOnTerminal } from './terminalPrompt.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

const argv = process.argv.slice(2);
process.exitCode = await runCli('cmg-client', argv, process.env, async () =>
  runClientCommand(argv, {
    env: process.env,
    out: (line) => console.log(line),
    log: (line) => console.error(`${new Date().toISOString()} cmg-client: ${line}`),
    signal: stop.signal,
    version: await packageVersion(),
    isTerminal: process.stdin.isTTY && process.stderr.isTTY,
    ask: askOnTerminal,
  }),
);

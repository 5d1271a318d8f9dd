#!/usr/bin/env node
import { runClientCommand } from './cmgClientCommand.js';
import { runCli } from './runCli.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

const argv = process.argv.slice(2);
process.exitCode = await runCli('cmg-client', argv, process.env, () =>
  runClientCommand(argv, {
    env: process.env,
    out: (line) => console.log(line),
    log: (line) => console.error(`${new Date().toISOString()} cmg-client: ${line}`),
    signal: stop.signal,
  }),
);

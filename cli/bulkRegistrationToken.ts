#!/usr/bin/env node
import { runBulkTokenCommand } from './bulkTokenCommand.js';
import { entraToken } from './entraSignIn.js';
import { packageVersion } from './packageVersion.js';
import { runCli } from './runCli.js';

const argv = process.argv.slice(2);
process.exitCode = await runCli('bulk-registration-token', argv, process.env, async () =>
  runBulkTokenCommand(argv, {
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    cwd: process.cwd(),
    entraToken: (request) => entraToken(request, (line) => console.error(line)),
    version: await packageVersion(),
  }),
);

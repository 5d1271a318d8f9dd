#!/usr/bin/env node
import { runBulkTokenCommand } from './bulkTokenCommand.js';
import { runCli } from './runCli.js';

/** Gets an Entra ID access token from the Azure CLI's login (`az login`). */
async function entraToken(audience: string): Promise<string> {
  const { AzureCliCredential } = await import('@azure/identity');
  const token = await new AzureCliCredential().getToken(`${audience.replace(/\/$/, '')}/.default`);
  return token.token;
}

const argv = process.argv.slice(2);
process.exitCode = await runCli('bulk-registration-token', argv, process.env, () =>
  runBulkTokenCommand(argv, {
    env: process.env,
    out: (line) => console.log(line),
    cwd: process.cwd(),
    entraToken,
  }),
);

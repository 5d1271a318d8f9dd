#!/usr/bin/env node
import { runBulkTokenCommand } from './bulkTokenCommand.js';
import { CliError } from './serviceClient.js';

/** Gets an Entra ID access token from the Azure CLI's login (`az login`). */
async function entraToken(audience: string): Promise<string> {
  const { AzureCliCredential } = await import('@azure/identity');
  const token = await new AzureCliCredential().getToken(`${audience.replace(/\/$/, '')}/.default`);
  return token.token;
}

try {
  process.exitCode = await runBulkTokenCommand(process.argv.slice(2), {
    env: process.env,
    out: (line) => console.log(line),
    cwd: process.cwd(),
    entraToken,
  });
} catch (error) {
  if (error instanceof CliError) {
    console.error(`bulk-registration-token: ${error.message}`);
    process.exitCode = error.exitCode;
  } else if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    console.error(`bulk-registration-token: ${error.message}; run with --help`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}

import { adminCaller, adminCommonOptions, adminCredential, adminTarget, credentialChoice, type AdminIo } from './adminAccess.js';
import { exitCodes, usageError } from './cliError.js';
import { helpText, parseCommandLine, type ToolSpec } from './commandLine.js';
import { prepareTokenCommand, tokenCommandSpecs, type TokenCommand } from './tokenCommands.js';

const toolName = 'bulk-registration-token';

/**
 * Configuration Manager's tool under its own name: the bulk-token commands of cmg-admin
 * (cli/tokenCommands.ts), also reachable as `/new /lifetime:<minutes>` and `/?`.
 */
export const bulkTokenTool: ToolSpec = {
  name: toolName,
  summary: 'create and manage bulk registration tokens (cmg-admin tokens, Configuration Manager style)',
  commands: tokenCommandSpecs(toolName, ''),
  common: adminCommonOptions,
  notes: [
    'Configuration Manager syntax (the same as new and --help):',
    `  ${toolName} /new [/lifetime:<minutes>]`,
    `  ${toolName} /?`,
    'cmg-admin has these commands as cmg-admin tokens new|list|block|unblock, beside devices and audit.',
  ],
  exitCodes: [
    [exitCodes.ok, 'done'],
    [exitCodes.refused, 'the service refused (the line says why) or could not be reached'],
    [exitCodes.usage, 'bad usage: a command, option or value is wrong; nothing was sent'],
  ],
};

export type CliIo = AdminIo;

/** Options that take a value: an argument after one of them is a value, never a `/switch`. */
const valueOptions = new Set(
  bulkTokenTool.commands
    .flatMap((command) => command.options)
    .concat(adminCommonOptions)
    .filter((option) => option.value)
    .map((option) => `--${option.name}`),
);

/**
 * Rewrites Configuration Manager's `/new /lifetime:60` syntax into ordinary arguments, and
 * says how each rewritten option was spelled so messages quote what the user typed.
 */
export function normalizeArgs(argv: readonly string[]): { args: string[]; spelling: Map<string, string> } {
  const args: string[] = [];
  const spelling = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const previous = argv[i - 1];
    const slash = /^\/([A-Za-z?]+)(?::(.*))?$/.exec(arg);
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (!slash || (previous !== undefined && valueOptions.has(previous))) {
      args.push(arg);
      continue;
    }
    const name = (slash[1] ?? '').toLowerCase();
    if (name === '?' || name === 'help') args.push('--help');
    else if (name === 'new') args.push('new');
    else if (name === 'lifetime') {
      // `--lifetime=<value>` keeps a value such as -5 a value, to be checked against the range.
      args.push(slash[2] === undefined ? '--lifetime' : `--lifetime=${slash[2]}`);
      spelling.set('lifetime', '/lifetime');
    } else throw usageError(`unknown switch ${arg}`, `the Configuration Manager switches are /new, /lifetime:<minutes> and /?; run ${toolName} /?`);
  }
  return { args, spelling };
}

export async function runBulkTokenCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { args, spelling } = normalizeArgs(argv);
  const parsed = parseCommandLine(bulkTokenTool, args, spelling);
  switch (parsed.kind) {
    case 'help':
      io.out(helpText(bulkTokenTool, parsed.command));
      return exitCodes.ok;
    case 'version':
      io.out(`${toolName} ${io.version ?? 'unknown'}`);
      return exitCodes.ok;
    case 'none':
      io.out(helpText(bulkTokenTool));
      throw usageError('no command given', `run ${toolName} new, list, block or unblock; ${toolName} --help shows the above`);
    case 'run':
      break;
  }
  const { command, values, args: positionals, spelled } = parsed;
  // Everything the command line says is checked before the credential is looked up or
  // anything is sent.
  const target = adminTarget(values, io.env);
  const prepared = await prepareTokenCommand(command.name as TokenCommand, { tool: toolName, prefix: '', values, args: positionals, spelled, baseUrl: target.baseUrl, out: io.out });
  const choice = credentialChoice(values, io);
  const credential = await adminCredential(choice, io);
  return prepared.run(adminCaller(target, credential, io));
}

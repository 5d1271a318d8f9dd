import { readFile } from 'node:fs/promises';
import { localAdminKeyFile, localDataDir } from '../shared/localDataDir.js';
import { CliError, exitCodes, usageError } from './cliError.js';
import { debugOption, helpOption, helpText, parseCommandLine, type CommandSpec, type OptionSpec, type ToolSpec } from './commandLine.js';
import { callService } from './serviceClient.js';
import { guid, nonEmpty, serviceUrl } from './validate.js';

const toolName = 'bulk-registration-token';

const idArgument = [{ name: 'id', help: 'the token\'s tracking GUID (bulk-registration-token list shows them)' }];

const commands: CommandSpec[] = [
  {
    name: 'new',
    summary: 'create a bulk registration token and print it once',
    options: [
      { name: 'lifetime', value: '<minutes>', help: 'how long devices can register with it: 1 to 10080 (7 days); default 4320 (3 days)' },
      { name: 'max-uses', value: '<n>', help: 'how many devices can register with it: 1 to 1000000; default no limit' },
      { name: 'description', value: '<text>', help: 'a note shown by list: at most 256 characters, no control characters' },
    ],
    alternatives: [`${toolName} /new [/lifetime:<minutes>]   (the Configuration Manager syntax)`],
    notes: ['The token is not stored and cannot be shown again: give it to devices (cmg-client register --regtoken).'],
    example: `${toolName} new --lifetime 60 --max-uses 50 --description "kiosk rollout"`,
  },
  {
    name: 'list',
    summary: 'every token\'s id, status, uses and expiry (never the token itself)',
    options: [],
    example: `${toolName} list --json`,
  },
  {
    name: 'block',
    summary: 'devices can no longer register with the token',
    options: [],
    arguments: idArgument,
    example: `${toolName} block 3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a`,
  },
  {
    name: 'unblock',
    summary: 'undo a block',
    options: [],
    arguments: idArgument,
    example: `${toolName} unblock 3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a`,
  },
];

const common: OptionSpec[] = [
  { name: 'url', value: '<url>', help: 'the service, http:// or https://; default $CMG_URL, else http://localhost:7071' },
  {
    name: 'admin-key',
    value: '<key>',
    help: [
      'the admin credential; default $CMG_ADMIN_KEY, else the local host\'s key file',
      '$LOCAL_DATA_DIR/admin-key (LOCAL_DATA_DIR defaults to .local, as for npm start),',
      'else a Microsoft Entra ID token from the Azure CLI login (az login) for $CMG_ADMIN_AUDIENCE',
    ].join('\n'),
  },
  { name: 'json', help: 'print the service\'s JSON answer, for scripts' },
  debugOption,
  helpOption,
];

export const bulkTokenTool: ToolSpec = {
  name: toolName,
  summary: 'create and manage bulk registration tokens',
  commands,
  common,
  notes: [
    'Configuration Manager syntax (the same as new and --help):',
    `  ${toolName} /new [/lifetime:<minutes>]`,
    `  ${toolName} /?`,
  ],
  exitCodes: [
    [exitCodes.ok, 'done'],
    [exitCodes.refused, 'the service refused (the line says why) or could not be reached'],
    [exitCodes.usage, 'bad usage: a command, option or value is wrong; nothing was sent'],
  ],
};

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  fetch?: typeof fetch;
  /** The current folder: LOCAL_DATA_DIR (default .local) is relative to it. */
  cwd: string;
  /** Gets an Entra ID token for the admin audience (the Azure CLI login). */
  entraToken?: (audience: string) => Promise<string>;
}

/** Options that take a value: an argument after one of them is a value, never a `/switch`. */
const valueOptions = new Set(commands.flatMap((command) => command.options).concat(common).filter((option) => option.value).map((option) => `--${option.name}`));

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
  if (parsed.kind === 'help') {
    io.out(helpText(bulkTokenTool, parsed.command));
    return exitCodes.ok;
  }
  if (parsed.kind === 'none') {
    io.out(helpText(bulkTokenTool));
    throw usageError('no command given', `run ${toolName} new, list, block or unblock; ${toolName} --help shows the above`);
  }
  const { command, values, args: positionals, spelled } = parsed;
  const text = (name: string) => {
    const value = values.get(name);
    return typeof value === 'string' ? value : undefined;
  };

  // Everything the command line says is checked before the credential is looked up or
  // anything is sent.
  const urlFlag = text('url');
  const baseUrl = serviceUrl(urlFlag ?? io.env.CMG_URL ?? 'http://localhost:7071', urlFlag !== undefined ? '--url' : io.env.CMG_URL !== undefined ? 'CMG_URL' : 'the default URL');
  const apiUrl = new URL('api/', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  const body = command.name === 'new' ? await newTokenBody(values, spelled) : undefined;
  const id = command.name === 'block' || command.name === 'unblock' ? guid(positionals[0] ?? '', `the id given to ${command.name}`) : undefined;
  const adminKeyFlag = text('admin-key');
  if (adminKeyFlag !== undefined) nonEmpty(adminKeyFlag, '--admin-key');

  const credential = await adminCredential(adminKeyFlag, io);
  const call = async <T>(method: 'GET' | 'POST', path: string, requestBody?: unknown) => {
    try {
      return await callService<T>(apiUrl, { method, path, bearer: credential.bearer, ...(requestBody === undefined ? {} : { body: requestBody }) }, io.fetch);
    } catch (error) {
      if (error instanceof CliError && (error.status === 401 || error.status === 403)) {
        throw new CliError(error.message, error.exitCode, { status: error.status, ...(error.code ? { code: error.code } : {}), hint: credential.refusedHint });
      }
      throw error;
    }
  };
  const json = values.get('json') === true;

  switch (command.name) {
    case 'new': {
      const { body: created } = await call<Created>('POST', 'bulk-tokens', body);
      if (json) io.out(JSON.stringify(created, null, 2));
      else printCreated(created, io.out);
      return exitCodes.ok;
    }
    case 'list': {
      const { body: listed } = await call<{ items: Listed[] }>('GET', 'bulk-tokens');
      if (json) io.out(JSON.stringify(listed, null, 2));
      else printList(listed.items, io.out);
      return exitCodes.ok;
    }
    default: {
      const { body: changed } = await call<{ id: string; status: string }>('POST', `bulk-tokens/${id ?? ''}/${command.name}`);
      io.out(json ? JSON.stringify(changed, null, 2) : `${changed.id}: ${changed.status}`);
      return exitCodes.ok;
    }
  }
}

/** The body of `new`, checked by the service's own schema, so the CLI and the API agree on every range. */
async function newTokenBody(values: ReadonlyMap<string, string | true>, spelled: (name: string) => string): Promise<Record<string, unknown>> {
  const flags = { lifetimeMinutes: 'lifetime', maxUses: 'max-uses', description: 'description' } as const;
  const body: Record<string, unknown> = {};
  for (const [field, flag] of Object.entries(flags)) {
    const value = values.get(flag);
    if (typeof value !== 'string') continue;
    // Numbers are sent as numbers when they look like one; anything else is refused below, by name.
    body[field] = field !== 'description' && /^[+-]?\d+$/.test(value.trim()) ? Number(value) : value;
  }
  // Loaded here, not at start-up: the schema's module brings zod and the token code along.
  const { createBulkTokenRequest } = await import('../shared/bulkTokens/bulkTokenRequests.js');
  const checked = createBulkTokenRequest.safeParse(body);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = String(issue?.path[0] ?? '') as keyof typeof flags;
    const flag = Object.hasOwn(flags, field) ? flags[field] : undefined;
    throw usageError(`${flag ? spelled(flag) : 'the request'} ${issue?.message ?? 'is not valid'}`, `run ${toolName} new --help`);
  }
  return body;
}

interface Credential {
  bearer: string;
  /** What to say when the service refuses it: where it came from and how to pick another. */
  refusedHint: string;
}

async function adminCredential(flag: string | undefined, io: CliIo): Promise<Credential> {
  if (flag !== undefined) return { bearer: flag, refusedHint: 'the key given with --admin-key was refused; npm start prints the local host\'s key' };
  if (io.env.CMG_ADMIN_KEY) return { bearer: io.env.CMG_ADMIN_KEY, refusedHint: 'the key in CMG_ADMIN_KEY was refused; npm start prints the local host\'s key' };
  const dataDir = localDataDir(io.env, io.cwd);
  const keyFile = localAdminKeyFile(dataDir);
  const whichDir = io.env.LOCAL_DATA_DIR ? `LOCAL_DATA_DIR=${io.env.LOCAL_DATA_DIR}` : 'LOCAL_DATA_DIR is unset, so .local in the current folder';
  let fromFile: string | undefined;
  try {
    fromFile = (await readFile(keyFile, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CliError(`cannot read the admin key file ${keyFile}: ${(error as Error).message}`, exitCodes.usage, { hint: 'pass --admin-key or set CMG_ADMIN_KEY' });
    }
  }
  if (fromFile) {
    return {
      bearer: fromFile,
      refusedHint: `the key was read from ${keyFile} (${whichDir}); if npm start runs elsewhere, set LOCAL_DATA_DIR to its data folder (npm start prints it) or pass --admin-key`,
    };
  }
  const audience = io.env.CMG_ADMIN_AUDIENCE;
  if (audience && io.entraToken) {
    try {
      return { bearer: await io.entraToken(audience), refusedHint: `the Entra ID token for ${audience} was refused; does your account have the admin app role?` };
    } catch (error) {
      throw new CliError(`no Entra ID token for ${audience} from the Azure CLI: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, exitCodes.refused, {
        hint: 'run az login, or pass --admin-key',
        cause: error,
      });
    }
  }
  throw usageError(
    `no admin credential: no --admin-key, no CMG_ADMIN_KEY, no key file at ${keyFile} (${whichDir}), no CMG_ADMIN_AUDIENCE`,
    'run this where npm start runs or set LOCAL_DATA_DIR to its data folder, pass --admin-key, or set CMG_ADMIN_AUDIENCE after az login',
  );
}

interface Created {
  id: string;
  token: string;
  issuedAt: string;
  expiresAt: string;
  lifetimeMinutes: number;
}

interface Listed {
  id: string;
  status: string;
  uses: number;
  maxUses: number | null;
  expiresAt: string;
  description: string | null;
}

function printCreated(created: Created, out: (line: string) => void): void {
  out(`Tracking GUID: ${created.id}`);
  out(`Lifetime:      ${created.lifetimeMinutes} minutes`);
  out(`Issued:        ${created.issuedAt}`);
  out(`Expires:       ${created.expiresAt}`);
  out('Token (give it to devices with cmg-client register --regtoken; it is not stored and cannot be shown again):');
  out(created.token);
}

function printList(items: readonly Listed[], out: (line: string) => void): void {
  if (items.length === 0) {
    out('no bulk registration tokens');
    return;
  }
  out(['ID'.padEnd(36), 'STATUS '.padEnd(8), 'USES'.padEnd(11), 'EXPIRES'.padEnd(24), 'DESCRIPTION'].join('  '));
  for (const item of items) {
    const uses = `${item.uses}/${item.maxUses ?? '-'}`;
    out([item.id, item.status.padEnd(8), uses.padEnd(11), item.expiresAt.padEnd(24), item.description ?? ''].join('  '));
  }
}

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { callService, CliError } from './serviceClient.js';

export const usage = `bulk-registration-token: create and manage bulk registration tokens

Configuration Manager syntax:
  bulk-registration-token /new [/lifetime:<minutes>]   create a token (default 4320 = 3 days, at most 10080)
  bulk-registration-token /?                           this help

Commands:
  new [--lifetime <minutes>] [--max-uses <n>] [--description <text>]
  list                                                 every token's id, status, uses and expiry (never the token)
  block <id>                                           devices can no longer register with the token
  unblock <id>                                         undo a block

Options:
  --url <url>          service URL (default: $CMG_URL, else http://localhost:7071)
  --admin-key <key>    admin credential (default: $CMG_ADMIN_KEY, else .local/admin-key when run
                       in the project folder, else a Microsoft Entra ID token from the Azure CLI
                       login for $CMG_ADMIN_AUDIENCE)
  --json               print the service's JSON answer, for scripts
  -h, --help, /?       this help

Exit codes: 0 done, 1 the service refused or could not be reached, 2 bad usage.`;

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  fetch?: typeof fetch;
  /** Where `.local/admin-key` is looked for. */
  cwd: string;
  /** Gets an Entra ID token for the admin audience (the Azure CLI login). */
  entraToken?: (audience: string) => Promise<string>;
}

/** Rewrites Configuration Manager's `/new /lifetime:60` syntax into ordinary arguments. */
export function normalizeArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const slash = /^\/([A-Za-z?]+)(?::(.*))?$/.exec(arg);
    if (!slash) {
      out.push(arg);
      continue;
    }
    const name = (slash[1] ?? '').toLowerCase();
    if (name === '?' || name === 'help') out.push('--help');
    else if (name === 'new') out.push('new');
    else if (name === 'lifetime') out.push('--lifetime', ...(slash[2] === undefined ? [] : [slash[2]]));
    else throw new CliError(`unknown switch ${arg}; run with /? for help`, 2);
  }
  return out;
}

export async function runBulkTokenCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: normalizeArgs(argv),
    allowPositionals: true,
    strict: true,
    options: {
      lifetime: { type: 'string' },
      'max-uses': { type: 'string' },
      description: { type: 'string' },
      url: { type: 'string' },
      'admin-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    io.out(usage);
    return values.help ? 0 : 2;
  }
  const baseUrl = values.url ?? io.env.CMG_URL ?? 'http://localhost:7071';
  const apiUrl = new URL('api/', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  const bearer = await adminCredential(values['admin-key'], io);
  const call = <T>(method: 'GET' | 'POST', path: string, body?: unknown) =>
    callService<T>(apiUrl, { method, path, bearer, ...(body === undefined ? {} : { body }) }, io.fetch);

  switch (command) {
    case 'new': {
      expectArgs(rest, 0, 'new');
      const body: Record<string, unknown> = {};
      if (values.lifetime !== undefined) body.lifetimeMinutes = wholeNumber(values.lifetime, '--lifetime');
      if (values['max-uses'] !== undefined) body.maxUses = wholeNumber(values['max-uses'], '--max-uses');
      if (values.description !== undefined) body.description = values.description;
      const { body: created } = await call<Created>('POST', 'bulk-tokens', body);
      if (values.json) io.out(JSON.stringify(created, null, 2));
      else printCreated(created, io.out);
      return 0;
    }
    case 'list': {
      expectArgs(rest, 0, 'list');
      const { body } = await call<{ items: Listed[] }>('GET', 'bulk-tokens');
      if (values.json) io.out(JSON.stringify(body, null, 2));
      else printList(body.items, io.out);
      return 0;
    }
    case 'block':
    case 'unblock': {
      expectArgs(rest, 1, `${command} <id>`);
      const id = rest[0] ?? '';
      const { body } = await call<{ id: string; status: string }>('POST', `bulk-tokens/${encodeURIComponent(id)}/${command}`);
      io.out(values.json ? JSON.stringify(body, null, 2) : `${body.id}: ${body.status}`);
      return 0;
    }
    default:
      throw new CliError(`unknown command "${command}"; run with --help`, 2);
  }
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

function expectArgs(rest: readonly string[], count: number, form: string): void {
  if (rest.length !== count) throw new CliError(`usage: bulk-registration-token ${form}`, 2);
}

function wholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`${flag} must be a whole number (got ${JSON.stringify(text)})`, 2);
  return Number(text);
}

async function adminCredential(flag: string | undefined, io: CliIo): Promise<string> {
  const explicit = flag ?? io.env.CMG_ADMIN_KEY;
  if (explicit) return explicit;
  try {
    return (await readFile(`${io.cwd}/.local/admin-key`, 'utf8')).trim();
  } catch {
    // Not in a project folder with a local host's data: fall through to Entra ID.
  }
  const audience = io.env.CMG_ADMIN_AUDIENCE;
  if (audience && io.entraToken) return io.entraToken(audience);
  throw new CliError('no admin credential: pass --admin-key, set CMG_ADMIN_KEY, or set CMG_ADMIN_AUDIENCE after az login', 2);
}

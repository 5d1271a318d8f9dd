import { usageError } from './cliError.js';
import type { CommandSpec, Values } from './commandLine.js';
import type { AdminCall } from './adminAccess.js';
import { guid } from './validate.js';

/**
 * The bulk-token commands, once: `cmg-admin tokens new|list|block|unblock` and
 * `bulk-registration-token new|list|block|unblock` (with its /new /lifetime syntax) are the
 * same specs and the same code, under two names.
 */

export type TokenCommand = 'new' | 'list' | 'block' | 'unblock';
export const tokenCommandNames: readonly TokenCommand[] = ['new', 'list', 'block', 'unblock'];

/** The specs, for a tool whose commands are `<prefix>new` … (`tokens ` for cmg-admin, '' for the other). */
export function tokenCommandSpecs(tool: string, prefix: string): CommandSpec[] {
  const listCommand = `${tool} ${prefix}list`;
  const idArgument = [{ name: 'id', help: `the token's tracking GUID (${listCommand} shows them)` }];
  return [
    {
      name: `${prefix}new`,
      summary: 'create a bulk registration token and print it once, with the command each kind of device runs',
      options: [
        { name: 'lifetime', value: '<minutes>', help: 'how long devices can register with it: 1 to 10080 (7 days); default 4320 (3 days)' },
        { name: 'max-uses', value: '<n>', help: 'how many devices can register with it: 1 to 1000000; default no limit' },
        { name: 'description', value: '<text>', help: 'a note shown by list: at most 256 characters, no control characters' },
      ],
      ...(prefix === '' ? { alternatives: [`${tool} /new [/lifetime:<minutes>]   (the Configuration Manager syntax)`] } : {}),
      notes: [
        'The token is not stored and cannot be shown again. The lines printed before it are ready to run on',
        'devices: cmg-client, ccmsetup (/regtoken:) and PowerShell (the CmgTokenAuth module).',
      ],
      example: `${tool} ${prefix}new --lifetime 60 --max-uses 50 --description "kiosk rollout"`,
    },
    {
      name: `${prefix}list`,
      summary: 'every token\'s id, status (active, used-up, expired, blocked), uses and expiry; never the token',
      options: [],
      example: `${listCommand} --json`,
    },
    {
      name: `${prefix}block`,
      summary: 'devices can no longer register with the token',
      options: [],
      arguments: idArgument,
      example: `${tool} ${prefix}block 3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a`,
    },
    {
      name: `${prefix}unblock`,
      summary: 'undo a block',
      options: [],
      arguments: idArgument,
      example: `${tool} ${prefix}unblock 3f2a9c4e-0c1b-4a57-9d0e-6b8f1e2d3c4a`,
    },
  ];
}

export interface Prepared {
  /** Runs the command against the service; everything on the command line was checked already. */
  run(call: AdminCall): Promise<number>;
}

export interface TokenContext {
  tool: string;
  prefix: string;
  values: Values;
  args: readonly string[];
  spelled: (name: string) => string;
  /** The service's base URL, for the device lines `new` prints. */
  baseUrl: string;
  out: (line: string) => void;
}

/** Checks the command's values (nothing is sent) and returns what runs it. */
export async function prepareTokenCommand(command: TokenCommand, context: TokenContext): Promise<Prepared> {
  const { values, out } = context;
  const json = values.get('json') === true;
  switch (command) {
    case 'new': {
      const body = await newTokenBody(values, context.spelled, `${context.tool} ${context.prefix}new`);
      return {
        run: async (call) => {
          const created = await call<Created>('POST', 'bulk-tokens', body);
          const commands = deviceCommands(context.baseUrl, created.token);
          if (json) out(JSON.stringify({ ...created, deviceCommands: commands }, null, 2));
          else printCreated(created, commands, out);
          return 0;
        },
      };
    }
    case 'list':
      return {
        run: async (call) => {
          const listed = await call<{ items: Listed[] }>('GET', 'bulk-tokens');
          if (json) out(JSON.stringify(listed, null, 2));
          else printList(listed.items, out);
          return 0;
        },
      };
    case 'block':
    case 'unblock': {
      const id = guid(context.args[0] ?? '', `the id given to ${context.prefix}${command}`, `${context.tool} ${context.prefix}list`);
      return {
        run: async (call) => {
          const changed = await call<{ id: string; status: string }>('POST', `bulk-tokens/${id}/${command}`);
          out(json ? JSON.stringify(changed, null, 2) : `${changed.id}: ${changed.status}`);
          return 0;
        },
      };
    }
  }
}

/** The body of `new`, checked by the service's own schema, so the CLI and the API agree on every range. */
async function newTokenBody(values: Values, spelled: (name: string) => string, commandName: string): Promise<Record<string, unknown>> {
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
    throw usageError(`${flag ? spelled(flag) : 'the request'} ${issue?.message ?? 'is not valid'}`, `run ${commandName} --help`);
  }
  return body;
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

export interface DeviceCommands {
  cmgClient: string;
  ccmsetup: string;
  powerShell: string;
}

/**
 * What a device runs with the new token. ccmsetup's other properties (the management point
 * behind the cloud management gateway, the site code) belong to the site, not to this
 * service, so they stay placeholders.
 */
export function deviceCommands(baseUrl: string, token: string): DeviceCommands {
  return {
    cmgClient: `cmg-client register --url ${baseUrl} --regtoken ${token}`,
    ccmsetup: `ccmsetup.exe /mp:<CMG URL> CCMHOSTNAME=<CMG host> SMSSiteCode=<site code> /regtoken:${token}`,
    powerShell: `Register-CmgDevice -ServiceUrl ${baseUrl} -RegistrationToken ${token}`,
  };
}

function printCreated(created: Created, commands: DeviceCommands, out: (line: string) => void): void {
  out(`Tracking GUID: ${created.id}`);
  out(`Lifetime:      ${created.lifetimeMinutes} minutes`);
  out(`Issued:        ${created.issuedAt}`);
  out(`Expires:       ${created.expiresAt}`);
  out('');
  out('On a device (each line registers it):');
  out(`  cmg-client:  ${commands.cmgClient}`);
  out(`  ccmsetup:    ${commands.ccmsetup}`);
  out(`  PowerShell:  ${commands.powerShell}`);
  out('');
  out('Token (not stored, cannot be shown again):');
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

import { auditActions } from '../shared/audit/auditEntry.js';
import { guidPattern } from '../shared/guid.js';
import { adminCaller, adminCommonOptions, adminCredential, adminTarget, credentialChoice, text, type AdminCall, type AdminIo } from './adminAccess.js';
import { CliError, exitCodes, usageError } from './cliError.js';
import { helpText, parseCommandLine, type CommandSpec, type OptionSpec, type ToolSpec, type Values } from './commandLine.js';
import { prepareTokenCommand, tokenCommandNames, tokenCommandSpecs, type Prepared, type TokenCommand } from './tokenCommands.js';
import { oneOf, wholeNumberIn } from './validate.js';

const toolName = 'cmg-admin';

const deviceArgument = [
  {
    name: 'device',
    help: 'the device id (a GUID), or its certificate\'s thumbprint: SHA-1 as Windows shows it\n             (40 hex digits) or the base64url SHA-256 the service stores (43 characters)',
  },
];

const pageOptions: OptionSpec[] = [
  { name: 'limit', value: '<n>', help: 'at most this many per page: 1 to 1000; default 100' },
  { name: 'continuation', value: '<token>', help: 'the next page: the token the previous page printed' },
  { name: 'all', help: 'follow every page to the end' },
];

const deviceStatuses = ['pending', 'active', 'revoked'] as const;

const commands: CommandSpec[] = [
  ...tokenCommandSpecs(toolName, 'tokens '),
  {
    name: 'devices list',
    summary: 'devices, newest registration first: name, status, OS, client version, last seen, id',
    options: [
      { name: 'status', value: 'pending|active|revoked', help: 'only devices in this state' },
      { name: 'name', value: '<prefix>', help: 'only devices whose name starts with this (any case): 1 to 64 characters' },
      ...pageOptions,
    ],
    notes: ['Name, OS and client version are what each device says about itself: a device can claim any name.'],
    example: `${toolName} devices list --status pending --name kiosk-`,
  },
  {
    name: 'devices show',
    summary: 'one device: every field, both certificate thumbprints',
    options: [],
    arguments: deviceArgument,
    example: `${toolName} devices show 3B1E6C0A8F2D4E9B7A5C3D1F0E2B4A6C8D9E7F10`,
  },
  {
    name: 'devices approve',
    summary: 'approve a pending device; its next registration call (cmg-client run) gets its token',
    options: [],
    arguments: deviceArgument,
    example: `${toolName} devices approve 7d3f4a52-1111-4222-8333-944455566677`,
  },
  {
    name: 'devices revoke',
    summary: 'revoke a device for good: renew and authenticate are refused until its certificate expires',
    options: [{ name: 'yes', help: 'do not ask for confirmation (needed when not run on a terminal)' }],
    arguments: deviceArgument,
    notes: ['On a terminal it shows the device and asks first. The device must run cmg-client reset and register again.'],
    example: `${toolName} devices revoke 7d3f4a52-1111-4222-8333-944455566677 --yes`,
  },
  {
    name: 'audit',
    summary: 'the audit trail, newest first: who did what to which token or device, and how it ended',
    options: [
      { name: 'from', value: '<when>', help: 'from this instant (inclusive): ISO 8601 with a time zone, or an age such as\n30m, 12h, 7d; default 7 days before --to' },
      { name: 'to', value: '<when>', help: 'up to this instant (exclusive), the same forms; default now' },
      { name: 'action', value: '<action>', help: `only this action: ${auditActions.join(', ')}` },
      ...pageOptions,
    ],
    notes: ['--from and --to are at most 366 days apart.'],
    example: `${toolName} audit --from 24h --action device.revoke`,
  },
];

export const adminTool: ToolSpec = {
  name: toolName,
  summary: 'administer cmg-token-auth: bulk registration tokens, devices and the audit trail',
  commands,
  common: adminCommonOptions,
  notes: [
    'Credentials: locally the admin key (found by itself next to npm start); in Azure a Microsoft Entra ID',
    'token for the admin API: --audience api://<client id> after az login, or with --device-code.',
    'bulk-registration-token is the tokens commands under Configuration Manager\'s name (/new /lifetime:<minutes>).',
  ],
  exitCodes: [
    [exitCodes.ok, 'done'],
    [exitCodes.refused, 'the service refused (the line says why) or could not be reached, or a revoke was not confirmed'],
    [exitCodes.usage, 'bad usage: a command, option or value is wrong; nothing was sent'],
  ],
};

export async function runAdminCommand(argv: readonly string[], io: AdminIo): Promise<number> {
  const parsed = parseCommandLine(adminTool, argv);
  switch (parsed.kind) {
    case 'help':
      io.out(helpText(adminTool, parsed.command));
      return exitCodes.ok;
    case 'version':
      io.out(`${toolName} ${io.version ?? 'unknown'}`);
      return exitCodes.ok;
    case 'none':
      io.out(helpText(adminTool));
      throw usageError('no command given', `run ${toolName} tokens, devices or audit; ${toolName} --help shows the above`);
    case 'run':
      break;
  }
  const { command, values, args, spelled } = parsed;
  // Everything the command line says is checked here, before the credential is looked up
  // or anything is sent.
  const target = adminTarget(values, io.env);
  const [group, sub] = command.name.split(' ');
  let prepared: Prepared;
  if (group === 'tokens' && tokenCommandNames.includes(sub as TokenCommand)) {
    prepared = await prepareTokenCommand(sub as TokenCommand, { tool: toolName, prefix: 'tokens ', values, args, spelled, baseUrl: target.baseUrl, out: io.out });
  } else if (group === 'devices') {
    prepared = prepareDeviceCommand(sub ?? '', values, args, io);
  } else {
    prepared = prepareAuditCommand(values, io);
  }
  const credential = await adminCredential(credentialChoice(values, io), io);
  return prepared.run(adminCaller(target, credential, io));
}

// Devices ------------------------------------------------------------------------------

interface DeviceView {
  deviceId: string;
  status: string;
  registration: string;
  bulkTokenId?: string;
  thumbprint: string;
  thumbprintSha1?: string;
  registeredAt: string;
  expiresAt: string;
  name?: string | null;
  os?: string | null;
  clientVersion?: string | null;
  lastSeenAt?: string | null;
}

interface Page<T> {
  items: T[];
  continuation?: string;
}

/** How the user named a device: its id, or a thumbprint the service can look it up by. */
function deviceKey(given: string): { id: string; isId: boolean } {
  if (guidPattern.test(given)) return { id: given.toLowerCase(), isId: true };
  if (/^[0-9a-f]{40}$/i.test(given)) return { id: given.toUpperCase(), isId: false };
  if (/^[A-Za-z0-9_-]{43}$/.test(given)) return { id: given, isId: false };
  throw usageError(
    `a device is named by its id (a GUID), its SHA-1 thumbprint (40 hex digits) or its SHA-256 thumbprint (43 base64url characters) (got ${JSON.stringify(given)})`,
    `${toolName} devices list shows the ids`,
  );
}

function prepareDeviceCommand(sub: string, values: Values, args: readonly string[], io: AdminIo): Prepared {
  const json = values.get('json') === true;
  const out = io.out;
  if (sub === 'list') {
    const query = new URLSearchParams();
    const status = text(values, 'status');
    if (status !== undefined) query.set('status', oneOf(status, '--status', deviceStatuses));
    const name = text(values, 'name');
    if (name !== undefined) {
      // eslint-disable-next-line no-control-regex -- control characters are what is refused
      if (name.trim() === '' || Array.from(name.trim()).length > 64 || /[\u0000-\u001f\u007f-\u009f]/.test(name)) {
        throw usageError(`--name must be 1 to 64 characters without control characters (got ${JSON.stringify(name)})`);
      }
      query.set('name', name.trim());
    }
    const paging = pageQuery(values, query);
    return {
      run: async (call) => {
        const page = await pages<DeviceView>(call, 'devices', query, paging.all);
        if (json) out(JSON.stringify(page, null, 2));
        else printDevices(page, values, out);
        return exitCodes.ok;
      },
    };
  }
  const key = deviceKey(args[0] ?? '');
  const find = (call: AdminCall) => call<DeviceView>('GET', `devices/${encodeURIComponent(key.id)}`);
  if (sub === 'show') {
    return {
      run: async (call) => {
        const device = await find(call);
        out(json ? JSON.stringify(device, null, 2) : describe(device).join('\n'));
        return exitCodes.ok;
      },
    };
  }
  const action = sub === 'approve' ? 'approve' : 'revoke';
  const confirm = action === 'revoke' && values.get('yes') !== true;
  if (confirm && !(io.isTerminal && io.ask)) {
    throw usageError('devices revoke asks for confirmation, and this is not a terminal: add --yes to revoke without asking', `run ${toolName} devices revoke --help`);
  }
  return {
    run: async (call) => {
      let deviceId = key.id;
      if (confirm || !key.isId) {
        const device = await find(call);
        deviceId = device.deviceId;
        if (confirm && io.ask) {
          io.err?.(describe(device).map((line) => `  ${line}`).join('\n'));
          const answer = (await io.ask(`Revoke this device? Renew and authenticate will be refused until its certificate expires. Type yes to revoke: `)).trim().toLowerCase();
          if (answer !== 'yes' && answer !== 'y') throw new CliError(`not revoked: ${deviceId} (not confirmed)`, exitCodes.refused, { hint: 'answer yes, or pass --yes' });
        }
      }
      const changed = await call<{ deviceId: string; status: string }>('POST', `devices/${deviceId}/${action}`);
      out(json ? JSON.stringify(changed, null, 2) : `${changed.deviceId}: ${changed.status}`);
      return exitCodes.ok;
    },
  };
}

function describe(device: DeviceView): string[] {
  const rows: Array<[string, string | null | undefined]> = [
    ['name', device.name],
    ['device id', device.deviceId],
    ['status', device.status],
    ['os', device.os],
    ['client version', device.clientVersion],
    ['last seen', device.lastSeenAt],
    ['registration', device.bulkTokenId ? `${device.registration} (bulk token ${device.bulkTokenId})` : device.registration],
    ['registered', device.registeredAt],
    ['expires', device.expiresAt],
    ['SHA-1', device.thumbprintSha1],
    ['x5t#S256', device.thumbprint],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return [...rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${shown(value)}`), '(name, os and client version are what the device says about itself)'];
}

function printDevices(page: Page<DeviceView>, values: Values, out: (line: string) => void): void {
  if (page.items.length === 0) out('no devices');
  else {
    table(
      ['NAME', 'STATUS', 'OS', 'VERSION', 'LAST SEEN', 'REGISTERED', 'DEVICE ID'],
      page.items.map((device) => [shown(device.name), device.status, shown(device.os), shown(device.clientVersion), minutes(device.lastSeenAt), minutes(device.registeredAt), device.deviceId]),
      out,
    );
  }
  more('devices list', page, values, out);
}

// Audit --------------------------------------------------------------------------------

interface AuditEntryView {
  time: string;
  action: string;
  outcome: string;
  status?: number;
  code?: string;
  actor: { kind: string; name: string };
  callerAddress?: string;
  target?: { kind: string; id: string };
}

function prepareAuditCommand(values: Values, io: AdminIo): Prepared {
  const json = values.get('json') === true;
  const now = Date.now();
  const query = new URLSearchParams();
  const to = text(values, 'to');
  const toMs = to === undefined ? now : instant(to, '--to', now);
  if (to !== undefined) query.set('to', new Date(toMs).toISOString());
  const from = text(values, 'from');
  if (from !== undefined) {
    const fromMs = instant(from, '--from', now);
    if (fromMs >= toMs) throw usageError(`--from must be earlier than ${to === undefined ? 'now' : '--to'} (got ${JSON.stringify(from)})`);
    if (toMs - fromMs > 366 * 86_400_000) throw usageError('--from and --to must be at most 366 days apart');
    query.set('from', new Date(fromMs).toISOString());
  }
  const action = text(values, 'action');
  if (action !== undefined) query.set('action', oneOf(action, '--action', auditActions));
  const paging = pageQuery(values, query);
  return {
    run: async (call) => {
      const page = await pages<AuditEntryView>(call, 'audit', query, paging.all);
      if (json) io.out(JSON.stringify(page, null, 2));
      else {
        if (page.items.length === 0) io.out('no audit records in that window');
        else {
          table(
            ['TIME', 'ACTION', 'OUTCOME', 'STATUS', 'ACTOR', 'TARGET', 'FROM'],
            page.items.map((entry) => [
              entry.time,
              entry.action,
              entry.code ? `${entry.outcome} (${entry.code})` : entry.outcome,
              entry.status === undefined ? '-' : String(entry.status),
              shown(entry.actor.name),
              entry.target ? `${entry.target.kind} ${entry.target.id}` : '-',
              shown(entry.callerAddress),
            ]),
            io.out,
          );
        }
        more('audit', page, values, io.out);
      }
      return exitCodes.ok;
    },
  };
}

/** An ISO 8601 instant with a time zone, or an age before `now` such as 30m, 12h or 7d. */
function instant(given: string, flag: string, now: number): number {
  const age = /^(\d{1,6})([mhd])$/.exec(given.trim());
  if (age) return now - Number(age[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 'm' | 'h' | 'd'];
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i.test(given) ? Date.parse(given) : Number.NaN;
  if (Number.isNaN(iso)) {
    throw usageError(`${flag} must be an ISO 8601 instant with a time zone such as 2026-12-01T08:00:00Z, or an age such as 30m, 12h or 7d (got ${JSON.stringify(given)})`);
  }
  return iso;
}

// Paging and printing ------------------------------------------------------------------

function pageQuery(values: Values, query: URLSearchParams): { all: boolean } {
  const limit = text(values, 'limit');
  if (limit !== undefined) query.set('limit', String(wholeNumberIn(limit, '--limit', 1, 1000, '')));
  const continuation = text(values, 'continuation');
  if (continuation !== undefined) {
    if (continuation.trim() === '' || continuation.length > 2048) throw usageError('--continuation must be the token a previous page printed');
    query.set('continuation', continuation);
  }
  return { all: values.get('all') === true };
}

/** One page, or with --all every page after it, joined. */
async function pages<T>(call: AdminCall, path: string, query: URLSearchParams, all: boolean): Promise<Page<T>> {
  const items: T[] = [];
  let continuation: string | undefined;
  for (;;) {
    const page = await call<Page<T>>('GET', `${path}${query.size > 0 ? `?${query.toString()}` : ''}`);
    items.push(...page.items);
    continuation = page.continuation;
    if (!all || continuation === undefined) break;
    query.set('continuation', continuation);
  }
  return { items, ...(continuation === undefined ? {} : { continuation }) };
}

function more(command: string, page: Page<unknown>, values: Values, out: (line: string) => void): void {
  if (page.continuation === undefined) return;
  const again = [toolName, command];
  for (const name of ['status', 'name', 'from', 'to', 'action', 'limit']) {
    const value = text(values, name);
    if (value !== undefined) again.push(`--${name}`, /^[\w.:+-]+$/.test(value) ? value : JSON.stringify(value));
  }
  out('');
  out(`more: ${again.join(' ')} --continuation ${page.continuation}   (or --all)`);
}

/** A value the service stores as the device said it, made safe for a terminal. */
function shown(value: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  return value === undefined || value === null || value === '' ? '-' : value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function minutes(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').slice(0, 16) : '-';
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>, out: (line: string) => void): void {
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((row) => Array.from(row[column] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ');
  out(line(head));
  for (const row of rows) out(line(row));
}

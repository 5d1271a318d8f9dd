import { CliError, exitCodes, usageError } from './cliError.js';
import { debugOption, helpOption, helpText, parseCommandLine, type CommandSpec, type OptionSpec, type ToolSpec } from './commandLine.js';
import type { DeviceClient, TokenAnswer } from './device/deviceClient.js';
import type { DeviceIdentity, KeyType } from './device/identity.js';
import { DeviceState, defaultStateDir, type TokenState } from './device/state.js';
import { compactJws, oneOf, serviceUrl, wholeNumberIn } from './validate.js';

const toolName = 'cmg-client';

const urlOption: OptionSpec = { name: 'url', value: '<url>', help: 'the service, http:// or https:// (register stores it; the others use the stored one unless given)' };

const commands: CommandSpec[] = [
  {
    name: 'register',
    summary: 'make a key and a self-signed certificate, and get a device token (ccmsetup /regtoken:)',
    options: [
      { ...urlOption, help: 'the service, http:// or https://; default $CMG_URL (one of the two is needed)' },
      { name: 'regtoken', value: '<token>', help: 'register over the internet with a bulk registration token' },
      { name: 'internal', help: 'register from the internal network instead (an administrator may have to approve)' },
      { name: 'key-type', value: 'rsa|ec', help: 'rsa (RSA 2048, RS256, the default) or ec (P-256, ES256)' },
      { name: 'wait', value: '<seconds>', help: 'with --internal: how long to keep asking while approval is pending,\n0 to 86400; default 600' },
    ],
    notes: [
      'Exactly one of --regtoken and --internal. Registering again reuses the key in the state folder.',
      'While approval is pending the command exits 3 and status shows it; run register --internal again later.',
    ],
    example: `${toolName} register --url https://cmg.example.com --regtoken eyJhbGciOi... --state /var/lib/cmg-client`,
  },
  {
    name: 'renew',
    summary: 'renew the device token once renewAfter has passed',
    options: [urlOption, { name: 'force', help: 'renew now, even before renewAfter' }],
    notes: ['Before renewAfter nothing is sent and the exit code is 0 ("not due").'],
    example: `${toolName} renew --force`,
  },
  {
    name: 'status',
    summary: 'device id, registration, expiry and days left; purely local, nothing is sent',
    options: [],
    example: `${toolName} status --json`,
    exitCodes: [
      [exitCodes.ok, 'registered, and the token is valid'],
      [exitCodes.refused, 'the token has expired (the service would refuse it): register again'],
      [exitCodes.usage, 'bad usage, or an unsafe state folder'],
      [exitCodes.pending, 'registration pending: an administrator has not approved the device yet'],
      [exitCodes.notRegistered, 'not registered: no device state in the state folder'],
    ],
  },
  {
    name: 'authenticate',
    summary: 'ask the service to check the token and a fresh proof (for scripts and health checks)',
    options: [urlOption],
    example: `${toolName} authenticate --state /var/lib/cmg-client`,
  },
  {
    name: 'run',
    summary: 'stay up and renew when due, with jitter and backoff',
    options: [urlOption, { name: 'once', help: 'one check (renewing if due), then exit: for cron or a scheduled task' }],
    notes: ['Stops with exit 1 when the service refuses for good (token expired, device revoked): register again then.'],
    example: `${toolName} run --once`,
  },
];

const common: OptionSpec[] = [
  { name: 'state', value: '<dir>', help: `where the key, certificate and token are kept; default $CMG_CLIENT_STATE,\nelse ${defaultStateDir()}. Created 0700; files 0600; an existing folder\nwritable by group or others, or owned by another user, is refused` },
  { name: 'json', help: 'machine-readable output' },
  debugOption,
  helpOption,
];

export const clientTool: ToolSpec = {
  name: toolName,
  summary: 'the device side of token-based authentication (the counterpart of ccmsetup /regtoken:)',
  commands,
  common,
  exitCodes: [
    [exitCodes.ok, 'done'],
    [exitCodes.refused, 'the service refused (the line says why) or could not be reached'],
    [exitCodes.usage, 'bad usage: a command, option or value is wrong, or the state folder is unsafe; nothing was sent or written'],
    [exitCodes.pending, 'pending: an administrator has not approved the device yet'],
    [exitCodes.notRegistered, 'not registered: no device state in the state folder'],
  ],
};

export interface ClientIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  log: (line: string) => void;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (milliseconds: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Aborted to stop `run`. */
  signal?: AbortSignal;
}

const day = 86_400_000;

/** Answers that no retry can change: the device must register again. */
const fatalCodes = new Set(['token_expired', 'device_revoked', 'invalid_token', 'key_mismatch']);

export async function runClientCommand(argv: readonly string[], io: ClientIo): Promise<number> {
  const parsed = parseCommandLine(clientTool, argv);
  if (parsed.kind === 'help') {
    io.out(helpText(clientTool, parsed.command));
    return exitCodes.ok;
  }
  if (parsed.kind === 'none') {
    io.out(helpText(clientTool));
    throw usageError('no command given', `run ${toolName} register, renew, status, authenticate or run; ${toolName} --help shows the above`);
  }
  const { command, values } = parsed;
  const text = (name: string) => {
    const value = values.get(name);
    return typeof value === 'string' ? value : undefined;
  };
  const flag = (name: string) => values.get(name) === true;
  const json = flag('json');
  const print = (lines: string, data: unknown) => io.out(json ? JSON.stringify(data, null, 2) : lines);

  // Every value is checked here, before the state folder is touched or anything is sent.
  const stateDir = text('state') ?? io.env.CMG_CLIENT_STATE ?? defaultStateDir(io.env);
  if (stateDir.trim() === '') throw usageError(`${text('state') !== undefined ? '--state' : 'CMG_CLIENT_STATE'} is empty`, 'name a folder');
  const urlText = text('url');
  const givenUrl = urlText === undefined ? undefined : serviceUrl(urlText, '--url');
  const state = new DeviceState(stateDir);
  const now = io.now ?? Date.now;

  switch (command.name) {
    case 'register': {
      const url = givenUrl ?? (io.env.CMG_URL !== undefined ? serviceUrl(io.env.CMG_URL, 'CMG_URL') : undefined);
      if (url === undefined) throw usageError('register needs --url <service url> (or CMG_URL)', `run ${toolName} register --help`);
      const regtoken = text('regtoken');
      const internal = flag('internal');
      if ((regtoken === undefined) === !internal) {
        throw usageError('register needs exactly one of --regtoken <token> and --internal', `run ${toolName} register --help`);
      }
      if (regtoken !== undefined) compactJws(regtoken, '--regtoken', 'a bulk registration token');
      const waitText = text('wait');
      if (waitText !== undefined && !internal) throw usageError('--wait applies to --internal only', `run ${toolName} register --help`);
      const waitSeconds = wholeNumberIn(waitText ?? '600', '--wait', 0, 86_400, ' seconds');
      const keyType = oneOf<KeyType>(text('key-type') ?? 'rsa', '--key-type', ['rsa', 'ec']);

      await state.ensure();
      const identity = await identityFor(state, keyType, io);
      const client = await deviceClient(url, identity, io);
      const answer = regtoken !== undefined ? await client.registerWithBulkToken(regtoken) : await waitForApproval(client, state, url, waitSeconds * 1000, io);
      const saved = await save(state, url, answer);
      print(`registered: device ${saved.deviceId}, token valid until ${saved.expiresAt}, renew after ${saved.renewAfter}`, saved);
      return exitCodes.ok;
    }
    case 'renew': {
      const { current, client } = await loaded(state, givenUrl, io);
      if (!flag('force') && now() < Date.parse(current.renewAfter)) {
        print(`not due: renew after ${current.renewAfter} (use --force to renew now)`, { renewed: false, ...current, token: undefined });
        return exitCodes.ok;
      }
      const saved = await save(state, current.url, await client.renew(current.token), current.registration);
      print(`renewed: token valid until ${saved.expiresAt}, renew after ${saved.renewAfter}`, { renewed: true, ...saved, token: undefined });
      return exitCodes.ok;
    }
    case 'status':
      return showStatus(state, now, print);
    case 'authenticate': {
      const { current, client } = await loaded(state, givenUrl, io);
      const answer = await client.authenticate(current.token);
      print(`authenticated: device ${answer.deviceId}, token valid until ${answer.expiresAt}`, answer);
      return exitCodes.ok;
    }
    default:
      return runLoop(state, givenUrl, flag('once'), io);
  }
}

/** `status`: reads the state folder only. */
async function showStatus(state: DeviceState, now: () => number, print: (lines: string, data: unknown) => void): Promise<number> {
  const [current, identity, pending] = await Promise.all([state.loadToken(), state.loadIdentity(), state.loadPending()]);
  if (current && identity) {
    const daysLeft = Math.floor((Date.parse(current.expiresAt) - now()) / day);
    const status = {
      registered: true,
      deviceId: current.deviceId,
      registration: current.registration,
      url: current.url,
      expiresAt: current.expiresAt,
      renewAfter: current.renewAfter,
      daysLeft,
      expired: daysLeft < 0 || Date.parse(current.expiresAt) <= now(),
      thumbprint: await thumbprint(identity),
      stateDir: state.dir,
    };
    print(
      [
        `device id:     ${status.deviceId} (${status.registration} registration)`,
        `service:       ${status.url}`,
        `token expires: ${status.expiresAt} (${status.expired ? 'EXPIRED: register again' : `${daysLeft} days left`})`,
        `renew after:   ${status.renewAfter}`,
        `certificate:   x5t#S256 ${status.thumbprint}`,
        `state:         ${status.stateDir}`,
      ].join('\n'),
      status,
    );
    return status.expired ? exitCodes.refused : exitCodes.ok;
  }
  if (pending && identity) {
    const pendingThumbprint = await thumbprint(identity);
    print(
      [
        `device id:     ${pending.deviceId} (internal registration)`,
        `service:       ${pending.url}`,
        `status:        PENDING: waiting for an administrator's approval since ${pending.since}`,
        `certificate:   x5t#S256 ${pendingThumbprint}`,
        `state:         ${state.dir}`,
        `once approved: ${toolName} register --internal --url ${pending.url} --state ${state.dir}`,
      ].join('\n'),
      { registered: false, pending: true, deviceId: pending.deviceId, url: pending.url, since: pending.since, thumbprint: pendingThumbprint, stateDir: state.dir },
    );
    return exitCodes.pending;
  }
  throw notRegistered(state);
}

function notRegistered(state: DeviceState): CliError {
  return new CliError(`not registered: no device token in ${state.dir}`, exitCodes.notRegistered, {
    hint: `run ${toolName} register (or pass --state <the folder register used>)`,
  });
}

async function identityFor(state: DeviceState, keyType: KeyType, io: ClientIo): Promise<DeviceIdentity> {
  // Reusing the key makes a repeated register idempotent: same certificate, same device id.
  const existing = await state.loadIdentity();
  if (existing) return existing;
  io.log(`generating ${keyType === 'rsa' ? 'an RSA 2048' : 'an EC P-256'} key and a self-signed certificate in ${state.dir}`);
  const { createDeviceIdentity } = await import('./device/identity.js');
  const identity = await createDeviceIdentity(keyType);
  await state.saveIdentity(identity);
  return identity;
}

/** The saved token and a client for it; a pending registration or none at all ends the command here. */
async function loaded(state: DeviceState, url: string | undefined, io: ClientIo): Promise<{ current: TokenState; client: DeviceClient }> {
  const [current, identity] = await Promise.all([state.loadToken(), state.loadIdentity()]);
  if (!current || !identity) {
    const pending = await state.loadPending();
    if (pending && identity) {
      throw new CliError(`device ${pending.deviceId} is still waiting for an administrator's approval (since ${pending.since})`, exitCodes.pending, {
        hint: `once approved, run ${toolName} register --internal --url ${pending.url} --state ${state.dir}`,
      });
    }
    throw notRegistered(state);
  }
  const serviceBase = url ?? serviceUrl(current.url, `the URL saved in ${state.dir}`);
  return { current, client: await deviceClient(serviceBase, identity, io) };
}

/**
 * The device-side modules (jose, @peculiar/x509) are loaded only by commands that use them,
 * so help, usage errors and "not registered" answer without their start-up cost.
 */
async function deviceClient(url: string, identity: DeviceIdentity, io: ClientIo): Promise<DeviceClient> {
  const { DeviceClient } = await import('./device/deviceClient.js');
  return new DeviceClient(url, identity, io.fetch);
}

async function thumbprint(identity: DeviceIdentity): Promise<string> {
  const { thumbprintOf } = await import('./device/identity.js');
  return thumbprintOf(identity);
}

async function save(state: DeviceState, url: string, answer: TokenAnswer, registration?: TokenState['registration']): Promise<TokenState> {
  const reg = registration ?? registrationOf(answer.token);
  const saved: TokenState = { url, deviceId: answer.deviceId, token: answer.token, expiresAt: answer.expiresAt, renewAfter: answer.renewAfter, registration: reg };
  await state.saveToken(saved);
  return saved;
}

function registrationOf(token: string): TokenState['registration'] {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { reg?: string };
  return payload.reg === 'internal' ? 'internal' : 'bulk';
}

/**
 * Polls a pending internal registration with backoff (5 s doubling to 60 s) until approved or
 * `timeoutMs`; a registration still pending then is saved, so `status` can show it.
 */
async function waitForApproval(client: DeviceClient, state: DeviceState, url: string, timeoutMs: number, io: ClientIo): Promise<TokenAnswer> {
  const sleep = io.sleep ?? abortableSleep;
  const signal = io.signal ?? new AbortController().signal;
  const now = io.now ?? Date.now;
  const deadline = now() + timeoutMs;
  let delay = 5_000;
  for (;;) {
    const result = await client.registerInternal();
    if (result.kind === 'issued') return result.answer;
    if (now() + delay > deadline || signal.aborted) {
      const earlier = await state.loadPending();
      const since = earlier?.deviceId === result.deviceId ? earlier.since : new Date(now()).toISOString();
      await state.savePending({ url, deviceId: result.deviceId, since });
      throw new CliError(`device ${result.deviceId} is still waiting for an administrator's approval`, exitCodes.pending, {
        hint: `run ${toolName} register --internal again later to pick up the token; ${toolName} status shows the state`,
      });
    }
    io.log(`device ${result.deviceId} awaits approval; asking again in ${delay / 1000} s`);
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 60_000);
  }
}

/**
 * Stays up and renews when due. The wake-up after renewAfter is spread by up to an hour of
 * jitter so a fleet registered together does not renew in the same second; a failed renewal
 * is retried with exponential backoff (1 min doubling to 1 h, ±50% jitter). A token that
 * expired or a revoked device stops the loop: only a new registration helps then.
 */
async function runLoop(state: DeviceState, url: string | undefined, once: boolean, io: ClientIo): Promise<number> {
  const sleep = io.sleep ?? abortableSleep;
  const random = io.random ?? Math.random;
  const now = io.now ?? Date.now;
  const signal = io.signal ?? new AbortController().signal;
  let failures = 0;
  while (!signal.aborted) {
    const { current, client } = await loaded(state, url, io);
    const dueAt = Date.parse(current.renewAfter);
    let wait: number;
    if (now() >= dueAt) {
      try {
        io.log(`renewal due (renewAfter ${current.renewAfter}); renewing`);
        const saved = await save(state, current.url, await client.renew(current.token), current.registration);
        io.log(`renewed: token valid until ${saved.expiresAt}, next renewal after ${saved.renewAfter}`);
        failures = 0;
        wait = Date.parse(saved.renewAfter) - now() + random() * 3_600_000;
      } catch (error) {
        if (error instanceof CliError && error.code !== undefined && fatalCodes.has(error.code)) {
          io.log(`renewal refused: ${error.message}; stopping (register the device again)`);
          return exitCodes.refused;
        }
        failures += 1;
        wait = Math.min(60_000 * 2 ** (failures - 1), 3_600_000) * (0.5 + random());
        io.log(`renewal failed (${error instanceof Error ? error.message : String(error)}); retrying in ${Math.round(wait / 1000)} s`);
      }
    } else {
      wait = dueAt - now() + random() * 3_600_000;
      io.log(`token valid until ${current.expiresAt}; next renewal check at ${new Date(now() + wait).toISOString()}`);
    }
    if (once) return failures > 0 ? exitCodes.refused : exitCodes.ok;
    // Wake at least hourly: a suspended machine's timers do not count the time it slept.
    await sleep(Math.min(wait, 3_600_000), signal);
  }
  return exitCodes.ok;
}

function abortableSleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, milliseconds);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      done();
    }, { once: true });
  });
}

import { CliError, exitCodes, usageError } from './cliError.js';
import { debugOption, helpOption, helpText, parseCommandLine, versionOption, type CommandSpec, type OptionSpec, type ToolSpec } from './commandLine.js';
import type { DeviceClient, DeviceDescription, TokenAnswer } from './device/deviceClient.js';
import { describeThisDevice } from './device/description.js';
import type { DeviceIdentity, KeyType } from './device/identity.js';
import { DeviceState, defaultStateDir, type PendingState, type TokenState } from './device/state.js';
import { compactJws, oneOf, refuseCleartext, serviceUrl, wholeNumberIn } from './validate.js';

const toolName = 'cmg-client';

const urlOption: OptionSpec = { name: 'url', value: '<url>', help: 'the service, https:// (register stores it; the others use the stored one unless given)' };
const allowHttpOption: OptionSpec = {
  name: 'allow-http',
  help: 'allow http:// to another machine; without it only loopback may be http://, since\nthe bulk token and the device token would travel in clear',
};
const nameOption: OptionSpec = {
  name: 'name',
  value: '<name>',
  help: 'the name administrators see (1 to 64 characters); default this machine\'s host name,\nor the name register was given (register keeps it for renew and run)',
};

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
      nameOption,
      allowHttpOption,
    ],
    notes: [
      'Exactly one of --regtoken and --internal. Registering again reuses the key in the state folder.',
      'The service is told the device\'s name, OS and cmg-client version, for its administrators.',
      'While approval is pending the command exits 3 and status shows it; run (or run --once) asks again',
      'and picks up the token once an administrator approves.',
    ],
    example: `${toolName} register --url https://cmg.example.com --regtoken eyJhbGciOi... --state /var/lib/cmg-client`,
  },
  {
    name: 'renew',
    summary: 'renew the device token once renewAfter has passed',
    options: [urlOption, { name: 'force', help: 'renew now, even before renewAfter' }, nameOption, allowHttpOption],
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
    options: [urlOption, allowHttpOption],
    example: `${toolName} authenticate --state /var/lib/cmg-client`,
  },
  {
    name: 'run',
    summary: 'stay up and renew when due, with jitter and backoff; while pending, ask until approved',
    options: [
      urlOption,
      { name: 'once', help: 'one check (renewing if due, or asking once while pending), then exit:\nfor cron or a scheduled task' },
      { name: 'poll', value: '<seconds>', help: 'while approval is pending, how often to ask: 1 to 3600; default 60' },
      allowHttpOption,
    ],
    notes: [
      'While an internal registration is pending, it repeats the registration call (the protocol\'s way to',
      'learn of an approval) and saves the token once approved; run --once exits 3 while still pending.',
      'Stops with exit 1 when the service refuses for good: a revoked device must run reset and register again;',
      'an expired token must register again.',
    ],
    example: `${toolName} run --once`,
  },
  {
    name: 'reset',
    summary: 'forget the key, certificate and token, to start over with a new key (what a revoked device must do)',
    options: [{ name: 'yes', help: 'do not ask for confirmation (needed when not run on a terminal)' }],
    notes: ['Nothing is sent. register afterwards makes a new key, so the device gets a new device id.'],
    example: `${toolName} reset --yes --state /var/lib/cmg-client`,
  },
];

const common: OptionSpec[] = [
  { name: 'state', value: '<dir>', help: `where the key, certificate and token are kept; default $CMG_CLIENT_STATE,\nelse ${defaultStateDir()}. Created 0700; files 0600; an existing folder\nwritable by group or others, or owned by another user, is refused` },
  { name: 'json', help: 'machine-readable output' },
  debugOption,
  versionOption,
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
  /** cmg-client's version: --version, and what the device tells the service. */
  version?: string;
  /** Whether a person can answer a question (stdin and stderr are terminals). */
  isTerminal?: boolean;
  /** Asks a question on the terminal and returns the answer line. */
  ask?: (question: string) => Promise<string>;
}

const day = 86_400_000;

/** Answers that no retry can change: the device must register again. */
const fatalCodes = new Set(['token_expired', 'device_revoked', 'invalid_token', 'key_mismatch']);

export async function runClientCommand(argv: readonly string[], io: ClientIo): Promise<number> {
  const parsed = parseCommandLine(clientTool, argv);
  switch (parsed.kind) {
    case 'help':
      io.out(helpText(clientTool, parsed.command));
      return exitCodes.ok;
    case 'version':
      io.out(`${toolName} ${io.version ?? 'unknown'}`);
      return exitCodes.ok;
    case 'none':
      io.out(helpText(clientTool));
      throw usageError('no command given', `run ${toolName} register, renew, status, authenticate, run or reset; ${toolName} --help shows the above`);
    case 'run':
      break;
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
  const allowHttp = flag('allow-http');
  const givenUrl = urlText === undefined ? undefined : serviceUrl(urlText, '--url');
  if (givenUrl !== undefined) refuseCleartext(givenUrl, '--url', allowHttp, cleartextWhat);
  const nameText = text('name');
  const name = nameText === undefined ? undefined : deviceName(nameText);
  const state = new DeviceState(stateDir);
  const now = io.now ?? Date.now;
  const session: Session = { state, givenUrl, allowHttp, name, io };

  switch (command.name) {
    case 'register': {
      const url = givenUrl ?? (io.env.CMG_URL !== undefined ? serviceUrl(io.env.CMG_URL, 'CMG_URL') : undefined);
      if (url === undefined) throw usageError('register needs --url <service url> (or CMG_URL)', `run ${toolName} register --help`);
      if (givenUrl === undefined) refuseCleartext(url, 'CMG_URL', allowHttp, cleartextWhat);
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

      const pollText = text('poll');
      if (pollText !== undefined) wholeNumberIn(pollText, '--poll', 1, 3_600, ' seconds');

      await state.ensure();
      const identity = await identityFor(state, keyType, io);
      const client = await deviceClient(url, identity, io);
      // A name given before (and kept) stays the device's name unless --name changes it.
      const keptName = name ?? (await state.loadPending())?.name ?? (await state.loadToken())?.name;
      const device = describeThisDevice(keptName, io.version);
      const answer = await explained(
        state,
        regtoken !== undefined ? client.registerWithBulkToken(regtoken, device) : waitForApproval(client, state, url, waitSeconds * 1000, keptName, device, io),
      );
      const saved = await save(state, url, answer, undefined, keptName);
      print(`registered: device ${saved.deviceId}, token valid until ${saved.expiresAt}, renew after ${saved.renewAfter}`, saved);
      return exitCodes.ok;
    }
    case 'renew': {
      const { current, client } = await loaded(session);
      if (!flag('force') && now() < Date.parse(current.renewAfter)) {
        print(`not due: renew after ${current.renewAfter} (use --force to renew now)`, { renewed: false, ...current, token: undefined });
        return exitCodes.ok;
      }
      const keptName = name ?? current.name;
      const saved = await save(state, current.url, await explained(state, client.renew(current.token, describeThisDevice(keptName, io.version))), current.registration, keptName);
      print(`renewed: token valid until ${saved.expiresAt}, renew after ${saved.renewAfter}`, { renewed: true, ...saved, token: undefined });
      return exitCodes.ok;
    }
    case 'status':
      return showStatus(state, now, print);
    case 'authenticate': {
      const { current, client } = await loaded(session);
      const answer = await explained(state, client.authenticate(current.token));
      print(`authenticated: device ${answer.deviceId}, token valid until ${answer.expiresAt}`, answer);
      return exitCodes.ok;
    }
    case 'reset':
      return reset(state, flag('yes'), print, io);
    default: {
      const pollSeconds = wholeNumberIn(text('poll') ?? '60', '--poll', 1, 3_600, ' seconds');
      return runLoop(session, flag('once'), pollSeconds * 1000);
    }
  }
}

const cleartextWhat = 'the bulk registration token and the device token';

/** What the commands that talk to the service need besides the command line. */
interface Session {
  state: DeviceState;
  givenUrl: string | undefined;
  allowHttp: boolean;
  /** --name, checked. */
  name: string | undefined;
  io: ClientIo;
}

function deviceName(given: string): string {
  const trimmed = given.trim();
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (trimmed === '' || Array.from(trimmed).length > 64 || /[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) {
    throw usageError(`--name must be 1 to 64 characters without control characters (got ${JSON.stringify(given)})`);
  }
  return trimmed;
}

/**
 * Turns the service's refusals that no retry can change into what the device must do:
 * a revoked device starts over with a new key; an expired token registers again.
 */
async function explained<T>(state: DeviceState, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw refusal(error, state);
  }
}

function refusal(error: unknown, state: DeviceState): unknown {
  if (!(error instanceof CliError) || error.code === undefined) return error;
  const details = { status: error.status, code: error.code, cause: error } as const;
  const stateFlag = `--state ${state.dir}`;
  switch (error.code) {
    case 'device_revoked':
      return new CliError('refused: an administrator revoked this device; the service refuses its key for good (403 device_revoked)', exitCodes.refused, {
        ...details,
        hint: `start over with a new key: ${toolName} reset ${stateFlag}, then ${toolName} register`,
      });
    case 'token_expired':
      return new CliError(`refused: the device token has expired (${error.message})`, exitCodes.refused, {
        ...details,
        hint: `register again: ${toolName} register --regtoken <token> (or --internal) ${stateFlag}`,
      });
    case 'key_mismatch':
    case 'invalid_token':
      return new CliError(`refused: the service does not accept this device's token (${error.message})`, exitCodes.refused, {
        ...details,
        hint: `start over: ${toolName} reset ${stateFlag}, then ${toolName} register`,
      });
    default:
      return error;
  }
}

/** `reset`: removes the key, certificate, token and pending registration; nothing is sent. */
async function reset(state: DeviceState, yes: boolean, print: (lines: string, data: unknown) => void, io: ClientIo): Promise<number> {
  if (!yes && !(io.isTerminal && io.ask)) {
    throw usageError('reset asks for confirmation, and this is not a terminal: add --yes to reset without asking', `run ${toolName} reset --help`);
  }
  const [current, pending, identity] = await Promise.all([state.loadToken(), state.loadPending(), state.loadIdentity().catch(() => undefined)]);
  const url = current?.url ?? pending?.url;
  const deviceId = current?.deviceId ?? pending?.deviceId;
  if (!current && !pending && !identity && !(await state.hasFiles())) {
    print(`nothing to reset: no device state in ${state.dir}`, { reset: false, stateDir: state.dir });
    return exitCodes.ok;
  }
  if (!yes && io.ask) {
    const answer = (await io.ask(`Forget device ${deviceId ?? '(unregistered)'}'s key and token in ${state.dir}? It must register again, with a new device id. Type yes to reset: `)).trim().toLowerCase();
    if (answer !== 'yes' && answer !== 'y') throw new CliError(`not reset: ${state.dir} (not confirmed)`, exitCodes.refused, { hint: 'answer yes, or pass --yes' });
  }
  await state.clear();
  const again = `${toolName} register --url ${url ?? '<service url>'} --regtoken <token> (or --internal) --state ${state.dir}`;
  print(`reset: the key, certificate and token${deviceId ? ` of device ${deviceId}` : ''} are gone from ${state.dir}; register again with a new key: ${again}`, {
    reset: true,
    previousDeviceId: deviceId ?? null,
    stateDir: state.dir,
  });
  return exitCodes.ok;
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
async function loaded(session: Session): Promise<{ current: TokenState; client: DeviceClient }> {
  const { state, io } = session;
  const [current, identity] = await Promise.all([state.loadToken(), state.loadIdentity()]);
  if (!current || !identity) {
    const pending = await state.loadPending();
    if (pending && identity) {
      throw new CliError(`device ${pending.deviceId} is still waiting for an administrator's approval (since ${pending.since})`, exitCodes.pending, {
        hint: `${toolName} run --once --state ${state.dir} asks again and picks up the token once approved`,
      });
    }
    throw notRegistered(state);
  }
  return { current, client: await deviceClient(savedUrl(session, current.url), identity, io) };
}

/** --url, else the URL register saved; either way http:// to another machine needs --allow-http. */
function savedUrl(session: Session, saved: string): string {
  if (session.givenUrl !== undefined) return session.givenUrl;
  const source = `the URL saved in ${session.state.dir}`;
  const url = serviceUrl(saved, source);
  refuseCleartext(url, source, session.allowHttp, cleartextWhat);
  return url;
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

async function save(state: DeviceState, url: string, answer: TokenAnswer, registration: TokenState['registration'] | undefined, name: string | undefined): Promise<TokenState> {
  const reg = registration ?? registrationOf(answer.token);
  const saved: TokenState = {
    url,
    deviceId: answer.deviceId,
    token: answer.token,
    expiresAt: answer.expiresAt,
    renewAfter: answer.renewAfter,
    registration: reg,
    ...(name === undefined ? {} : { name }),
  };
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
async function waitForApproval(
  client: DeviceClient,
  state: DeviceState,
  url: string,
  timeoutMs: number,
  name: string | undefined,
  device: DeviceDescription,
  io: ClientIo,
): Promise<TokenAnswer> {
  const sleep = io.sleep ?? abortableSleep;
  const signal = io.signal ?? new AbortController().signal;
  const now = io.now ?? Date.now;
  const deadline = now() + timeoutMs;
  let delay = 5_000;
  for (;;) {
    const result = await client.registerInternal(device);
    if (result.kind === 'issued') return result.answer;
    if (now() + delay > deadline || signal.aborted) {
      const earlier = await state.loadPending();
      const since = earlier?.deviceId === result.deviceId ? earlier.since : new Date(now()).toISOString();
      const pending: PendingState = { url, deviceId: result.deviceId, since, ...(name === undefined ? {} : { name }) };
      await state.savePending(pending);
      throw new CliError(`device ${result.deviceId} is still waiting for an administrator's approval`, exitCodes.pending, {
        hint: `${toolName} run (or run --once, or register --internal again) picks up the token once approved; ${toolName} status shows the state`,
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
 *
 * While an internal registration is pending it repeats the registration call every
 * `pollMs`: the protocol tells a pending device of its approval only by answering that call
 * with 201 and the token (docs/protocol.md, internal registration).
 */
async function runLoop(session: Session, once: boolean, pollMs: number): Promise<number> {
  const { state, io } = session;
  const sleep = io.sleep ?? abortableSleep;
  const random = io.random ?? Math.random;
  const now = io.now ?? Date.now;
  const signal = io.signal ?? new AbortController().signal;
  const backoff = (failures: number) => Math.min(60_000 * 2 ** (failures - 1), 3_600_000) * (0.5 + random());
  let failures = 0;
  while (!signal.aborted) {
    const waiting = await pendingRegistration(session);
    if (waiting) {
      const { pending, client } = waiting;
      let wait = pollMs * (0.9 + random() * 0.2);
      try {
        const result = await explained(state, client.registerInternal(describeThisDevice(pending.name, io.version)));
        if (result.kind === 'issued') {
          const saved = await save(state, pending.url, result.answer, 'internal', pending.name);
          io.log(`approved: device ${saved.deviceId} got its token, valid until ${saved.expiresAt}; next renewal after ${saved.renewAfter}`);
          failures = 0;
          if (once) return exitCodes.ok;
          continue;
        }
        failures = 0;
        if (once) {
          throw new CliError(`device ${pending.deviceId} is still waiting for an administrator's approval (since ${pending.since})`, exitCodes.pending, {
            hint: `${toolName} run --once asks again; it saves the token once an administrator approves`,
          });
        }
        io.log(`device ${pending.deviceId} still waits for an administrator's approval (since ${pending.since}); asking again in ${Math.round(wait / 1000)} s`);
      } catch (error) {
        if (isFinal(error) || once) throw error;
        failures += 1;
        // Backs off from the poll interval, not from the renewal's minute: one failed ask
        // (a timeout, a 503) must not keep an approved device waiting far past its --poll.
        wait = Math.min(pollMs * 2 ** failures, 3_600_000) * (0.5 + random());
        io.log(`asking about the approval failed (${error instanceof Error ? error.message : String(error)}); retrying in ${Math.round(wait / 1000)} s`);
      }
      await sleep(wait, signal);
      continue;
    }
    const { current, client } = await loaded(session);
    const dueAt = Date.parse(current.renewAfter);
    let wait: number;
    if (now() >= dueAt) {
      try {
        io.log(`renewal due (renewAfter ${current.renewAfter}); renewing`);
        const answer = await explained(state, client.renew(current.token, describeThisDevice(current.name, io.version)));
        const saved = await save(state, current.url, answer, current.registration, current.name);
        io.log(`renewed: token valid until ${saved.expiresAt}, next renewal after ${saved.renewAfter}`);
        failures = 0;
        wait = Date.parse(saved.renewAfter) - now() + random() * 3_600_000;
      } catch (error) {
        if (isFinal(error)) throw error;
        failures += 1;
        wait = backoff(failures);
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

/** A refusal no retry can change (revoked, expired, not accepted), or a local mistake. */
function isFinal(error: unknown): boolean {
  if (!(error instanceof CliError)) return false;
  return (error.code !== undefined && fatalCodes.has(error.code)) || error.exitCode === exitCodes.usage || error.exitCode === exitCodes.notRegistered;
}

/** A pending internal registration (no token yet) and a client to ask about it. */
async function pendingRegistration(session: Session): Promise<{ pending: PendingState; client: DeviceClient } | undefined> {
  const { state, io } = session;
  if (await state.loadToken()) return undefined;
  const [pending, identity] = await Promise.all([state.loadPending(), state.loadIdentity()]);
  if (!pending || !identity) return undefined;
  return { pending, client: await deviceClient(savedUrl(session, pending.url), identity, io) };
}

function abortableSleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    // The listener goes with the timer: a loop that sleeps often must not pile them up on the signal.
    const stop = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      done();
    }, milliseconds);
    signal.addEventListener('abort', stop, { once: true });
  });
}

import { parseArgs } from 'node:util';
import { CliError } from './serviceClient.js';
import { DeviceClient, type TokenAnswer } from './device/deviceClient.js';
import { createDeviceIdentity, thumbprintOf, type DeviceIdentity, type KeyType } from './device/identity.js';
import { DeviceState, defaultStateDir, type TokenState } from './device/state.js';

export const usage = `cmg-client: the device side of token-based authentication (the counterpart of ccmsetup /regtoken:)

  cmg-client register --url <url> --regtoken <bulk token>   register over the internet with a bulk token
  cmg-client register --url <url> --internal                register from the internal network
                      [--key-type rsa|ec] [--wait <seconds>]  (rsa = RSA 2048, the default; ec = P-256;
                                                              --wait: how long to poll while approval is pending, default 600)
  cmg-client renew [--force]        renew the token once renewAfter has passed (--force: now)
  cmg-client status                 device id, registration, expiry and days left
  cmg-client authenticate           ask the service to check the token and a fresh proof (for scripts, health checks)
  cmg-client run [--once]           stay up and renew when due, with jitter and backoff (--once: one check, then exit)

Options:
  --state <dir>   where the key, certificate and token are kept (default ${defaultStateDir()}); files are 0600
  --url <url>     service URL (register stores it; other commands use the stored one unless given)
  --json          machine-readable output
  -h, --help      this help

Exit codes: 0 done, 1 the service refused or could not be reached, 2 bad usage, 3 approval still pending.`;

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
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      regtoken: { type: 'string' },
      internal: { type: 'boolean', default: false },
      'key-type': { type: 'string', default: 'rsa' },
      wait: { type: 'string', default: '600' },
      state: { type: 'string' },
      force: { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...extra] = positionals;
  if (values.help || command === undefined) {
    io.out(usage);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument ${extra[0]}; run with --help`, 2);
  const state = new DeviceState(values.state ?? io.env.CMG_CLIENT_STATE ?? defaultStateDir(io.env));
  const now = io.now ?? Date.now;
  const print = (text: string, data: unknown) => io.out(values.json ? JSON.stringify(data, null, 2) : text);

  switch (command) {
    case 'register': {
      const url = values.url ?? io.env.CMG_URL;
      if (!url) throw new CliError('register needs --url <service url>', 2);
      if ((values.regtoken === undefined) === !values.internal) throw new CliError('register needs exactly one of --regtoken <token> or --internal', 2);
      const keyType = values['key-type'];
      if (keyType !== 'rsa' && keyType !== 'ec') throw new CliError('--key-type must be rsa or ec', 2);
      const identity = await identityFor(state, keyType, io);
      const client = new DeviceClient(url, identity, io.fetch);
      const answer =
        values.regtoken !== undefined
          ? await client.registerWithBulkToken(values.regtoken)
          : await waitForApproval(client, wholeSeconds(values.wait, '--wait') * 1000, io);
      const saved = await save(state, url, answer);
      print(`registered: device ${saved.deviceId}, token valid until ${saved.expiresAt}, renew after ${saved.renewAfter}`, saved);
      return 0;
    }
    case 'renew': {
      const { current, client } = await loaded(state, values.url, io);
      if (!values.force && now() < Date.parse(current.renewAfter)) {
        print(`not due: renew after ${current.renewAfter} (use --force to renew now)`, { renewed: false, ...current, token: undefined });
        return 0;
      }
      const saved = await save(state, current.url, await client.renew(current.token), current.registration);
      print(`renewed: token valid until ${saved.expiresAt}, renew after ${saved.renewAfter}`, { renewed: true, ...saved, token: undefined });
      return 0;
    }
    case 'status': {
      const current = await state.loadToken();
      const identity = await state.loadIdentity();
      if (!current || !identity) throw new CliError(`not registered (no token in ${state.dir}); run cmg-client register`);
      const daysLeft = Math.floor((Date.parse(current.expiresAt) - now()) / day);
      const status = {
        deviceId: current.deviceId,
        registration: current.registration,
        url: current.url,
        expiresAt: current.expiresAt,
        renewAfter: current.renewAfter,
        daysLeft,
        expired: daysLeft < 0 || Date.parse(current.expiresAt) <= now(),
        thumbprint: thumbprintOf(identity),
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
      return status.expired ? 1 : 0;
    }
    case 'authenticate': {
      const { current, client } = await loaded(state, values.url, io);
      const answer = await client.authenticate(current.token);
      print(`authenticated: device ${answer.deviceId}, token valid until ${answer.expiresAt}`, answer);
      return 0;
    }
    case 'run':
      return runLoop(state, values.url, values.once, io);
    default:
      throw new CliError(`unknown command "${command}"; run with --help`, 2);
  }
}

async function identityFor(state: DeviceState, keyType: KeyType, io: ClientIo): Promise<DeviceIdentity> {
  // Reusing the key makes a repeated register idempotent: same certificate, same device id.
  const existing = await state.loadIdentity();
  if (existing) return existing;
  io.log(`generating a ${keyType === 'rsa' ? 'RSA 2048' : 'EC P-256'} key and a self-signed certificate in ${state.dir}`);
  const identity = await createDeviceIdentity(keyType);
  await state.saveIdentity(identity);
  return identity;
}

async function loaded(state: DeviceState, url: string | undefined, io: ClientIo): Promise<{ current: TokenState; client: DeviceClient }> {
  const [current, identity] = await Promise.all([state.loadToken(), state.loadIdentity()]);
  if (!current || !identity) throw new CliError(`not registered (no token in ${state.dir}); run cmg-client register`);
  return { current, client: new DeviceClient(url ?? current.url, identity, io.fetch) };
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

/** Polls a pending internal registration with backoff (5 s doubling to 60 s) until approved or `timeoutMs`. */
async function waitForApproval(client: DeviceClient, timeoutMs: number, io: ClientIo): Promise<TokenAnswer> {
  const sleep = io.sleep ?? abortableSleep;
  const signal = io.signal ?? new AbortController().signal;
  const now = io.now ?? Date.now;
  const deadline = now() + timeoutMs;
  let delay = 5_000;
  for (;;) {
    const result = await client.registerInternal();
    if (result.kind === 'issued') return result.answer;
    if (now() + delay > deadline) {
      throw new CliError(`device ${result.deviceId} is still waiting for an administrator's approval; run register again later`, 3);
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
          return 1;
        }
        failures += 1;
        wait = Math.min(60_000 * 2 ** (failures - 1), 3_600_000) * (0.5 + random());
        io.log(`renewal failed (${error instanceof Error ? error.message : String(error)}); retrying in ${Math.round(wait / 1000)} s`);
      }
    } else {
      wait = dueAt - now() + random() * 3_600_000;
      io.log(`token valid until ${current.expiresAt}; next renewal check at ${new Date(now() + wait).toISOString()}`);
    }
    if (once) return failures > 0 ? 1 : 0;
    // Wake at least hourly: a suspended machine's timers do not count the time it slept.
    await sleep(Math.min(wait, 3_600_000), signal);
  }
  return 0;
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

function wholeSeconds(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`${flag} must be a whole number of seconds`, 2);
  return Number(text);
}

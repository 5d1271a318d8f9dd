import { defaultReplayShards, maxReplayShards } from '../shared/proof/replayShardCount.js';
import type { BenchKeyType } from './devices.js';

/** The attackCost part's bounds: the attack against a normal refused proof, a blocked token against no proof work (decision 0012). */
export const defaultAttackBound = 1.5;
/** Command-line options of `npm run bench -- [options]`. */
export interface BenchOptions {
  seed: number;
  parts: Part[];
  concurrency: number[];
  durationSeconds: number;
  warmupSeconds: number;
  devices: number;
  deviceKey: BenchKeyType;
  breakdownOperations: number;
  authStorage: Array<'embedded' | 'worker'>;
  registrations: number;
  registerConcurrency: number;
  startupRuns: number;
  soakRequests: number;
  soakConcurrency: number;
  soakMaxMinutes: number;
  heapBoundMb: number;
  hostCpuProf: string | undefined;
  attackRequests: number;
  attackBound: number;
  throttleBudget: number | 'auto';
  throttleShards: number[];
  throttleConcurrency: number;
  throttleDuration: number;
  fleetAuthenticates: number;
  fleetConcurrency: number[];
}

export const allParts = ['authenticate', 'breakdown', 'registration', 'startup', 'soak', 'attackCost', 'throttled', 'fleet'] as const;
export type Part = (typeof allParts)[number];

export const usage = `npm run bench -- [options]

  --seed N                 seed of every random choice (device keys, request order, jtis); default 1
  --parts LIST             any of ${allParts.join(',')}; default all
  --concurrency LIST       (a) concurrency levels; default 1,16,64
  --duration S             (a) seconds of each timed run; default 5
  --warmup S               (a, throttled) seconds of warm-up before each timed run; default 4; (a) gives each
                           host's first level 2.5x that, over the no-op, the hit and the miss path
  --devices N              (a, soak) registered devices the requests are spread over; default 16
  --device-key rsa|ec      (a, breakdown, soak) the devices' keys: rsa (RSA 2048, RS256, cmg-client's default) or
                           ec (P-256, ES256, cmg-client --key-type ec); default rsa
  --auth-storage LIST      (a) embedded (the host's own Azurite, as npm start) and/or worker (the bench's
                           Azurite in a worker thread, outside the host's event loop); default worker
                           (embedded puts Azurite's work into the host's CPU, so it has no floor)
  --breakdown-ops N        (a, breakdown) operations per step; default 2000
  --registrations N        (b) devices registered in each run; default 500
  --register-concurrency N (b) default 16
  --startup-runs N         (c) default 5
  --soak-requests N        (soak) authenticate requests; default 100000
  --soak-concurrency N     (soak) default 16
  --soak-max-minutes N     (soak) stop after this long, as a failure; default 30
  --heap-bound-mb N        (soak) largest heap growth accepted; default 10
  --attack-requests N      (attackCost) refused requests of each kind; default 400
  --attack-bound X         (attackCost) the largest CPU ratio each of its two bounds accepts; default ${defaultAttackBound}
  --throttle-budget N|auto (throttled) entities/s each replay-cache partition serves; default auto: an eighth of the
                           rate a first run without a limit reaches on this machine
  --throttle-shards LIST   (throttled) REPLAY_SHARDS of each run; default 1,${defaultReplayShards} (1 and the default)
  --throttle-concurrency N (throttled) default 64
  --throttle-duration S    (throttled) seconds of each timed run; default 10
  --fleet-authenticates N  (fleet) authenticates per device inside one last-seen window; default 100
  --fleet-concurrency LIST (fleet) concurrency levels of its authenticate runs; default 1,8
  --host-cpu-prof DIR      (a) CPU-profile the host during each timed authenticate run, into DIR/*.cpuprofile
                           (summarise one with: node dist/bench/cpuProfile.js FILE)
  -h, --help               this help

Exit codes: 0 done, 1 a run had errors or the heap bound failed, 2 bad usage.
`;

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    seed: 1,
    parts: [...allParts],
    concurrency: [1, 16, 64],
    durationSeconds: 5,
    warmupSeconds: 4,
    devices: 16,
    deviceKey: 'rsa',
    breakdownOperations: 2000,
    authStorage: ['worker'],
    registrations: 500,
    registerConcurrency: 16,
    startupRuns: 5,
    soakRequests: 100_000,
    soakConcurrency: 16,
    soakMaxMinutes: 30,
    heapBoundMb: 10,
    hostCpuProf: undefined,
    attackRequests: 400,
    attackBound: defaultAttackBound,
    throttleBudget: 'auto',
    throttleShards: [1, defaultReplayShards],
    throttleConcurrency: 64,
    throttleDuration: 10,
    fleetAuthenticates: 100,
    fleetConcurrency: [1, 8],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    if (flag === '--help' || flag === '-h') {
      console.log(usage);
      process.exit(0);
    }
    const value = argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    switch (flag) {
      case '--seed':
        options.seed = integerOption(flag, value, 0, 2 ** 32 - 1);
        break;
      case '--parts': {
        const parts = value.split(',').map((part) => part.trim());
        const unknown = parts.filter((part) => !(allParts as readonly string[]).includes(part));
        if (unknown.length > 0) throw new UsageError(`--parts: unknown part(s) ${unknown.join(', ')}`);
        options.parts = parts as Part[];
        break;
      }
      case '--concurrency':
        options.concurrency = value.split(',').map((level) => integerOption(flag, level, 1, 1024));
        break;
      case '--duration':
        options.durationSeconds = numberOption(flag, value, 0.5, 600);
        break;
      case '--warmup':
        options.warmupSeconds = numberOption(flag, value, 0, 60);
        break;
      case '--devices':
        options.devices = integerOption(flag, value, 1, 10_000);
        break;
      case '--device-key':
        if (value !== 'rsa' && value !== 'ec') throw new UsageError('--device-key: rsa or ec');
        options.deviceKey = value;
        break;
      case '--auth-storage': {
        const modes = value.split(',').map((mode) => mode.trim());
        if (modes.some((mode) => mode !== 'embedded' && mode !== 'worker')) throw new UsageError('--auth-storage: embedded, worker or both');
        options.authStorage = modes as Array<'embedded' | 'worker'>;
        break;
      }
      case '--breakdown-ops':
        options.breakdownOperations = integerOption(flag, value, 10, 1_000_000);
        break;
      case '--registrations':
        options.registrations = integerOption(flag, value, 1, 1_000_000);
        break;
      case '--register-concurrency':
        options.registerConcurrency = integerOption(flag, value, 1, 1024);
        break;
      case '--startup-runs':
        options.startupRuns = integerOption(flag, value, 1, 100);
        break;
      case '--soak-requests':
        options.soakRequests = integerOption(flag, value, 1, 10_000_000);
        break;
      case '--soak-concurrency':
        options.soakConcurrency = integerOption(flag, value, 1, 1024);
        break;
      case '--soak-max-minutes':
        options.soakMaxMinutes = numberOption(flag, value, 1, 24 * 60);
        break;
      case '--heap-bound-mb':
        options.heapBoundMb = numberOption(flag, value, 0, 100_000);
        break;
      case '--attack-requests':
        options.attackRequests = integerOption(flag, value, 10, 100_000);
        break;
      case '--attack-bound':
        options.attackBound = numberOption(flag, value, 1, 1_000_000);
        break;
      case '--throttle-budget':
        options.throttleBudget = value === 'auto' ? 'auto' : integerOption(flag, value, 1, 100_000);
        break;
      case '--throttle-shards':
        options.throttleShards = value.split(',').map((count) => integerOption(flag, count, 1, maxReplayShards));
        break;
      case '--throttle-concurrency':
        options.throttleConcurrency = integerOption(flag, value, 1, 1024);
        break;
      case '--throttle-duration':
        options.throttleDuration = numberOption(flag, value, 0.5, 600);
        break;
      case '--fleet-authenticates':
        options.fleetAuthenticates = integerOption(flag, value, 1, 100_000);
        break;
      case '--fleet-concurrency':
        options.fleetConcurrency = value.split(',').map((level) => integerOption(flag, level, 1, 1024));
        break;
      case '--host-cpu-prof':
        options.hostCpuProf = value;
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  return options;
}

export class UsageError extends Error {}

/** A number from `min` to `max`, or a UsageError naming the flag. */
export function numberOption(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`${flag}: a number from ${min} to ${max} (got ${text})`);
  return value;
}

/** A whole number from `min` to `max`, or a UsageError naming the flag. */
export function integerOption(flag: string, text: string, min: number, max: number): number {
  const value = numberOption(flag, text, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`${flag}: a whole number (got ${text})`);
  return value;
}

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type SigningAlg } from '../../shared/config.js';
import { useServices } from '../../shared/runtime/processServices.js';
import { createServices, type ServiceOverrides, type Services } from '../../shared/services.js';
import { generatePrivateKey, LocalKeySigner } from '../../shared/signing/localKeySigner.js';
import type { Clock } from '../../shared/clock.js';

/** A clock the test moves by hand. */
export class TestClock implements Clock {
  // Starts at the real time (then frozen), so certificates made now are inside their validity.
  constructor(public seconds = Math.floor(Date.now() / 1000)) {}
  now(): number {
    return this.seconds;
  }
  advance(seconds: number): void {
    this.seconds += seconds;
  }
}

export const testAdminKey = randomBytes(32).toString('base64url');

/** A table prefix no other test file uses, so each file sees only its own rows. */
export function uniqueTablePrefix(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

export function testConfig(env: Record<string, string> = {}): Config {
  const storage = process.env.TEST_STORAGE_CONNECTION;
  if (!storage) throw new Error('TEST_STORAGE_CONNECTION is not set: jest globalSetup did not run');
  return loadConfig({
    STORAGE_CONNECTION: storage,
    ADMIN_KEY: testAdminKey,
    TABLE_PREFIX: uniqueTablePrefix(),
    LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'cmg-test-')),
    ...env,
  });
}

export interface TestServices extends Services {
  clock: TestClock;
}

/**
 * Services against the test Azurite, with a frozen clock and a fresh in-memory signing key,
 * installed as the process's services so handlers called directly use them.
 */
export async function installTestServices(
  options: { env?: Record<string, string>; alg?: SigningAlg; overrides?: ServiceOverrides } = {},
): Promise<TestServices> {
  const clock = new TestClock();
  const alg = options.alg ?? 'RS256';
  const signer = await LocalKeySigner.fromPrivateKey(generatePrivateKey(alg), alg);
  const services = await createServices(testConfig(options.env), { clock, signer, ...options.overrides });
  useServices(services);
  return services as TestServices;
}

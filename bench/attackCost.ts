import { randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import functions, { type HttpRequest as HttpRequestType, type HttpResponseInit, type InvocationContext as ContextType } from '@azure/functions';
import type { DeviceIdentity } from '../cli/device/identity.js';
import { provideFunctionsCore } from '../host/coreShim.js';
import { loadConfig } from '../shared/config.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices } from '../shared/services.js';
import { oversizedExponentKey, rsaIdentity } from '../testkit/attackCertificates.js';
import { registerInProcess, threadCpuMicros } from './authenticateStages.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { athOf, JtiSource, seededDevices, tokenOf, type BenchDevice } from './devices.js';
import { table, whole, type PartReport } from './format.js';
import type { SeededRandom } from './random.js';

// The library's bundle hides these from ESM's named-export detection (as in host/server.ts).
const { HttpRequest, HttpResponse, InvocationContext } = functions;

type Handler = (request: HttpRequestType, context: ContextType) => Promise<HttpResponseInit>;

export interface AttackCostOptions {
  azurite: BenchAzurite;
  tablePrefix: string;
  /** Requests per kind. */
  requests: number;
  /**
   * The largest ratio that passes, for both bounds: the attack's CPU per request against a
   * normal refused proof's, and a blocked bulk token's refusal against one with no proof
   * work (decision 0012).
   */
  bound: number;
}

interface Kind {
  name: string;
  handler: 'authenticate' | 'register';
  /** The answer every request of this kind must get. */
  expect: { status: number; code: string };
  /** A request's bearer token and a fresh proof, made before the timed run. */
  make: () => { bearer: string; proof: string };
  cpuMicros: number;
  threadMicros: number;
  wallMicros: number;
  operations: number;
}

const origin = 'http://127.0.0.1';
const rounds = 10;

/**
 * What a refused request costs: the attack (an RSA 3072 certificate with a 3,070-bit
 * public exponent and fresh bytes after its DER each time, sent with a stolen device token)
 * against a normal RSA 2048 proof that is refused too. The authenticate and register
 * functions run in this process, one request at a time, against the bench's Azurite, with
 * every proof signed before the timed run. The last row redoes, with node:crypto alone, the
 * work the earlier code did for each attack request (parse, self-signature, proof
 * signature, all with the 3,070-bit exponent), for comparison.
 */
export async function attackCost(options: AttackCostOptions, random: SeededRandom): Promise<PartReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cmg-bench-attack-'));
  try {
    const config = loadConfig({ STORAGE_CONNECTION: options.azurite.connectionString, TABLE_PREFIX: options.tablePrefix, LOCAL_DATA_DIR: dataDir });
    const services = await createServices(config);
    useServices(services);
    provideFunctionsCore();
    const handlers: Record<Kind['handler'], Handler> = {
      authenticate: ((await import('../functions/authenticateDevice.js'))).authenticateDevice,
      register: ((await import('../functions/registerDevice.js'))).registerDevice,
    };
    const jtis = new JtiSource(random.fork('jti'));
    const [victim, other] = (await seededDevices(random.fork('devices'), 'attack', 2, 'rsa')) as [BenchDevice, BenchDevice];
    await registerInProcess(services, [victim, other], jtis);
    const attacker = await rsaIdentity(oversizedExponentKey(3072, 3070));
    const bulk = await services.bulkTokens.create({ lifetimeMinutes: 60 });
    const blocked = await services.bulkTokens.create({ lifetimeMinutes: 60 });
    await services.bulkTokens.setBlocked(blocked.id, true);
    // The service's own token with its signature's last characters changed: refused at the token.
    const [head = '', body = '', signature = ''] = bulk.token.split('.');
    const forged = `${head}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const stolen = tokenOf(victim);
    const now = () => Math.floor(Date.now() / 1000);
    const proof = (identity: DeviceIdentity, der: Buffer, path: string, bearer: string) =>
      signedProof(identity.privateKey, der, { htm: 'POST', htu: `${origin}/api/${path}`, iat: now(), jti: jtis.next(), ath: athOf(bearer) });
    const withFreshBytes = () => Buffer.concat([attacker.certificateDer, randomBytes(3)]);

    const kinds: Kind[] = [
      kind('normal: RSA 2048, its own token, proof for another path -> 401 proof_rejected', 'authenticate', 401, 'proof_rejected', () => ({
        bearer: stolen,
        proof: proof(victim.identity, victim.identity.certificateDer, 'renew', stolen),
      })),
      kind("normal: RSA 2048 certificate of another registered device, stolen token -> 401 key_mismatch", 'authenticate', 401, 'key_mismatch', () => ({
        bearer: stolen,
        proof: proof(other.identity, other.identity.certificateDer, 'authenticate', stolen),
      })),
      kind('attack: RSA 3072, 3,070-bit exponent, 3 fresh bytes after the DER, stolen token -> 401 key_mismatch', 'authenticate', 401, 'key_mismatch', () => ({
        bearer: stolen,
        proof: proof(attacker, withFreshBytes(), 'authenticate', stolen),
      })),
      // Registration verifies the bulk token and reads its record before any proof work (decision
      // 0012), and has no cached certificate to compare with: its own normal refusal is the
      // baseline of the attack there.
      kind('normal at registration: RSA 2048, a bulk token, proof for another path -> 401 proof_rejected', 'register', 401, 'proof_rejected', () => ({
        bearer: bulk.token,
        proof: proof(other.identity, other.identity.certificateDer, 'renew', bulk.token),
      })),
      kind('attack at registration (no cnf to compare): the same certificate, a bulk token -> 400 invalid_certificate', 'register', 400, 'invalid_certificate', () => ({
        bearer: bulk.token,
        proof: proof(attacker, withFreshBytes(), 'register', bulk.token),
      })),
      kind('no proof work: a bulk token with a broken signature, a valid proof -> 401 invalid_token', 'register', 401, 'invalid_token', () => ({
        bearer: forged,
        proof: proof(other.identity, other.identity.certificateDer, 'register', forged),
      })),
      kind('flood: a blocked bulk token, a fresh valid proof each time -> 401 token_blocked', 'register', 401, 'token_blocked', () => ({
        bearer: blocked.token,
        proof: proof(other.identity, other.identity.certificateDer, 'register', blocked.token),
      })),
    ];

    // Every proof is signed before anything is timed: n per kind plus a warm-up.
    const warmup = Math.min(20, options.requests);
    const inputs = kinds.map((current) => Array.from({ length: options.requests + warmup }, () => current.make()));
    const used = kinds.map(() => 0);
    const run = async (index: number, count: number, timed: boolean) => {
      const current = kinds[index] as Kind;
      const batch = inputs[index] as Array<{ bearer: string; proof: string }>;
      const thread = threadCpuMicros();
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const input = batch[used[index]!++] as { bearer: string; proof: string };
        await answer(handlers[current.handler], current, input);
      }
      if (!timed) return;
      const spent = process.cpuUsage(cpu);
      current.wallMicros += (performance.now() - started) * 1000;
      current.threadMicros += threadCpuMicros() - thread;
      current.cpuMicros += spent.user + spent.system;
      current.operations += count;
    };
    for (const index of kinds.keys()) await run(index, warmup, false);
    const perRound = Math.ceil(options.requests / rounds);
    for (let round = 0; round < rounds; round++) {
      for (const index of kinds.keys()) await run(index, Math.min(perRound, options.requests - (kinds[index] as Kind).operations), true);
    }

    const before = oldAttackCost(attacker, Math.max(5, Math.round(options.requests / 20)));
    const per = (current: Kind, field: 'cpuMicros' | 'threadMicros' | 'wallMicros') => current[field] / Math.max(1, current.operations);
    // Each function's rows against its own normal refusal: authenticate's cached token and
    // certificate make its requests far cheaper than any registration.
    const normal = { authenticate: kinds[0] as Kind, register: kinds[3] as Kind };
    // The bound holds for both places the hostile certificate is parsed: authenticate and registration.
    const attacks = [kinds[2], kinds[4]] as Kind[];
    const ratioOf = (current: Kind) => per(current, 'threadMicros') / per(normal[current.handler], 'threadMicros');
    const ratioText = (current: Kind) => `${ratioOf(current).toFixed(2)}x`;
    const attacksHeld = attacks.every((current) => ratioOf(current) <= options.bound);
    const noProofWork = kinds[5] as Kind;
    const flood = kinds[6] as Kind;
    const blockedRatio = per(flood, 'threadMicros') / per(noProofWork, 'threadMicros');
    const blockedHeld = blockedRatio < options.bound;
    const held = attacksHeld && blockedHeld;
    return {
      title: `(attackCost) CPU of a refused request: an oversized-exponent certificate attack against a normal RSA 2048 proof, this process, concurrency 1, ${whole(options.requests)} requests of each kind`,
      table: table(
        ['request (all refused)', 'wall µs', 'CPU µs (request thread)', 'CPU µs (process)', 'thread CPU / normal of its function'],
        [
          ...kinds.map((current) => [current.name, whole(per(current, 'wallMicros')), whole(per(current, 'threadMicros')), whole(per(current, 'cpuMicros')), ratioText(current)]),
          [
            `  the attack's crypto on the earlier code (parse, self-signature, proof signature; node:crypto, ${before.operations} runs)`,
            whole(before.micros),
            whole(before.micros),
            '–',
            `${(before.micros / per(normal.authenticate, 'threadMicros')).toFixed(2)}x`,
          ],
        ],
      ),
      notes: [
        `bound: the attack costs at most ${options.bound}x the normal refused proof of the same function in CPU of the request thread, at authenticate and at registration: ` +
          `${attacks.map(ratioText).join(' and ')} -> ${attacksHeld ? 'HELD' : 'FAILED'}`,
        `bound: a blocked bulk token's refusal costs under ${options.bound}x a refusal with no proof work (broken bulk-token signature) in CPU of the request thread: ` +
          `${blockedRatio.toFixed(2)}x (wall ${(per(flood, 'wallMicros') / per(noProofWork, 'wallMicros')).toFixed(2)}x) -> ${blockedHeld ? 'HELD' : 'FAILED'}`,
        'each request goes through the function as the host calls it (HttpRequest in, HttpResponse out, no HTTP server); ' +
          "authenticate also reads the revocation list's change marker from the bench's Azurite (a worker thread), which CPU (process) includes",
      ],
      ok: held,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function kind(name: string, handler: Kind['handler'], status: number, code: string, make: Kind['make']): Kind {
  return { name, handler, expect: { status, code }, make, cpuMicros: 0, threadMicros: 0, wallMicros: 0, operations: 0 };
}

async function answer(handler: Handler, current: Kind, input: { bearer: string; proof: string }): Promise<void> {
  const request = new HttpRequest({
    method: 'POST',
    url: `${origin}/api/${current.handler}`,
    headers: { authorization: `Bearer ${input.bearer}`, 'content-type': 'application/json' },
    body: { string: JSON.stringify({ proof: input.proof }) },
  });
  const context = new InvocationContext({ invocationId: 'bench-attack', functionName: current.handler, logHandler: () => undefined });
  const response = new HttpResponse(await handler(request, context));
  const body = (await response.json()) as { code?: string };
  if (response.status !== current.expect.status || body.code !== current.expect.code) {
    throw new Error(`${current.name}: answered ${response.status} ${body.code ?? ''}, expected ${current.expect.status} ${current.expect.code}`);
  }
}

/** A proof signed RS256 with `key`, carrying `der` (whatever bytes) as its x5c. */
function signedProof(key: KeyObject, der: Buffer, claims: { htm: string; htu: string; iat: number; jti: string; ath: string }): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'device-proof+jwt', x5c: [der.toString('base64')] })).toString('base64url');
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input, 'ascii'), key).toString('base64url')}`;
}

/** The attack's certificate and signature work as the earlier code did it, per request, in µs of this thread. */
function oldAttackCost(attacker: DeviceIdentity, operations: number): { micros: number; operations: number } {
  const input = Buffer.from('header.payload', 'ascii');
  const signature = sign('sha256', input, attacker.privateKey);
  const started = threadCpuMicros();
  for (let i = 0; i < operations; i++) {
    const certificate = new X509Certificate(Buffer.concat([attacker.certificateDer, randomBytes(3)]));
    const key = certificate.publicKey;
    if (!certificate.verify(key) || !verify('sha256', input, key, signature)) throw new Error('the attacker certificate does not verify');
  }
  return { micros: (threadCpuMicros() - started) / operations, operations };
}

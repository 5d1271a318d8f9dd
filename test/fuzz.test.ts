import type { HttpHandler } from '@azure/functions';
import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { approveDevice } from '../functions/approveDevice.js';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { blockBulkToken } from '../functions/blockBulkToken.js';
import { createBulkToken } from '../functions/createBulkToken.js';
import { health } from '../functions/health.js';
import { jwks } from '../functions/jwks.js';
import { listBulkTokens } from '../functions/listBulkTokens.js';
import { listDevices } from '../functions/listDevices.js';
import { openApi } from '../functions/openApi.js';
import { registerDevice } from '../functions/registerDevice.js';
import { registerInternal } from '../functions/registerInternal.js';
import { renewDeviceToken } from '../functions/renewDeviceToken.js';
import { revokeDevice } from '../functions/revokeDevice.js';
import { unblockBulkToken } from '../functions/unblockBulkToken.js';
import { createDeviceIdentity, signProof, thumbprintOf, type DeviceIdentity } from '../cli/device/identity.js';
import { deviceIdFor } from '../shared/devices/deviceId.js';
import { TableBulkTokenStore } from '../shared/bulkTokens/tableBulkTokenStore.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { TableReplayShardRegistry } from '../shared/proof/replayShards.js';
import { TableAuditStore } from '../shared/audit/tableAuditStore.js';
import { deviceCall, serviceUrl } from './support/devices.js';
import { endpointSeed, fuzzParameters, fuzzRuns, fuzzSeed, Outcomes, problemViolation, tableChanges, withTimeout, WriteSpy, writeKey, type TableWrite } from './support/fuzzKit.js';
import {
  authPlan,
  bodyPlan,
  contentLengthAcceptable,
  contentLengthPlan,
  contentTypeAcceptable,
  contentTypePlan,
  escapedPathPlan,
  hostHeaderPlan,
  bearerCredentialOf,
  headerText,
  junkHeaders,
  materializeAuth,
  materializeBody,
  materializeProof,
  oddValue,
  proofPlan,
  schemePlan,
  schemes,
  tokenForge,
  type AuthPlan,
  type BodyPlan,
  type ProofPlan,
  type TokenChoice,
  type TokenForge,
} from './support/fuzzPlans.js';
import { bearer, invoke, type Answer, type CallOptions } from './support/invoke.js';
import { installTestServices, testAdminKey, type TestServices } from './support/services.js';
import { rawRequest, startInProcessHost, type InProcessHost, type RawAnswer } from './support/inProcessHost.js';
import { dumpTables } from './support/tables.js';

/**
 * Every HTTP endpoint, fed random and mutated requests built from the service's own tokens
 * and real signed proofs. The property (docs/protocol.md section 5: "Bad input never produces a
 * 500 and never leaves anything stored"):
 *
 * - each answer comes within a deadline, and is either a problem+json refusal whose `code`
 *   is one of shared/errors.ts and whose status is that code's (never 5xx), or a success
 *   where every part of the request could be valid;
 * - a refused request writes nothing but, where decision 0009 says so, its one audit entry,
 *   with one more exception: a proof that is valid on its own
 *   may take its place in the replay cache before a later check refuses the request (a
 *   revoked device, a blocked bulk token). That is by design — the replay check is the last
 *   step of proof verification, and a proof must not be usable twice even then — so replay
 *   rows are allowed exactly for requests whose proof was valid and was delivered;
 * - the tables, dumped before and after each endpoint's run, differ only in rows written by
 *   requests allowed to write (successes, and the replay rows above).
 *
 * Device requests are built around a "focus": one part (caller, proof, body) is fuzzed and
 * the rest made valid, so most cases reach the checks behind the first one; `any` fuzzes
 * every part at once. Each endpoint's run prints its outcome counts, and must include some
 * successes, so a fuzz that never gets past the first check fails.
 *
 * Seeded and reproducible: the base seed (printed; FUZZ_SEED overrides) is mixed with each
 * endpoint's name, so endpoints with the same plan shapes still get different inputs. To
 * replay a failure: the same FUZZ_SEED, `-t '<endpoint>'`, and FUZZ_PATH from the
 * counterexample. FUZZ_RUNS changes the 600 cases per endpoint. Key material is made per
 * run, so a replay repeats the inputs' structure, not their bytes.
 */

const callTimeoutMs = 10_000;
const endpointTimeoutMs = 150_000;
const day = 86_400;

interface Built {
  handler: HttpHandler;
  call: CallOptions;
  /** Every part of the request could be valid, so a success is allowed. */
  couldSucceed: boolean;
  /** The request carried a proof valid for it, so a replay-cache row is allowed even when refused. */
  replayAllowed: boolean;
  success: readonly number[];
  checkSuccess?: (answer: Answer) => void;
}

function describeWrites(writes: TableWrite[]): string {
  return writes.map((write) => `${write.operation} ${write.table}(${write.partitionKey}, ${write.rowKey})`).join('; ');
}

/** The judgement of one answer; throws (failing the case) with what was wrong. */
function judge(answer: Answer, built: Built, writes: TableWrite[], allowed: Set<string>): void {
  const context = () => `status ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status >= 500) throw new Error(`a server error for a client's input — ${context()}`);
  if (answer.status < 400) {
    if (!built.couldSucceed) throw new Error(`accepted an input that cannot be valid — ${context()}`);
    if (!built.success.includes(answer.status)) throw new Error(`unexpected success status — ${context()}`);
    built.checkSuccess?.(answer);
  } else {
    const violation = problemViolation(answer);
    if (violation) throw new Error(`malformed refusal: ${violation} — ${context()}`);
    // A refusal may be recorded in the audit trail (decision 0009): one entry - inserted, or
    // for an admin action the domain refused, inserted ahead and completed - and nothing else.
    const audited = new Set(writes.filter((write) => write.table === TableAuditStore.tableName).map(writeKey));
    if (audited.size > 1) throw new Error(`refused (${String(answer.body.code)}) but wrote ${audited.size} audit entries`);
    const stray = writes.filter(
      (write) =>
        write.table !== TableAuditStore.tableName &&
        !(built.replayAllowed && write.table === TableReplayCache.tableName && write.operation === 'createEntity') &&
        !(write.table === TableReplayShardRegistry.tableName && write.operation === 'upsertEntity'),
    );
    if (stray.length > 0) throw new Error(`refused (${String(answer.body.code)}) but wrote: ${describeWrites(stray)}`);
  }
  for (const write of writes) allowed.add(writeKey(write));
}

async function fuzzEndpoint<P>(
  name: string,
  services: TestServices,
  spy: WriteSpy,
  plans: fc.Arbitrary<P>,
  build: (plan: P) => Promise<Built>,
  options: { minSuccessShare?: number } = {},
): Promise<void> {
  const prefix = services.config.tablePrefix;
  const before = await dumpTables(prefix);
  const outcomes = new Outcomes();
  const allowed = new Set<string>();
  spy.take();
  // The seed and the outcome counts are printed only when the endpoint fails (npm test's
  // output carries results, not logs); a passing run is reproduced by the same FUZZ_SEED.
  await onFailureTell(
    () => `${name}: ${fuzzRuns} cases, seed ${endpointSeed(name)} from FUZZ_SEED ${fuzzSeed}; outcomes ${outcomes.toString()}; replay: FUZZ_SEED=${fuzzSeed} npx jest test/fuzz.test.ts -t '${name}'`,
    async () => {
      await fc.assert(
        fc.asyncProperty(plans, async (plan) => {
          const built = await build(plan);
          spy.take();
          const answer = await withTimeout(invoke(built.handler, built.call), callTimeoutMs, name);
          const writes = spy.take();
          outcomes.add(answer);
          judge(answer, built, writes, allowed);
        }),
        fuzzParameters<[P]>(name),
      );
      const after = await dumpTables(prefix);
      expect(tableChanges(before, after, prefix).filter((key) => !allowed.has(key))).toEqual([]);
      // A fuzz that never gets past the first check proves little: some inputs must succeed.
      expect(outcomes.count((key) => /^2\d\d$/.test(key))).toBeGreaterThanOrEqual(Math.ceil(fuzzRuns * (options.minSuccessShare ?? 0.01)));
    },
  );
}

/** Runs `check`; a failure's message starts with `context()`, so the report says how to replay it. */
async function onFailureTell(context: () => string, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (error instanceof Error) error.message = `${context()}\n${error.message}`;
    throw error;
  }
}

/** Tables are created on first use; creating them up front keeps "a write" meaning a row. */
async function warmTables(services: TestServices): Promise<void> {
  for (const name of [
    TableDeviceStore.tableName,
    TableDeviceStore.expiryIndexName,
    TableBulkTokenStore.tableName,
    TableBulkTokenStore.expiryIndexName,
    TableReplayCache.tableName,
    TableAuditStore.tableName,
  ]) {
    await services.tables.table(name);
  }
}

function headersOf(entries: Array<[string, string | undefined]>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of entries) if (value !== undefined) headers[name] = value;
  return headers;
}

async function bulkToken(body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const answer = await invoke(createBulkToken, { path: '/api/bulk-tokens', headers: bearer(testAdminKey), body });
  if (answer.status !== 201) throw new Error(`set-up: creating a bulk token answered ${answer.status} ${answer.text}`);
  return answer.body as { id: string; token: string };
}

async function registerWithBulk(services: TestServices, identity: DeviceIdentity, token: string): Promise<{ deviceId: string; token: string }> {
  const answer = await invoke(registerDevice, await deviceCall(identity, '/api/register', { bearer: token, now: services.clock.now() }));
  if (answer.status !== 201) throw new Error(`set-up: registering answered ${answer.status} ${answer.text}`);
  return answer.body as { deviceId: string; token: string };
}

async function registerInternally(services: TestServices, identity: DeviceIdentity): Promise<Answer> {
  const call = await deviceCall(identity, '/api/register/internal', { now: services.clock.now() });
  return invoke(registerInternal, { ...call, headers: { 'x-forwarded-for': '127.0.0.1' } });
}

/** A certificate that parses but whose public key cannot be decoded (ecPublicKey OID altered). */
function badSpkiCertificate(identity: DeviceIdentity): Buffer {
  const der = Buffer.from(identity.certificateDer);
  const oid = Buffer.from('06072a8648ce3d0201', 'hex');
  const at = der.indexOf(oid);
  if (at < 0) throw new Error('set-up: not an EC certificate');
  der[at + oid.length - 1] = 0x09;
  return der;
}

let jtiCounter = 0;
/** 16 characters, unique in the run: the shortest jti the protocol allows. */
const nextJti = () => `f${(jtiCounter++).toString(36).padStart(15, '0')}`;

// ---------------------------------------------------------------------------------------

describe('fuzz: device endpoints (register/internal, register, renew, authenticate)', () => {
  let services: TestServices;
  let spy: WriteSpy;
  let forge: TokenForge;
  let tokens: Record<TokenChoice, { token: string; other: string }>;
  let bound: Partial<Record<TokenChoice, DeviceIdentity>>;
  let pool: DeviceIdentity[];
  let stranger: DeviceIdentity;
  let expiredCertificate: DeviceIdentity;
  let badSpki: Buffer;

  beforeAll(async () => {
    // Pacing is its own test (fleet.test.ts); here the same devices get many tokens on purpose.
    services = await installTestServices({ env: { TOKEN_ISSUE_BURST: '1000' } });
    await warmTables(services);
    const now = services.clock.now();
    const [active, blocked, usedUp] = [await bulkToken({ lifetimeMinutes: 10_080 }), await bulkToken(), await bulkToken({ maxUses: 1 })];
    await invoke(blockBulkToken, { path: '/x', headers: bearer(testAdminKey), params: { id: blocked.id } });
    // Issued for real, two days ago, for an hour: expired by the service's own rules.
    services.clock.seconds = now - 2 * day;
    const expiredBulk = await bulkToken({ lifetimeMinutes: 60 });
    services.clock.seconds = now;

    const [ec, rsa, revoked, consumer] = await Promise.all([createDeviceIdentity('ec'), createDeviceIdentity('rsa'), createDeviceIdentity('ec'), createDeviceIdentity('ec')]);
    const ecToken = await registerWithBulk(services, ec, active.token);
    const rsaToken = await registerWithBulk(services, rsa, active.token);
    const revokedToken = await registerWithBulk(services, revoked, active.token);
    await invoke(revokeDevice, { path: '/x', headers: bearer(testAdminKey), params: { id: revokedToken.deviceId } });
    // The one device that used the token up is outside the pool, so for the pool it stays used up.
    await registerWithBulk(services, consumer, usedUp.token);

    // A device token issued 100 days ago is expired now; its certificate was valid then.
    const old = await createDeviceIdentity('ec', { notBefore: new Date((now - 101 * day) * 1000) });
    services.clock.seconds = now - 100 * day;
    const oldAnswer = await registerInternally(services, old);
    services.clock.seconds = now;
    if (oldAnswer.status !== 201) throw new Error(`set-up: ${oldAnswer.text}`);

    pool = [ec, rsa, ...(await Promise.all([createDeviceIdentity('ec'), createDeviceIdentity('ec'), createDeviceIdentity('rsa')]))];
    stranger = await createDeviceIdentity('ec');
    expiredCertificate = await createDeviceIdentity('ec', { notBefore: new Date((now - 40 * day) * 1000), validDays: 30 });
    badSpki = badSpkiCertificate(stranger);
    const proofToken = await signProof(ec, { method: 'POST', url: `${serviceUrl}/api/renew`, bearerToken: ecToken.token, iat: now });

    const pair = (token: string, other: string) => ({ token, other });
    tokens = {
      device: pair(ecToken.token, rsaToken.token),
      'device-rsa': pair(rsaToken.token, ecToken.token),
      'device-revoked': pair(revokedToken.token, ecToken.token),
      'device-expired': pair(oldAnswer.body.token as string, ecToken.token),
      bulk: pair(active.token, blocked.token),
      'bulk-blocked': pair(blocked.token, active.token),
      'bulk-used-up': pair(usedUp.token, active.token),
      'bulk-expired': pair(expiredBulk.token, active.token),
      proof: pair(proofToken, ecToken.token),
      'admin-key': pair(testAdminKey, ecToken.token),
      random: pair('Zm9vYmFyYmF6cXV4cXV1eA.ZmFrZQ.c2lnbmF0dXJl', ecToken.token),
    };
    bound = { device: ec, 'device-rsa': rsa, 'device-revoked': revoked, 'device-expired': old };
    forge = await tokenForge(services.signer);
    spy = new WriteSpy(services);
  }, 60_000);

  const allChoices: TokenChoice[] = ['device', 'device-rsa', 'device-revoked', 'device-expired', 'bulk', 'bulk-blocked', 'bulk-used-up', 'bulk-expired', 'proof', 'admin-key', 'random'];

  /**
   * Which part of the request is fuzzed; the others are made valid. Mostly one part at a
   * time, so that the fuzz reaches the checks behind the first one; `any` mixes them all.
   */
  type Focus = 'valid' | 'caller' | 'proof' | 'body' | 'any';

  interface DevicePlan {
    focus: Focus;
    auth: AuthPlan;
    contentType: string | undefined;
    contentLength: string | undefined;
    body: BodyPlan;
    proof: ProofPlan;
    device: number;
    address: number;
    junk: Array<[string, string]>;
  }

  /** Caller addresses as the platform reports them, and whether each is inside the default 127.0.0.0/8, ::1. */
  const addresses: ReadonlyArray<readonly [string | undefined, boolean]> = [
    ['127.0.0.1', true],
    ['::1', true],
    ['[::1]:443', true],
    ['127.0.0.1:8080', true],
    ['::ffff:127.0.0.1', true],
    ['203.0.113.5, 127.0.0.1', true],
    ['127.0.0.1 ', true],
    ['127.0.0.1, 203.0.113.5', false],
    ['10.0.0.1', false],
    [undefined, false],
    ['0177.0.0.1', false],
    ['127.1', false],
    ['localhost', false],
    ['2001:db8::1', false],
    ['unknown', false],
    // Loopback in IPv6-mapped hex form: semantically internal, so accepting it is not wrong.
    ['::ffff:7f00:1', true],
  ];

  /** Plans for one route, with the focus already applied: a counterexample shows exactly what was sent. */
  function devicePlans(choices: TokenChoice[], route: DeviceRoute): fc.Arbitrary<DevicePlan> {
    const good = route.good;
    return fc
      .record({
        focus: fc.oneof(
          { weight: 1, arbitrary: fc.constant<Focus>('valid') },
          { weight: 3, arbitrary: fc.constant<Focus>('caller') },
          { weight: 4, arbitrary: fc.constant<Focus>('proof') },
          { weight: 2, arbitrary: fc.constant<Focus>('body') },
          { weight: 3, arbitrary: fc.constant<Focus>('any') },
        ),
        auth: authPlan(choices, good),
        contentType: contentTypePlan,
        contentLength: contentLengthPlan,
        body: bodyPlan,
        proof: proofPlan,
        device: fc.nat({ max: 4 }),
        address: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat({ max: addresses.length - 1 }) }),
        junk: junkHeaders,
      })
      .map((plan) => focused(plan, route));
  }

  interface DeviceRoute {
    path: string;
    handler: HttpHandler;
    /** Token kinds the route accepts; none for internal registration. */
    good: TokenChoice[];
    success: number;
  }

  /** The plan with every part outside its focus replaced by the valid form of that part. */
  function focused(plan: DevicePlan, route: DeviceRoute): DevicePlan {
    const fuzzed = (part: Focus) => plan.focus === part || plan.focus === 'any';
    const choice = plan.auth.kind === 'bearer' && route.good.includes(plan.auth.choice) ? plan.auth.choice : (route.good[0] ?? 'device');
    return {
      ...plan,
      auth: fuzzed('caller') ? plan.auth : { kind: 'bearer', scheme: 0, choice, mutation: { at: 'keep' }, suffix: '' },
      address: fuzzed('caller') ? plan.address : 0,
      proof: fuzzed('proof') ? plan.proof : { signer: 'bound', header: [], claims: [], jws: undefined },
      body: fuzzed('body') ? plan.body : plan.body.kind === 'proof' ? plan.body : { kind: 'proof', layout: 'compact' },
      contentType: fuzzed('body') || contentTypeAcceptable(plan.contentType) ? plan.contentType : 'application/json',
      contentLength: fuzzed('body') ? plan.contentLength : undefined,
    };
  }

  async function buildDeviceCall(plan: DevicePlan, route: DeviceRoute): Promise<Built> {
    const now = services.clock.now();
    const internal = route.good.length === 0;
    const auth = await materializeAuth(plan.auth, (choice) => tokens[choice], route.good, forge, now);
    const renewing = route.good.includes('device');
    const device = renewing ? (bound[auth.choice ?? 'device'] ?? pool[0]!) : pool[plan.device]!;
    const signer = plan.proof.signer === 'stranger' ? stranger : device;
    const proof = materializeProof(plan.proof, {
      now,
      path: route.path,
      bearer: internal ? undefined : auth.credential,
      bound: device,
      stranger,
      expired: expiredCertificate,
      badSpkiCertificate: badSpki,
      otherProof: tokens.proof.token,
      bindingChecked: renewing,
      nextJti,
    });
    const body = materializeBody(plan.body, proof.proof);
    const [address, addressInside] = addresses[plan.address] ?? [undefined, false];
    // Registration and renewal take a valid `device` beside the proof; authenticate takes none.
    const deviceFits = body.device === undefined || (body.device === 'valid' && route.path !== '/api/authenticate');
    const delivered = body.carriesProof && deviceFits && contentTypeAcceptable(plan.contentType) && contentLengthAcceptable(plan.contentLength);
    // A token only the service could sign may be bound to anyone: then only the proof's own validity counts.
    const proofFits = auth.validity === 'service-signed' ? proof.intrinsic : proof.valid;
    const callerFits = internal ? addressInside : auth.validity !== 'invalid';
    return {
      handler: route.handler,
      call: {
        path: route.path,
        headers: headersOf([
          ...plan.junk,
          ['authorization', auth.header],
          ['content-type', plan.contentType],
          ['content-length', plan.contentLength],
          ['x-forwarded-for', internal ? address : '127.0.0.1'],
        ]),
        ...(body.bytes === undefined ? {} : { rawBody: body.bytes }),
      },
      couldSucceed: delivered && proofFits && callerFits,
      replayAllowed: delivered && proofFits && (!internal || addressInside),
      success: [route.success],
      checkSuccess: (answer) => {
        if (answer.body.deviceId !== deviceIdFor(thumbprintOf(signer))) throw new Error(`success for another device: ${answer.text}`);
        if (route.path === '/api/authenticate') return;
        const token = answer.body.token as string;
        if (decodeProtectedHeader(token).typ !== 'device+jwt') throw new Error('success without a device token');
        if ((decodeJwt(token).cnf as Record<string, unknown>)['x5t#S256'] !== thumbprintOf(signer)) throw new Error('a token not bound to the proof key');
      },
    };
  }

  const routes: Record<string, DeviceRoute> = {
    'POST /api/register/internal': { path: '/api/register/internal', handler: registerInternal, good: [], success: 201 },
    'POST /api/register': { path: '/api/register', handler: registerDevice, good: ['bulk'], success: 201 },
    'POST /api/renew': { path: '/api/renew', handler: renewDeviceToken, good: ['device', 'device-rsa'], success: 200 },
    'POST /api/authenticate': { path: '/api/authenticate', handler: authenticateDevice, good: ['device', 'device-rsa'], success: 200 },
  };

  it.each(Object.keys(routes))(
    '%s: every answer is a well-formed refusal or an allowed success, and refusals store nothing',
    async (name) => {
      const route = routes[name]!;
      await fuzzEndpoint(name, services, spy, devicePlans(allChoices, route), (plan) => buildDeviceCall(plan, route), { minSuccessShare: 0.05 });
    },
    endpointTimeoutMs,
  );
});

// ---------------------------------------------------------------------------------------
// Admin endpoints

type AdminAuthPlan =
  | { kind: 'none' }
  | { kind: 'key'; scheme: number; change: KeyChange }
  | { kind: 'token'; scheme: number; choice: 'device' | 'bulk' }
  | { kind: 'raw'; value: string }
  | { kind: 'long'; length: number };

type KeyChange = { at: 'keep' } | { at: 'cut'; keep: number } | { at: 'append'; text: string } | { at: 'flip'; pos: number } | { at: 'case' } | { at: 'space'; pos: number };

const adminAuthPlan: fc.Arbitrary<AdminAuthPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('key' as const),
      scheme: schemePlan,
      change: fc.oneof(
        { weight: 12, arbitrary: fc.constant({ at: 'keep' as const }) },
        { weight: 1, arbitrary: fc.record({ at: fc.constant('cut' as const), keep: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }) },
        { weight: 1, arbitrary: fc.record({ at: fc.constant('append' as const), text: headerText(4).filter((text) => text.trim() !== '') }) },
        { weight: 1, arbitrary: fc.record({ at: fc.constant('flip' as const), pos: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }) },
        { weight: 1, arbitrary: fc.constant({ at: 'case' as const }) },
        { weight: 1, arbitrary: fc.record({ at: fc.constant('space' as const), pos: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('token' as const), scheme: schemePlan, choice: fc.constantFrom('device' as const, 'bulk' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), value: headerText(100) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('long' as const), length: fc.constantFrom(4096, 70_000) }) },
);

function changedKey(key: string, change: KeyChange): string {
  const at = (pos: number) => Math.floor(pos * key.length);
  switch (change.at) {
    case 'keep':
      return key;
    case 'cut':
      return key.slice(0, at(change.keep));
    case 'append':
      return `${key}${change.text}`;
    case 'flip': {
      const index = at(change.pos);
      return `${key.slice(0, index)}${key[index] === 'A' ? 'B' : 'A'}${key.slice(index + 1)}`;
    }
    case 'case':
      return key === key.toUpperCase() ? key.toLowerCase() : key.toUpperCase();
    case 'space':
      return `${key.slice(0, at(change.pos))} ${key.slice(at(change.pos))}`;
  }
}

/** The Authorization header, and whether it carries exactly the admin key in the Bearer scheme. */
function materializeAdminAuth(plan: AdminAuthPlan, jwts: { device: string; bulk: string }): { header: string | undefined; valid: boolean } {
  switch (plan.kind) {
    case 'none':
      return { header: undefined, valid: false };
    case 'raw':
      return { header: plan.value, valid: false };
    case 'long':
      return { header: `Bearer ${'k'.repeat(plan.length)}`, valid: false };
    case 'token':
      return { header: `${schemes[plan.scheme] ?? ''}${jwts[plan.choice]}`, valid: false };
    case 'key': {
      const header = `${schemes[plan.scheme] ?? ''}${changedKey(testAdminKey, plan.change)}`;
      return { header, valid: bearerCredentialOf(header) === testAdminKey };
    }
  }
}

/** A query string of junk parameters, which routes without parameters must ignore. */
const junkQuery = fc.oneof(
  { weight: 4, arbitrary: fc.constant([] as Array<[string, string]>) },
  { weight: 1, arbitrary: fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 20 })), { maxLength: 3 }) },
);

function withQuery(path: string, pairs: Array<[string, string]>): string {
  const query = new URLSearchParams(pairs).toString();
  return query === '' ? path : `${path}?${query}`;
}

/** Route ids: the real ones (any case), other GUIDs, and things that are not GUIDs at all. */
type IdPlan =
  | { kind: 'known'; index: number; upper: boolean }
  | { kind: 'guid'; value: string }
  | { kind: 'decorated'; index: number; wrap: 'braces' | 'space' | 'urn' | 'slash' | 'nul' | 'dots' | 'no-dashes' }
  | { kind: 'text'; value: string }
  | { kind: 'missing' };

const idPlan: fc.Arbitrary<IdPlan> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('known' as const), index: fc.nat({ max: 9 }), upper: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('guid' as const), value: fc.uuid() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('decorated' as const),
      index: fc.nat({ max: 9 }),
      wrap: fc.constantFrom('braces' as const, 'space' as const, 'urn' as const, 'slash' as const, 'nul' as const, 'dots' as const, 'no-dashes' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('text' as const), value: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('../../etc/passwd', '%00', 'x'.repeat(5000), "' or ''='")) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'missing' as const }) },
);

function materializeId(plan: IdPlan, known: readonly string[]): string | undefined {
  const pick = (index: number) => known[index % known.length] ?? '';
  switch (plan.kind) {
    case 'known':
      return plan.upper ? pick(plan.index).toUpperCase() : pick(plan.index);
    case 'guid':
      return plan.value;
    case 'text':
      return plan.value;
    case 'missing':
      return undefined;
    case 'decorated': {
      const id = pick(plan.index);
      const wrapped: Record<typeof plan.wrap, string> = {
        braces: `{${id}}`,
        space: ` ${id}`,
        urn: `urn:uuid:${id}`,
        slash: `${id}/`,
        nul: `${id}\u0000`,
        dots: `../${id}`,
        'no-dashes': id.replace(/-/g, ''),
      };
      return wrapped[plan.wrap];
    }
  }
}

function knownId(id: string | undefined, known: readonly string[]): boolean {
  return id !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) && known.includes(id.toLowerCase());
}

/** Bodies for routes that read none: anything at all must be ignored. */
const ignoredBody = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 50 }) },
  { weight: 1, arbitrary: fc.constantFrom('['.repeat(5000), 'x'.repeat(20_000)) },
);

interface AdminPlan {
  auth: AdminAuthPlan;
  query: Array<[string, string]>;
  junk: Array<[string, string]>;
}

const adminPlan: fc.Arbitrary<AdminPlan> = fc.record({ auth: adminAuthPlan, query: junkQuery, junk: junkHeaders });

describe('fuzz: bulk-token admin endpoints (list, block, unblock, create)', () => {
  let services: TestServices;
  let spy: WriteSpy;
  let known: string[];
  let jwts: { device: string; bulk: string };

  beforeAll(async () => {
    services = await installTestServices();
    await warmTables(services);
    const created = [await bulkToken(), await bulkToken({ maxUses: 3 }), await bulkToken({ description: 'fuzz' })];
    known = created.map((token) => token.id);
    const device = (await registerInternally(services, await createDeviceIdentity('ec'))).body.token as string;
    jwts = { device, bulk: created[0]!.token };
    spy = new WriteSpy(services);
  }, 60_000);

  it(
    'GET /api/bulk-tokens: only the admin credential lists, junk is refused cleanly, nothing is stored',
    async () => {
      await fuzzEndpoint('GET /api/bulk-tokens', services, spy, adminPlan, async (plan) => {
        const auth = materializeAdminAuth(plan.auth, jwts);
        return {
          handler: listBulkTokens,
          call: { method: 'GET', path: withQuery('/api/bulk-tokens', plan.query), headers: headersOf([...plan.junk, ['authorization', auth.header]]) },
          couldSucceed: auth.valid,
          replayAllowed: false,
          success: [200],
          checkSuccess: (answer) => {
            if (answer.text.includes(jwts.bulk)) throw new Error('the list shows a token');
          },
        };
      });
    },
    endpointTimeoutMs,
  );

  const routes = {
    'POST /api/bulk-tokens/{id}/block': blockBulkToken,
    'POST /api/bulk-tokens/{id}/unblock': unblockBulkToken,
  };

  it.each(Object.keys(routes) as Array<keyof typeof routes>)(
    '%s: only a known id with the admin credential changes anything',
    async (name) => {
      const plans = fc.record({ admin: adminPlan, id: idPlan, body: ignoredBody, contentType: contentTypePlan });
      await fuzzEndpoint(name, services, spy, plans, async (plan) => {
        const auth = materializeAdminAuth(plan.admin.auth, jwts);
        const id = materializeId(plan.id, known);
        return {
          handler: routes[name],
          call: {
            path: withQuery(`/api/bulk-tokens/${encodeURIComponent(id ?? '')}/${name.endsWith('/block') ? 'block' : 'unblock'}`, plan.admin.query),
            headers: headersOf([...plan.admin.junk, ['authorization', auth.header], ['content-type', plan.contentType]]),
            // The assertion widens the empty object so both branches infer as one params type.
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
            params: id === undefined ? ({} as Record<string, string>) : { id },
            ...(plan.body === undefined ? {} : { rawBody: plan.body }),
          },
          couldSucceed: auth.valid && knownId(id, known),
          replayAllowed: false,
          success: [200],
        };
      });
    },
    endpointTimeoutMs,
  );

  /** Raw JSON texts for each field: in range, at and past the limits, and of the wrong type. */
  const fieldValues = {
    lifetimeMinutes: fc.oneof(
      fc.integer({ min: 1, max: 10_080 }).map(String),
      fc.constantFrom('0', '-1', '10081', '1.5', '"60"', 'null', 'true', '[]', '{}', '1e308', '-0', '4320.0', '1e3', '10080', '1', '99999999999999999999'),
    ),
    maxUses: fc.oneof(fc.integer({ min: 1, max: 1_000_000 }).map(String), fc.constantFrom('0', '1000001', '-1', '2.5', '"3"', 'null', '1e6', '1000000.0', '[1]')),
    description: fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 300 }).map((text) => JSON.stringify(text)),
      fc.constantFrom(JSON.stringify('a'.repeat(256)), JSON.stringify('a'.repeat(257)), '"\\u0007bell"', '"tab\\there"', '"\\ud800"', 'null', '5', '[]', '"<script>"'),
    ),
  };

  type CreateBody =
    | { kind: 'fields'; fields: Array<[string, string]>; pretty: boolean }
    | { kind: 'empty' }
    | { kind: 'raw'; text: string }
    | { kind: 'nested'; depth: number }
    | { kind: 'oversize' };

  const createBody: fc.Arbitrary<CreateBody> = fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        kind: fc.constant('fields' as const),
        fields: fc.array(
          fc.oneof(
            { weight: 4, arbitrary: fc.tuple(fc.constant('lifetimeMinutes'), fieldValues.lifetimeMinutes) },
            { weight: 4, arbitrary: fc.tuple(fc.constant('maxUses'), fieldValues.maxUses) },
            { weight: 4, arbitrary: fc.tuple(fc.constant('description'), fieldValues.description) },
            { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), oddValue.map((value) => JSON.stringify(value) ?? 'null')) },
          ),
          { maxLength: 3 },
        ),
        pretty: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'empty' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? '')) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nested' as const), depth: fc.constantFrom(100, 5000, 8000) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'oversize' as const }) },
  );

  function createBodyText(body: CreateBody): string {
    switch (body.kind) {
      case 'fields':
        return `{${body.fields.map(([name, value]) => `${JSON.stringify(name)}:${body.pretty ? ' ' : ''}${value}`).join(body.pretty ? ',\n  ' : ',')}}`;
      case 'empty':
        return '';
      case 'raw':
        return body.text;
      case 'nested':
        return `${'['.repeat(body.depth)}${']'.repeat(body.depth)}`;
      case 'oversize':
        return JSON.stringify({ description: 'd'.repeat(17_000) });
    }
  }

  /** docs/protocol.md section 4, read independently of the zod schema: could this body be accepted? */
  function createBodyAcceptable(text: string): boolean {
    let value: unknown;
    try {
      value = JSON.parse(text.replace(/^\ufeff/, ''));
    } catch {
      return false;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const wholeAtLeastOne = (number: unknown) => typeof number === 'number' && Number.isInteger(number) && number >= 1;
    for (const [name, field] of Object.entries(value)) {
      if (name === 'lifetimeMinutes' && wholeAtLeastOne(field) && (field as number) <= 10_080) continue;
      if (name === 'maxUses' && wholeAtLeastOne(field)) continue;
      // The protocol does not bound the description; the service may refuse long or odd ones.
      if (name === 'description' && typeof field === 'string') continue;
      return false;
    }
    return true;
  }

  it(
    'POST /api/bulk-tokens: only a valid body with the admin credential creates a token',
    async () => {
      const plans = fc.record({ admin: adminPlan, body: createBody, contentType: contentTypePlan, contentLength: contentLengthPlan });
      await fuzzEndpoint(
        'POST /api/bulk-tokens',
        services,
        spy,
        plans,
        async (plan) => {
          const auth = materializeAdminAuth(plan.admin.auth, jwts);
          const text = createBodyText(plan.body);
          const bytes = Buffer.from(text, 'utf8');
          const bodyFits =
            bytes.byteLength <= 16_384 && contentLengthAcceptable(plan.contentLength) && (bytes.byteLength === 0 || (contentTypeAcceptable(plan.contentType) && createBodyAcceptable(text)));
          return {
            handler: createBulkToken,
            call: {
              path: withQuery('/api/bulk-tokens', plan.admin.query),
              headers: headersOf([...plan.admin.junk, ['authorization', auth.header], ['content-type', plan.contentType], ['content-length', plan.contentLength]]),
              ...(bytes.byteLength === 0 ? {} : { rawBody: new Uint8Array(bytes) }),
            },
            couldSucceed: auth.valid && bodyFits,
            replayAllowed: false,
            success: [201],
            checkSuccess: (answer) => {
              if (decodeProtectedHeader(answer.body.token as string).typ !== 'bulk-registration+jwt') throw new Error('success without a bulk token');
            },
          };
        },
        { minSuccessShare: 0.1 },
      );
    },
    endpointTimeoutMs,
  );
});

describe('fuzz: device admin endpoints (list, approve, revoke)', () => {
  let services: TestServices;
  let spy: WriteSpy;
  let known: string[];
  const revoked = new Set<string>();
  let jwts: { device: string; bulk: string };
  let continuation: string;

  beforeAll(async () => {
    // Manual approval, so there are pending devices to approve.
    services = await installTestServices({ env: { APPROVAL_MODE: 'manual' } });
    await warmTables(services);
    known = [];
    for (let i = 0; i < 6; i++) {
      const answer = await registerInternally(services, await createDeviceIdentity('ec'));
      known.push(answer.body.deviceId as string);
    }
    await invoke(approveDevice, { path: '/x', headers: bearer(testAdminKey), params: { id: known[0]! } });
    await invoke(revokeDevice, { path: '/x', headers: bearer(testAdminKey), params: { id: known[1]! } });
    revoked.add(known[1]!);
    // A device with a token of its own: pending, approved, then registered again.
    const withToken = await createDeviceIdentity('ec');
    const pending = await registerInternally(services, withToken);
    await invoke(approveDevice, { path: '/x', headers: bearer(testAdminKey), params: { id: pending.body.deviceId as string } });
    const issued = await registerInternally(services, withToken);
    const page = await invoke(listDevices, { method: 'GET', path: '/api/devices?limit=2', headers: bearer(testAdminKey) });
    continuation = page.body.continuation as string;
    if (issued.status !== 201 || typeof continuation !== 'string') throw new Error('set-up: no device token or no second page');
    jwts = { device: issued.body.token as string, bulk: (await bulkToken()).token };
    spy = new WriteSpy(services);
  }, 60_000);

  type Continuation = { kind: 'real' } | { kind: 'crafted'; partition: unknown; row: unknown } | { kind: 'text'; value: string } | { kind: 'encoded'; text: string };

  const continuationPlan: fc.Arbitrary<Continuation> = fc.oneof(
    fc.constant({ kind: 'real' as const }),
    fc.record({ kind: fc.constant('crafted' as const), partition: fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), oddValue), row: fc.option(fc.string({ unit: 'binary', maxLength: 30 }), { nil: undefined }) }),
    fc.record({ kind: fc.constant('text' as const), value: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('%%%', 'x'.repeat(2049), '')) }),
    fc.record({ kind: fc.constant('encoded' as const), text: fc.string({ unit: 'binary', maxLength: 40 }) }),
  );

  interface ListPlan {
    admin: AdminPlan;
    status: string | undefined;
    limit: string | undefined;
    continuation: Continuation | undefined;
  }

  const listPlan: fc.Arbitrary<ListPlan> = fc.record({
    admin: adminPlan,
    status: fc.oneof(fc.constantFrom(undefined, 'pending', 'active', 'revoked'), fc.constantFrom('ACTIVE', '', 'all', 'active,revoked', 'pending '), fc.string({ unit: 'binary', maxLength: 10 })),
    limit: fc.oneof(fc.constantFrom(undefined, '1', '2', '1000', '05'), fc.constantFrom('0', '1001', '-1', '1.5', '1e3', ' 5', '', '99999999999999999999', 'ten')),
    continuation: fc.option(continuationPlan, { nil: undefined, freq: 2 }),
  });

  function continuationText(plan: Continuation): string {
    switch (plan.kind) {
      case 'real':
        return continuation;
      case 'crafted':
        return Buffer.from(JSON.stringify({ nextPartitionKey: plan.partition, ...(plan.row === undefined ? {} : { nextRowKey: plan.row }) })).toString('base64');
      case 'text':
        return plan.value;
      case 'encoded':
        return Buffer.from(plan.text).toString('base64');
    }
  }

  /** What a continuation must be to be worth passing to storage: base64 JSON naming the next partition. */
  function continuationPlausible(text: string): boolean {
    if (text.length > 2048) return false;
    try {
      return typeof (JSON.parse(Buffer.from(text, 'base64').toString('latin1')) as { nextPartitionKey?: unknown }).nextPartitionKey === 'string';
    } catch {
      return false;
    }
  }

  it(
    'GET /api/devices: filters and paging are checked, junk is refused cleanly, nothing is stored',
    async () => {
      await fuzzEndpoint('GET /api/devices', services, spy, listPlan, async (plan) => {
        const auth = materializeAdminAuth(plan.admin.auth, jwts);
        const continuationValue = plan.continuation === undefined ? undefined : continuationText(plan.continuation);
        const pairs: Array<[string, string]> = [...plan.admin.query.filter(([name]) => !['status', 'limit', 'continuation'].includes(name))];
        if (plan.status !== undefined) pairs.push(['status', plan.status]);
        if (plan.limit !== undefined) pairs.push(['limit', plan.limit]);
        if (continuationValue !== undefined) pairs.push(['continuation', continuationValue]);
        const statusFits = plan.status === undefined || ['pending', 'active', 'revoked'].includes(plan.status);
        const limitFits = plan.limit === undefined || (/^\d+$/.test(plan.limit) && Number(plan.limit) >= 1 && Number(plan.limit) <= 1000);
        return {
          handler: listDevices,
          call: { method: 'GET', path: withQuery('/api/devices', pairs), headers: headersOf([...plan.admin.junk, ['authorization', auth.header]]) },
          couldSucceed: auth.valid && statusFits && limitFits && (continuationValue === undefined || continuationPlausible(continuationValue)),
          replayAllowed: false,
          success: [200],
        };
      });
    },
    endpointTimeoutMs,
  );

  const routes = { 'POST /api/devices/{id}/approve': approveDevice, 'POST /api/devices/{id}/revoke': revokeDevice };

  it.each(Object.keys(routes) as Array<keyof typeof routes>)(
    '%s: only a known device with the admin credential changes anything',
    async (name) => {
      const approving = name.endsWith('/approve');
      const plans = fc.record({ admin: adminPlan, id: idPlan, body: ignoredBody, contentType: contentTypePlan });
      await fuzzEndpoint(name, services, spy, plans, async (plan) => {
        const auth = materializeAdminAuth(plan.admin.auth, jwts);
        const id = materializeId(plan.id, known);
        const isKnown = knownId(id, known);
        return {
          handler: routes[name],
          call: {
            path: withQuery(`/api/devices/${encodeURIComponent(id ?? '')}/${approving ? 'approve' : 'revoke'}`, plan.admin.query),
            headers: headersOf([...plan.admin.junk, ['authorization', auth.header], ['content-type', plan.contentType]]),
            // The assertion widens the empty object so both branches infer as one params type.
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
            params: id === undefined ? ({} as Record<string, string>) : { id },
            ...(plan.body === undefined ? {} : { rawBody: plan.body }),
          },
          // A revoked device cannot be approved (409); revoking is allowed for any known device.
          couldSucceed: auth.valid && isKnown && (!approving || !revoked.has(id!.toLowerCase())),
          replayAllowed: false,
          success: [200],
          checkSuccess: () => {
            if (!approving) revoked.add(id!.toLowerCase());
          },
        };
      });
    },
    endpointTimeoutMs,
  );
});

// ---------------------------------------------------------------------------------------

describe('fuzz: public endpoints (JWKS, health, OpenAPI)', () => {
  let services: TestServices;
  let spy: WriteSpy;

  beforeAll(async () => {
    services = await installTestServices();
    await warmTables(services);
    spy = new WriteSpy(services);
  });

  const routes: Record<string, { path: string; handler: HttpHandler }> = {
    'GET /api/.well-known/jwks.json': { path: '/api/.well-known/jwks.json', handler: jwks },
    'GET /api/health': { path: '/api/health', handler: health },
    'GET /api/openapi.json': { path: '/api/openapi.json', handler: openApi },
  };

  const plans = fc.record({ query: junkQuery, junk: junkHeaders, authorization: fc.option(headerText(200), { nil: undefined }) });

  it.each(Object.keys(routes))(
    '%s: answers 200 JSON whatever the headers and query, and stores nothing',
    async (name) => {
      const route = routes[name]!;
      await fuzzEndpoint(
        name,
        services,
        spy,
        plans,
        async (plan) => ({
          handler: route.handler,
          call: { method: 'GET', path: withQuery(route.path, plan.query), headers: headersOf([...plan.junk, ['authorization', plan.authorization]]) },
          couldSucceed: true,
          replayAllowed: false,
          success: [200],
          checkSuccess: (answer) => {
            if (!answer.headers.get('content-type')?.startsWith('application/json') || Object.keys(answer.body).length === 0) {
              throw new Error(`not a JSON document: ${answer.text.slice(0, 100)}`);
            }
          },
        }),
        { minSuccessShare: 1 },
      );
    },
    endpointTimeoutMs,
  );
});

describe('fuzz: the local host\'s Host header and percent-escapes', () => {
  // Over raw HTTP to the listener npm start serves, in this process: every answer is a
  // problem+json whose code matches its status, or the Functions host's own empty 404 for a
  // path no function takes, or its admin API's empty 400/415 for a body it cannot bind
  // (host/adminApi.ts) — never a 5xx.
  let host: InProcessHost;
  const runs = Math.min(fuzzRuns, 400);

  beforeAll(async () => {
    await installTestServices();
    host = await startInProcessHost();
  });

  afterAll(async () => {
    await host?.close();
  });

  function violation(answer: RawAnswer, admin = false): string | undefined {
    if (answer.status >= 500 || !(answer.status >= 200)) return `status ${answer.status}`;
    if (answer.status === 404 && answer.body === '') return undefined;
    if (admin && (answer.status === 400 || answer.status === 415) && answer.body === '') return undefined;
    if (answer.status < 400) return undefined;
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(answer.body) as Record<string, unknown>;
    } catch {
      return `not JSON: ${answer.body.slice(0, 80)}`;
    }
    return problemViolation({ status: answer.status, headers: new Headers(answer.headers), body, text: answer.body, logs: [] });
  }

  it('any Host header: 400 problem+json when it is not a host[:port], never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostHeaderPlan, fc.constantFrom('GET /api/health', 'POST /api/register', 'POST /admin/functions/purgeExpired', 'GET /api/nothing'), async (hostHeader, line) => {
        const answer = await withTimeout(rawRequest(host.port, `${line} HTTP/1.1\r\nHost: ${hostHeader}\r\nContent-Length: 0`), 5000, `${line} Host: ${hostHeader}`);
        const wrong = violation(answer, line.includes('/admin/'));
        if (wrong) throw new Error(`${line} with Host ${JSON.stringify(hostHeader)}: ${wrong}`);
      }),
      { ...fuzzParameters('local host Host header'), numRuns: runs },
    );
  }, endpointTimeoutMs);

  it('any percent-escapes in the path: never 5xx, always problem+json or the host\'s empty 404', async () => {
    await fc.assert(
      fc.asyncProperty(escapedPathPlan, fc.constantFrom('GET', 'POST', 'DELETE'), async (path, method) => {
        const answer = await withTimeout(rawRequest(host.port, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nContent-Length: 0`), 5000, `${method} ${path}`);
        const wrong = violation(answer, path.startsWith('/admin/'));
        if (wrong) throw new Error(`${method} ${path}: ${wrong}`);
      }),
      { ...fuzzParameters('local host escapes'), numRuns: runs },
    );
  }, endpointTimeoutMs);
});

import { authenticateDevice } from '../functions/authenticateDevice.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { defaultReplayShards } from '../shared/proof/replayShardCount.js';
import { replayPartition, replayRowKey, replayShard, TableReplayShardRegistry } from '../shared/proof/replayShards.js';
import { useServices } from '../shared/runtime/processServices.js';
import { createServices, type Services } from '../shared/services.js';
import { expiryBucket } from '../shared/storage/expiryBucket.js';
import { deviceCall } from './support/devices.js';
import { adminBulkToken, enrolledDevice, type EnrolledDevice } from './support/enrol.js';
import { invoke, type CallOptions } from './support/invoke.js';
import { installTestServices, testConfig, type TestServices } from './support/services.js';

let services: TestServices;
let enrolled: EnrolledDevice;

beforeAll(async () => {
  services = await installTestServices();
  enrolled = await enrolledDevice(await adminBulkToken(60), services.clock.now());
});

afterEach(() => useServices(services));

/** Another instance of the service on the same tables, running with REPLAY_SHARDS = `shards`. */
function instance(shards: number, base: Services = services): Promise<Services> {
  return createServices({ ...base.config, replayShards: shards }, { clock: services.clock, signer: services.signer, admin: services.admin });
}

/** A fresh set of tables (so no shard count registered earlier in this file is in force), with instances on it. */
async function freshDeployment(...counts: number[]): Promise<Services[]> {
  const config = { ...testConfig(), replayShards: counts[0] as number };
  return Promise.all(counts.map((shards) => createServices({ ...config, replayShards: shards }, { clock: services.clock, signer: services.signer, admin: services.admin })));
}

function authenticateCall(): Promise<CallOptions> {
  return deviceCall(enrolled.device, '/api/authenticate', { bearer: enrolled.token, now: services.clock.now() });
}

/** The same request through `on` (as that instance's Functions worker would serve it). */
async function send(on: Services, call: CallOptions): Promise<string> {
  useServices(on);
  const answer = await invoke(authenticateDevice, call);
  return answer.status === 200 ? 'ok' : String(answer.body.code);
}

describe('replay partitions', () => {
  it('put a jti in the hour its window closes, then its shard; one shard keeps the bare hour', () => {
    const t = Date.UTC(2026, 10, 29, 4, 30) / 1000;
    const rowKey = replayRowKey('a-jti-of-sixteen-chars');
    expect(replayPartition(t, rowKey, 1)).toBe('2026-11-29T04');
    expect(replayPartition(t, rowKey, 8)).toBe(`2026-11-29T04_${replayShard(rowKey, 8)}`);
    expect(replayShard(rowKey, 8)).toBe(Number.parseInt(rowKey.slice(0, 8), 16) % 8);
  });

  it("sort every shard of a past hour below the purge's cut-off and every shard of the cut-off hour above it", () => {
    const cutoffHour = Date.UTC(2026, 10, 29, 5) / 1000;
    const cutoff = expiryBucket(cutoffHour);
    for (let i = 0; i < 200; i++) {
      const rowKey = replayRowKey(`jti-${i}-padding-padding`);
      for (const shards of [1, 7, 16, 256]) {
        expect(replayPartition(cutoffHour - 1, rowKey, shards) < cutoff).toBe(true);
        expect(replayPartition(cutoffHour, rowKey, shards) < cutoff).toBe(false);
        expect(replayPartition(cutoffHour - 10 * 3600, rowKey, shards) < cutoff).toBe(true);
      }
    }
  });

  it(`spread a burst of claims over every shard (default ${defaultReplayShards}), evenly within a factor of two`, () => {
    const perShard = new Array<number>(defaultReplayShards).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const shard = replayShard(replayRowKey(`jti-${i}-${'x'.repeat(12)}`), defaultReplayShards);
      perShard[shard] = (perShard[shard] ?? 0) + 1;
    }
    expect(Math.min(...perShard)).toBeGreaterThan(500);
    expect(Math.max(...perShard)).toBeLessThan(2000);
  });
});

describe('changing REPLAY_SHARDS while proofs are live', () => {
  it.each([
    [1, 8],
    [8, 1],
    [16, 8],
    [8, 16],
  ])('a proof accepted by an instance with %i shard(s) is refused proof_replayed by its replacement with %i', async (before, after) => {
    const [old] = await freshDeployment(before);
    const calls = await Promise.all(Array.from({ length: 6 }, () => authenticateCall()));
    for (const call of calls) expect(await send(old as Services, call)).toBe('ok');
    // The rollout: the new instance starts with the new setting; the old one is gone.
    const replacement = await instance(after, old);
    for (const call of calls) expect(await send(replacement, call)).toBe('proof_replayed');
    // And the other way, for proofs the new instance accepted first: a rollback.
    const fresh = await Promise.all(Array.from({ length: 6 }, () => authenticateCall()));
    for (const call of fresh) expect(await send(replacement, call)).toBe('ok');
    const rolledBack = await instance(before, old);
    for (const call of fresh) expect(await send(rolledBack, call)).toBe('proof_replayed');
  });

  it('two instances with different counts at once: a proof is accepted by one of them only, in either order and at the same moment', async () => {
    const [one, eight] = (await freshDeployment(1, 8)) as [Services, Services];
    // Each instance has registered its count before the other's first claim, or after: both orders.
    const first = await authenticateCall();
    expect(await send(one, first)).toBe('ok');
    expect(await send(eight, first)).toBe('proof_replayed');
    const second = await authenticateCall();
    expect(await send(eight, second)).toBe('ok');
    expect(await send(one, second)).toBe('proof_replayed');
    expect(await send(eight, second)).toBe('proof_replayed');

    for (let i = 0; i < 5; i++) {
      const call = await authenticateCall();
      const outcomes = await Promise.all([one, eight, one, eight].map((on) => on.proofs.verify(String((call.body as { proof: string }).proof), {
        method: 'POST',
        url: 'http://localhost:7071/api/authenticate',
        bearerToken: enrolled.token,
      }).then(() => 'ok', (error: { code?: string }) => String(error.code))));
      expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome === 'proof_replayed')).toHaveLength(3);
    }
  });

  it('a count stays in force for its keep time after its instance last registered it, and only then lapses', async () => {
    const [eight] = (await freshDeployment(8)) as [Services];
    expect(await send(eight, await authenticateCall())).toBe('ok');
    const registry = new TableReplayShardRegistry(eight.tables, 1, services.clock);
    expect(await registry.countsInForce()).toEqual([1, 8]);
    services.clock.advance(TableReplayShardRegistry.keepSeconds + 1);
    try {
      expect(await registry.countsInForce()).toEqual([1]);
    } finally {
      services.clock.advance(-(TableReplayShardRegistry.keepSeconds + 1));
    }
  });

  it('without the registry the switch would let a replay through (what the registry prevents)', async () => {
    const tables = services.tables;
    const jti = `unregistered-switch-${Date.now()}`;
    const expiresAt = services.clock.now() + 300;
    // Instances that knew only their own count: the same jti lands in two partitions.
    await new TableReplayCache(tables, { counts: { countsInForce: async () => [1] } }).claim(jti, expiresAt);
    await expect(new TableReplayCache(tables, { counts: { countsInForce: async () => [8] } }).claim(jti, expiresAt)).resolves.toBeUndefined();
    // With both counts in force, the same claim is refused.
    await expect(new TableReplayCache(tables, { counts: { countsInForce: async () => [1, 8] } }).claim(jti, expiresAt)).rejects.toMatchObject({
      code: 'proof_replayed',
    });
  });

  it('two counts naming the same partition for a jti make one insert, not a false replay', async () => {
    // Shard s of 8 is shard s of 16 whenever the hash mod 16 is below 8.
    let jti = '';
    for (let i = 0; ; i++) {
      jti = `same-partition-${i}-${Date.now()}`;
      const rowKey = replayRowKey(jti);
      if (replayShard(rowKey, 16) === replayShard(rowKey, 8)) break;
    }
    const cache = new TableReplayCache(services.tables, { counts: { countsInForce: async () => [8, 16] } });
    await expect(cache.claim(jti, services.clock.now() + 300)).resolves.toBeUndefined();
    await expect(cache.claim(jti, services.clock.now() + 300)).rejects.toMatchObject({ code: 'proof_replayed' });
  });
});

import { TableClient, type TransactionAction } from '@azure/data-tables';
import { authenticateDevice } from '../functions/authenticateDevice.js';
import { azuriteConnectionString } from '../host/azurite.js';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { createServices, useServices, type Services } from '../shared/services.js';
import { storageErrorCode } from '../shared/storage/tableService.js';
import { deviceCall } from './support/devices.js';
import { adminBulkToken, enrolledDevice, type EnrolledDevice } from './support/enrol.js';
import { invoke, type Answer, type CallOptions } from './support/invoke.js';
import { installTestServices, uniqueTablePrefix, type TestServices } from './support/services.js';
import { chargeOf, ThrottlingProxy, type Charge } from '../testkit/throttlingProxy.js';

/**
 * Partition throttling (docs/capacity.md): Table Storage answers 503 ServerBusy when a
 * partition is over its target. Through a proxy that does the same in front of Azurite, a
 * throttled replay-cache claim is retried within the request and otherwise answers 503
 * `unavailable` with Retry-After - never a 500, and never `proof_replayed` for a proof that
 * was not used: the same proof is accepted once the partition has room again.
 */

let proxy: ThrottlingProxy;
let services: TestServices;
let enrolled: EnrolledDevice;

const isReplay = (table: string) => table.endsWith(TableReplayCache.tableName);
const replayWrites = (charge: Charge) => isReplay(charge.table);

function azuritePort(): number {
  const port = /TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(process.env.TEST_STORAGE_CONNECTION ?? '')?.[1];
  if (port === undefined) throw new Error('TEST_STORAGE_CONNECTION names no loopback Azurite');
  return Number(port);
}

beforeAll(async () => {
  proxy = await ThrottlingProxy.start({ target: { host: '127.0.0.1', port: azuritePort() }, entitiesPerSecond: 10_000, throttles: isReplay });
  services = await installTestServices({ env: { STORAGE_CONNECTION: azuriteConnectionString('127.0.0.1', proxy.port), REPLAY_SHARDS: '1' } });
  enrolled = await enrolledDevice(await adminBulkToken(60), services.clock.now());
});

afterAll(async () => {
  await proxy.close();
});

beforeEach(() => {
  proxy.setBudget(10_000);
  proxy.throttleNext(0);
  proxy.loseAnswers(0);
  useServices(services);
});

const authenticateCall = (): Promise<CallOptions> => deviceCall(enrolled.device, '/api/authenticate', { bearer: enrolled.token, now: services.clock.now() });
const authenticate = (call: CallOptions): Promise<Answer> => invoke(authenticateDevice, call);

function expectUnavailable(answer: Answer): void {
  expect(answer.status).toBe(503);
  expect(answer.body.code).toBe('unavailable');
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
}

describe('the throttling proxy', () => {
  it('charges single-entity operations and inserts to their partition, and leaves queries and table operations uncharged', () => {
    expect(chargeOf('GET', "/devstoreaccount1/treplay(PartitionKey='2026-11-29T04_3',RowKey='ab''c')", '')).toEqual({
      table: 'treplay',
      partition: '2026-11-29T04_3',
      entities: 1,
      writes: false,
    });
    expect(chargeOf('DELETE', "/devstoreaccount1/treplay(PartitionKey='it''s',RowKey='x')", '')).toMatchObject({ partition: "it's", writes: true });
    expect(chargeOf('POST', '/devstoreaccount1/treplay', '{"PartitionKey":"p\\"1","RowKey":"r"}')).toMatchObject({ partition: 'p"1', entities: 1 });
    expect(chargeOf('GET', "/devstoreaccount1/treplay()?$filter=PartitionKey%20eq%20'p'", '')).toBeUndefined();
    expect(chargeOf('POST', '/devstoreaccount1/Tables', '{"TableName":"treplay"}')).toBeUndefined();
  });

  it("answers a partition past its budget 503 ServerBusy in Table Storage's error format, per partition, counting a transaction's every entity", async () => {
    const table = `${uniqueTablePrefix()}replay`;
    // Retries off, so that each call shows one answer of the proxy.
    const client = TableClient.fromConnectionString(azuriteConnectionString('127.0.0.1', proxy.port), table, {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    await client.createTable();
    // A budget of 4/s, and a transaction of 8: admitted (the bucket was full), leaving the
    // partition 4 entities in debt - 1.25 s before it serves anything again.
    proxy.setBudget(4);
    const batch: TransactionAction[] = Array.from({ length: 8 }, (_, i) => ['create', { partitionKey: 'a', rowKey: `r${i}` }]);
    await client.submitTransaction(batch);
    const refused = await client.createEntity({ partitionKey: 'a', rowKey: 'one-more' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ statusCode: 503 });
    expect(storageErrorCode(refused)).toBe('ServerBusy');
    await client.createEntity({ partitionKey: 'b', rowKey: 'other-partition' });
    const listed = [];
    for await (const entity of client.listEntities({ queryOptions: { filter: "PartitionKey eq 'a'" } })) listed.push(entity.rowKey);
    // The refused insert was not applied (a query is not charged, so it can look).
    expect(listed).toHaveLength(8);
    expect(listed).not.toContain('one-more');
    await new Promise((done) => setTimeout(done, 1_500));
    await client.createEntity({ partitionKey: 'a', rowKey: 'after-a-second' });
  });
});

describe('the service under partition throttling', () => {
  it('a claim throttled a few times is retried within the request and succeeds', async () => {
    const before = proxy.counts.throttled;
    proxy.throttleNext(2, replayWrites);
    const answer = await authenticate(await authenticateCall());
    expect(answer.status).toBe(200);
    expect(proxy.counts.throttled - before).toBe(2);
  });

  it('a claim throttled past its retries answers 503 unavailable with Retry-After within seconds, and the same proof is accepted later: no false replay', async () => {
    proxy.setBudget(0);
    const call = await authenticateCall();
    const before = proxy.counts.throttled;
    const started = Date.now();
    expectUnavailable(await authenticate(call));
    expect(Date.now() - started).toBeLessThan(10_000);
    // The SDK's own retries (3), each throttled again.
    expect(proxy.counts.throttled - before).toBe(4);
    proxy.setBudget(10_000);
    expect((await authenticate(call)).status).toBe(200);
    expect((await authenticate(call)).body.code).toBe('proof_replayed');
  });

  it('a claim whose write was applied but whose answer was lost is not taken for a replay on the retry, alone or in a group commit', async () => {
    proxy.loseAnswers(1, replayWrites);
    const call = await authenticateCall();
    expect((await authenticate(call)).status).toBe(200);
    expect(proxy.counts.answersLost).toBeGreaterThanOrEqual(1);
    expect((await authenticate(call)).body.code).toBe('proof_replayed');

    const lostBefore = proxy.counts.answersLost;
    proxy.loseAnswers(2, replayWrites);
    const calls = await Promise.all(Array.from({ length: 24 }, () => authenticateCall()));
    const answers = await Promise.all(calls.map(authenticate));
    expect(answers.map((answer) => answer.status)).toEqual(calls.map(() => 200));
    expect(proxy.counts.answersLost - lostBefore).toBe(2);
  });

  it('under load past the partition budget every answer is 200 or 503 with Retry-After, and every refused proof is accepted once there is room', async () => {
    // An instance of its own (1 shard), so that its group commit starts empty.
    const instance: Services = await createServices(services.config, { clock: services.clock, signer: services.signer, admin: services.admin });
    useServices(instance);
    proxy.setBudget(5);
    const waves: Answer[][] = [];
    const refusedCalls: CallOptions[] = [];
    for (let wave = 0; wave < 2; wave++) {
      const calls = await Promise.all(Array.from({ length: 40 }, () => authenticateCall()));
      const answers = await Promise.all(calls.map(authenticate));
      waves.push(answers);
      answers.forEach((answer, i) => {
        if (answer.status !== 200) refusedCalls.push(calls[i] as CallOptions);
      });
    }
    for (const answer of waves.flat()) {
      if (answer.status !== 200) expectUnavailable(answer);
    }
    // The budget was exceeded: some requests were refused (the second wave found the partition in debt).
    expect(refusedCalls.length).toBeGreaterThan(0);
    proxy.setBudget(10_000);
    const retried = await Promise.all(refusedCalls.map(authenticate));
    expect(retried.map((answer) => answer.status)).toEqual(refusedCalls.map(() => 200));
  });
});

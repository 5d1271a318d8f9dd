import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import functions, { type HttpRequest as HttpRequestType, type HttpResponseInit, type InvocationContext as ContextType } from '@azure/functions';
import { provideFunctionsCore } from '../host/coreShim.js';
import { loadConfig } from '../shared/config.js';
import { LastSeenRecorder } from '../shared/devices/lastSeen.js';
import { TableDeviceStore } from '../shared/devices/tableDeviceStore.js';
import { MeteredTables, type PurgeMeter } from '../shared/purge/meteredTables.js';
import { createServices, useServices, type Services } from '../shared/services.js';
import { TableService } from '../shared/storage/tableService.js';
import type { BenchAzurite } from './azuriteWorker.js';
import { athOf, fastProof, JtiSource, seededDevices, tokenOf, type BenchDevice } from './devices.js';
import { table, whole, type PartReport } from './format.js';
import type { SeededRandom } from './random.js';

// The library's bundle hides these from ESM's named-export detection (as in host/server.ts).
const { HttpRequest, HttpResponse, InvocationContext } = functions;

type Handler = (request: HttpRequestType, context: ContextType) => Promise<HttpResponseInit>;

export interface FleetCostOptions {
  azurite: BenchAzurite;
  tablePrefix: string;
  devices: number;
  /** Authenticates per device inside one LAST_SEEN_GRANULARITY_MINUTES window. */
  authenticatesPerDevice: number;
  concurrency: number[];
}

/** The ratio of Table requests per authenticate with last seen to without it that the contract allows. */
const allowedRatio = 1.01;

/**
 * Tables whose every request is counted, per table, by the purge's own request meter
 * (MeteredTables: a pipeline policy after the retry policy, so retries and transactions
 * count as the wire sees them). Nothing here is typed in: every figure is a count.
 */
class CountingTables extends TableService {
  private readonly metered = new Map<string, { tables: MeteredTables; meter: PurgeMeter }>();

  constructor(
    private readonly account: { connection: string; prefix: string },
  ) {
    super(account.connection, account.prefix);
  }

  override table(name: string) {
    let entry = this.metered.get(name);
    if (!entry) {
      const { connection, prefix } = this.account;
      const tables = new MeteredTables(new TableService(connection, prefix), connection, prefix);
      entry = { tables, meter: tables.startMeter() };
      this.metered.set(name, entry);
    }
    return entry.tables.table(name);
  }

  /** Requests sent so far, by table. */
  counts(): Map<string, number> {
    return new Map([...this.metered].map(([name, entry]) => [name, entry.meter.requests]));
  }
}

function since(before: Map<string, number>, after: Map<string, number>): { total: number; byTable: Map<string, number> } {
  const byTable = new Map<string, number>();
  let total = 0;
  for (const [name, count] of after) {
    const delta = count - (before.get(name) ?? 0);
    if (delta === 0) continue;
    byTable.set(name, delta);
    total += delta;
  }
  return { total, byTable };
}

/**
 * Table requests per operation of the device paths, counted: per registration and renewal
 * (with the part due to the find rows of docs/decisions/0014 shown apart, so the count
 * without them is measured too, not assumed), and per authenticate with and without the
 * last-seen write (docs/decisions/0016), for a fleet in which each device authenticates
 * `authenticatesPerDevice` times within one LAST_SEEN_GRANULARITY_MINUTES window, on an
 * instance that has seen none of them yet - the most writes last seen can cause.
 */
export async function fleetCost(options: FleetCostOptions, random: SeededRandom): Promise<PartReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cmg-bench-fleet-'));
  try {
    const config = loadConfig({ STORAGE_CONNECTION: options.azurite.connectionString, TABLE_PREFIX: options.tablePrefix, LOCAL_DATA_DIR: dataDir });
    const tables = new CountingTables({ connection: config.storageConnection, prefix: config.tablePrefix });
    const services = await createServices(config, { tables });
    useServices(services);
    provideFunctionsCore();
    const { registerDevice } = await import('../functions/registerDevice.js');
    const { renewDeviceToken } = await import('../functions/renewDeviceToken.js');
    const { authenticateDevice } = await import('../functions/authenticateDevice.js');
    const jtis = new JtiSource(random.fork('jti'));
    const devices = await seededDevices(random.fork('devices'), 'fleet', options.devices, 'ec');
    const bulk = await services.bulkTokens.create({ lifetimeMinutes: 60 });
    const description = (i: number) => ({ name: `bench device ${i}`, os: 'Linux', clientVersion: '1.0.0' });

    // Warm-up (not counted): tables created, the revocation list loaded.
    await registerAll(registerDevice, devices.slice(0, 1), bulk.token, jtis, description);
    const rows: string[][] = [];
    const findTable = TableDeviceStore.findIndexName;

    const registrations = await counted(tables, () => registerAll(registerDevice, devices.slice(1), bulk.token, jtis, description));
    const registered = devices.length - 1;
    rows.push(perOperation('POST /api/register (bulk token, a new device, with device)', registrations, registered, findTable));
    const renamed = (i: number) => ({ ...description(i), name: `renamed bench device ${i}` });
    const renewals = await counted(tables, () => renewAll(renewDeviceToken, devices.slice(1), jtis, renamed));
    rows.push(perOperation('POST /api/renew (with device, a new name)', renewals, registered, findTable));
    const sameRenewals = await counted(tables, () => renewAll(renewDeviceToken, devices.slice(1), jtis, renamed));
    rows.push(perOperation('POST /api/renew (with device, the same description)', sameRenewals, registered, findTable));

    const notes: string[] = [];
    let ok = true;
    const fleet = devices.slice(1);
    const store = new TableDeviceStore(tables);
    for (const concurrency of options.concurrency) {
      const count = fleet.length * options.authenticatesPerDevice;
      const without = await counted(tables, () =>
        authenticateAll({ ...services, lastSeen: noLastSeen(store, services) }, authenticateDevice, fleet, count, concurrency, jtis),
      );
      const recorder = new LastSeenRecorder(store, services.clock, config.lastSeenGranularitySeconds);
      const withFirst = await counted(tables, async () => {
        await authenticateAll({ ...services, lastSeen: recorder }, authenticateDevice, fleet, count, concurrency, jtis);
        await recorder.idle();
      });
      const withSteady = await counted(tables, async () => {
        await authenticateAll({ ...services, lastSeen: recorder }, authenticateDevice, fleet, count, concurrency, jtis);
        await recorder.idle();
      });
      const base = without.total / count;
      const first = withFirst.total / count;
      const steady = withSteady.total / count;
      const writes = withFirst.byTable.get(TableDeviceStore.tableName) ?? 0;
      const ratio = first / base;
      if (!(ratio <= allowedRatio) || recorder.failures > 0) ok = false;
      rows.push([
        `POST /api/authenticate, concurrency ${concurrency}: without last seen`,
        whole(count),
        base.toFixed(3),
        '–',
        '1.000',
      ]);
      rows.push([
        `  with last seen, the window's first ${options.authenticatesPerDevice} per device (cold instance: ${whole(writes)} writes)`,
        whole(count),
        first.toFixed(3),
        '–',
        ratio.toFixed(3),
      ]);
      rows.push([`  with last seen, the same devices again inside the window`, whole(count), steady.toFixed(3), '–', (steady / base).toFixed(3)]);
    }
    notes.push(
      `in process (the function handlers, no HTTP), ${registered} EC devices, the bench's Azurite in a worker thread; ` +
        'requests counted per table by MeteredTables (shared/purge/meteredTables.ts): every HTTP request sent, retries and transactions included',
      `"without the find rows" is the same count minus the requests to table ${findTable} (docs/decisions/0014), the only table registration and renewal write that the code before it did not`,
      `authenticate: ${fleet.length} devices × ${options.authenticatesPerDevice} authenticates each, inside one LAST_SEEN_GRANULARITY_MINUTES window; ` +
        `the ratio must stay within ${allowedRatio} (it is 1 + writes / (authenticates × requests per authenticate), so it falls as devices authenticate more often per window)`,
    );
    return {
      title: `(fleet) Table requests per operation: registration, renewal, and authenticate with and without the last-seen write`,
      table: table(['operation', 'operations', 'Table requests each', 'without the find rows', 'vs without last seen'], rows),
      notes,
      ok,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function counted(tables: CountingTables, work: () => Promise<unknown>) {
  const before = tables.counts();
  await work();
  return since(before, tables.counts());
}

function perOperation(label: string, measured: { total: number; byTable: Map<string, number> }, operations: number, findTable: string): string[] {
  const find = measured.byTable.get(findTable) ?? 0;
  return [label, whole(operations), (measured.total / operations).toFixed(2), ((measured.total - find) / operations).toFixed(2), '–'];
}

/** Today's authenticate: the same handler with last seen doing nothing. */
function noLastSeen(store: TableDeviceStore, services: Services): LastSeenRecorder {
  return new (class extends LastSeenRecorder {
    override seen(): void {}
  })(store, services.clock, 1);
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

async function call(handler: Handler, path: string, bearer: string, body: unknown, expected: number): Promise<unknown> {
  const request = new HttpRequest({
    method: 'POST',
    url: `http://127.0.0.1/api/${path}`,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' },
    body: { string: JSON.stringify(body) },
  });
  const context = new InvocationContext({ invocationId: 'bench', functionName: path, logHandler: () => undefined });
  const response = new HttpResponse(await handler(request, context));
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

async function registerAll(handler: Handler, devices: BenchDevice[], bulk: string, jtis: JtiSource, description: (i: number) => unknown): Promise<void> {
  for (const [i, device] of devices.entries()) {
    const proof = fastProof(device, { htm: 'POST', htu: 'http://127.0.0.1/api/register', iat: now(), jti: jtis.next(), ath: athOf(bulk) });
    const answer = (await call(handler, 'register', bulk, { proof, device: description(i) }, 201)) as { deviceId: string; token: string };
    device.deviceId = answer.deviceId;
    device.token = answer.token;
  }
}

async function renewAll(handler: Handler, devices: BenchDevice[], jtis: JtiSource, description: (i: number) => unknown): Promise<void> {
  for (const [i, device] of devices.entries()) {
    const token = tokenOf(device);
    const proof = fastProof(device, { htm: 'POST', htu: 'http://127.0.0.1/api/renew', iat: now(), jti: jtis.next(), ath: athOf(token) });
    const answer = (await call(handler, 'renew', token, { proof, device: description(i) }, 200)) as { token: string };
    device.token = answer.token;
  }
}

/** `count` authenticates spread evenly over `devices`, `concurrency` at a time, through `services`. */
async function authenticateAll(services: Services, handler: Handler, devices: BenchDevice[], count: number, concurrency: number, jtis: JtiSource): Promise<void> {
  useServices(services);
  const aths = devices.map((device) => athOf(tokenOf(device)));
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const index = i % devices.length;
      const device = devices[index] as BenchDevice;
      const proof = fastProof(device, { htm: 'POST', htu: 'http://127.0.0.1/api/authenticate', iat: now(), jti: jtis.next(), ath: aths[index] });
      await call(handler, 'authenticate', tokenOf(device), { proof }, 200);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

import { MeteredTables, type PurgeMeter } from '../shared/purge/meteredTables.js';
import { TableService } from '../shared/storage/tableService.js';

/** Table requests over a stretch of work: the total and the count per table. */
export interface Counted {
  total: number;
  byTable: Map<string, number>;
}

/**
 * Tables whose every request is counted, per table, by the purge's own request meter
 * (MeteredTables: a pipeline policy after the retry policy, so retries and transactions
 * count as the wire sees them). Nothing counted here is typed in.
 *
 * The hot path's lean client (docs/decisions/0017) is turned off (leanHotPath false), so that
 * `hotTable` hands out the same counted SDK client as `table`: the lean client sends the same
 * requests (test/leanTable.test.ts compares them byte for byte on the wire), but past the
 * SDK's pipeline, where no policy would see them. Creating a table is not counted (it is
 * done once per table and process, by MeteredTables' own uncounted TableService).
 */
export class CountingTables extends TableService {
  private readonly metered = new Map<string, { tables: MeteredTables; meter: PurgeMeter }>();

  constructor(private readonly account: { connection: string; prefix: string }) {
    super(account.connection, account.prefix, false);
  }

  override table(name: string) {
    let entry = this.metered.get(name);
    if (!entry) {
      const { connection, prefix } = this.account;
      const tables = new MeteredTables(new TableService(connection, prefix, false), connection, prefix);
      entry = { tables, meter: tables.startMeter() };
      this.metered.set(name, entry);
    }
    return entry.tables.table(name);
  }

  /** Requests sent so far, by table. */
  counts(): Map<string, number> {
    return new Map([...this.metered].map(([name, entry]) => [name, entry.meter.requests]));
  }

  /** The requests `work` sent. */
  async count(work: () => Promise<unknown>): Promise<Counted> {
    const before = this.counts();
    await work();
    return since(before, this.counts());
  }
}

function since(before: Map<string, number>, after: Map<string, number>): Counted {
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

/** "devices 2.00, bulktokens 1.00, …" per operation, in the order the tables were first used. */
export function perTable(counted: Counted, operations: number): string {
  return [...counted.byTable].map(([name, count]) => `${name} ${(count / operations).toFixed(2)}`).join(', ');
}

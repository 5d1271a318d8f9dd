import type { TableClient } from '@azure/data-tables';
import { createTableClient, type TableService } from '../storage/tableService.js';
import { cachedUntilFailure } from '../storage/promiseCache.js';

type PipelinePolicy = Parameters<TableClient['pipeline']['addPolicy']>[0];

export type ReadKind = 'indexRows' | 'devices' | 'bulkTokens' | 'bulkTokenUses' | 'replayEntries' | 'revocations' | 'purgeState' | 'auditEntries';

/** What a purge run cost: every HTTP request sent (retries included), entities read and deleted. */
export class PurgeMeter {
  requests = 0;
  entitiesDeleted = 0;
  readonly read: Record<ReadKind, number> = { indexRows: 0, devices: 0, bulkTokens: 0, bulkTokenUses: 0, replayEntries: 0, revocations: 0, purgeState: 0, auditEntries: 0 };

  get entitiesRead(): number {
    return Object.values(this.read).reduce((sum, count) => sum + count, 0);
  }
}

/**
 * The purge's own clients for the service's tables. Each counts the requests it sends into
 * the meter of the run in progress: a pipeline policy sees retries and transactions as the
 * wire does, which wrapping methods would not. The shared clients of TableService are left
 * alone so that other work in the process is never counted as the purge's.
 */
export class MeteredTables {
  private readonly clients = new Map<string, Promise<TableClient>>();
  private meter = new PurgeMeter();

  constructor(
    private readonly tables: TableService,
    private readonly connection: string,
    private readonly prefix: string,
  ) {}

  /** Starts counting into a fresh meter and returns it. */
  startMeter(): PurgeMeter {
    this.meter = new PurgeMeter();
    return this.meter;
  }

  table(name: string): Promise<TableClient> {
    return cachedUntilFailure(this.clients, name, () => this.open(name));
  }

  private async open(name: string): Promise<TableClient> {
    // The shared service creates the table once per process (an index table may not exist
    // yet on a new deployment); that one request is not the purge's cost.
    await this.tables.table(name);
    const client = createTableClient(this.connection, `${this.prefix}${name}`);
    const counter: PipelinePolicy = {
      name: 'purgeRequestMeter',
      sendRequest: (request, next) => {
        this.meter.requests++;
        return next(request);
      },
    };
    // After the retry policy, so that each attempt is counted.
    client.pipeline.addPolicy(counter, { afterPhase: 'Retry' });
    return client;
  }
}

import type { TableClient, TransactionAction } from '@azure/data-tables';
import { TableReplayCache } from '../shared/proof/replayCache.js';
import { createTableClient } from '../shared/storage/tableService.js';

/** Replay-cache rows deleted per entity-group transaction (the Table service's maximum). */
const batchSize = 100;

export function replayTable(connectionString: string, tablePrefix: string): TableClient {
  return createTableClient(connectionString, `${tablePrefix}${TableReplayCache.tableName}`);
}

/**
 * Deletes every replay-cache row of a host under test, between timed runs: all are jtis of
 * proofs the bench has already sent and never sends again. Azurite's insert looks for an
 * existing row by scanning the whole partition (one per hour), so its cost grows with the
 * rows stored that hour (a 100,000-request soak without this fell from 65 to 20 req/s and
 * recovered when the hour turned); Table Storage indexes PartitionKey+RowKey and does not.
 * Returns how many rows went.
 */
export async function dropReplayRows(client: TableClient): Promise<number> {
  const byPartition = new Map<string, string[]>();
  try {
    // Bounded by what is stored: the rows of one timed run.
    for await (const entity of client.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) {
      const keys = byPartition.get(entity.partitionKey ?? '') ?? [];
      keys.push(entity.rowKey ?? '');
      byPartition.set(entity.partitionKey ?? '', keys);
    }
  } catch (error) {
    // The host creates the table at its first proof; before that there is nothing to drop.
    if ((error as { statusCode?: number }).statusCode === 404) return 0;
    throw error;
  }
  let deleted = 0;
  for (const [partition, rowKeys] of byPartition) {
    for (let i = 0; i < rowKeys.length; i += batchSize) {
      const actions: TransactionAction[] = rowKeys.slice(i, i + batchSize).map((rowKey) => ['delete', { partitionKey: partition, rowKey }]);
      await client.submitTransaction(actions);
      deleted += actions.length;
    }
  }
  return deleted;
}

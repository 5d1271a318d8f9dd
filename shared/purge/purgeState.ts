import type { TableClient } from '@azure/data-tables';
import { storageCall } from '../storage/tableService.js';
import type { PurgeMeter } from './meteredTables.js';
import { readEntity } from './tableBatches.js';

/**
 * Where the pending-approval sweep got to: every device-index partition before `through`
 * has been checked for abandoned pending devices. Without it each hourly run would read the
 * whole retention window again (a week of lapsed pairings, 168 times over); with it each
 * index row is read once for pending devices and once more when its retention ends.
 */
export class PurgeState {
  static readonly tableName = 'purgestate';
  private static readonly key = { partitionKey: 'purge', rowKey: 'pending-devices' };

  constructor(private readonly client: TableClient) {}

  async pendingSweptThrough(meter: PurgeMeter): Promise<string | undefined> {
    const entity = await readEntity<{ through?: string }>(this.client, PurgeState.key, meter, 'purgeState');
    return typeof entity?.through === 'string' ? entity.through : undefined;
  }

  async setPendingSweptThrough(bucket: string): Promise<void> {
    await storageCall('Table Storage (purge state)', () => this.client.upsertEntity({ ...PurgeState.key, through: bucket }, 'Replace'));
  }
}

import { randomBytes } from 'node:crypto';
import type { TableEntity, TransactionAction } from '@azure/data-tables';
import { failedOperation, isStatus, storageCall } from './tableService.js';

/** The Table service's ceiling on operations in one transaction. */
const maxTransactionSize = 100;

export type InsertOutcome = 'inserted' | 'exists';

type Entity = TableEntity<Record<string, string | number | boolean>>;

/** What group commit needs of a table client: the SDK's TableClient and the lean client (leanTable.ts) both have it. */
export interface InsertTable {
  createEntity(entity: Entity): Promise<unknown>;
  submitTransaction(actions: TransactionAction[]): Promise<unknown>;
  getEntity<T extends object>(partitionKey: string, rowKey: string, options: { queryOptions: { select: string[] } }): Promise<T>;
}

interface Pending {
  entity: Entity;
  settle: (outcome: InsertOutcome) => void;
  fail: (error: unknown) => void;
}

interface PartitionQueue {
  waiting: Pending[];
  /** Row keys waiting or being written: a second insert of one of them is `exists` at once. */
  keys: Set<string>;
  running: boolean;
}

/**
 * Insert-if-absent with group commit. Inserts into one partition that arrive while a write to
 * it is in flight are sent together as the next entity-group transaction (up to 100), so under
 * load one round trip - and one request's worth of client and server work - carries many
 * inserts, and with one caller at a time each insert goes alone as before. Nothing waits on a
 * timer: a batch is whatever queued during the previous round trip.
 *
 * A transaction is all or nothing. When one of its entities exists already, the service
 * names it by index; that insert is answered `exists` and the rest are sent again. Every
 * entity carries a random mark of the call that writes it, so an entity found to exist with
 * this call's own mark - a transaction the SDK retried after its first answer was lost, but
 * which had been applied - counts as inserted, not as a conflict.
 */
export class GroupInserter {
  private readonly queues = new Map<string, PartitionQueue>();

  constructor(
    private readonly client: () => Promise<InsertTable>,
    private readonly what: string,
  ) {}

  insert(entity: Entity): Promise<InsertOutcome> {
    let queue = this.queues.get(entity.partitionKey);
    if (!queue) {
      queue = { waiting: [], keys: new Set(), running: false };
      this.queues.set(entity.partitionKey, queue);
    }
    if (queue.keys.has(entity.rowKey)) return Promise.resolve('exists');
    const outcome = new Promise<InsertOutcome>((settle, fail) => queue.waiting.push({ entity, settle, fail }));
    queue.keys.add(entity.rowKey);
    if (!queue.running) void this.drain(entity.partitionKey, queue);
    return outcome;
  }

  private async drain(partition: string, queue: PartitionQueue): Promise<void> {
    queue.running = true;
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, maxTransactionSize);
      await this.commit(batch);
      for (const pending of batch) queue.keys.delete(pending.entity.rowKey);
    }
    queue.running = false;
    this.queues.delete(partition);
  }

  /** Settles every insert of `batch`; never throws. */
  private async commit(batch: Pending[]): Promise<void> {
    const mark = randomBytes(8).toString('hex');
    let rest = batch;
    try {
      const client = await this.client();
      while (rest.length > 0) {
        const entities = rest.map((pending) => ({ ...pending.entity, writtenBy: mark }));
        try {
          if (entities.length === 1) await storageCall(this.what, () => client.createEntity(entities[0] as Entity));
          else await storageCall(this.what, () => client.submitTransaction(entities.map((entity): TransactionAction => ['create', entity])));
          for (const pending of rest) pending.settle('inserted');
          return;
        } catch (error) {
          if (!isStatus(error, 409)) throw error;
          const index = rest.length === 1 ? 0 : failedOperation(error);
          if (index === undefined || index >= rest.length) {
            // Not told which one: find out one by one (each a batch of its own).
            await Promise.all(rest.map((pending) => this.commit([pending])));
            return;
          }
          const conflict = rest[index] as Pending;
          if (await this.writtenBy(client, conflict.entity, mark)) {
            for (const pending of rest) pending.settle('inserted');
            return;
          }
          conflict.settle('exists');
          rest = rest.filter((_, i) => i !== index);
        }
      }
    } catch (error) {
      for (const pending of rest) pending.fail(error);
    }
  }

  private async writtenBy(client: InsertTable, entity: Entity, mark: string): Promise<boolean> {
    try {
      const stored = await storageCall(this.what, () =>
        client.getEntity<{ writtenBy?: string }>(entity.partitionKey, entity.rowKey, { queryOptions: { select: ['writtenBy'] } }),
      );
      return stored.writtenBy === mark;
    } catch (error) {
      // Gone again already (purged): it existed, and was not ours to count.
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }
}

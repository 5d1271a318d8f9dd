import type { TableClient } from '@azure/data-tables';
import { ServiceError } from '../errors.js';
import { storageCall, type TableService } from '../storage/tableService.js';
import { type AuditAction, type AuditEntry, type AuditOutcome, type ActorKind } from './auditEntry.js';
import type { AuditPage, AuditQuery, AuditStore } from './auditStore.js';

const what = 'Table Storage (audit)';

/** Inverted times count down from here: 13 digits cover epoch milliseconds until the year 2286. */
const maxMs = 9_999_999_999_999;
const dayMs = 86_400_000;

/** Partition queries one page may make at most; a page that runs out of them carries a continuation. */
export const maxQueriesPerPage = 32;

// A type alias, not an interface, so it fits the SDK's TableEntity (implicit index signature).
type AuditEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  schemaVersion: number;
  time: string;
  action: string;
  outcome: string;
  status?: number;
  code?: string;
  actorKind: string;
  actorId?: string;
  actorName: string;
  callerAddress?: string;
  targetKind?: string;
  targetId?: string;
  /** JSON of AuditDetails: the fields that apply vary by action. */
  details?: string;
  invocationId?: string;
};

/** The partition of an instant: its UTC day, `YYYY-MM-DD`. */
export function auditPartition(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Zero-padded inverted milliseconds: ascending row keys are descending times. */
function invertedTime(ms: number): string {
  return String(maxMs - Math.min(Math.max(ms, 0), maxMs)).padStart(13, '0');
}

const rowKeyPattern = /^\d{13}-[0-9a-f]{21}$/;
const dayPattern = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The audit trail in table `audit`, Table Storage's "log tail" pattern: one partition per
 * UTC day (so the purge drops whole days, and a time range is a handful of partitions), and
 * within a day RowKey = inverted time + the entry id, so a partition reads newest first.
 * Listing walks the days from the newest down, one partition query at a time.
 */
export class TableAuditStore implements AuditStore {
  static readonly tableName = 'audit';

  constructor(private readonly tables: TableService) {}

  private client(): Promise<TableClient> {
    return this.tables.table(TableAuditStore.tableName);
  }

  async insert(entry: AuditEntry): Promise<void> {
    const client = await this.client();
    await storageCall(what, () => client.createEntity(toEntity(entry)));
  }

  async replace(entry: AuditEntry): Promise<void> {
    const client = await this.client();
    // Upsert: the first write may have reached the store even if its answer was lost.
    await storageCall(what, () => client.upsertEntity(toEntity(entry), 'Replace'));
  }

  async list(query: AuditQuery): Promise<AuditPage> {
    const firstDay = auditPartition(query.from);
    const lastDay = auditPartition(query.to - 1);
    let position = query.continuation === undefined ? { day: lastDay, rowKey: undefined } : decodeContinuation(query.continuation, firstDay, lastDay);
    const newest = invertedTime(query.to - 1);
    const beyondOldest = invertedTime(query.from - 1);
    const client = await this.client();
    const items: AuditEntry[] = [];
    for (let queries = 0; queries < maxQueriesPerPage; queries++) {
      const start = position.rowKey !== undefined && position.rowKey > newest ? position.rowKey : newest;
      let filter = `PartitionKey eq '${position.day}' and RowKey ge '${start}' and RowKey lt '${beyondOldest}'`;
      if (query.action !== undefined) filter += ` and action eq '${query.action}'`;
      const day = position.day;
      const page = await storageCall(what, () =>
        client.listEntities<AuditEntity>({ queryOptions: { filter } }).byPage({ maxPageSize: query.limit - items.length }).next(),
      );
      if (!page.done) items.push(...page.value.map(fromEntity));
      const next = page.done ? undefined : nextRowKey(page.value.continuationToken, day);
      if (next !== undefined) position = { day, rowKey: next };
      else if (day === firstDay) return { items, continuation: undefined };
      else position = { day: previousDay(day), rowKey: undefined };
      if (items.length >= query.limit) return { items, continuation: encodeContinuation(position) };
    }
    return { items, continuation: encodeContinuation(position) };
  }
}

function previousDay(day: string): string {
  return auditPartition(Date.parse(`${day}T00:00:00.000Z`) - dayMs);
}

/** The SDK's continuation is base64 JSON {nextPartitionKey, nextRowKey}; it comes from the store, not a caller. */
function nextRowKey(token: string | undefined, day: string): string | undefined {
  if (token === undefined) return undefined;
  const decoded = JSON.parse(Buffer.from(token, 'base64').toString('latin1')) as { nextPartitionKey?: string; nextRowKey?: string };
  return decoded.nextPartitionKey === day ? decoded.nextRowKey : undefined;
}

/**
 * The caller's continuation: base64url JSON {d: day, r?: row key to resume at}. It is only
 * ever used as a partition key and a lower bound inside the query's own range, and both are
 * checked against their formats, so a forged one can at most skip entries of that range.
 */
function encodeContinuation(position: { day: string; rowKey: string | undefined }): string {
  return Buffer.from(JSON.stringify(position.rowKey === undefined ? { d: position.day } : { d: position.day, r: position.rowKey })).toString('base64url');
}

function decodeContinuation(token: string, firstDay: string, lastDay: string): { day: string; rowKey: string | undefined } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  // Exactly {d, r?}: another key or an array is not something this service wrote.
  if (typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) && Object.keys(decoded).every((key) => key === 'd' || key === 'r')) {
    const { d, r } = decoded as { d?: unknown; r?: unknown };
    const dayOk = typeof d === 'string' && dayPattern.test(d) && d >= firstDay && d <= lastDay && auditPartition(Date.parse(`${d}T00:00:00.000Z`)) === d;
    const rowOk = r === undefined || (typeof r === 'string' && rowKeyPattern.test(r));
    if (dayOk && rowOk) return { day: d, rowKey: r };
  }
  throw new ServiceError('invalid_request', 'continuation must be the value a previous page of the same query returned');
}

function toEntity(entry: AuditEntry): AuditEntity {
  const ms = Date.parse(entry.time);
  return {
    partitionKey: auditPartition(ms),
    rowKey: `${invertedTime(ms)}-${entry.id}`,
    id: entry.id,
    schemaVersion: entry.schemaVersion,
    time: entry.time,
    action: entry.action,
    outcome: entry.outcome,
    ...(entry.status === undefined ? {} : { status: entry.status }),
    ...(entry.code === undefined ? {} : { code: entry.code }),
    actorKind: entry.actor.kind,
    ...(entry.actor.id === undefined ? {} : { actorId: entry.actor.id }),
    actorName: entry.actor.name,
    ...(entry.callerAddress === undefined ? {} : { callerAddress: entry.callerAddress }),
    ...(entry.target === undefined ? {} : { targetKind: entry.target.kind, targetId: entry.target.id }),
    ...(entry.details === undefined ? {} : { details: JSON.stringify(entry.details) }),
    ...(entry.invocationId === undefined ? {} : { invocationId: entry.invocationId }),
  };
}

function fromEntity(entity: AuditEntity): AuditEntry {
  return {
    id: entity.id,
    schemaVersion: entity.schemaVersion,
    time: entity.time,
    // Rows come from this service; a value a newer version wrote is passed on as it is.
    action: entity.action as AuditAction,
    outcome: entity.outcome as AuditOutcome,
    ...(entity.status === undefined ? {} : { status: entity.status }),
    ...(entity.code === undefined ? {} : { code: entity.code }),
    actor: {
      kind: entity.actorKind as ActorKind,
      ...(entity.actorId === undefined ? {} : { id: entity.actorId }),
      name: entity.actorName,
    },
    ...(entity.callerAddress === undefined ? {} : { callerAddress: entity.callerAddress }),
    ...(entity.targetKind === undefined || entity.targetId === undefined
      ? {}
      : { target: { kind: entity.targetKind as 'bulk-token' | 'device', id: entity.targetId } }),
    ...(entity.details === undefined ? {} : { details: JSON.parse(entity.details) as NonNullable<AuditEntry['details']> }),
    ...(entity.invocationId === undefined ? {} : { invocationId: entity.invocationId }),
  };
}

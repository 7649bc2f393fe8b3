import type { DocChangeRef, OutboxEntry, ReadTransaction, StoredDoc, WriteTransaction } from './localStorage.js';
import { compactFieldClocks, expandFieldClocks, type HybridLogicalClock } from './hlc.js';
import { deriveSyncState, type PrioritySyncQueue } from './prioritySyncQueue.js';
import type { RecordData, SyncPriority } from './remoteBackend.js';
import { changedFields, groupBy } from './util.js';

/** A validated local write of one record. */
export type WriteOp =
  | { type: 'upsert'; collection: string; key: string; data: RecordData; priority: SyncPriority }
  | { type: 'delete'; collection: string; key: string; priority: SyncPriority };

/**
 * The local write path: documents and their outbox entries change in the caller's storage
 * transaction, so a write that resolved is durable together with its mutation.
 */
const HLC_PERSIST_INTERVAL_MS = 1000;

/**
 * The outbox entries of these documents. A document is 'synced' exactly when it has no entries
 * (every change to the outbox rewrites the document's `syncState` in the same transaction), and a
 * missing document has none, so only the others are looked up: a write of new or synced records
 * reads no outbox at all.
 */
export function outboxOf(tx: ReadTransaction, collection: string, docs: ReadonlyMap<string, StoredDoc | undefined>): Promise<OutboxEntry[]> {
  const keys: string[] = [];
  for (const [key, doc] of docs) if (doc && doc.syncState !== 'synced') keys.push(key);
  return keys.length > 0 ? tx.getOutboxForKeys(collection, keys) : Promise.resolve([]);
}

export class LocalWriter {
  private persistedWall = -Infinity;
  constructor(
    private readonly queue: PrioritySyncQueue,
    private readonly hlc: HybridLogicalClock,
  ) {}

  async apply(tx: WriteTransaction, ops: readonly WriteOp[], txId: string | null): Promise<DocChangeRef[]> {
    const changed: DocChangeRef[] = [];
    for (const [collection, group] of groupBy(ops, (op) => op.collection)) {
      const keys = [...new Set(group.map((op) => op.key))];
      const found = await tx.getDocs(collection, keys);
      const docs = new Map<string, StoredDoc | undefined>(keys.map((key, i) => [key, found[i]]));
      const entries = groupBy(await outboxOf(tx, collection, docs), (e) => e.key);
      const touched = new Map<string, StoredDoc | null>();
      for (const op of group) {
        const result = await this.applyOne(tx, op, docs.get(op.key), entries.get(op.key) ?? [], txId);
        if (!result) continue;
        docs.set(op.key, result.doc ?? undefined);
        entries.set(op.key, result.entries);
        touched.set(op.key, result.doc);
      }
      const puts = [...touched.values()].filter((d): d is StoredDoc => d !== null);
      const removed = [...touched].filter(([, d]) => d === null).map(([key]) => key);
      if (puts.length > 0) await tx.putDocs(puts);
      if (removed.length > 0) await tx.removeDocs(collection, removed);
      for (const key of touched.keys()) changed.push({ collection, key });
    }
    // The clock is persisted at most once a second on the write path (and on every sync and close):
    // after a crash it restarts within a second of its last value, without one more page per commit.
    if (changed.length > 0 && this.hlc.wallTime - this.persistedWall >= HLC_PERSIST_INTERVAL_MS) {
      await tx.setMeta('hlc', this.hlc.last);
      this.persistedWall = this.hlc.wallTime;
    }
    return changed;
  }

  private async applyOne(
    tx: WriteTransaction,
    op: WriteOp,
    prev: StoredDoc | undefined,
    entries: OutboxEntry[],
    txId: string | null,
  ): Promise<{ doc: StoredDoc | null; entries: OutboxEntry[] } | undefined> {
    const prevData = prev && !prev.deleted ? prev.data : null;
    if (op.type === 'delete') {
      if (!prev || prev.deleted) return undefined;
      const neverLeft = prev.server === null && entries.length > 0 && entries.every((e) => e.status === 'pending' && e.attempts === 0);
      if (neverLeft) {
        // The record never left this device: forget it entirely.
        await tx.deleteOutbox(entries.map((e) => e.seq));
        return { doc: null, entries: [] };
      }
    } else if (prevData && changedFields(prevData, op.data).length === 0) {
      return undefined;
    }
    const hlc = this.hlc.tick();
    const data = op.type === 'upsert' ? op.data : null;
    const fields = op.type === 'upsert' && prevData ? changedFields(prevData, data) : null;
    const clocks = prev ? expandFieldClocks(prevData, prev.hlc, prev.fieldClocks) : {};
    if (fields) for (const field of fields) clocks[field] = hlc;
    else if (data) for (const field in data) clocks[field] = hlc;
    const fieldClocks = compactFieldClocks(data, hlc, clocks);
    const next = await this.queue.enqueue(tx, entries, {
      collection: op.collection,
      key: op.key,
      op: op.type,
      data,
      changedFields: fields,
      baseVersion: prev?.server?.version ?? 0,
      hlc,
      fieldClocks,
      priority: op.priority,
      txId,
    });
    const doc: StoredDoc = {
      collection: op.collection,
      key: op.key,
      data,
      deleted: op.type === 'delete',
      hlc,
      fieldClocks,
      syncState: deriveSyncState(next),
      server: prev?.server ?? null,
    };
    return { doc, entries: next };
  }
}

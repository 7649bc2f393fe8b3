import type { DocChangeRef, OutboxEntry, ReadTransaction, StoredDoc, WriteTransaction } from './localStorage.js';
import { compactFieldClocks, expandFieldClocks, type HybridLogicalClock } from './hlc.js';
import { deriveSyncState, type LocalWrite, type PrioritySyncQueue } from './prioritySyncQueue.js';
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
 * A bulk write is applied this many records at a time, so the objects made for one slice (entries,
 * documents, statement parameters) die young instead of surviving garbage collections until the
 * whole write is done.
 */
const WRITE_SLICE = 512;

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
    for (const [collection, all] of groupBy(ops, (op) => op.collection)) {
      for (let start = 0; start < all.length; start += WRITE_SLICE) changed.push(...(await this.applySlice(tx, collection, all.slice(start, start + WRITE_SLICE), txId)));
    }
    // The clock is persisted at most once a second on the write path (and on every sync and close):
    // after a crash it restarts within a second of its last value, without one more page per commit.
    if (changed.length > 0 && this.hlc.wallTime - this.persistedWall >= HLC_PERSIST_INTERVAL_MS) {
      await tx.setMeta('hlc', this.hlc.last);
      this.persistedWall = this.hlc.wallTime;
    }
    return changed;
  }

  /** Writes of one collection; a later slice sees what the earlier ones wrote. */
  private async applySlice(tx: WriteTransaction, collection: string, group: readonly WriteOp[], txId: string | null): Promise<DocChangeRef[]> {
    const keys = [...new Set(group.map((op) => op.key))];
    const found = await tx.getDocs(collection, keys);
    const docs = new Map<string, StoredDoc | undefined>(keys.map((key, i) => [key, found[i]]));
    const current = await outboxOf(tx, collection, docs);
    // Every key once (so found[i] is group[i]'s document) and no entries to coalesce with.
    if (current.length === 0 && keys.length === group.length) return this.applyFresh(tx, group, found, txId);
    const touched = await this.applyInOrder(tx, group, docs, groupBy(current, (e) => e.key), txId);
    const puts = [...touched.values()].filter((d): d is StoredDoc => d !== null);
    const removed = [...touched].filter(([, d]) => d === null).map(([key]) => key);
    if (puts.length > 0) await tx.putDocs(puts);
    if (removed.length > 0) await tx.removeDocs(collection, removed);
    return [...touched.keys()].map((key) => ({ collection, key }));
  }

  /**
   * The common case of a bulk write: every record once, none with outbox entries (new or synced
   * records). Each write becomes one new entry; the entries are added without waiting for one
   * another, in the order of `group`.
   */
  private async applyFresh(tx: WriteTransaction, group: readonly WriteOp[], found: readonly (StoredDoc | undefined)[], txId: string | null): Promise<DocChangeRef[]> {
    const writes: LocalWrite[] = [];
    const prevs: (StoredDoc | undefined)[] = [];
    // The ops themselves serve as change refs (they have collection and key): nothing more to keep alive.
    const refs: DocChangeRef[] = [];
    for (let i = 0; i < group.length; i++) {
      const write = this.localWrite(group[i]!, found[i], txId);
      if (!write) continue;
      writes.push(write);
      prevs.push(found[i]);
      refs.push(group[i]!);
    }
    if (writes.length === 0) return [];
    await this.queue.addAll(tx, writes);
    // Each document has exactly its new pending entry: it is 'pending'.
    const puts: StoredDoc[] = new Array(writes.length);
    for (let i = 0; i < writes.length; i++) puts[i] = docAfter(writes[i]!, prevs[i], 'pending');
    await tx.putDocs(puts);
    return refs;
  }

  /** Any mix of writes: one after the other, each seeing the entries the ones before left. */
  private async applyInOrder(
    tx: WriteTransaction,
    group: readonly WriteOp[],
    docs: Map<string, StoredDoc | undefined>,
    entries: Map<string, OutboxEntry[]>,
    txId: string | null,
  ): Promise<Map<string, StoredDoc | null>> {
    const touched = new Map<string, StoredDoc | null>();
    for (const op of group) {
      const result = await this.applyOne(tx, op, docs.get(op.key), entries.get(op.key) ?? [], txId);
      if (!result) continue;
      docs.set(op.key, result.doc ?? undefined);
      entries.set(op.key, result.entries);
      touched.set(op.key, result.doc);
    }
    return touched;
  }

  private async applyOne(
    tx: WriteTransaction,
    op: WriteOp,
    prev: StoredDoc | undefined,
    entries: OutboxEntry[],
    txId: string | null,
  ): Promise<{ doc: StoredDoc | null; entries: OutboxEntry[] } | undefined> {
    if (op.type === 'delete' && prev && !prev.deleted) {
      const neverLeft = prev.server === null && entries.length > 0 && entries.every((e) => e.status === 'pending' && e.attempts === 0);
      if (neverLeft) {
        // The record never left this device: forget it entirely.
        await tx.deleteOutbox(entries.map((e) => e.seq));
        return { doc: null, entries: [] };
      }
    }
    const write = this.localWrite(op, prev, txId);
    if (!write) return undefined;
    const next = await this.queue.enqueue(tx, entries, write);
    return { doc: docAfter(write, prev, deriveSyncState(next)), entries: next };
  }

  /** The outbox write of `op` on top of `prev`, with a new clock; undefined when it changes nothing. */
  private localWrite(op: WriteOp, prev: StoredDoc | undefined, txId: string | null): LocalWrite | undefined {
    const prevData = prev && !prev.deleted ? prev.data : null;
    if (op.type === 'delete') {
      if (!prev || prev.deleted) return undefined;
    } else if (prevData && changedFields(prevData, op.data).length === 0) {
      return undefined;
    }
    const hlc = this.hlc.tick();
    const data = op.type === 'upsert' ? op.data : null;
    const fields = op.type === 'upsert' && prevData ? changedFields(prevData, data) : null;
    // A new record's fields all carry the write's clock: the compact form of that is null.
    let fieldClocks: Record<string, string> | null = null;
    if (prev) {
      const clocks = expandFieldClocks(prevData, prev.hlc, prev.fieldClocks);
      if (fields) for (const field of fields) clocks[field] = hlc;
      else if (data) for (const field in data) clocks[field] = hlc;
      fieldClocks = compactFieldClocks(data, hlc, clocks);
    }
    return {
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
    };
  }
}

/** The document after `write`, with the sync state its outbox entries afterwards give it. */
function docAfter(write: LocalWrite, prev: StoredDoc | undefined, syncState: StoredDoc['syncState']): StoredDoc {
  return {
    collection: write.collection,
    key: write.key,
    data: write.data,
    deleted: write.op === 'delete',
    hlc: write.hlc,
    fieldClocks: write.fieldClocks,
    syncState,
    server: prev?.server ?? null,
  };
}

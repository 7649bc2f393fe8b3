import type { NewOutboxEntry, OutboxEntry, ServerState, StoredDoc, SyncState, WriteTransaction } from './localStorage.js';
import { PRIORITY_RANK, type SyncPriority } from './remoteBackend.js';
import { jsonEqual } from './util.js';

/** A local write on its way into the outbox. */
export type LocalWrite = Pick<OutboxEntry, 'collection' | 'key' | 'op' | 'data' | 'changedFields' | 'baseVersion' | 'hlc' | 'fieldClocks' | 'priority' | 'txId'>;

export function higherPriority(a: SyncPriority, b: SyncPriority): SyncPriority {
  return PRIORITY_RANK[a] <= PRIORITY_RANK[b] ? a : b;
}

function unionFields(a: string[] | null, b: string[] | null): string[] | null {
  if (a === null || b === null) return null;
  return [...new Set([...a, ...b])].sort();
}

/**
 * A document's server state once the server applied `entry` at `version`: the pushed write, or the
 * state it has when that is newer. When the document still holds what was pushed, the state shares
 * the document's data object (a storage can then keep it once). For adapters implementing `ackOutbox`.
 */
export function serverStateAfterAck(doc: StoredDoc, entry: Pick<OutboxEntry, 'op' | 'data' | 'hlc' | 'fieldClocks'>, version: number): ServerState | null {
  if (version <= (doc.server?.version ?? 0)) return doc.server;
  const deleted = entry.op === 'delete';
  const data = deleted ? null : doc.data !== null && jsonEqual(entry.data, doc.data) ? doc.data : entry.data;
  return { version, deleted, data, hlc: entry.hlc, fieldClocks: entry.fieldClocks };
}

/** A record's sync state follows from its outbox entries. */
export function deriveSyncState(entries: readonly OutboxEntry[]): SyncState {
  if (entries.some((e) => e.status === 'conflict')) return 'conflict';
  if (entries.some((e) => e.status === 'failed')) return 'failed';
  return entries.length > 0 ? 'pending' : 'synced';
}

const recordId = (e: { collection: string; key: string }) => `${e.collection}\u0000${e.key}`;

/**
 * The outbox. Invariants (see ARCHITECTURE.md in this folder):
 * - push order is priority tier (critical first), then FIFO by `seq`;
 * - a record has at most one never-sent pending entry (unsent writes coalesce into it);
 * - an earlier entry of a record never has a lower priority than a later one, and a batch holds at
 *   most one entry per record, so one record's writes never reorder;
 * - an entry that was ever sent keeps its `mutationId` (the idempotency key) and its data.
 */
export class PrioritySyncQueue {
  constructor(
    private readonly newMutationId: () => string,
    private readonly now: () => number,
  ) {}

  /**
   * Adds a write to the outbox inside a storage transaction. `entries` are the record's current
   * entries (ordered by seq); the returned list is the record's entries afterwards.
   */
  async enqueue(tx: WriteTransaction, entries: OutboxEntry[], write: LocalWrite): Promise<OutboxEntry[]> {
    if (entries.length === 0) return [await this.add(tx, write)];
    const failed = entries.filter((e) => e.status === 'failed');
    const live = entries.filter((e) => e.status !== 'failed');
    let carriedFields: string[] | null = write.changedFields;
    let priority = write.priority;
    let baseVersion = write.baseVersion;
    if (failed.length > 0) {
      // A new write supersedes the record's failed entries: the local data already holds their changes.
      await tx.deleteOutbox(failed.map((e) => e.seq));
      for (const e of failed) {
        carriedFields = unionFields(carriedFields, e.changedFields);
        priority = higherPriority(priority, e.priority);
      }
      baseVersion = Math.min(baseVersion, ...failed.map((e) => e.baseVersion));
    }

    const last = live[live.length - 1];
    if (last && (last.status === 'conflict' || (last.status === 'pending' && last.attempts === 0))) {
      const merged: OutboxEntry = {
        ...last,
        op: write.op,
        data: write.data,
        changedFields: unionFields(last.changedFields, carriedFields),
        hlc: write.hlc,
        fieldClocks: write.fieldClocks,
        priority: higherPriority(last.priority, priority),
      };
      const rest = live.slice(0, -1);
      await this.bumpEarlier(tx, rest, merged.priority);
      if (write.txId !== null && write.txId !== last.txId && last.status === 'pending') {
        // Joining a transaction: re-sequence so the transaction's entries stay together.
        await tx.deleteOutbox([last.seq]);
        const { seq: _old, ...fresh } = merged;
        const added = { ...fresh, txId: write.txId, priority: higherPriority(merged.priority, write.priority) };
        const seq = await tx.addOutbox(added);
        return [...rest, { ...added, seq }];
      }
      await tx.updateOutbox([merged]);
      return [...rest, merged];
    }

    await this.bumpEarlier(tx, live, priority);
    return [...live, await this.add(tx, { ...write, changedFields: carriedFields, priority, baseVersion })];
  }

  /** Appends a new pending entry for `write`, with a fresh mutation id (no coalescing). */
  async add(tx: WriteTransaction, write: LocalWrite): Promise<OutboxEntry> {
    return (await this.addAll(tx, [write]))[0]!;
  }

  /**
   * Appends a new pending entry for each write, in order, without waiting between them: for writes
   * of records that have no entries (nothing to coalesce with).
   */
  async addAll(tx: WriteTransaction, writes: readonly LocalWrite[]): Promise<OutboxEntry[]> {
    const createdAt = this.now();
    const entries = writes.map((write) => this.newEntry(write, createdAt));
    const seqs = await Promise.all(entries.map((entry) => tx.addOutbox(entry)));
    for (let i = 0; i < entries.length; i++) (entries[i] as OutboxEntry).seq = seqs[i]!;
    return entries as OutboxEntry[];
  }

  private newEntry(write: LocalWrite, createdAt: number): NewOutboxEntry {
    return {
      mutationId: this.newMutationId(),
      collection: write.collection,
      key: write.key,
      op: write.op,
      data: write.data,
      changedFields: write.changedFields,
      baseVersion: write.baseVersion,
      hlc: write.hlc,
      fieldClocks: write.fieldClocks,
      priority: write.priority,
      txId: write.txId,
      status: 'pending',
      attempts: 0,
      lastError: null,
      conflict: null,
      createdAt,
    };
  }

  /** Keeps earlier entries of a record at least as urgent as a later one, so they are pushed first. */
  private async bumpEarlier(tx: WriteTransaction, earlier: OutboxEntry[], priority: SyncPriority): Promise<void> {
    const bumped = earlier
      .filter((e) => e.status === 'pending' && PRIORITY_RANK[priority] < PRIORITY_RANK[e.priority])
      .map((e) => ({ ...e, priority }));
    if (bumped.length > 0) await tx.updateOutbox(bumped);
    for (const b of bumped) {
      const i = earlier.findIndex((e) => e.seq === b.seq);
      earlier[i] = b;
    }
  }

  /**
   * Takes the next batch in push order and marks it in flight, in one transaction. A batch holds at
   * most one entry per record; entries of one `nexus.transaction()` travel together.
   */
  async takeBatch(tx: WriteTransaction, batchSize: number, skip?: readonly OutboxEntry[]): Promise<OutboxEntry[]> {
    // A little more than a batch: a record's later entries are skipped (they wait for the next batch).
    const candidates = await tx.listOutbox({ status: 'pending', limit: batchSize + 16 });
    // Records of this batch and of `skip` (a batch still in flight): a later entry of one waits,
    // as it builds on the earlier one's result.
    const seen = new Set<string>(skip?.map(recordId));
    const batch: OutboxEntry[] = [];
    const tryAdd = (entry: OutboxEntry) => {
      const id = recordId(entry);
      if (seen.has(id)) return false;
      seen.add(id);
      batch.push(entry);
      return true;
    };
    const txIds = new Set<string>();
    for (const entry of candidates) {
      if (batch.length >= batchSize) break;
      if (tryAdd(entry) && entry.txId) txIds.add(entry.txId);
    }
    const waiting = new Set<string>();
    for (const txId of txIds) {
      for (const member of await tx.listOutbox({ status: 'pending', txId })) {
        // A member whose record has an earlier entry in this batch or in flight cannot go now: the
        // whole transaction waits for the next batch rather than travel in two.
        if (!batch.some((e) => e.seq === member.seq) && !tryAdd(member)) waiting.add(txId);
      }
    }
    if (waiting.size > 0) batch.splice(0, batch.length, ...batch.filter((e) => !e.txId || !waiting.has(e.txId)));
    // Listed in push order; only transaction members added above can be out of it.
    if (txIds.size > 0) batch.sort((a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq);
    const inflight = batch.map((e) => ({ ...e, status: 'inflight' as const, attempts: e.attempts + 1 }));
    if (inflight.length > 0) {
      if (tx.markOutbox) await tx.markOutbox(inflight.map((e) => e.seq), 'inflight', { countAttempt: true, priorities: inflight.map((e) => e.priority) });
      else await tx.updateOutbox(inflight);
    }
    return inflight;
  }

  /** After a crash or reopen: entries left in flight go back to pending (push is idempotent). */
  async recoverInflight(tx: WriteTransaction): Promise<number> {
    const inflight = await tx.listOutbox({ status: 'inflight' });
    if (inflight.length > 0) {
      if (tx.markOutbox) await tx.markOutbox(inflight.map((e) => e.seq), 'pending');
      else await tx.updateOutbox(inflight.map((e) => ({ ...e, status: 'pending' as const })));
    }
    return inflight.length;
  }
}

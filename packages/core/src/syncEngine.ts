import { decideConflict, type ConflictOutcome, type ConflictPolicy, type VersionedValue } from './conflict/conflictPolicy.js';
import { CursorExpiredError, NexusError, toNexusError } from './errors.js';
import { compareHlc, expandFieldClocks, type HybridLogicalClock } from './hlc.js';
import type { DocChangeRef, LocalStorage, OutboxAck, OutboxEntry, ServerState, StoredDoc, WriteTransaction } from './localStorage.js';
import { outboxOf } from './localWriter.js';
import { deriveSyncState, higherPriority, serverStateAfterAck, type PrioritySyncQueue } from './prioritySyncQueue.js';
import type { Mutation, MutationResult, PullResult, RecordData, RemoteBackend, ServerChange, ServerRecord } from './remoteBackend.js';
import { groupBy, jsonEqual } from './util.js';

/** What the engine needs to know about a collection. */
export interface CollectionRuntime {
  policy: ConflictPolicy<any>;
  /** The field that holds the record's id, when the store's key is a field name. */
  keyField: string | null;
}

export interface SyncReport {
  /** Mutations the server applied (or had applied before). */
  pushed: number;
  /** Changes pulled and applied locally. */
  pulled: number;
  /** Conflicts met while pushing. */
  conflicts: number;
  /** Mutations the server rejected (now `failed`). */
  rejected: number;
  /** Why the run did nothing, if it did nothing. */
  skipped?: 'offline' | 'no-remote' | 'closed';
  durationMs: number;
}

export interface SyncProgress {
  pushed: number;
  pulled: number;
}

export interface SyncEngineDeps {
  storage: LocalStorage;
  remote: RemoteBackend;
  queue: PrioritySyncQueue;
  hlc: HybridLogicalClock;
  clientId: string;
  batchSize: number;
  pullLimit: number;
  maxAttempts: number;
  now: () => number;
  collection: (name: string) => CollectionRuntime;
  collections: () => string[];
  emit: (changes: DocChangeRef[]) => void;
  onPhase: (phase: 'pushing' | 'pulling', progress: SyncProgress) => void;
  /** Resolves after the event loop has run its pending I/O (`setImmediate`, or a 0 ms timer). */
  yieldToEventLoop: () => Promise<void>;
}

const CURSOR_KEY = 'cursor';
const noop = (): void => undefined;
const MAX_PUSH_ROUNDS = 100_000;
/** Whole-push failures that say nothing about the mutations: keep them pending and stop. */
const STOP_CODES: ReadonlySet<string> = new Set(['AUTH', 'FORBIDDEN', 'ABORTED', 'CLOSED']);

/** The wire form of an outbox entry (what `push` sends). */
export function toMutation(entry: OutboxEntry, clientId: string): Mutation {
  return {
    mutationId: entry.mutationId,
    clientId,
    collection: entry.collection,
    key: entry.key,
    op: entry.op,
    data: entry.data,
    changedFields: entry.changedFields,
    baseVersion: entry.baseVersion,
    hlc: entry.hlc,
    fieldClocks: entry.fieldClocks,
    priority: entry.priority,
    txId: entry.txId,
  };
}

function serverState(record: ServerRecord | null): ServerState | null {
  if (!record) return null;
  return { version: record.version, deleted: record.deleted, data: record.deleted ? null : record.data, hlc: record.hlc, fieldClocks: record.fieldClocks };
}

function localValue(doc: StoredDoc | undefined): VersionedValue {
  return { data: doc && !doc.deleted ? doc.data : null, deleted: !doc || doc.deleted, hlc: doc?.hlc ?? '', fieldClocks: doc?.fieldClocks ?? null };
}

function remoteValue(record: ServerRecord | null): VersionedValue {
  return record ? { data: record.deleted ? null : record.data, deleted: record.deleted, hlc: record.hlc, fieldClocks: record.fieldClocks } : { data: null, deleted: true, hlc: '', fieldClocks: null };
}

/** A push answer that moves the cursor from `sent` to `next`. */
interface CursorAdvance {
  sent: string | null;
  next: string;
}

/** A batch taken from the outbox (in flight), its wire form and the pull cursor it is sent with. */
interface TakenBatch {
  batch: OutboxEntry[];
  mutations: Mutation[];
  cursor: string | null;
}

/** A batch's push results, to be written in a storage transaction. */
interface PendingResults {
  batch: OutboxEntry[];
  write: (tx: WriteTransaction) => Promise<DocChangeRef[]>;
}

/** Outbox deletes and document puts of acknowledged entries, written together. */
interface AckedWrites {
  deletes: number[];
  docs: StoredDoc[];
}

/** A pulled change at or below the version this device already knows is a no-op. */
function isKnown(doc: StoredDoc | undefined, change: ServerChange): boolean {
  return doc?.server != null && change.version <= doc.server.version;
}

/** A doc whose local value is exactly the server state. */
function docFromServer(collection: string, key: string, state: ServerState | null): StoredDoc {
  return {
    collection,
    key,
    data: state && !state.deleted ? state.data : null,
    deleted: !state || state.deleted,
    hlc: state?.hlc ?? '',
    fieldClocks: state?.fieldClocks ?? null,
    syncState: 'synced',
    server: state,
  };
}

/** The key of the record a unique conflict merges into, as the record's own id field holds it. */
function withKeyOf(data: RecordData | null, winner: ServerRecord, keyField: string | null): RecordData | null {
  if (!data) return null;
  if (!keyField) return data;
  return { ...data, [keyField]: winner.data?.[keyField] ?? winner.key };
}

/**
 * Push, then pull. See ARCHITECTURE.md in this folder for the invariants: a cursor moves only with
 * the durable apply of its page; a pulled change never overwrites a record with pending writes (it
 * becomes the record's server state and the pending write meets it as a conflict); every conflict
 * resolution that changes the record is a new mutation on the server's current version.
 */
export class SyncEngine {
  constructor(private readonly deps: SyncEngineDeps) {}

  async run(signal: AbortSignal): Promise<SyncReport> {
    const started = this.deps.now();
    const report: SyncReport = { pushed: 0, pulled: 0, conflicts: 0, rejected: 0, durationMs: 0 };
    await this.push(report, signal);
    await this.pull(report, signal);
    report.durationMs = this.deps.now() - started;
    return report;
  }

  // ---------------------------------------------------------------- push

  /**
   * Batches go out one at a time, in push order, each only after the one before was acknowledged,
   * but the client's own work overlaps the server's: while batch N is at the server, the results
   * of N - 1 are written and batch N + 1 is taken (without N's records, whose later entries build on
   * N's results), in one storage transaction, and N + 1 is handed to the remote to prepare.
   * Whatever was taken and not settled when the push stops goes back to pending (a batch the server
   * applied but whose answer was not handled comes back as `duplicate`).
   *
   * The results of N - 1 are written only once N has left: the request needs turns of the event
   * loop to reach the network (fetch does), and a storage transaction started first would hold them
   * back, so that client and server took turns instead of working at the same time.
   */
  private async push(report: SyncReport, signal: AbortSignal): Promise<void> {
    const { remote, batchSize } = this.deps;
    // A whole push refused for its content (a 4xx such as an oversized or malformed mutation) is
    // bisected down to the mutation that causes it, which then fails alone: one bad write never
    // blocks the outbox.
    let limit = batchSize;
    /** The batch at the server, its answer not handled yet. */
    let sent: OutboxEntry[] | null = null;
    /** The next batch, taken (in flight) but not sent. */
    let next: TakenBatch | null = null;
    /** The previous batch's results, to be written once the next batch has left. */
    let toApply: PendingResults | null = null;
    /** A batch the server answered whose results could not be written. */
    let unapplied: OutboxEntry[] | null = null;
    /** Runs `write` with the pending results, which are no longer pending, whatever happens. */
    const withPending = async <T>(write: (results: PendingResults | null) => Promise<T>): Promise<T> => {
      const results = toApply;
      toApply = null;
      try {
        return await write(results);
      } catch (error) {
        // Rolled back: the batch is still in flight; it goes back to pending below (re-sent, it is a duplicate).
        if (results) unapplied = results.batch;
        throw error;
      }
    };
    /** Writes the pending results and takes the next batch in one storage transaction (one commit instead of two). */
    const applyThenTake = (skip?: readonly OutboxEntry[]) => withPending((results) => this.takeBatch(limit, skip, results));
    /** Writes the pending results alone (the push has nothing more to take, or stops). */
    const applyPending = () => withPending(async (results) => (results ? this.writeResults(results) : undefined));
    try {
      for (let round = 0; round < MAX_PUSH_ROUNDS; round++) {
        throwIfAborted(signal);
        let taken: TakenBatch = next ?? (await this.takeBatch(limit));
        next = null;
        if (taken.batch.length === 0 && toApply) {
          // Only records of the batch whose results are pending were left: take again once they are written.
          taken = await applyThenTake();
        }
        if (taken.batch.length === 0) return;
        const { batch, cursor } = taken;
        this.deps.onPhase('pushing', { pushed: report.pushed, pulled: report.pulled });
        sent = batch;
        const answer = remote.push(taken.mutations, { signal, cursor });
        answer.catch(() => undefined); // handled below, after the work done meanwhile
        if (toApply) await Promise.race([answer.then(noop, noop), this.deps.yieldToEventLoop()]);
        next = await applyThenTake(batch);
        // Encoded while this batch is at the server, so that it can leave as soon as the answer is in.
        if (next.batch.length > 0) remote.preparePush?.(next.mutations);
        let results: MutationResult[];
        let advance: CursorAdvance | null = null;
        try {
          const answered = await answer;
          results = Array.isArray(answered) ? answered : answered?.results;
          if (!Array.isArray(answered) && typeof answered?.cursor === 'string') advance = { sent: cursor, next: answered.cursor };
          if (!Array.isArray(results) || results.length !== batch.length || results.some((r, i) => r?.mutationId !== batch[i]!.mutationId)) {
            throw new NexusError('PROTOCOL', `The server answered ${Array.isArray(results) ? results.length : 'no'} results for ${batch.length} mutations, or out of order.`);
          }
        } catch (error) {
          const failure = signal.aborted ? new NexusError('ABORTED', 'Sync was cancelled (offline or closing).', { cause: error }) : toNexusError(error);
          // Each batch is forgotten only once released, so that a failing release leaves it to the `finally` below.
          await this.release(next.batch, null, 'unsent');
          next = null;
          const isolate = !failure.retryable && !STOP_CODES.has(failure.code);
          if (isolate && batch.length > 1 && limit > 1) {
            await this.release(batch, failure, 'undo');
            sent = null;
            limit = Math.ceil(batch.length / 2);
            continue;
          }
          await this.release(batch, failure, isolate ? 'fail' : 'count');
          sent = null;
          if (!isolate) throw failure;
          report.rejected += batch.length;
          limit = batchSize;
          continue;
        }
        sent = null;
        // The next batch carries the cursor this answer moves to: the server vouches for that one
        // too when nothing but these pushes happened in between.
        if (advance && next.batch.length > 0) next = { ...next, cursor: advance.next };
        toApply = { batch, write: (tx) => this.applyResults(tx, batch, results, report, advance) };
      }
      await applyPending();
    } finally {
      // Stopped early (an error, or cancelled): what was taken and not settled goes back to pending.
      await applyPending().catch(() => undefined); // an error is already on its way out
      const unsettled = [...(unapplied ?? []), ...(sent ?? [])];
      const ahead = next?.batch ?? [];
      sent = null;
      next = null;
      await this.release(unsettled, null, 'unsettled').catch(() => undefined);
      await this.release(ahead, null, 'unsent').catch(() => undefined);
    }
  }

  /**
   * Takes the next batch (marked in flight) and the pull cursor it carries, after writing the
   * `results` of the batch before in the same transaction.
   */
  private async takeBatch(limit: number, skip?: readonly OutboxEntry[], results?: PendingResults | null): Promise<TakenBatch> {
    const { storage, queue, clientId } = this.deps;
    const { batch, cursor, changes } = await storage.write(async (tx) => ({
      changes: results ? await results.write(tx) : [],
      batch: await queue.takeBatch(tx, limit, skip),
      cursor: (await tx.getMeta<string>(CURSOR_KEY)) ?? null,
    }));
    if (results) this.deps.emit(changes);
    return { batch, mutations: batch.map((e) => toMutation(e, clientId)), cursor };
  }

  /** Writes a batch's push results in a storage transaction of their own. */
  private async writeResults(results: PendingResults): Promise<void> {
    this.deps.emit(await this.deps.storage.write((tx) => results.write(tx)));
  }

  /**
   * A failed push. 'count': entries go back to pending with the attempt counted (failed once they
   * ran out of attempts on a retryable error). 'undo': back to pending, attempt not counted (the
   * batch is being split: the server refused the whole push, so it applied none of it). 'fail': the
   * entries are refused for good and become failed. 'unsent': a batch taken ahead that never left (no
   * error of its own): back to pending as it was. 'unsettled': a batch that left but whose answer was
   * not written (the push stopped on another error): back to pending, the attempt counted.
   */
  private async release(batch: OutboxEntry[], error: NexusError | null, mode: 'count' | 'undo' | 'fail' | 'unsent' | 'unsettled'): Promise<void> {
    if (batch.length === 0) return;
    const changes = await this.deps.storage.write(async (tx) => {
      const out: DocChangeRef[] = [];
      for (const [collection, group] of groupBy(batch, (e) => e.collection)) {
        const current = await tx.getOutboxForKeys(collection, group.map((e) => e.key));
        const bySeq = new Map(current.map((e) => [e.seq, e]));
        const updates: OutboxEntry[] = [];
        for (const entry of group) {
          const now = bySeq.get(entry.seq);
          if (!now || now.status !== 'inflight') continue;
          const exhausted = mode === 'fail' || (mode === 'count' && error !== null && error.retryable && now.attempts >= this.deps.maxAttempts);
          const next: OutboxEntry = {
            ...now,
            status: exhausted ? 'failed' : 'pending',
            // Only a batch the server never applied gets its attempt back: an entry that may have been
            // applied must never again look unsent (a later write would join it, and its re-push would be a duplicate).
            attempts: mode === 'undo' || mode === 'unsent' ? Math.max(0, now.attempts - 1) : now.attempts,
            lastError: error ? { code: error.code, message: error.message } : now.lastError,
          };
          updates.push(next);
          bySeq.set(next.seq, next);
        }
        if (updates.length === 0) continue;
        await tx.updateOutbox(updates);
        const keys = [...new Set(updates.map((e) => e.key))];
        const docs = await tx.getDocs(collection, keys);
        const puts: StoredDoc[] = [];
        keys.forEach((key, i) => {
          const doc = docs[i];
          if (!doc) return;
          const syncState = deriveSyncState([...bySeq.values()].filter((e) => e.key === key));
          if (doc.syncState !== syncState) puts.push({ ...doc, syncState });
          out.push({ collection, key });
        });
        if (puts.length > 0) await tx.putDocs(puts);
      }
      return out;
    });
    this.deps.emit(changes);
  }

  private async applyResults(tx: WriteTransaction, batch: OutboxEntry[], results: MutationResult[], report: SyncReport, advance: CursorAdvance | null): Promise<DocChangeRef[]> {
    const changed: DocChangeRef[] = [];
    // The server vouched that this push's changes are all that happened after our cursor: once each
    // applied result is in its document, pulling them back would change nothing, so the cursor moves past them.
    let appliedLocally = true;
    const bySeq = new Map(batch.map((e, i) => [e.seq, results[i]!]));
    // The common case (applied, the record's only entry) in one storage call when the adapter has
    // the fast path; the rest, read afresh, below.
    let rest = batch;
    if (tx.ackOutbox) {
      const acks: OutboxAck[] = [];
      for (const entry of batch) {
        const result = bySeq.get(entry.seq)!;
        if (result.status === 'applied' || result.status === 'duplicate') acks.push({ seq: entry.seq, version: result.version, priority: entry.priority });
      }
      const handled = new Set(acks.length > 0 ? await tx.ackOutbox(acks) : []);
      if (handled.size > 0) {
        rest = [];
        for (const entry of batch) {
          if (!handled.has(entry.seq)) rest.push(entry);
          else {
            report.pushed++;
            changed.push({ collection: entry.collection, key: entry.key });
          }
        }
      }
    }
    for (const [collection, group] of groupBy(rest, (e) => e.collection)) {
      const keys = [...new Set(group.map((e) => e.key))];
      const found = await tx.getDocs(collection, keys);
      const docs = new Map(keys.map((key, i) => [key, found[i]]));
      const entriesByKey = groupBy(await tx.getOutboxForKeys(collection, keys), (e) => e.key);
      // Acknowledged entries (the common case) are written together: one delete and one put per batch.
      const acked: AckedWrites = { deletes: [], docs: [] };
      const flush = async () => {
        if (acked.deletes.length > 0) await tx.deleteOutbox(acked.deletes.splice(0));
        if (acked.docs.length > 0) await tx.putDocs(acked.docs.splice(0));
      };
      for (const sent of group) {
        const result = bySeq.get(sent.seq)!;
        const entries = entriesByKey.get(sent.key) ?? [];
        const entry = entries.find((e) => e.seq === sent.seq && e.status === 'inflight');
        if (!entry) {
          appliedLocally = false; // discarded while in flight: a pull must bring the server's record
          continue;
        }
        const doc = docs.get(sent.key);
        changed.push({ collection, key: sent.key });
        if (result.status === 'applied' || result.status === 'duplicate') {
          report.pushed++;
          if (!(await this.onApplied(tx, entry, entries, doc, result.version, acked))) appliedLocally = false;
          continue;
        }
        // A conflict may touch another record of this batch: what was acknowledged is written first.
        await flush();
        if (result.status === 'rejected') {
          report.rejected++;
          const failed: OutboxEntry = { ...entry, status: 'failed', lastError: { code: result.code, message: result.message } };
          await tx.updateOutbox([failed]);
          const rest = entries.map((e) => (e.seq === failed.seq ? failed : e));
          if (doc) await tx.putDocs([{ ...doc, syncState: deriveSyncState(rest) }]);
        } else {
          report.conflicts++;
          if (result.current) this.deps.hlc.receive(result.current.hlc);
          if (result.reason === 'unique' && result.current && result.current.key !== sent.key) {
            changed.push(...(await this.resolveUnique(tx, collection, doc, entries, result.current, null)));
          } else {
            await this.resolveVersion(tx, collection, sent.key, doc, entries, result.current, null);
          }
        }
      }
      await flush();
    }
    if (advance && appliedLocally && ((await tx.getMeta<string>(CURSOR_KEY)) ?? null) === advance.sent) await tx.setMeta(CURSOR_KEY, advance.next);
    await tx.setMeta('hlc', this.deps.hlc.last);
    return changed;
  }

  /**
   * An entry the server applied: it leaves the outbox and its version becomes the record's server
   * state. False when there is no document to hold that state.
   */
  private async onApplied(tx: WriteTransaction, entry: OutboxEntry, entries: OutboxEntry[], doc: StoredDoc | undefined, version: number, acked: AckedWrites): Promise<boolean> {
    acked.deletes.push(entry.seq);
    const later = entries.filter((e) => e.seq !== entry.seq);
    // Writes made after this one were based on the same server version; they now build on ours.
    const rebased = later.filter((e) => e.status !== 'conflict' && e.baseVersion < version).map((e) => ({ ...e, baseVersion: version }));
    if (rebased.length > 0) await tx.updateOutbox(rebased);
    if (!doc) return false;
    const rest = later.map((e) => rebased.find((r) => r.seq === e.seq) ?? e);
    if (rest.length === 0 && doc.server && version <= doc.server.version) {
      // The server moved past this write before its answer came back (a pull brought a later
      // version while the write was still unsettled): with no later local write, the record is that
      // version. Found by the convergence model (seed 49787781): the record kept this write's data.
      acked.docs.push(docFromServer(doc.collection, doc.key, doc.server));
      return true;
    }
    const server = serverStateAfterAck(doc, entry, version);
    acked.docs.push({ ...doc, server, syncState: deriveSyncState(rest) });
    return true;
  }

  private decide(collection: string, key: string, reason: 'version' | 'unique', local: VersionedValue, remote: VersionedValue, remoteKey: string, field: string | undefined): ConflictOutcome {
    const { policy } = this.deps.collection(collection);
    if (typeof policy === 'string') return decideConflict(policy, local, remote);
    const answer = policy({ collection, key, reason, field, local: local.deleted ? null : local.data, remote: remote.deleted ? null : remote.data, remoteKey, localHlc: local.hlc, remoteHlc: remote.hlc });
    if (answer === 'local') return { kind: 'local' };
    if (answer === 'remote') return { kind: 'remote' };
    if (answer && typeof answer === 'object' && 'value' in answer) {
      const hlc = this.deps.hlc.tick();
      const data = answer.value === null ? null : (structuredClone(answer.value) as RecordData);
      // Every field of the resolved value is written now (compact form: no entries needed).
      return { kind: 'merged', value: { data, deleted: data === null, hlc, fieldClocks: null } };
    }
    throw new NexusError('INVALID_ARGUMENT', `The conflict resolver of "${collection}" returned ${JSON.stringify(answer)}; return 'local', 'remote' or { value }.`);
  }

  /**
   * A version conflict: the record changed on the server since `baseVersion`. The policy sees the
   * record's latest local value (all its unsynced writes) and the server's record. `forced` applies
   * a manual resolution instead of the policy.
   */
  async resolveVersion(
    tx: WriteTransaction,
    collection: string,
    key: string,
    doc: StoredDoc | undefined,
    entries: OutboxEntry[],
    current: ServerRecord | null,
    forced: ConflictOutcome | null,
  ): Promise<void> {
    const local = localValue(doc);
    const remote = remoteValue(current);
    const outcome = forced ?? this.decide(collection, key, 'version', local, remote, key, undefined);
    const state = serverState(current);
    const priority = entries.reduce((p, e) => higherPriority(p, e.priority), entries[0]?.priority ?? 'normal');
    if (outcome.kind === 'park') {
      const [first, ...rest] = entries;
      if (!first) return;
      if (rest.length > 0) await tx.deleteOutbox(rest.map((e) => e.seq));
      await tx.updateOutbox([{ ...first, status: 'conflict', conflict: current ?? { collection, key, version: 0, deleted: true, data: null, hlc: '', fieldClocks: null }, op: local.deleted ? 'delete' : 'upsert', data: local.data, hlc: local.hlc, fieldClocks: local.fieldClocks, priority, changedFields: null }]);
      if (doc) await tx.putDocs([{ ...doc, server: state ?? doc.server, syncState: 'conflict' }]);
      return;
    }
    if (entries.length > 0) await tx.deleteOutbox(entries.map((e) => e.seq));
    const chosen = outcome.kind === 'remote' ? remote : outcome.kind === 'local' ? local : outcome.value;
    // The same value with a later clock is still pushed, so the server keeps the latest clock
    // (last-write-wins must compare later writes against it, e.g. a delete after a delete), and so
    // is the same value with a later clock for one of its fields (field merge compares later writes
    // field by field: a write of a field's old value must still beat an older write of that field).
    const sameAsServer =
      chosen.deleted === remote.deleted && jsonEqual(chosen.data, remote.data) && compareHlc(chosen.hlc, remote.hlc) <= 0 && !hasNewerFieldClock(chosen, remote);
    if (sameAsServer) {
      if (!current && !doc) return;
      await tx.putDocs([docFromServer(collection, key, state)]);
      return;
    }
    await this.addResolution(tx, collection, key, chosen, current?.version ?? 0, priority);
    await tx.putDocs([{ collection, key, data: chosen.data, deleted: chosen.deleted, hlc: chosen.hlc, fieldClocks: chosen.fieldClocks, syncState: 'pending', server: state }]);
  }

  /**
   * A unique conflict: an older record (`winner`, another key) holds the value. The local record
   * is dropped (deleted on the server if it was there) and the policy decides what the winner holds.
   */
  async resolveUnique(
    tx: WriteTransaction,
    collection: string,
    loser: StoredDoc | undefined,
    loserEntries: OutboxEntry[],
    winner: ServerRecord,
    forced: ConflictOutcome | null,
  ): Promise<DocChangeRef[]> {
    if (!loser) return [];
    const { keyField } = this.deps.collection(collection);
    const local = localValue(loser);
    const remote = remoteValue(winner);
    const outcome = forced ?? this.decide(collection, loser.key, 'unique', local, remote, winner.key, undefined);
    const priority = loserEntries.reduce((p, e) => higherPriority(p, e.priority), loserEntries[0]?.priority ?? 'normal');
    if (outcome.kind === 'park') {
      const [first, ...rest] = loserEntries;
      if (!first) return [];
      if (rest.length > 0) await tx.deleteOutbox(rest.map((e) => e.seq));
      await tx.updateOutbox([{ ...first, status: 'conflict', conflict: winner, priority }]);
      await tx.putDocs([{ ...loser, syncState: 'conflict' }]);
      return [{ collection, key: loser.key }];
    }
    // 1. The newer record goes away.
    if (loserEntries.length > 0) await tx.deleteOutbox(loserEntries.map((e) => e.seq));
    if (loser.server && !loser.server.deleted) {
      const hlc = this.deps.hlc.tick();
      await this.addResolution(tx, collection, loser.key, { data: null, deleted: true, hlc, fieldClocks: expandFieldClocks(loser.data, loser.hlc, loser.fieldClocks) }, loser.server.version, priority);
      await tx.putDocs([{ ...loser, data: null, deleted: true, hlc, fieldClocks: expandFieldClocks(loser.data, loser.hlc, loser.fieldClocks), syncState: 'pending' }]);
    } else {
      await tx.removeDocs(collection, [loser.key]);
    }
    // 2. The winner takes what the policy chose.
    const chosen = outcome.kind === 'remote' ? remote : outcome.kind === 'local' ? local : outcome.value;
    const value: VersionedValue = { ...chosen, data: withKeyOf(chosen.data, winner, keyField), deleted: chosen.deleted || chosen.data === null };
    const [winnerDoc] = await tx.getDocs(collection, [winner.key]);
    const winnerEntries = await tx.getOutboxForKeys(collection, [winner.key]);
    const state = serverState(winner);
    if (winnerEntries.length > 0) {
      // The winner has local writes of its own: they meet this server state as their next conflict.
      if (winnerDoc && (winnerDoc.server?.version ?? 0) < winner.version) await tx.putDocs([{ ...winnerDoc, server: state }]);
    } else if (value.deleted === remote.deleted && jsonEqual(value.data, remote.data)) {
      await tx.putDocs([docFromServer(collection, winner.key, state)]);
    } else {
      await this.addResolution(tx, collection, winner.key, value, winner.version, priority);
      await tx.putDocs([{ collection, key: winner.key, data: value.data, deleted: value.deleted, hlc: value.hlc, fieldClocks: value.fieldClocks, syncState: 'pending', server: state }]);
    }
    return [{ collection, key: loser.key }, { collection, key: winner.key }];
  }

  private async addResolution(tx: WriteTransaction, collection: string, key: string, value: VersionedValue, baseVersion: number, priority: OutboxEntry['priority']): Promise<void> {
    await this.deps.queue.add(tx, {
      collection,
      key,
      op: value.deleted ? 'delete' : 'upsert',
      data: value.deleted ? null : value.data,
      changedFields: null,
      baseVersion,
      hlc: value.hlc,
      fieldClocks: value.fieldClocks,
      priority,
      txId: null,
    });
  }

  // ---------------------------------------------------------------- pull

  private async pull(report: SyncReport, signal: AbortSignal): Promise<void> {
    const { storage } = this.deps;
    let cursor = (await storage.read((tx) => tx.getMeta<string>(CURSOR_KEY))) ?? null;
    let resync: Map<string, Set<string>> | null = null;
    const fetchPage = (from: string | null): Promise<PullResult> => {
      const page = this.deps.remote.pull(from, this.deps.pullLimit, { signal });
      // Awaited below; a prefetched page that is never awaited (the apply failed) must not become an unhandled rejection.
      page.catch(() => undefined);
      return page;
    };
    // The next page is requested as soon as a page arrives and is applied meanwhile: the server's
    // work and the local apply overlap. A prefetched page changes nothing locally until applied in turn.
    let prefetched: Promise<PullResult> | null = null;
    for (;;) {
      throwIfAborted(signal);
      this.deps.onPhase('pulling', { pushed: report.pushed, pulled: report.pulled });
      const pending = prefetched ?? fetchPage(cursor);
      prefetched = null;
      let page: PullResult;
      try {
        page = await pending;
      } catch (error) {
        if (error instanceof CursorExpiredError || (error instanceof NexusError && error.code === 'CURSOR_EXPIRED')) {
          if (resync) throw error;
          // History was compacted past our cursor: pull everything again, then drop what no longer exists.
          resync = new Map();
          cursor = null;
          continue;
        }
        throw signal.aborted ? new NexusError('ABORTED', 'Sync was cancelled (offline or closing).', { cause: error }) : toNexusError(error);
      }
      if (resync) for (const c of page.changes) (resync.get(c.collection) ?? resync.set(c.collection, new Set()).get(c.collection)!).add(c.key);
      const nextCursor = page.cursor;
      // A server that says hasMore without moving the cursor would loop forever: stop here.
      const stuck = page.changes.length === 0 && nextCursor === cursor;
      const more = page.hasMore && !stuck;
      if (more) prefetched = fetchPage(nextCursor);
      const changes = await storage.write((tx) => this.applyPage(tx, page.changes, nextCursor));
      report.pulled += page.changes.length;
      this.deps.emit(changes);
      cursor = nextCursor;
      if (!more) break;
    }
    if (resync) await this.dropVanished(resync);
  }

  private async applyPage(tx: WriteTransaction, changes: ServerChange[], cursor: string): Promise<DocChangeRef[]> {
    const out: DocChangeRef[] = [];
    for (const [collection, group] of groupBy(changes, (c) => c.collection)) {
      const keys = [...new Set(group.map((c) => c.key))];
      const found = await tx.getDocs(collection, keys);
      const docs = new Map(keys.map((key, i) => [key, found[i]]));
      // Changes this device already has (its own pushes coming back) need no outbox lookup.
      const fresh = new Map(group.filter((c) => !isKnown(docs.get(c.key), c)).map((c) => [c.key, docs.get(c.key)]));
      const entriesByKey = groupBy(await outboxOf(tx, collection, fresh), (e) => e.key);
      const puts = new Map<string, StoredDoc>();
      for (const change of group) {
        const doc = puts.get(change.key) ?? docs.get(change.key);
        if (isKnown(doc, change)) continue;
        this.deps.hlc.receive(change.hlc);
        const state = serverState(change)!;
        const entries = entriesByKey.get(change.key) ?? [];
        if (entries.length > 0 && doc) {
          // Unsynced local writes stay; the change becomes their base and they meet it as a conflict.
          puts.set(change.key, { ...doc, server: state });
          const parked = entries.filter((e) => e.status === 'conflict' && e.conflict?.key === change.key);
          if (parked.length > 0) await tx.updateOutbox(parked.map((e) => ({ ...e, conflict: change })));
        } else {
          if (!doc && change.deleted) continue;
          puts.set(change.key, docFromServer(collection, change.key, state));
        }
        out.push({ collection, key: change.key });
      }
      if (puts.size > 0) await tx.putDocs([...puts.values()]);
    }
    await tx.setMeta(CURSOR_KEY, cursor);
    await tx.setMeta('hlc', this.deps.hlc.last);
    return out;
  }

  /** After a full resync: synced records the server no longer has are removed locally. */
  private async dropVanished(seen: Map<string, Set<string>>): Promise<void> {
    const changes = await this.deps.storage.write(async (tx) => {
      const out: DocChangeRef[] = [];
      for (const collection of new Set([...this.deps.collections(), ...seen.keys()])) {
        const keep = seen.get(collection) ?? new Set<string>();
        const docs = await tx.queryDocs(collection, {});
        const candidates = docs.filter((d) => !keep.has(d.key) && d.server !== null && d.syncState === 'synced');
        if (candidates.length === 0) continue;
        const withEntries = new Set((await tx.getOutboxForKeys(collection, candidates.map((d) => d.key))).map((e) => e.key));
        const gone = candidates.filter((d) => !withEntries.has(d.key)).map((d) => d.key);
        if (gone.length === 0) continue;
        await tx.removeDocs(collection, gone);
        for (const key of gone) out.push({ collection, key });
      }
      return out;
    });
    this.deps.emit(changes);
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new NexusError('ABORTED', 'Sync was cancelled (offline or closing).');
}

/** True when `value` holds a field whose clock is later than that field's clock in `than`. */
function hasNewerFieldClock(value: VersionedValue, than: VersionedValue): boolean {
  if (value.deleted || !value.data) return false;
  const theirs = expandFieldClocks(than.data, than.hlc, than.fieldClocks);
  const ours = expandFieldClocks(value.data, value.hlc, value.fieldClocks);
  for (const field in ours) if (compareHlc(ours[field]!, theirs[field] ?? '') > 0) return true;
  return false;
}

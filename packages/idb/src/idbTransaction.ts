import { InvalidArgumentError, PRIORITY_RANK, serverStateAfterAck } from '@nexus-store/core';
import type {
  DocChangeRef,
  NewOutboxEntry,
  OutboxAck,
  OutboxEntry,
  OutboxFilter,
  OutboxStatus,
  ReadTransaction,
  StorageQuery,
  StoredDoc,
  WriteTransaction,
} from '@nexus-store/core';
import { unwrap } from 'idb';
import type { IDBPTransaction, StoreNames } from 'idb';
import { allOrFirstError } from './allOrFirstError.js';
import { fromDocRecord, toDocRecord } from './docRecord.js';
import type { DocRecord } from './docRecord.js';
import { toStorageError } from './idbErrors.js';
import { countDocs, queryDocs } from './queryDocs.js';
import type { DocsSource } from './queryDocs.js';
import { COLLECTIONS, DOCS, META, OUTBOX } from './schema.js';
import type { ALL_STORES, NexusDB, OutboxRecord } from './schema.js';

export type TxMode = 'readonly' | 'readwrite';

/** One physical IndexedDB transaction, shared by every callback of a group commit. */
export interface TxContext<Mode extends TxMode = TxMode> {
  tx: IDBPTransaction<NexusDB, typeof ALL_STORES, Mode>;
  path: string;
  keyRange: typeof IDBKeyRange;
  cmp(a: unknown, b: unknown): number;
  /** Declared fields per collection, read once per transaction (another tab may have declared more). */
  declared: Map<string, Promise<Set<string>>>;
  /** Set once the transaction committed or aborted. */
  finished: boolean;
  /** The error of the first failed request: the transaction aborts, and later calls report this error. */
  failure?: unknown;
  /** The seq of this transaction's first outbox insert (from the key generator), once known. */
  firstSeq?: Promise<number>;
  /** The last seq handed out in this transaction. */
  lastSeq?: number;
}

const STATUSES: readonly OutboxStatus[] = ['pending', 'inflight', 'failed', 'conflict'];
const TOP: IDBValidKey = [];

/** Documents read per getAll when declared fields are added to a collection that has some. */
const REINDEX_PAGE = 1000;

function toOutboxRecord<Entry extends NewOutboxEntry>(entry: Entry): Entry & { rank: number } {
  const rank = PRIORITY_RANK[entry.priority];
  // An entry without a rank would be missing from the outbox indexes, so never listed.
  if (rank === undefined) throw new InvalidArgumentError(`Outbox entry ${entry.mutationId} has an unknown priority "${String(entry.priority)}".`);
  return { ...entry, rank };
}

function fromOutboxRecord(record: OutboxRecord): OutboxEntry {
  const { rank: _rank, ...entry } = record;
  return entry;
}

export class IdbReadTransaction<Mode extends TxMode = 'readonly'> implements ReadTransaction {
  constructor(protected readonly ctx: TxContext<Mode>) {}

  /** Runs one operation, translating IndexedDB failures (thrown or rejected) into StorageErrors. */
  protected async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (this.ctx.failure !== undefined) throw toStorageError(this.ctx.failure, this.ctx.path);
      if (this.ctx.finished && (error as { name?: unknown } | null)?.name === 'InvalidStateError') {
        // objectStore() of a finished transaction: the callback outlived it.
        throw toStorageError(new DOMException('The transaction has finished.', 'TransactionInactiveError'), this.ctx.path);
      }
      throw toStorageError(error, this.ctx.path);
    }
  }

  protected store<Name extends StoreNames<NexusDB>>(name: Name) {
    return this.ctx.tx.objectStore(name);
  }

  protected declaredFields(collection: string): Promise<Set<string>> {
    let fields = this.ctx.declared.get(collection);
    if (!fields) {
      fields = this.store(COLLECTIONS)
        .get(collection)
        .then((r) => new Set(r?.fields ?? []));
      fields.catch(() => undefined);
      this.ctx.declared.set(collection, fields);
    }
    return fields;
  }

  private source(): DocsSource {
    return { docs: this.store(DOCS), keyRange: this.ctx.keyRange, cmp: this.ctx.cmp };
  }

  getDocs(collection: string, keys: readonly string[]): Promise<(StoredDoc | undefined)[]> {
    return this.guard(async () => {
      const docs = this.store(DOCS);
      const records = await allOrFirstError(keys.map((key) => docs.get([collection, key])));
      return records.map((r) => (r ? fromDocRecord(r) : undefined));
    });
  }

  queryDocs(collection: string, query: StorageQuery): Promise<StoredDoc[]> {
    return this.guard(async () => queryDocs(this.source(), collection, await this.declaredFields(collection), query));
  }

  countDocs(collection: string, where?: StorageQuery['where']): Promise<number> {
    return this.guard(async () => countDocs(this.source(), collection, await this.declaredFields(collection), where));
  }

  listOutbox(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    return this.guard(async () => {
      const outbox = this.store(OUTBOX);
      const { status, txId, limit } = filter;
      if (limit !== undefined && limit <= 0) return [];
      let records: OutboxRecord[];
      if (txId !== undefined) {
        const all = await outbox.index('txId').getAll(this.ctx.keyRange.bound([txId], [txId, TOP]));
        records = status === undefined ? all : all.filter((r) => r.status === status);
        if (limit !== undefined) records = records.slice(0, limit);
      } else if (status !== undefined) {
        records = await outbox.index('status').getAll(this.ctx.keyRange.bound([status], [status, TOP]), limit);
      } else {
        records = await outbox.index('order').getAll(null, limit);
      }
      return records.map(fromOutboxRecord);
    });
  }

  getOutboxForKeys(collection: string, keys: readonly string[]): Promise<OutboxEntry[]> {
    return this.guard(async () => {
      const index = this.store(OUTBOX).index('record');
      const wanted = [...new Set(keys)];
      let records: OutboxRecord[];
      if (wanted.length > 16) {
        // Many keys (saveAll): one read of the collection's entries beats one request per key.
        const set = new Set(wanted);
        const all = await index.getAll(this.ctx.keyRange.bound([collection], [collection, TOP]));
        records = all.filter((r) => set.has(r.key));
      } else {
        records = (await allOrFirstError(wanted.map((key) => index.getAll([collection, key])))).flat();
      }
      return records.sort((a, b) => a.seq - b.seq).map(fromOutboxRecord);
    });
  }

  countOutbox(): Promise<Record<OutboxStatus, number>> {
    return this.guard(async () => {
      const index = this.store(OUTBOX).index('status');
      const counts = await allOrFirstError(STATUSES.map((s) => index.count(this.ctx.keyRange.bound([s], [s, TOP]))));
      return Object.fromEntries(STATUSES.map((s, i) => [s, counts[i]!])) as Record<OutboxStatus, number>;
    });
  }

  getMeta<V = unknown>(key: string): Promise<V | undefined> {
    return this.guard(async () => (await this.store(META).get(key)) as V | undefined);
  }
}

export class IdbWriteTransaction extends IdbReadTransaction<'readwrite'> implements WriteTransaction {
  /** Documents this callback put or removed, announced to other tabs after the commit. */
  readonly changes = new Map<string, DocChangeRef>();
  /** Whether this callback changed the outbox (announced even without document changes, for status counts). */
  outboxChanged = false;

  private touched(collection: string, key: string): void {
    this.changes.set(JSON.stringify([collection, key]), { collection, key });
  }

  /**
   * The raw store, for pipelined writes: IndexedDB runs a transaction's requests in order, so later
   * reads of this transaction see them, and a failed one aborts the transaction (its error is recorded
   * in `ctx.failure`), which fails the write at commit. Not waiting for each write's success saves one
   * round trip per call; raw, because idb's promise per request measurably slowed writes (README).
   */
  private pipeline<Name extends StoreNames<NexusDB>>(name: Name): IDBObjectStore {
    return unwrap(this.ctx.tx).objectStore(name);
  }

  putDocs(docs: readonly StoredDoc[]): Promise<void> {
    return this.guard(async () => {
      const fields = new Map<string, Set<string>>();
      for (const doc of docs) if (!fields.has(doc.collection)) fields.set(doc.collection, await this.declaredFields(doc.collection));
      const store = this.pipeline(DOCS);
      for (const doc of docs) store.put(toDocRecord(doc, fields.get(doc.collection)!));
      for (const doc of docs) this.touched(doc.collection, doc.key);
    });
  }

  removeDocs(collection: string, keys: readonly string[]): Promise<void> {
    return this.guard(async () => {
      const store = this.pipeline(DOCS);
      for (const key of keys) store.delete([collection, key]);
      for (const key of keys) this.touched(collection, key);
    });
  }

  /**
   * The first insert of a transaction takes its seq from the key generator (one round trip); later
   * ones in the same transaction continue from it with explicit keys, pipelined. The readwrite
   * transaction holds the outbox alone, and an explicit key moves the generator past it, so seqs
   * stay unique and increasing, in this tab and every other.
   */
  addOutbox(entry: NewOutboxEntry): Promise<number> {
    return this.guard(async () => {
      this.outboxChanged = true;
      const record: Omit<OutboxRecord, 'seq'> & { seq?: number } = toOutboxRecord(entry);
      delete record.seq;
      if (this.ctx.firstSeq === undefined) {
        // Without a seq: the key generator assigns it.
        this.ctx.firstSeq = this.store(OUTBOX)
          .add(record as OutboxRecord)
          .then((seq) => (this.ctx.lastSeq = seq));
        return this.ctx.firstSeq;
      }
      await this.ctx.firstSeq;
      const seq = this.ctx.lastSeq! + 1;
      this.ctx.lastSeq = seq;
      this.pipeline(OUTBOX).add({ ...record, seq } satisfies OutboxRecord);
      return seq;
    });
  }

  updateOutbox(entries: readonly OutboxEntry[]): Promise<void> {
    return this.guard(async () => {
      const store = this.pipeline(OUTBOX);
      if (entries.length > 0) this.outboxChanged = true;
      for (const entry of entries) store.put(toOutboxRecord(entry) satisfies OutboxRecord);
    });
  }

  /**
   * The core's fast path for acknowledged pushes (see `LocalStorage.ackOutbox`): three waves of
   * parallel reads (the entries, their records' entry counts, the documents), then pipelined writes.
   * The general path would read every outbox entry of the collection for a large batch.
   */
  ackOutbox(acks: readonly OutboxAck[]): Promise<number[]> {
    return this.guard(async () => {
      if (acks.length === 0) return [];
      const outbox = this.store(OUTBOX);
      const records = await allOrFirstError(acks.map((ack) => outbox.get(ack.seq)));
      const candidates: { version: number; entry: OutboxEntry }[] = [];
      acks.forEach((ack, i) => {
        const record = records[i];
        if (record?.status === 'inflight') candidates.push({ version: ack.version, entry: fromOutboxRecord(record) });
      });
      const byRecord = outbox.index('record');
      const docStore = this.store(DOCS);
      const [counts, found] = await Promise.all([
        allOrFirstError(candidates.map(({ entry }) => byRecord.count([entry.collection, entry.key]))),
        allOrFirstError(candidates.map(({ entry }) => docStore.get([entry.collection, entry.key]))),
      ]);
      const puts: StoredDoc[] = [];
      const handled: number[] = [];
      candidates.forEach(({ version, entry }, i) => {
        const record = found[i];
        if (counts[i] !== 1 || !record) return; // another entry of the record, or no document: the core decides
        const doc = fromDocRecord(record);
        if (version <= (doc.server?.version ?? 0)) return; // the server moved past this write: the core decides
        puts.push({ ...doc, server: serverStateAfterAck(doc, entry, version), syncState: 'synced' });
        handled.push(entry.seq);
      });
      await this.putDocs(puts);
      await this.deleteOutbox(handled);
      return handled;
    });
  }

  deleteOutbox(seqs: readonly number[]): Promise<void> {
    return this.guard(async () => {
      const store = this.pipeline(OUTBOX);
      if (seqs.length > 0) this.outboxChanged = true;
      for (const seq of seqs) store.delete(seq);
    });
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.guard(async () => {
      const store = this.pipeline(META);
      if (value === undefined) store.delete(key);
      else store.put(value, key);
    });
  }

  /**
   * Adds fields to a collection's declared set and indexes its existing live documents for them.
   * Returns the full declared set.
   */
  declareFields(collection: string, fields: readonly string[]): Promise<Set<string>> {
    return this.guard(async () => {
      const current = await this.declaredFields(collection);
      const added = fields.filter((f) => !current.has(f));
      if (added.length === 0) return current;
      const next = new Set([...current, ...added]);
      await this.store(COLLECTIONS).put({ collection, fields: [...next] });
      this.ctx.declared.set(collection, Promise.resolve(next));
      // The collection's documents are re-indexed a page at a time: one getAll, then puts nobody
      // waits for. A cursor.update per document was ten times slower (6.9 s for 10,000 in Chromium).
      let after: IDBValidKey | null = null;
      for (;;) {
        const range: IDBKeyRange = after === null ? this.ctx.keyRange.bound([collection], [collection, TOP]) : this.ctx.keyRange.bound(after, [collection, TOP], true);
        const page = (await this.store(DOCS).getAll(range, REINDEX_PAGE)) as DocRecord[];
        const docs = this.pipeline(DOCS);
        for (const record of page) if (!record.deleted) docs.put(toDocRecord(fromDocRecord(record), next));
        if (page.length < REINDEX_PAGE) return next;
        const last = page[page.length - 1]!;
        after = [last.collection, last.key];
      }
    });
  }
}

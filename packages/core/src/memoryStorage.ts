import { StorageError } from './errors.js';
import type {
  LocalStorage,
  NewOutboxEntry,
  OutboxAck,
  OutboxEntry,
  OutboxFilter,
  OutboxStatus,
  ReadTransaction,
  StorageQuery,
  StoredDoc,
  WriteTransaction,
} from './localStorage.js';
import { applyQuery, matchesWhere } from './query.js';
import { PRIORITY_RANK, type RecordData, type SyncPriority } from './remoteBackend.js';
import { serverStateAfterAck } from './prioritySyncQueue.js';

/** The durable state of a memory storage; pass the same one to a new `memoryStorage()` to "reopen" it. */
export interface MemoryStorageState {
  docs: Map<string, Map<string, StoredDoc>>;
  outbox: Map<number, OutboxEntry>;
  /** Outbox seqs by record, to find a record's entries without a scan. */
  byRecord: Map<string, Set<number>>;
  meta: Map<string, unknown>;
  nextSeq: number;
}

export interface MemoryStorageOptions {
  /**
   * Shared state, so a test can close a storage and reopen another on the same data.
   * @default a fresh, empty state
   */
  state?: MemoryStorageState;
  /** @default 'memory' */
  name?: string;
}

export function createMemoryStorageState(): MemoryStorageState {
  return { docs: new Map(), outbox: new Map(), byRecord: new Map(), meta: new Map(), nextSeq: 1 };
}

const recordKey = (collection: string, key: string) => `${collection}\u0000${key}`;

const clone = <V>(value: V): V => (value === undefined ? value : structuredClone(value));

function compareOutbox(a: OutboxEntry, b: OutboxEntry): number {
  return PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq;
}

/**
 * A write transaction stages its changes and applies them only when the callback resolves,
 * so a callback that throws leaves nothing behind.
 */
class MemoryTransaction implements WriteTransaction {
  private readonly docWrites = new Map<string, Map<string, StoredDoc | null>>();
  private readonly outboxWrites = new Map<number, OutboxEntry | null>();
  private readonly metaWrites = new Map<string, unknown>();
  private nextSeq: number;

  constructor(private readonly state: MemoryStorageState) {
    this.nextSeq = state.nextSeq;
  }

  private currentDocs(collection: string): Map<string, StoredDoc> {
    const base = this.state.docs.get(collection) ?? new Map<string, StoredDoc>();
    const staged = this.docWrites.get(collection);
    if (!staged) return base;
    const merged = new Map(base);
    for (const [key, doc] of staged) {
      if (doc) merged.set(key, doc);
      else merged.delete(key);
    }
    return merged;
  }

  private currentOutbox(): OutboxEntry[] {
    const merged = new Map(this.state.outbox);
    for (const [seq, entry] of this.outboxWrites) {
      if (entry) merged.set(seq, entry);
      else merged.delete(seq);
    }
    return [...merged.values()];
  }

  async getDocs(collection: string, keys: readonly string[]): Promise<(StoredDoc | undefined)[]> {
    const staged = this.docWrites.get(collection);
    const base = this.state.docs.get(collection);
    return keys.map((key) => {
      const doc = staged?.has(key) ? staged.get(key) : base?.get(key);
      return doc ? clone(doc) : undefined;
    });
  }

  async queryDocs(collection: string, query: StorageQuery): Promise<StoredDoc[]> {
    return applyQuery(this.currentDocs(collection).values(), query).map(clone);
  }

  async queryData(collection: string, query: StorageQuery): Promise<RecordData[]> {
    return applyQuery(this.currentDocs(collection).values(), query).map((doc) => clone(doc.data!));
  }

  async countDocs(collection: string, where?: StorageQuery['where']): Promise<number> {
    let n = 0;
    for (const doc of this.currentDocs(collection).values()) if (!doc.deleted && matchesWhere(doc.data, where)) n++;
    return n;
  }

  async listOutbox(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    const rows = this.currentOutbox()
      .filter((e) => (filter.status === undefined || e.status === filter.status) && (filter.txId === undefined || e.txId === filter.txId))
      .sort(compareOutbox);
    return (filter.limit === undefined ? rows : rows.slice(0, filter.limit)).map(clone);
  }

  async getOutboxForKeys(collection: string, keys: readonly string[]): Promise<OutboxEntry[]> {
    const wanted = new Set(keys);
    const seqs = new Set<number>();
    for (const key of wanted) for (const seq of this.state.byRecord.get(recordKey(collection, key)) ?? []) seqs.add(seq);
    for (const [seq, entry] of this.outboxWrites) if (entry && entry.collection === collection && wanted.has(entry.key)) seqs.add(seq);
    const out: OutboxEntry[] = [];
    for (const seq of seqs) {
      const entry = this.outboxWrites.has(seq) ? this.outboxWrites.get(seq) : this.state.outbox.get(seq);
      if (entry && entry.collection === collection && wanted.has(entry.key)) out.push(clone(entry));
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  async countOutbox(): Promise<Record<OutboxStatus, number>> {
    const counts: Record<OutboxStatus, number> = { pending: 0, inflight: 0, failed: 0, conflict: 0 };
    for (const e of this.currentOutbox()) counts[e.status]++;
    return counts;
  }

  async getMeta<V>(key: string): Promise<V | undefined> {
    const value = this.metaWrites.has(key) ? this.metaWrites.get(key) : this.state.meta.get(key);
    return clone(value) as V | undefined;
  }

  async putDocs(docs: readonly StoredDoc[]): Promise<void> {
    for (const doc of docs) {
      let staged = this.docWrites.get(doc.collection);
      if (!staged) this.docWrites.set(doc.collection, (staged = new Map()));
      staged.set(doc.key, clone(doc));
    }
  }

  async removeDocs(collection: string, keys: readonly string[]): Promise<void> {
    let staged = this.docWrites.get(collection);
    if (!staged) this.docWrites.set(collection, (staged = new Map()));
    for (const key of keys) staged.set(key, null);
  }

  async addOutbox(entry: NewOutboxEntry): Promise<number> {
    const seq = this.nextSeq++;
    this.outboxWrites.set(seq, { ...clone(entry), seq });
    return seq;
  }

  async updateOutbox(entries: readonly OutboxEntry[]): Promise<void> {
    for (const entry of entries) this.outboxWrites.set(entry.seq, clone(entry));
  }

  async markOutbox(seqs: readonly number[], status: OutboxStatus, options: { countAttempt?: boolean; priorities?: readonly SyncPriority[] } = {}): Promise<void> {
    for (const seq of seqs) {
      const entry = this.outboxWrites.has(seq) ? this.outboxWrites.get(seq) : this.state.outbox.get(seq);
      if (entry) this.outboxWrites.set(seq, { ...clone(entry), status, attempts: entry.attempts + (options.countAttempt ? 1 : 0) });
    }
  }

  async ackOutbox(acks: readonly OutboxAck[]): Promise<number[]> {
    const handled: number[] = [];
    for (const { seq, version } of acks) {
      const entry = this.outboxWrites.has(seq) ? this.outboxWrites.get(seq) : this.state.outbox.get(seq);
      if (!entry || entry.status !== 'inflight') continue;
      if ((await this.getOutboxForKeys(entry.collection, [entry.key])).some((e) => e.seq !== seq)) continue;
      const [doc] = await this.getDocs(entry.collection, [entry.key]);
      if (!doc || version <= (doc.server?.version ?? 0)) continue;
      // putDocs stores a copy, so the entry's objects are not shared with the stored document.
      await this.putDocs([{ ...doc, server: serverStateAfterAck(doc, entry, version), syncState: 'synced' }]);
      this.outboxWrites.set(seq, null);
      handled.push(seq);
    }
    return handled;
  }

  async deleteOutbox(seqs: readonly number[]): Promise<void> {
    for (const seq of seqs) this.outboxWrites.set(seq, null);
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    this.metaWrites.set(key, clone(value));
  }

  commit(): void {
    for (const [collection, staged] of this.docWrites) {
      let docs = this.state.docs.get(collection);
      if (!docs) this.state.docs.set(collection, (docs = new Map()));
      for (const [key, doc] of staged) {
        if (doc) docs.set(key, doc);
        else docs.delete(key);
      }
    }
    for (const [seq, entry] of this.outboxWrites) {
      const before = this.state.outbox.get(seq);
      if (before) this.state.byRecord.get(recordKey(before.collection, before.key))?.delete(seq);
      if (entry) {
        this.state.outbox.set(seq, entry);
        const id = recordKey(entry.collection, entry.key);
        let set = this.state.byRecord.get(id);
        if (!set) this.state.byRecord.set(id, (set = new Set()));
        set.add(seq);
      } else {
        this.state.outbox.delete(seq);
      }
    }
    for (const [key, value] of this.metaWrites) {
      if (value === undefined) this.state.meta.delete(key);
      else this.state.meta.set(key, value);
    }
    this.state.nextSeq = this.nextSeq;
  }
}

/**
 * In-memory storage with the full `LocalStorage` semantics (transactions, outbox order).
 * Nothing survives the process; for tests, demos and apps that need no persistence.
 */
export function memoryStorage(options: MemoryStorageOptions = {}): LocalStorage {
  const state = options.state ?? createMemoryStorageState();
  const name = options.name ?? 'memory';
  let open = false;
  // Writes are serialised so a read-modify-write callback never sees another's half-applied state.
  let tail: Promise<unknown> = Promise.resolve();

  const ensureOpen = () => {
    if (!open) throw new StorageError('CLOSED', `Storage "${name}" is closed. Open it (createNexus does) before use.`, { path: name });
  };

  const serial = <R>(run: () => Promise<R>): Promise<R> => {
    const result = tail.then(run, run);
    tail = result.catch(() => undefined);
    return result;
  };

  return {
    name,
    async open() {
      open = true;
    },
    async close() {
      await tail;
      open = false;
    },
    read<R>(fn: (tx: ReadTransaction) => Promise<R>): Promise<R> {
      return serial(async () => {
        ensureOpen();
        return fn(new MemoryTransaction(state));
      });
    },
    write<R>(fn: (tx: WriteTransaction) => Promise<R>): Promise<R> {
      return serial(async () => {
        ensureOpen();
        const tx = new MemoryTransaction(state);
        const result = await fn(tx);
        tx.commit();
        return result;
      });
    },
  };
}

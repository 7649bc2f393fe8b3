import type { Mutation, RecordData, ServerRecord, SyncPriority } from './remoteBackend.js';

/**
 * The local storage contract. Every adapter (memory, SQLite, IndexedDB) implements it and passes
 * `runStorageConformance` from `@nexus-store/core/testing`.
 *
 * Transactions: `read(fn)` and `write(fn)` run `fn` with a transaction object. Inside `fn` the caller
 * awaits only the methods of that object (never timers, network or other storage), so IndexedDB can
 * keep its transaction open. A `write` commits everything `fn` did, or nothing when `fn` throws
 * (then `write` rejects with that error). An adapter may group several `write` calls issued in the
 * same tick into one physical transaction (group commit), but each call still succeeds or fails on
 * its own and resolves only after its data is durable. An adapter may run `fn` more than once
 * (for example after aborting a group), so `fn` must not have side effects outside the transaction.
 */
export interface LocalStorage {
  /** A short name for errors and logs, e.g. the file path. */
  readonly name: string;
  open(): Promise<void>;
  close(): Promise<void>;
  read<R>(fn: (tx: ReadTransaction) => Promise<R>): Promise<R>;
  write<R>(fn: (tx: WriteTransaction) => Promise<R>): Promise<R>;
  /**
   * Hint: a collection exists and wants these fields indexed for `queryDocs`. Called before the first
   * query of a collection; may be called again with more fields. Queries must work without it.
   */
  ensureIndexes?(collection: string, fields: readonly string[]): Promise<void>;
  /** Changes written by another connection to the same database (another tab). Returns an unsubscribe. */
  onExternalChange?(listener: (changes: readonly DocChangeRef[]) => void): () => void;
  /** Runs `fn` while holding a lock shared by every connection to this database (e.g. Web Locks). */
  lock?<R>(name: string, fn: () => Promise<R>): Promise<R>;
}

export type SyncState = 'synced' | 'pending' | 'conflict' | 'failed';

/** The last known server state of a record (its base for conflict detection). */
export interface ServerState {
  version: number;
  deleted: boolean;
  data: RecordData | null;
  hlc: string;
  fieldClocks: Record<string, string> | null;
}

/** A document as stored locally. Deleted documents stay as tombstones (`deleted: true`, `data: null`). */
export interface StoredDoc {
  collection: string;
  key: string;
  /** The current local value, including unsynced writes; null when deleted. */
  data: RecordData | null;
  deleted: boolean;
  /** Clock of the last write to this document (local or pulled). */
  hlc: string;
  /** Clock of the last write to each field. */
  fieldClocks: Record<string, string> | null;
  syncState: SyncState;
  /** The last known server state, or null when the server has never had this record. */
  server: ServerState | null;
}

export interface DocChangeRef {
  collection: string;
  key: string;
}

/** A value that can be compared in filters and ordering. */
export type Comparable = string | number | boolean | null;

export interface FieldRange {
  eq?: Comparable;
  ne?: Comparable;
  gt?: Comparable;
  gte?: Comparable;
  lt?: Comparable;
  lte?: Comparable;
  in?: readonly Comparable[];
}

/**
 * A field filter: a plain value means equality. Fields are top-level properties of the data.
 * A missing field is null. `eq: null` matches null and missing; range operators never match null.
 * Booleans compare as 0 and 1. Ranges over a field holding mixed types are undefined.
 */
export type FieldFilter = Comparable | FieldRange;

export interface OrderTerm {
  field: string;
  direction: 'asc' | 'desc';
}

/**
 * A storage-level query. Results exclude tombstones and are ordered by `orderBy`, then by `key`
 * ascending as the tie-breaker (nulls first in ascending order). `after` continues strictly after
 * the row with these order values and key.
 */
export interface StorageQuery {
  where?: Readonly<Record<string, FieldFilter>>;
  orderBy?: readonly OrderTerm[];
  limit?: number;
  after?: { key: string; values: readonly Comparable[] };
}

export type OutboxStatus = 'pending' | 'inflight' | 'failed' | 'conflict';

/** One entry of the outbox: a mutation (without the client id, which is the Nexus's) plus its local delivery state. */
export interface OutboxEntry extends Omit<Mutation, 'clientId' | 'txId'> {
  /** Local sequence, assigned by the storage on insert; FIFO order within a priority tier. */
  seq: number;
  txId: string | null;
  status: OutboxStatus;
  attempts: number;
  lastError: { code: string; message: string } | null;
  /** For a parked conflict (`status: 'conflict'`): the server's record. */
  conflict: ServerRecord | null;
  createdAt: number;
}

export type NewOutboxEntry = Omit<OutboxEntry, 'seq'>;

/** A mutation the server applied (or had applied): the entry with `seq` is the server's `version`. */
export interface OutboxAck {
  seq: number;
  version: number;
  /**
   * The entry's priority when it was taken, if the caller knows it: a storage may use it to find the
   * entry at once. If the entry's priority changed since, the storage may leave the ack unhandled.
   */
  priority?: SyncPriority;
}

export interface OutboxFilter {
  status?: OutboxStatus;
  txId?: string;
  limit?: number;
}

export interface ReadTransaction {
  /** One result per key, in order; tombstones included. */
  getDocs(collection: string, keys: readonly string[]): Promise<(StoredDoc | undefined)[]>;
  queryDocs(collection: string, query: StorageQuery): Promise<StoredDoc[]>;
  /**
   * Optional fast path: the `data` of the documents `queryDocs` would return, in the same order.
   * `Store.getAll` uses it when present, so an adapter can skip building whole `StoredDoc` rows.
   */
  queryData?(collection: string, query: StorageQuery): Promise<RecordData[]>;
  /** Number of live (not deleted) documents matching `where`. */
  countDocs(collection: string, where?: StorageQuery['where']): Promise<number>;
  /** Entries ordered by priority (critical first), then by `seq`. */
  listOutbox(filter?: OutboxFilter): Promise<OutboxEntry[]>;
  /** All entries of these records, ordered by `seq`. */
  getOutboxForKeys(collection: string, keys: readonly string[]): Promise<OutboxEntry[]>;
  countOutbox(): Promise<Record<OutboxStatus, number>>;
  getMeta<V = unknown>(key: string): Promise<V | undefined>;
}

export interface WriteTransaction extends ReadTransaction {
  /** Inserts or replaces documents (by collection and key). */
  putDocs(docs: readonly StoredDoc[]): Promise<void>;
  /** Removes documents entirely (no tombstone). */
  removeDocs(collection: string, keys: readonly string[]): Promise<void>;
  /** Inserts an entry and returns its new `seq`, greater than every seq handed out before. */
  addOutbox(entry: NewOutboxEntry): Promise<number>;
  /** Replaces existing entries (matched by `seq`). */
  updateOutbox(entries: readonly OutboxEntry[]): Promise<void>;
  deleteOutbox(seqs: readonly number[]): Promise<void>;
  /**
   * Optional fast path for a change of delivery state only: sets `status` on the entries with these
   * seqs (missing ones are skipped) and, with `countAttempt`, adds one to their `attempts`; the rest
   * of each entry stays as stored. Without it the core rewrites whole entries with `updateOutbox`.
   * `priorities`, when given, are the entries' priorities as the caller read them, in the order of
   * `seqs`: a storage may use them to find the entries at once, and must still mark an entry whose
   * priority changed since.
   */
  markOutbox?(seqs: readonly number[], status: OutboxStatus, options?: { countAttempt?: boolean; priorities?: readonly SyncPriority[] }): Promise<void>;
  /**
   * Optional fast path for the common push result (without it the core does the same through the
   * other methods). For each ack whose entry is stored, `inflight`, its record's only entry, whose
   * record has a document, and whose `version` is above the document's server version: deletes the
   * entry and writes the document as `synced`, with the server state `{ version, deleted: op ===
   * 'delete', data: the entry's data (null for a delete), hlc, fieldClocks }` of the entry; the
   * document's data, clock and field clocks stay as they are. Returns the seqs it handled, in any
   * order; the core handles the other acks itself (an ack at or below the known server version means
   * the server moved past that write before its answer came: the record takes the server's state).
   */
  ackOutbox?(acks: readonly OutboxAck[]): Promise<number[]>;
  /** Metadata values are JSON-serialisable. `undefined` deletes the key. */
  setMeta(key: string, value: unknown): Promise<void>;
}

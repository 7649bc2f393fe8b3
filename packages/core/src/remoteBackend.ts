/**
 * The sync protocol as the client sees it. The HTTP server speaks exactly these shapes as JSON.
 * See ../ARCHITECTURE.md (protocol) for the invariants.
 */

export type SyncPriority = 'critical' | 'high' | 'normal' | 'low';

/** Push order: lower rank goes first. */
export const PRIORITY_RANK: Readonly<Record<SyncPriority, number>> = { critical: 0, high: 1, normal: 2, low: 3 };
export const SYNC_PRIORITIES: readonly SyncPriority[] = ['critical', 'high', 'normal', 'low'];

export type MutationOp = 'upsert' | 'delete';

/** A JSON object: the data of one record. */
export type RecordData = Record<string, unknown>;

/** One local write on its way to the server. `mutationId` is the idempotency key. */
export interface Mutation {
  mutationId: string;
  clientId: string;
  collection: string;
  /** The record's id, as a string. */
  key: string;
  op: MutationOp;
  /** The full record after the write (upsert), or null (delete). */
  data: RecordData | null;
  /** Fields this mutation changed since the server version it was made on; null means all. */
  changedFields: string[] | null;
  /** The server version the write was made on; 0 for a record the client has never seen on the server. */
  baseVersion: number;
  /** Hybrid logical clock of the write. */
  hlc: string;
  /**
   * Per-field clocks of the record after the write (used by the fieldMerge policy), compact: a
   * field present in `data` without an entry was written at `hlc`; entries exist only for fields
   * written earlier and for removed fields (see `expandFieldClocks`).
   */
  fieldClocks: Record<string, string> | null;
  priority: SyncPriority;
  /** Set on mutations that were written in one `nexus.transaction()`; they travel in one push batch. */
  txId?: string | null;
}

/** The server's current state of one record, as pulled or as returned with a conflict. */
export interface ServerRecord {
  collection: string;
  key: string;
  /** Server version, monotonic per tenant; commit order equals version order. */
  version: number;
  deleted: boolean;
  data: RecordData | null;
  hlc: string;
  fieldClocks: Record<string, string> | null;
  /** The client that wrote this version, when known. */
  clientId?: string | null;
}

/** A pulled change is the record's state at the given version (an upsert or a tombstone). */
export type ServerChange = ServerRecord;

export type MutationResult =
  | { mutationId: string; status: 'applied'; version: number }
  /** Already applied earlier: the same version as the first time. */
  | { mutationId: string; status: 'duplicate'; version: number }
  /**
   * Not applied. `reason: 'version'`: baseVersion is stale; `current` is the record now.
   * `reason: 'unique'`: another, older record holds a unique value; `current` is that record (another key).
   */
  | { mutationId: string; status: 'conflict'; reason: 'version' | 'unique'; current: ServerRecord | null; field?: string }
  | { mutationId: string; status: 'rejected'; code: string; message: string };

export interface PullResult {
  changes: ServerChange[];
  /** Opaque cursor to pass to the next pull. */
  cursor: string;
  hasMore: boolean;
}

export interface RemoteCallOptions {
  signal?: AbortSignal;
}

export interface PushOptions extends RemoteCallOptions {
  /**
   * The client's pull cursor (null: it has never pulled). A server that sees that nothing but this
   * push happened after that cursor answers with the cursor just past the push's own changes, so
   * the client need not pull its own writes back. Servers may ignore it.
   */
  cursor?: string | null;
}

/** A push answer that also moves the client's cursor (see `PushOptions.cursor`). */
export interface PushResult {
  results: MutationResult[];
  /** The cursor just after this push's changes; present only when they were the only changes after the sent cursor. */
  cursor?: string;
}

/** A poke from the server: new changes exist up to `version`. */
export interface RemotePoke {
  version?: number;
}

/**
 * What the sync engine needs from a server. `httpRemote()` implements it over HTTP;
 * `createMemoryRemote()` in `@nexus-store/core/testing` implements it in process.
 *
 * Errors: throw a `NexusError` whose code says whether a retry may help (NETWORK, TIMEOUT,
 * SERVER are retried; AUTH is not). A pull from an expired cursor throws `CursorExpiredError`.
 */
export interface RemoteBackend {
  /**
   * One result per mutation, in the same order. A batch may be applied in one server transaction.
   * Either the results alone, or `{ results, cursor }` when the push also answers the sent cursor.
   */
  push(mutations: Mutation[], options?: PushOptions): Promise<MutationResult[] | PushResult>;
  /**
   * Optional. The engine calls it with a batch as soon as it has taken it, while the batch before
   * is still at the server, and later passes the same array (by identity) to `push`, so that the
   * request can be encoded ahead and leave at once. The batch may never be pushed (the push stopped
   * first): keep nothing that outlives the array (a WeakMap).
   */
  preparePush?(mutations: Mutation[]): void;
  /** Changes after `cursor` (null: from the beginning), at most `limit`, ordered by version. */
  pull(cursor: string | null, limit: number, options?: RemoteCallOptions): Promise<PullResult>;
  /** Live pokes. Returns an unsubscribe function. */
  subscribe?(onPoke: (poke: RemotePoke) => void): () => void;
}

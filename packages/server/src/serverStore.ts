import type { ServerRecord } from '@nexus-store/core';

/** A user who can log in; created by an admin (CLI or admin API). */
export interface StoredUser {
  username: string;
  /** `scrypt$N$r$p$salt$hash` (see hashPassword). */
  passwordHash: string;
  tenant: string;
  createdAt: number;
}

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The operations one push needs, inside one database transaction scoped to one tenant.
 * Everything done through it commits or rolls back together. The per-mutation calls may answer
 * synchronously (the SQLite store does): the push then awaits nothing per call. Five awaits per
 * mutation allocated ~2 MB per push of 1,000 (a quarter of the server's garbage) and took ~0.4 ms.
 */
export interface ServerStoreTransaction {
  /**
   * The tenant's version when this transaction took the tenant's write lock: every version up to it
   * is committed, and no other transaction assigns versions until this one ends.
   */
  readonly startVersion: number;
  /**
   * Optional: load the dedup entries and records a batch will ask for in a few round trips, before the
   * per-mutation calls (a networked database would otherwise pay one round trip per call).
   */
  preload?(clientId: string, mutations: ReadonlyArray<{ mutationId: string; collection: string; key: string }>): Promise<void>;
  /** The version the first application of (clientId, mutationId) produced, or null. */
  getDedup(clientId: string, mutationId: string): MaybePromise<number | null>;
  getRecord(collection: string, key: string): MaybePromise<ServerRecord | null>;
  /** The key of the live record holding `value` (JSON) in a unique `field`, or null. */
  findUniqueOwner(collection: string, field: string, value: string): Promise<string | null>;
  /** The next version of the tenant. Versions are assigned in commit order. */
  nextVersion(): MaybePromise<number>;
  putRecord(record: ServerRecord, updatedAt: number): MaybePromise<void>;
  /** Replaces the unique values (field, JSON value) the record `key` holds. */
  replaceUniques(collection: string, key: string, values: ReadonlyArray<{ field: string; value: string }>): Promise<void>;
  putDedup(clientId: string, mutationId: string, version: number, createdAt: number): MaybePromise<void>;
}

export interface PullPage {
  /** Records with version > after, ordered by version, at most limit + 1 of them. */
  changes: ServerRecord[];
  /** Tombstones at or below this version were compacted away; a cursor below it is expired. */
  horizon: number;
}

export interface CompactResult {
  tombstones: number;
  dedup: number;
}

/** Called after a push that assigned versions commits. */
export type PokeListener = (tenant: string, version: number) => void;

/**
 * The storage side of the sync server. Async so that the Web-standard handler can run over any
 * database (better-sqlite3, pg, and later D1 or another edge store).
 */
export interface ServerStore {
  readonly kind: string;
  /** Creates the tables if needed. Safe to call from several server instances at once. */
  open(): Promise<void>;
  /**
   * Runs `fn` in one transaction of `tenant`: all or nothing. Writes of one tenant are serialized,
   * so versions are assigned in commit order. After a commit that assigned versions, pokes go out.
   */
  write<T>(tenant: string, fn: (tx: ServerStoreTransaction) => Promise<T>): Promise<T>;
  pull(tenant: string, after: number, limit: number): Promise<PullPage>;
  latestVersion(tenant: string): Promise<number>;
  /** Removes tombstones and dedup records last written before `before` (epoch ms). */
  compact(before: number): Promise<CompactResult>;
  putUser(user: StoredUser): Promise<void>;
  getUser(username: string): Promise<StoredUser | null>;
  /** Live pokes from every server instance sharing this store. Returns an unsubscribe function. */
  subscribePokes(listener: PokeListener): () => void;
  close(): Promise<void>;
}

/** Calls every listener; one that throws must not turn a committed push into an error. */
export function notifyPokeListeners(listeners: Iterable<PokeListener>, tenant: string, version: number): void {
  for (const listener of listeners) {
    try {
      listener(tenant, version);
    } catch {
      // A poke is a hint; the client pulls anyway.
    }
  }
}

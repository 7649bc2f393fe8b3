import type { DocChangeRef, LocalStorage, ReadTransaction, WriteTransaction } from '@nexus-store/core';
import { InvalidArgumentError, StorageError } from '@nexus-store/core';
import type { IDBPDatabase } from 'idb';
import { ChangeChannel, localLock } from './crossTab.js';
import { GroupCommit } from './groupCommit.js';
import type { PhysicalTransaction } from './groupCommit.js';
import { closedError, toStorageError } from './idbErrors.js';
import { IdbReadTransaction, IdbWriteTransaction } from './idbTransaction.js';
import type { TxContext, TxMode } from './idbTransaction.js';
import { openDatabase } from './openDatabase.js';
import { ALL_STORES, DB_VERSION, missingStores, upgradeSchema } from './schema.js';
import type { NexusDB } from './schema.js';

export interface IdbStorageOptions {
  /** The IndexedDB database name. Use one per app (and per signed-in user when users share a browser). */
  name: string;
  /**
   * The IndexedDB factory, e.g. `new IDBFactory()` from fake-indexeddb in tests.
   * @default globalThis.indexedDB
   */
  indexedDB?: IDBFactory;
  /**
   * The `IDBKeyRange` class matching `indexedDB`.
   * @default globalThis.IDBKeyRange
   */
  IDBKeyRange?: typeof IDBKeyRange;
  /**
   * Durability of write transactions. 'strict' resolves a write only once the browser flushed it to
   * disk (what the LocalStorage contract promises); 'relaxed' is faster but may lose the last writes
   * on a power cut.
   * @default 'strict'
   */
  durability?: IDBTransactionDurability;
  /**
   * The BroadcastChannel class used to announce committed changes to other tabs (`onExternalChange`);
   * null turns announcements off.
   * @default globalThis.BroadcastChannel (none when the runtime lacks it)
   */
  BroadcastChannel?: typeof BroadcastChannel | null;
  /**
   * The Web Locks manager for `lock()`; null (or a runtime without Web Locks) uses a lock that only
   * excludes connections of the same JavaScript realm.
   * @default globalThis.navigator.locks
   */
  locks?: LockManager | null;
  /**
   * Most `write()` calls committed together in one IndexedDB transaction (group commit).
   * @default 1000
   */
  maxGroupSize?: number;
}

/** The storage returned by `idbStorage()`: a LocalStorage with every optional capability. */
export interface IdbStorage extends LocalStorage {
  ensureIndexes(collection: string, fields: readonly string[]): Promise<void>;
  onExternalChange(listener: (changes: readonly DocChangeRef[]) => void): () => void;
  lock<R>(name: string, fn: () => Promise<R>): Promise<R>;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null) {
    throw new StorageError('STORAGE', `IndexedDB is not available here (no ${what}). Pass the idbStorage option "${what}" (e.g. from fake-indexeddb in Node).`);
  }
  return value;
}

/** The IndexedDB classes idb recognises values by (`instanceof`); browsers have them, Node does not. */
const IDB_CLASSES = ['IDBRequest', 'IDBDatabase', 'IDBTransaction', 'IDBObjectStore', 'IDBIndex', 'IDBCursor'] as const;

function requireIdbClasses(): void {
  const missing = IDB_CLASSES.filter((name) => typeof (globalThis as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    throw new StorageError(
      'STORAGE',
      `The IndexedDB classes are not globals here (no ${missing.join(', ')}); idbStorage needs them, even with the "indexedDB" option. In Node, import 'fake-indexeddb/auto' before creating the storage.`,
    );
  }
}

class IdbStorageImpl implements IdbStorage {
  readonly name: string;
  private readonly factory: IDBFactory;
  private readonly keyRange: typeof IDBKeyRange;
  private db: IDBPDatabase<NexusDB> | null = null;
  private opening: Promise<void> | null = null;
  private closedReason = ' (not opened yet)';
  private channel: ChangeChannel | null = null;
  private readonly externalListeners = new Set<(changes: readonly DocChangeRef[]) => void>();
  private readonly channelUnsubscribes: (() => void)[] = [];
  /** Declared fields known to be stored, so a repeated ensureIndexes needs no transaction. */
  private readonly declared = new Map<string, Set<string>>();
  private readonly writes: GroupCommit<IdbWriteTransaction>;

  constructor(private readonly options: IdbStorageOptions) {
    if (typeof options?.name !== 'string' || options.name === '') throw new InvalidArgumentError('idbStorage needs a database name: idbStorage({ name: "my-app" }).');
    const { maxGroupSize } = options;
    if (maxGroupSize !== undefined && (!Number.isInteger(maxGroupSize) || maxGroupSize < 1)) {
      throw new InvalidArgumentError(`idbStorage maxGroupSize must be a positive integer, got ${String(maxGroupSize)}.`);
    }
    this.name = options.name;
    this.factory = required(options.indexedDB ?? globalThis.indexedDB, 'indexedDB');
    this.keyRange = required(options.IDBKeyRange ?? globalThis.IDBKeyRange, 'IDBKeyRange');
    requireIdbClasses();
    this.writes = new GroupCommit<IdbWriteTransaction>({
      begin: () => this.beginWrite(),
      mapError: (error) => toStorageError(error, this.name),
      maxGroupSize: options.maxGroupSize ?? 1000,
      committed: (scopes) => {
        const changes = new Map<string, DocChangeRef>();
        for (const scope of scopes) for (const [id, ref] of scope.changes) changes.set(id, ref);
        // An outbox-only change (say, entries marked failed) is announced with no documents, so the
        // other tabs can refresh their outbox counts.
        if (changes.size > 0 || scopes.some((scope) => scope.outboxChanged)) this.channel?.announce([...changes.values()]);
      },
    });
  }

  open(): Promise<void> {
    if (this.db) return Promise.resolve();
    this.opening ??= this.connect().finally(() => (this.opening = null));
    return this.opening;
  }

  private connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      // The connection in use, for the callbacks that fire once it is open.
      let connection: IDBPDatabase<NexusDB> | undefined;
      let opened: Promise<IDBPDatabase<NexusDB>>;
      try {
        opened = openDatabase<NexusDB>(this.factory, this.name, DB_VERSION, {
          upgrade: (db, oldVersion, _newVersion, tx) => {
            try {
              upgradeSchema(db, tx, oldVersion);
            } catch (error) {
              fail(toStorageError(error, this.name));
              tx.abort();
            }
          },
          blocked: () => {
            fail(
              new StorageError(
                'UPGRADE_BLOCKED',
                `IndexedDB database "${this.name}" needs an upgrade, but another tab keeps an older version open. Close or reload the other tabs of this app.`,
                { path: this.name },
              ),
            );
          },
          blocking: () => {
            // Another tab upgrades the database: step aside so it is not blocked.
            connection?.close();
            this.lost(connection, ' because another tab opened a newer version of the database; reload this page');
          },
          terminated: () => this.lost(connection, ' because the browser closed the connection (storage cleared?)'),
        });
      } catch (error) {
        fail(toStorageError(error, this.name));
        return;
      }
      opened.then((db) => {
        if (settled) {
          // The caller was told the upgrade is blocked; do not keep a connection nobody uses.
          db.close();
          return;
        }
        const missing = missingStores(db);
        if (missing.length > 0) {
          db.close();
          fail(
            new StorageError(
              'STORAGE_CORRUPT',
              `IndexedDB database "${this.name}" exists but is not a nexus-store database (missing ${missing.join(', ')}). Use another name, or delete it.`,
              { path: this.name },
            ),
          );
          return;
        }
        connection = db;
        this.db = db;
        this.openChannel();
        settled = true;
        resolve();
      }, (error: unknown) => fail(toStorageError(error, this.name)));
    });
  }

  private lost(db: IDBPDatabase<NexusDB> | undefined, reason: string): void {
    if (!db || this.db !== db) return;
    this.db = null;
    this.closedReason = reason;
    this.closeChannel();
  }

  private openChannel(): void {
    const Channel = this.options.BroadcastChannel === undefined ? globalThis.BroadcastChannel : this.options.BroadcastChannel;
    if (!Channel) return;
    this.channel = new ChangeChannel(Channel, `nexus-store/idb/${this.name}`);
    for (const listener of this.externalListeners) this.channelUnsubscribes.push(this.channel.subscribe(listener));
  }

  private closeChannel(): void {
    for (const unsubscribe of this.channelUnsubscribes.splice(0)) unsubscribe();
    this.channel?.close();
    this.channel = null;
  }

  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    await this.writes.idle();
    const db = this.db;
    this.db = null;
    this.closedReason = '';
    this.closeChannel();
    db?.close();
  }

  private context<Mode extends TxMode>(mode: Mode): TxContext<Mode> {
    if (!this.db) throw closedError(this.name, this.closedReason);
    const tx =
      mode === 'readwrite' ? this.db.transaction(ALL_STORES, mode, { durability: this.options.durability ?? 'strict' }) : this.db.transaction(ALL_STORES, mode);
    const ctx: TxContext<Mode> = { tx, path: this.name, keyRange: this.keyRange, cmp: (a, b) => this.factory.cmp(a, b), declared: new Map(), finished: false };
    const finish = () => (ctx.finished = true);
    tx.addEventListener('complete', finish);
    tx.addEventListener('abort', finish);
    // In the capture phase, so the failed request's error is known before idb's tx.done rejects.
    tx.addEventListener('error', (event) => (ctx.failure ??= (event.target as IDBRequest).error), { capture: true });
    // Reads never wait for tx.done; it must not reject unobserved when a transaction aborts.
    tx.done.catch(() => undefined);
    return ctx;
  }

  private beginWrite(): PhysicalTransaction<IdbWriteTransaction> {
    const ctx = this.context('readwrite');
    // idb's tx.done rejects at the failed request's error event, before tx.error is set: report that request's error.
    const done = ctx.tx.done.catch((error: unknown) => {
      throw ctx.failure ?? error;
    });
    return { scope: () => new IdbWriteTransaction(ctx), abort: () => ctx.tx.abort(), done };
  }

  async read<R>(fn: (tx: ReadTransaction) => Promise<R>): Promise<R> {
    let ctx: TxContext;
    try {
      ctx = this.context('readonly');
    } catch (error) {
      throw toStorageError(error, this.name);
    }
    return fn(new IdbReadTransaction(ctx));
  }

  write<R>(fn: (tx: WriteTransaction) => Promise<R>): Promise<R> {
    return this.writes.submit(fn);
  }

  async ensureIndexes(collection: string, fields: readonly string[]): Promise<void> {
    const known = this.declared.get(collection);
    if (known && fields.every((f) => known.has(f))) return;
    const all = await this.writes.submit((tx) => tx.declareFields(collection, fields));
    this.declared.set(collection, all);
  }

  onExternalChange(listener: (changes: readonly DocChangeRef[]) => void): () => void {
    this.externalListeners.add(listener);
    let unsubscribe = this.channel?.subscribe(listener);
    if (unsubscribe) this.channelUnsubscribes.push(unsubscribe);
    return () => {
      this.externalListeners.delete(listener);
      unsubscribe?.();
      unsubscribe = undefined;
    };
  }

  lock<R>(name: string, fn: () => Promise<R>): Promise<R> {
    const locks = this.options.locks === undefined ? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks : this.options.locks;
    const fullName = `nexus-store/idb/${this.name}/${name}`;
    if (!locks) return localLock(fullName, fn);
    return locks.request(fullName, () => fn()) as Promise<R>;
  }
}

/**
 * IndexedDB storage for browsers and Capacitor web views. Each `write()` is one IndexedDB
 * transaction over documents, outbox and metadata; writes issued in the same tick share one
 * transaction (group commit). Changes are announced to other tabs over a BroadcastChannel and
 * `lock()` uses Web Locks, so several tabs can share one database.
 */
export function idbStorage(options: IdbStorageOptions): IdbStorage {
  return new IdbStorageImpl(options);
}

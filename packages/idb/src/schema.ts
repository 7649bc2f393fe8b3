/**
 * The IndexedDB layout. Versions only go up: each step of `MIGRATIONS` upgrades version i to i + 1,
 * so a database of any older version is brought up to date in one `versionchange` transaction.
 *
 * - `docs`: one record per document, keyed `[collection, key]`. Besides the document it holds
 *   `$l` = `[collection, key]` only while the document is live (the `live` index: tombstones stay out)
 *   and `$x`, one `[collection, field, typeRank, value, key]` entry per declared field (the multiEntry
 *   `fields` index), so a where or orderBy on a declared field reads a key range in query order.
 * - `outbox`: entries keyed by an autoIncrement `seq`, with `rank` (PRIORITY_RANK) for the indexes
 *   `order` (rank, then seq), `status` ([status, rank], then seq), `txId` and `record` ([collection, key]).
 * - `meta`: JSON values by key.
 * - `collections`: the fields declared by `ensureIndexes`, per collection.
 */
export const DOCS = 'docs';
export const OUTBOX = 'outbox';
export const META = 'meta';
export const COLLECTIONS = 'collections';
export const ALL_STORES = [DOCS, OUTBOX, META, COLLECTIONS] as const;

type Migration = (db: IDBDatabase, tx: IDBTransaction) => void;

const MIGRATIONS: readonly Migration[] = [
  (db) => {
    const docs = db.createObjectStore(DOCS, { keyPath: ['collection', 'key'] });
    docs.createIndex('live', '$l');
    docs.createIndex('fields', '$x', { multiEntry: true });
    const outbox = db.createObjectStore(OUTBOX, { keyPath: 'seq', autoIncrement: true });
    outbox.createIndex('order', 'rank');
    outbox.createIndex('status', ['status', 'rank']);
    outbox.createIndex('txId', ['txId', 'rank']);
    outbox.createIndex('record', ['collection', 'key']);
    db.createObjectStore(META);
    db.createObjectStore(COLLECTIONS, { keyPath: 'collection' });
  },
];

/** The IndexedDB version of the layout this code writes. */
export const DB_VERSION = MIGRATIONS.length;

/** Runs inside `onupgradeneeded`: applies every migration above `oldVersion`. */
export function upgradeSchema(db: IDBDatabase, tx: IDBTransaction, oldVersion: number): void {
  for (let version = oldVersion; version < MIGRATIONS.length; version++) MIGRATIONS[version]!(db, tx);
}

/** The stores this code needs that the database lacks (a database of another app with the same name). */
export function missingStores(db: IDBDatabase): string[] {
  return ALL_STORES.filter((store) => !db.objectStoreNames.contains(store));
}

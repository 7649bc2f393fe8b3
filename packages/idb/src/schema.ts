import type { OutboxEntry, OutboxStatus } from '@nexus-store/core';
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { DocRecord, FieldEntry } from './docRecord.js';

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

/** An outbox entry as stored: with its priority's rank, for the outbox indexes. */
export interface OutboxRecord extends OutboxEntry {
  rank: number;
}

/** The fields `ensureIndexes` declared for one collection. */
export interface CollectionRecord {
  collection: string;
  fields: string[];
}

/** The layout above as idb types: stores, their keys and values, and their indexes' keys. */
export interface NexusDB extends DBSchema {
  docs: {
    key: [collection: string, key: string];
    value: DocRecord;
    indexes: { live: [collection: string, key: string]; fields: FieldEntry };
  };
  outbox: {
    key: number;
    value: OutboxRecord;
    indexes: { order: number; status: [OutboxStatus, number]; txId: [string, number]; record: [collection: string, key: string] };
  };
  meta: { key: string; value: unknown };
  collections: { key: string; value: CollectionRecord };
}

type UpgradeTransaction = IDBPTransaction<NexusDB, StoreNames<NexusDB>[], 'versionchange'>;
type Migration = (db: IDBPDatabase<NexusDB>, tx: UpgradeTransaction) => void;

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

/** The `upgrade` callback of opening: applies every migration above `oldVersion`. */
export function upgradeSchema(db: IDBPDatabase<NexusDB>, tx: UpgradeTransaction, oldVersion: number): void {
  for (let version = oldVersion; version < MIGRATIONS.length; version++) MIGRATIONS[version]!(db, tx);
}

/** The stores this code needs that the database lacks (a database of another app with the same name). */
export function missingStores(db: IDBPDatabase<NexusDB>): string[] {
  return ALL_STORES.filter((store) => !db.objectStoreNames.contains(store));
}

import { items, tempDir } from './fixtures.js';
import type { Item } from './fixtures.js';
import { measure } from './measure.js';
import type { Row } from './measure.js';
import type { BenchSizes } from './sizes.js';

/**
 * Peers measured in the same run: PouchDB on leveldb, RxDB on its memory storage, Dexie and raw idb
 * on fake-indexeddb. A peer that cannot load here is skipped with the reason printed.
 */
export interface PeerResult {
  single: Row;
  bulk: Row;
}

type Peer = {
  name: string;
  single(sizes: BenchSizes): Promise<number>;
  bulk(sizes: BenchSizes): Promise<number>;
};

const SINGLE = 'awaited single save (synchronous=NORMAL)';

const pouch: Peer = {
  name: 'PouchDB (leveldb adapter) put / bulkDocs',
  async single(sizes) {
    const PouchDB = (await import('pouchdb')).default;
    const data = items(sizes.single);
    const rate = await measure(sizes.single, sizes.repeats, () => ({ folder: tempDir() }), async ({ folder }) => {
      const db = new PouchDB(folder.file('pouch'));
      for (const it of data) await db.put({ _id: it.id, ...it });
      await db.close();
    }, ({ folder }) => folder.remove());
    return rate.opsPerSec;
  },
  async bulk(sizes) {
    const PouchDB = (await import('pouchdb')).default;
    const data = items(sizes.bulk).map((it) => ({ _id: it.id, ...it }));
    const rate = await measure(sizes.bulk, sizes.repeats, () => ({ folder: tempDir() }), async ({ folder }) => {
      const db = new PouchDB(folder.file('pouch'));
      await db.bulkDocs(data);
      await db.close();
    }, ({ folder }) => folder.remove());
    return rate.opsPerSec;
  },
};

const rxSchema = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 100 },
    name: { type: 'string' },
    city: { type: 'string', maxLength: 100 },
    score: { type: 'number' },
    active: { type: 'boolean' },
  },
  required: ['id', 'name', 'city', 'score', 'active'],
  indexes: ['city'],
} as const;

let rxCounter = 0;
async function openRx() {
  const { createRxDatabase } = await import('rxdb');
  const { getRxStorageMemory } = await import('rxdb/plugins/storage-memory');
  const db = await createRxDatabase({ name: `bench${rxCounter++}`, storage: getRxStorageMemory() });
  const { items: collection } = await db.addCollections({ items: { schema: rxSchema } });
  return { db, collection };
}

const rxdb: Peer = {
  name: 'RxDB (memory storage) insert / bulkInsert',
  async single(sizes) {
    const data = items(sizes.single);
    const rate = await measure(sizes.single, sizes.repeats, openRx, async ({ collection }) => {
      for (const it of data) await collection.insert(it);
    }, ({ db }) => db.remove().then(() => undefined));
    return rate.opsPerSec;
  },
  async bulk(sizes) {
    const data = items(sizes.bulk);
    const rate = await measure(sizes.bulk, sizes.repeats, openRx, async ({ collection }) => {
      await collection.bulkInsert(data);
    }, ({ db }) => db.remove().then(() => undefined));
    return rate.opsPerSec;
  },
};

async function fakeIdb() {
  return import('fake-indexeddb');
}

/** Opens a fresh Dexie database with the items table on its own fake-indexeddb factory. */
async function dexieOpener() {
  const Dexie = (await import('dexie')).default;
  const { IDBFactory, IDBKeyRange } = await fakeIdb();
  return () => {
    const db = new Dexie('bench', { indexedDB: new IDBFactory(), IDBKeyRange });
    db.version(1).stores({ items: 'id, city' });
    return db;
  };
}

const dexie: Peer = {
  name: 'Dexie (fake-indexeddb) put / bulkPut',
  async single(sizes) {
    const open = await dexieOpener();
    const data = items(sizes.single);
    const rate = await measure(sizes.single, sizes.repeats, open, async (db) => {
      for (const it of data) await db.table<Item, string>('items').put(it);
    }, (db) => db.close());
    return rate.opsPerSec;
  },
  async bulk(sizes) {
    const open = await dexieOpener();
    const data = items(sizes.bulk);
    const rate = await measure(sizes.bulk, sizes.repeats, open, async (db) => {
      await db.table<Item, string>('items').bulkPut(data);
    }, (db) => db.close());
    return rate.opsPerSec;
  },
};

async function openIdb() {
  const { IDBFactory } = await fakeIdb();
  // idb checks `instanceof IDBRequest` and friends on globals: install fake-indexeddb's.
  await import('fake-indexeddb/auto');
  const { openDB } = await import('idb');
  const factory = new IDBFactory();
  const original = globalThis.indexedDB;
  globalThis.indexedDB = factory;
  try {
    return await openDB('bench', 1, {
      upgrade(db) {
        db.createObjectStore('items', { keyPath: 'id' }).createIndex('city', 'city');
      },
    });
  } finally {
    globalThis.indexedDB = original;
  }
}

const idb: Peer = {
  name: 'raw idb (fake-indexeddb) put / one-transaction puts',
  async single(sizes) {
    const data = items(sizes.single);
    const rate = await measure(sizes.single, sizes.repeats, openIdb, async (db) => {
      for (const it of data) await db.put('items', it);
    }, (db) => db.close());
    return rate.opsPerSec;
  },
  async bulk(sizes) {
    const data = items(sizes.bulk);
    const rate = await measure(sizes.bulk, sizes.repeats, openIdb, async (db) => {
      const tx = db.transaction('items', 'readwrite');
      for (const it of data) void tx.store.put(it);
      await tx.done;
    }, (db) => db.close());
    return rate.opsPerSec;
  },
};

export const PEERS: readonly Peer[] = [pouch, rxdb, dexie, idb];

/** Rows for each peer in the single-save and bulk scenarios (same scenario names as the SQLite rows). */
export async function peerRows(sizes: BenchSizes, log: (line: string) => void, bulkScenario: string, peers: readonly Peer[] = PEERS): Promise<Row[]> {
  const rows: Row[] = [];
  for (const peer of peers) {
    log(peer.name);
    for (const [scenario, run] of [
      [SINGLE, () => peer.single(sizes)],
      [bulkScenario, () => peer.bulk(sizes)],
    ] as const) {
      try {
        rows.push({ scenario, subject: peer.name, opsPerSec: await run() });
      } catch (error) {
        const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
        log(`  skipped ${peer.name}: ${reason}`);
        rows.push({ scenario, subject: peer.name, opsPerSec: null, note: `skipped: ${reason}` });
      }
    }
  }
  return rows;
}

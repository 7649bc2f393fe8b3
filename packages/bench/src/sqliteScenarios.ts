import { createNexus } from '@nexus-store/core';
import type { LocalStorage, Nexus, Store, WriteTransaction } from '@nexus-store/core';
import { createMemoryRemote } from '@nexus-store/core/testing';
import { sqliteStorage } from '@nexus-store/sqlite';
import { CITIES, ItemSchema, items, tempDir } from './fixtures.js';
import type { Item } from './fixtures.js';
import { compare, measure } from './measure.js';
import type { Row, Subject } from './measure.js';
import { openRaw } from './rawSqlite.js';
import type { RawStore } from './rawSqlite.js';
import type { BenchSizes } from './sizes.js';

interface NexusContext {
  nexus: Nexus;
  store: Store<Item, string>;
  remove: () => void;
}

/**
 * The save scenarios open the store without declared indexes: each save then does what raw's does (a
 * document row and a queue row). An index is one more B-tree page per commit; the rows marked
 * "with indexes" show what it costs.
 */
async function openNexus(durability: 'normal' | 'full', { withRemote = false, indexed = false } = {}): Promise<NexusContext> {
  const folder = tempDir();
  const nexus = await createNexus({
    storage: sqliteStorage({ filename: folder.file('nexus.db'), durability }),
    ...(withRemote ? { remote: createMemoryRemote() } : {}),
  });
  const store = nexus.store<Item, string>('items', { schema: ItemSchema, key: 'id', indexes: indexed ? ['city'] : [] });
  return { nexus, store, remove: folder.remove };
}

async function closeNexus(context: NexusContext): Promise<void> {
  await context.nexus.close();
  context.remove();
}

type FreshRaw = RawStore & { remove: () => void };

function openRawFresh(synchronous: 'NORMAL' | 'FULL' = 'NORMAL', walAutocheckpoint?: number): FreshRaw {
  const folder = tempDir();
  return Object.assign(openRaw(folder.file('raw.db'), synchronous, walAutocheckpoint), { remove: folder.remove });
}

function closeRaw(raw: FreshRaw): void {
  raw.close();
  raw.remove();
}

const rawSubject = (run: (db: FreshRaw) => void, synchronous: 'NORMAL' | 'FULL' = 'NORMAL', walAutocheckpoint?: number): Subject<FreshRaw> => ({
  setup: () => openRawFresh(synchronous, walAutocheckpoint),
  run,
  teardown: closeRaw,
});

const nexusSubject = (run: (context: NexusContext) => Promise<void>, durability: 'normal' | 'full' = 'normal', indexed = false): Subject<NexusContext> => ({
  setup: () => openNexus(durability, { indexed }),
  run,
  teardown: closeNexus,
});

const fmt = (n: number) => n.toLocaleString('en-US');

interface StorageContext {
  storage: LocalStorage;
  remove: () => void;
}

/**
 * The storage calls a save of new records makes, by hand: read the documents (none found, so no
 * outbox read), add the entries without awaiting each, put the documents (the same data object as
 * their entries, as the core passes it). The core persists its clock at most once a second, so no
 * metadata write.
 */
async function writeLikeSave(tx: WriteTransaction, list: readonly Item[]): Promise<void> {
  await tx.getDocs('items', list.map((it) => it.id));
  const hlc = '0000000000001:0000:abcdefgh12345678';
  await Promise.all(
    list.map((it) =>
      tx.addOutbox({ mutationId: `abcdefgh12345678.${it.id}`, collection: 'items', key: it.id, op: 'upsert', data: it, changedFields: null, baseVersion: 0, hlc, fieldClocks: null, priority: 'normal', txId: null, status: 'pending', attempts: 0, lastError: null, conflict: null, createdAt: 0 }),
    ),
  );
  await tx.putDocs(list.map((it) => ({ collection: 'items', key: it.id, data: it, deleted: false, hlc, fieldClocks: null, syncState: 'pending' as const, server: null })));
}

const storageSubject = (run: (context: StorageContext) => Promise<void>): Subject<StorageContext> => ({
  setup: async () => {
    const folder = tempDir();
    const storage = sqliteStorage({ filename: folder.file('storage.db'), durability: 'normal' });
    await storage.open();
    return { storage, remove: folder.remove };
  },
  run,
  teardown: async ({ storage, remove }) => {
    await storage.close();
    remove();
  },
});

const STORAGE_SUBJECT = "sqliteStorage write() only (the storage calls of a save, no core)";

/** nexus-store on SQLite through the public API (createNexus + store), against raw better-sqlite3. */
export async function sqliteRows(sizes: BenchSizes, log: (line: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  const r = sizes.repeats;
  // The group-commit and saveAll runs take tens of milliseconds each: three times the repeats.
  const short = r * 3;

  // 1. Awaited single save: one transaction each.
  {
    const data = items(sizes.single);
    log(`awaited single save x ${sizes.single}`);
    const saveEach = async ({ store }: NexusContext) => {
      for (const it of data) await store.save(it);
    };
    const {
      rates: [raw, rawTuned, storage, nexus, indexed],
      ratios,
    } = await compare(sizes.single, r, [
      rawSubject((db) => data.forEach((it) => db.saveOne(it))),
      rawSubject((db) => data.forEach((it) => db.saveOne(it)), 'NORMAL', 10_000),
      storageSubject(async ({ storage }) => {
        for (const it of data) await storage.write((tx) => writeLikeSave(tx, [it]));
      }),
      nexusSubject(saveEach),
      nexusSubject(saveEach, 'normal', true),
    ]);
    const scenario = 'awaited single save (synchronous=NORMAL)';
    rows.push({ scenario, subject: 'raw better-sqlite3, 1 transaction per save', opsPerSec: raw!, baseline: raw! });
    rows.push({ scenario, subject: 'raw better-sqlite3 + wal_autocheckpoint=10000 (as the adapter)', opsPerSec: rawTuned!, baseline: raw!, ratio: ratios[1], note: 'for reference' });
    rows.push({ scenario, subject: STORAGE_SUBJECT, opsPerSec: storage!, baseline: raw!, ratio: ratios[2], note: 'adapter alone' });
    rows.push({ scenario, subject: "nexus-store store.save() (sqlite, durability 'normal')", opsPerSec: nexus!, baseline: raw!, ratio: ratios[3], target: 0.7 });
    rows.push({ scenario, subject: "nexus-store store.save(), with indexes: ['city']", opsPerSec: indexed!, baseline: raw!, ratio: ratios[4], note: 'one more B-tree per save than raw' });
  }
  {
    const n = Math.max(10, Math.floor(sizes.single / 10));
    const data = items(n);
    log(`awaited single save x ${n}, synchronous=FULL`);
    const {
      rates: [raw, nexus],
      ratios,
    } = await compare(n, r, [
      rawSubject((db) => data.forEach((it) => db.saveOne(it)), 'FULL'),
      nexusSubject(async ({ store }) => {
        for (const it of data) await store.save(it);
      }, 'full'),
    ]);
    const scenario = 'awaited single save (synchronous=FULL)';
    rows.push({ scenario, subject: 'raw better-sqlite3, 1 transaction per save', opsPerSec: raw!, baseline: raw! });
    rows.push({ scenario, subject: "nexus-store store.save() (sqlite, durability 'full', the default)", opsPerSec: nexus!, baseline: raw!, ratio: ratios[1] });
  }

  // 2. Unawaited saves issued in one tick (group commit) vs one raw transaction.
  {
    const data = items(sizes.burst);
    log(`${sizes.burst} unawaited saves`);
    const saveUnawaited = async ({ store }: NexusContext) => {
      await Promise.all(data.map((it) => store.save(it)));
    };
    const {
      rates: [raw, storage, nexus, indexed],
      ratios,
    } = await compare(sizes.burst, short, [
      rawSubject((db) => db.saveMany(data)),
      storageSubject(async ({ storage }) => {
        await Promise.all(data.map((it) => storage.write((tx) => writeLikeSave(tx, [it]))));
      }),
      nexusSubject(saveUnawaited),
      nexusSubject(saveUnawaited, 'normal', true),
    ]);
    const scenario = `${fmt(sizes.burst)} unawaited save() (group commit)`;
    rows.push({ scenario, subject: 'raw better-sqlite3, all in 1 transaction', opsPerSec: raw!, baseline: raw! });
    rows.push({ scenario, subject: STORAGE_SUBJECT, opsPerSec: storage!, baseline: raw!, ratio: ratios[1], note: 'adapter alone' });
    rows.push({ scenario, subject: "nexus-store store.save() x N (durability 'normal')", opsPerSec: nexus!, baseline: raw!, ratio: ratios[2], target: 0.6 });
    rows.push({ scenario, subject: "nexus-store store.save() x N, with indexes: ['city']", opsPerSec: indexed!, baseline: raw!, ratio: ratios[3], note: 'one more B-tree per save than raw' });
  }

  // 3. saveAll of many records vs one raw transaction.
  {
    const data = items(sizes.bulk);
    log(`saveAll of ${sizes.bulk}`);
    const saveAll = async ({ store }: NexusContext) => {
      await store.saveAll(data);
    };
    const {
      rates: [raw, storage, nexus, indexed],
      ratios,
    } = await compare(sizes.bulk, short, [
      rawSubject((db) => db.saveMany(data)),
      storageSubject(async ({ storage }) => {
        await storage.write((tx) => writeLikeSave(tx, data));
      }),
      nexusSubject(saveAll),
      nexusSubject(saveAll, 'normal', true),
    ]);
    const scenario = `saveAll of ${fmt(sizes.bulk)} records`;
    rows.push({ scenario, subject: 'raw better-sqlite3, all in 1 transaction', opsPerSec: raw!, baseline: raw! });
    rows.push({ scenario, subject: STORAGE_SUBJECT, opsPerSec: storage!, baseline: raw!, ratio: ratios[1], note: 'adapter alone' });
    rows.push({ scenario, subject: "nexus-store store.saveAll() (durability 'normal')", opsPerSec: nexus!, baseline: raw!, ratio: ratios[2], target: 0.6 });
    rows.push({ scenario, subject: "nexus-store store.saveAll(), with indexes: ['city']", opsPerSec: indexed!, baseline: raw!, ratio: ratios[3], note: 'one more B-tree per record than raw' });
  }

  // 4. getAll with an indexed equality filter over the dataset (ops = queries, each returning dataset / CITIES rows).
  {
    log(`query dataset of ${sizes.dataset} records`);
    const data = items(sizes.dataset);
    const raw = openRawFresh();
    raw.saveMany(data);
    raw.createCityIndex();
    const nexus = await openNexus('normal', { indexed: true });
    for (let i = 0; i < data.length; i += 10_000) await nexus.store.saveAll(data.slice(i, i + 10_000));
    const cities = Array.from({ length: sizes.queries }, (_, i) => `city-${(i * 37) % CITIES}`);
    const expected = raw.byCity(cities[0]!);
    const got = await nexus.store.getAll({ where: { city: cities[0]! } });
    if (JSON.stringify(got.map((x) => x.id).sort()) !== JSON.stringify(expected.map((x) => x.id).sort())) {
      throw new Error(`query benchmark: nexus returned ${got.length} rows, raw ${expected.length}`);
    }
    log(`${sizes.queries} indexed queries`);
    const {
      rates: [rawRate, nexusRate],
      ratios,
    } = await compare(sizes.queries, r, [
      { setup: () => raw, run: (db: FreshRaw) => cities.forEach((c) => db.byCity(c)) },
      {
        setup: () => nexus,
        run: async ({ store }: NexusContext) => {
          for (const city of cities) await store.getAll({ where: { city } });
        },
      },
    ]);
    closeRaw(raw);
    await closeNexus(nexus);
    const scenario = `getAll where indexed field = value over ${fmt(sizes.dataset)} records (${expected.length} rows each)`;
    rows.push({ scenario, subject: 'raw better-sqlite3, json_extract expression index', opsPerSec: rawRate!, baseline: rawRate! });
    rows.push({ scenario, subject: "nexus-store store.getAll({ where }) with indexes: ['city']", opsPerSec: nexusRate!, baseline: rawRate!, ratio: ratios[1], target: 0.5 });
  }

  // 5. Sync: push every pending record to an in-process remote (ops = records).
  {
    log(`sync of ${sizes.sync}`);
    const data = items(sizes.sync);
    const rate = await measure(
      sizes.sync,
      r,
      async () => {
        const context = await openNexus('normal', { withRemote: true });
        await context.store.saveAll(data);
        return context;
      },
      async ({ nexus }) => {
        await nexus.sync();
      },
      closeNexus,
    );
    rows.push({ scenario: `sync of ${fmt(sizes.sync)} records to createMemoryRemote`, subject: "nexus-store nexus.sync() (sqlite, durability 'normal')", opsPerSec: rate.opsPerSec });
  }
  return rows;
}

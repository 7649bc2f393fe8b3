import Database from 'better-sqlite3';
import type { Item } from './fixtures.js';

/**
 * The same work done by hand on raw better-sqlite3: a document row and a queue row per save, WAL,
 * prepared statements, one transaction per save (or per batch). This is the baseline of the ratios.
 */
export interface RawStore {
  db: Database.Database;
  /** One transaction: the document and its queue row. */
  saveOne(item: Item): void;
  /** One transaction for all of them. */
  saveMany(items: readonly Item[]): void;
  createCityIndex(): void;
  byCity(city: string): Item[];
  close(): void;
}

export function openRaw(filename: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL', walAutocheckpoint?: number): RawStore {
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  if (walAutocheckpoint !== undefined) db.pragma(`wal_autocheckpoint = ${walAutocheckpoint}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, payload TEXT NOT NULL);
  `);
  const putDoc = db.prepare('INSERT INTO docs (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data');
  const enqueue = db.prepare('INSERT INTO queue (doc_id, payload) VALUES (?, ?)');
  const save = (item: Item) => {
    const json = JSON.stringify(item);
    putDoc.run(item.id, json);
    enqueue.run(item.id, json);
  };
  const saveOne = db.transaction(save);
  const saveMany = db.transaction((list: readonly Item[]) => {
    for (const it of list) save(it);
  });
  let byCity: Database.Statement<[string], { data: string }> | undefined;
  return {
    db,
    saveOne,
    saveMany,
    createCityIndex() {
      db.exec(`CREATE INDEX IF NOT EXISTS docs_city ON docs (json_extract(data, '$.city'))`);
      byCity = db.prepare(`SELECT data FROM docs WHERE json_extract(data, '$.city') = ? ORDER BY id`);
    },
    byCity(city) {
      return byCity!.all(city).map((row) => JSON.parse(row.data) as Item);
    },
    close() {
      db.close();
    },
  };
}

export function sqliteVersion(): string {
  const db = new Database(':memory:');
  const { v } = db.prepare('SELECT sqlite_version() AS v').get() as { v: string };
  db.close();
  return v;
}

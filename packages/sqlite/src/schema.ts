import type Database from 'better-sqlite3';
import { ROWID_OF_SEQ } from './outboxRowid.js';

/** `PRAGMA application_id` of every nexus-store database: "NXS1". */
export const APPLICATION_ID = 0x4e585331;

/**
 * Schema migrations of the adapter's own tables, by version (`PRAGMA user_version`). Migration `i`
 * takes a database from version `i` to `i + 1`. Never edit a released migration: append a new one.
 */
const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  (db) => {
    db.exec(`
      CREATE TABLE nx_docs (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT,
        deleted INTEGER NOT NULL,
        hlc TEXT NOT NULL,
        field_clocks TEXT,
        sync_state TEXT NOT NULL,
        server TEXT,
        PRIMARY KEY (collection, key)
      ) WITHOUT ROWID;
      -- The rowid is priority rank * 2^44 + seq, so the table itself is in push order (priority,
      -- then seq) and a save writes no ordering index. updateOutbox and deleteOutbox find a seq
      -- under each of the four ranks.
      CREATE TABLE nx_outbox (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        priority INTEGER NOT NULL,
        status TEXT NOT NULL,
        tx_id TEXT,
        mutation_id TEXT NOT NULL,
        op TEXT NOT NULL,
        data TEXT,
        changed_fields TEXT,
        base_version INTEGER NOT NULL,
        hlc TEXT NOT NULL,
        field_clocks TEXT,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        conflict TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX nx_outbox_by_doc ON nx_outbox (collection, key);
      CREATE INDEX nx_outbox_by_tx ON nx_outbox (tx_id) WHERE tx_id IS NOT NULL;
      CREATE TABLE nx_meta (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
      -- The highest outbox seq ever deleted, so that a new seq is greater than every seq handed out
      -- before (what AUTOINCREMENT guarantees, without its extra page write on every insert).
      CREATE TABLE nx_outbox_seq (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        deleted_max INTEGER NOT NULL
      );
      INSERT INTO nx_outbox_seq (id, deleted_max) VALUES (1, 0);
    `);
  },
  // 2: the server state column may leave out `data`, meaning "the document's own data". No table
  // changes; the version tells older libraries (which would misread it) to refuse the file.
  () => undefined,
  // 3: no index of the outbox by document. A document row lists the seqs of the entries added for it
  // (`outbox`, a JSON array that may still hold seqs of entries since deleted), and entries added while
  // their document did not exist are flagged `docless` and indexed by document: a save then writes one
  // B-tree page fewer per commit (measured ~20% more awaited saves per second).
  (db) => {
    db.exec(`
      ALTER TABLE nx_docs ADD COLUMN outbox TEXT;
      ALTER TABLE nx_outbox ADD COLUMN docless INTEGER NOT NULL DEFAULT 0;
      UPDATE nx_docs SET outbox = (
        SELECT json_group_array(seq) FROM (SELECT seq FROM nx_outbox o WHERE o.collection = nx_docs.collection AND o.key = nx_docs.key ORDER BY seq)
      ) WHERE EXISTS (SELECT 1 FROM nx_outbox o WHERE o.collection = nx_docs.collection AND o.key = nx_docs.key);
      UPDATE nx_outbox SET docless = 1 WHERE NOT EXISTS (SELECT 1 FROM nx_docs d WHERE d.collection = nx_outbox.collection AND d.key = nx_outbox.key);
      DROP INDEX nx_outbox_by_doc;
      CREATE INDEX nx_outbox_docless ON nx_outbox (collection, key) WHERE docless = 1;
    `);
  },
  // 4: the first entry of a fresh write shares its document's data and clock instead of storing a
  // second copy: NULL data (`op = 'upsert' AND data IS NULL`) and an empty hlc. A bulk write then
  // writes ~40% fewer bytes. Before a document's data or clock changes or its row goes, these
  // triggers copy the old values into the entries that share them. Older libraries would read such
  // an entry as having no data, so the version bump makes them refuse the file.
  (db) => {
    const copyShared = `UPDATE nx_outbox SET
        data = CASE WHEN op = 'upsert' AND data IS NULL THEN old.data ELSE data END,
        hlc = CASE WHEN hlc = '' THEN old.hlc ELSE hlc END
      WHERE ((op = 'upsert' AND data IS NULL) OR hlc = '') AND id IN (
        SELECT o.id FROM json_each(old.outbox) j, nx_outbox o WHERE ${ROWID_OF_SEQ('o.id', 'j.value')})`;
    db.exec(`
      CREATE TRIGGER nx_docs_shared_changes BEFORE UPDATE OF data, hlc ON nx_docs
        WHEN old.outbox IS NOT NULL AND (new.data IS NOT old.data OR new.hlc IS NOT old.hlc)
        BEGIN ${copyShared}; END;
      CREATE TRIGGER nx_docs_row_goes BEFORE DELETE ON nx_docs
        WHEN old.outbox IS NOT NULL
        BEGIN ${copyShared}; END;
    `);
  },
  // 5: the server state column also leaves out `hlc` and `fieldClocks` when they are the document's,
  // and `deleted` when false (a synced record's column is `{"version":N}`). No table changes; the
  // version tells older libraries (which would misread it) to refuse the file.
  () => undefined,
];

/** The schema version this library writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface FileInfo {
  applicationId: number;
  userVersion: number;
  /** Number of tables, indexes and views in the file. */
  objects: number;
}

export function readFileInfo(db: Database.Database): FileInfo {
  return {
    applicationId: db.pragma('application_id', { simple: true }) as number,
    userVersion: db.pragma('user_version', { simple: true }) as number,
    objects: (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n,
  };
}

/** Brings an empty or older nexus-store database to SCHEMA_VERSION, in one transaction. */
export function migrate(db: Database.Database): void {
  if ((db.pragma('user_version', { simple: true }) as number) === SCHEMA_VERSION) return;
  const run = db.transaction(() => {
    const from = db.pragma('user_version', { simple: true }) as number;
    for (let version = from; version < SCHEMA_VERSION; version++) MIGRATIONS[version]!(db);
    if (from !== SCHEMA_VERSION) {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
  });
  run.immediate();
}

import { existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { PRIORITY_RANK, SYNC_PRIORITIES, StorageError, applyQuery, recordJson } from '@nexus-store/core';
import type {
  LocalStorage,
  NewOutboxEntry,
  OutboxAck,
  OutboxEntry,
  OutboxFilter,
  OutboxStatus,
  ReadTransaction,
  RecordData,
  ServerState,
  StorageQuery,
  StoredDoc,
  SyncPriority,
  WriteTransaction,
} from '@nexus-store/core';
import { APPLICATION_ID, SCHEMA_VERSION, migrate, readFileInfo } from './schema.js';
import { canQueryInSql, fieldExpr, fromSql, isSqlField, pickIndexedField, selectSql, whereSql } from './querySql.js';
import type { SqlFragment, SqlValue } from './querySql.js';
import { toStorageError } from './sqliteErrors.js';
import { ROWID_OF_SEQ, SEQ_SLOT, consecutiveRange, rowidOf, rowidsOf } from './outboxRowid.js';

export type SqliteDurability = 'normal' | 'full';

export interface SqliteStorageOptions {
  /** Path of the database file; created (with its tables) when missing. `':memory:'` for a throwaway database. */
  filename: string;
  /**
   * How hard a commit works to survive failures. The database always runs in WAL mode.
   * - `'full'` (`PRAGMA synchronous=FULL`): every commit is fsynced before `write()` resolves, so a
   *   resolved write survives a power loss or OS crash. Costs one fsync per commit; group commit
   *   shares it between the `write()` calls issued in the same tick.
   * - `'normal'` (`PRAGMA synchronous=NORMAL`): a resolved write survives a crash or kill of the app
   *   (the data is in the OS), but the last commits before a power loss or OS crash may be lost
   *   (the file never corrupts). Several times faster for small awaited writes.
   * @default 'full'
   */
  durability?: SqliteDurability;
  /**
   * How long to wait for a lock held by another connection or process before failing, in ms.
   * @default 5000
   */
  busyTimeout?: number;
  /**
   * The most `write()` calls committed together in one physical transaction (group commit).
   * @default 1000
   */
  maxGroupSize?: number;
}

interface Job {
  kind: 'read' | 'write';
  fn: (tx: SqliteTransaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface DocRow {
  collection: string;
  key: string;
  data: string | null;
  deleted: number;
  hlc: string;
  field_clocks: string | null;
  sync_state: string;
  server: string | null;
}

/** An outbox row as an array (cheaper than an object per row), in OUTBOX_COLUMNS order. */
type OutboxRow = [
  seq: number,
  collection: string,
  key: string,
  priority: number,
  status: OutboxStatus,
  txId: string | null,
  mutationId: string,
  op: OutboxEntry['op'],
  data: string | null,
  changedFields: string | null,
  baseVersion: number,
  hlc: string,
  fieldClocks: string | null,
  attempts: number,
  lastError: string | null,
  conflict: string | null,
  createdAt: number,
];


/**
 * SQL: the data of outbox entry `o`. An upsert entry with NULL data shares its document's data
 * (schema 4; `d`, when given, is that document's row, already joined).
 */
const entryData = (o: string, d?: string) =>
  d
    ? `coalesce(${o}.data, CASE WHEN ${o}.op = 'upsert' THEN ${d}.data END)`
    : `CASE WHEN ${o}.data IS NULL AND ${o}.op = 'upsert' THEN (SELECT dd.data FROM nx_docs dd WHERE dd.collection = ${o}.collection AND dd.key = ${o}.key) ELSE ${o}.data END`;

/** SQL: the hlc of outbox entry `o`. An empty one is its document's (schema 4). */
const entryHlc = (o: string, d?: string) =>
  d
    ? `CASE WHEN ${o}.hlc = '' THEN ${d}.hlc ELSE ${o}.hlc END`
    : `CASE WHEN ${o}.hlc = '' THEN (SELECT dd.hlc FROM nx_docs dd WHERE dd.collection = ${o}.collection AND dd.key = ${o}.key) ELSE ${o}.hlc END`;

/** SQL: the OUTBOX_COLUMNS of entry `o`, as OutboxRow. */
const outboxSelect = (o: string, d?: string) =>
  OUTBOX_COLUMNS.split(', ')
    .map((c) => (c === 'data' ? entryData(o, d) : c === 'hlc' ? entryHlc(o, d) : `${o}.${c}`))
    .join(', ');

/**
 * SQL: the outbox entries of the documents `d` of collection @collection that the `keys` condition selects.
 * Schema 3 has no index of the outbox by document: a document row lists the seqs of the entries
 * added for it (`nx_docs.outbox`, pruned of deleted ones whenever the document is rewritten), and
 * entries added while their document did not exist (or whose document was removed) are `docless`,
 * indexed by document.
 */
const outboxOfDocsSql = (keys: (column: string) => string) => `
  SELECT ${outboxSelect('o', 'd')} FROM nx_docs d, json_each(d.outbox) j, nx_outbox o
    WHERE d.collection = @collection AND ${keys('d.key')} AND ${ROWID_OF_SEQ('o.id', 'j.value')}
  UNION ALL
  SELECT ${outboxSelect('o')} FROM nx_outbox o WHERE o.docless = 1 AND o.collection = @collection AND ${keys('o.key')}
  ORDER BY seq`;

const OUTBOX_COLUMNS =
  'seq, collection, key, priority, status, tx_id, mutation_id, op, data, changed_fields, base_version, hlc, field_clocks, attempts, last_error, conflict, created_at';

const DOC_COLUMNS = 'collection, key, data, deleted, hlc, field_clocks, sync_state, server';

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Columns of a live-document query (collection and deleted are known from the query). */
const LIVE_DOC_COLUMNS = 'key, data, hlc, field_clocks, sync_state, server';

type LiveDocArray = [key: string, data: string | null, hlc: string, fieldClocks: string | null, syncState: StoredDoc['syncState'], server: string | null];

function rowToDoc(row: DocRow): StoredDoc {
  const data = parseJson<RecordData>(row.data);
  const fieldClocks = parseJson<Record<string, string>>(row.field_clocks);
  return {
    collection: row.collection,
    key: row.key,
    data,
    deleted: row.deleted !== 0,
    hlc: row.hlc,
    fieldClocks,
    syncState: row.sync_state as StoredDoc['syncState'],
    server: decodeServer(row.server, data, row.hlc, fieldClocks),
  };
}

/**
 * The server state column (schema 5). What the server state shares with its document is left out and
 * read back from the document's columns: `data` when it is the document's own data (a synced record:
 * most of them), `hlc` and `fieldClocks` when they are the document's, and `deleted` when false. A
 * synced record's column is then `{"version":N}`: each record's JSON is stored, encoded and decoded
 * once instead of twice, and acknowledging a push grows each document row by ~14 bytes instead of
 * ~100 (fewer page splits: ~1.5 ms less per 1,000 acknowledged). Every write of a document's data,
 * clock or field clocks rewrites this column too, so what it leaves out is always the current row's.
 */
function encodeServer(doc: StoredDoc): string | null {
  const server = doc.server;
  if (server === null) return null;
  const sameData = server.data !== null && server.data === doc.data && !doc.deleted;
  return serverColumn(
    server.version,
    server.deleted,
    sameData ? undefined : server.data === null ? 'null' : recordJson(server.data),
    server.hlc === doc.hlc ? undefined : JSON.stringify(server.hlc),
    server.fieldClocks === doc.fieldClocks ? undefined : JSON.stringify(server.fieldClocks),
  );
}

/**
 * The text of a server state column: `data`, `hlc` and `fieldClocks` as JSON text, each left out
 * (undefined) where it is the document's; `deleted` only when true. `decodeServer` reads it back.
 */
function serverColumn(version: number, deleted: boolean, data: string | undefined, hlc: string | undefined, fieldClocks: string | undefined): string {
  let json = `{"version":${version}`;
  if (deleted) json += ',"deleted":true';
  if (data !== undefined) json += `,"data":${data}`;
  if (hlc !== undefined) json += `,"hlc":${hlc}`;
  if (fieldClocks !== undefined) json += `,"fieldClocks":${fieldClocks}`;
  return `${json}}`;
}

/** A candidate of `ackOutbox`: the entry, its document's server version, and whether it shares its document's state. */
type AckRow = [
  /** The ack's index in the list passed. */
  index: number,
  id: number,
  seq: number,
  collection: string,
  key: string,
  /** The document's server version; null when it has none. */
  serverVersion: number | null,
  /** 1 when the entry shares its document's data, hlc and field clocks (SHARES_DOC): its server state is the document's. */
  shared: number,
];

/** What the server state of an acknowledged entry that does not share its document's state needs. */
type AckDetailRow = [
  id: number,
  op: OutboxEntry['op'],
  hlc: string,
  fieldClocks: string | null,
  /** The entry's data; null when it is the document's (`same`). */
  data: string | null,
  same: number,
  /** 1 when the entry's hlc is the document's. */
  sameHlc: number,
  /** 1 when the entry's field clocks are the document's. */
  sameClocks: number,
];

/** The server state column of an acknowledged entry, as `encodeServer` writes it. */
function ackedServer(op: OutboxEntry['op'], version: number, same: boolean, data: string | null, hlc: string, fieldClocks: string | null, sameHlc: boolean, sameClocks: boolean): string {
  const deleted = op === 'delete';
  return serverColumn(version, deleted, deleted ? 'null' : same ? undefined : (data ?? 'null'), sameHlc ? undefined : JSON.stringify(hlc), sameClocks ? undefined : (fieldClocks ?? 'null'));
}

/** A server state column read back whole, with what it left out taken from its document. */
function decodeServer(text: string | null, data: RecordData | null, hlc: string, fieldClocks: Record<string, string> | null): ServerState | null {
  if (text === null) return null;
  const server = JSON.parse(text) as Partial<ServerState> & { version: number };
  return {
    version: server.version,
    deleted: server.deleted ?? false,
    data: server.data === undefined ? data : server.data,
    hlc: server.hlc ?? hlc,
    fieldClocks: server.fieldClocks === undefined ? fieldClocks : server.fieldClocks,
  };
}

function rowToEntry(row: OutboxRow): OutboxEntry {
  return {
    seq: row[0],
    mutationId: row[6],
    collection: row[1],
    key: row[2],
    op: row[7],
    data: parseJson(row[8]),
    changedFields: parseJson(row[9]),
    baseVersion: row[10],
    hlc: row[11],
    fieldClocks: parseJson(row[12]),
    priority: SYNC_PRIORITIES[row[3]]!,
    txId: row[5],
    status: row[4],
    attempts: row[13],
    lastError: parseJson(row[14]),
    conflict: parseJson(row[15]),
    createdAt: row[16],
  };
}

/** The column values of an entry after `seq`, in OUTBOX_COLUMNS order. */
function entryValues(entry: NewOutboxEntry): SqlValue[] {
  return [
    entry.collection,
    entry.key,
    PRIORITY_RANK[entry.priority],
    entry.status,
    entry.txId ?? null,
    entry.mutationId,
    entry.op,
    entry.data === null ? null : recordJson(entry.data),
    jsonOrNull(entry.changedFields),
    entry.baseVersion,
    entry.hlc,
    jsonOrNull(entry.fieldClocks),
    entry.attempts,
    jsonOrNull(entry.lastError),
    jsonOrNull(entry.conflict),
    entry.createdAt,
  ];
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

const rowsOf = (columns: number, rows: number) => Array.from({ length: rows }, () => `(${Array.from({ length: columns }, () => '?').join(', ')})`).join(', ');

/** Inserts or replaces `rows` documents in one statement. */
const PUT_DOC_SQL = (rows: number) =>
  `INSERT INTO nx_docs (${DOC_COLUMNS}, outbox) VALUES ${rowsOf(DOC_COLUMNS.split(',').length + 1, rows)}
   ON CONFLICT (collection, key) DO UPDATE SET data = excluded.data, deleted = excluded.deleted, hlc = excluded.hlc,
     field_clocks = excluded.field_clocks, sync_state = excluded.sync_state, server = excluded.server,
     outbox = CASE WHEN nx_docs.outbox IS NULL THEN excluded.outbox ELSE (
       SELECT nullif(json_group_array(seq), '[]') FROM (
         SELECT j.value AS seq FROM json_each(nx_docs.outbox) j WHERE EXISTS (SELECT 1 FROM nx_outbox o WHERE ${ROWID_OF_SEQ('o.id', 'j.value')})
         UNION ALL SELECT value FROM json_each(excluded.outbox)))
     END`;

/** Inserts `rows` outbox entries (id first, docless last) in one statement. */
const ADD_OUTBOX_SQL = (rows: number) => `INSERT INTO nx_outbox (id, ${OUTBOX_COLUMNS}, docless) VALUES ${rowsOf(2 + OUTBOX_COLUMNS.split(',').length, rows)}`;

/*
 * The rows of a fresh write (a new or synced record saved once: a pending document with no field
 * clocks and no server state, and its first entry, which shares the document's data and hlc) bind only
 * what varies: the other columns are literals. Each bound value costs better-sqlite3 a conversion;
 * measured, a bulk write of such rows is ~15% faster with 5 and 8 values per row than with 9 and 19.
 */
const FRESH_DOC_ROW = "(?, ?, ?, 0, ?, NULL, 'pending', NULL, json_array(?))";
const PUT_FRESH_DOC_SQL = (rows: number) => PUT_DOC_SQL(rows).replace(rowsOf(DOC_COLUMNS.split(',').length + 1, rows), Array(rows).fill(FRESH_DOC_ROW).join(', '));
/** The fresh documents of keys this write transaction read and found missing: plain INSERT, no upsert (~5% faster). */
const INSERT_FRESH_DOC_SQL = (rows: number) => `INSERT INTO nx_docs (${DOC_COLUMNS}, outbox) VALUES ${Array(rows).fill(FRESH_DOC_ROW).join(', ')}`;
const FRESH_ENTRY_ROW = "(?, ?, ?, ?, ?, 'pending', NULL, ?, 'upsert', NULL, NULL, 0, '', NULL, 0, NULL, NULL, ?, 0)";
const ADD_FRESH_OUTBOX_SQL = (rows: number) => `INSERT INTO nx_outbox (id, ${OUTBOX_COLUMNS}, docless) VALUES ${Array(rows).fill(FRESH_ENTRY_ROW).join(', ')}`;

function isFreshDoc(doc: StoredDoc): boolean {
  return !doc.deleted && doc.data !== null && doc.syncState === 'pending' && doc.fieldClocks === null && doc.server === null;
}

/** A first entry of a fresh write: its data and clock are `doc`'s (the same object, so the same JSON). */
function isFreshEntry(entry: NewOutboxEntry, doc: StoredDoc): boolean {
  return (
    entry.op === 'upsert' &&
    entry.data === doc.data &&
    entry.hlc === doc.hlc &&
    entry.status === 'pending' &&
    entry.attempts === 0 &&
    entry.txId === null &&
    entry.changedFields === null &&
    entry.fieldClocks === null &&
    entry.baseVersion === 0 &&
    entry.lastError === null &&
    entry.conflict === null
  );
}

/** SQL: entry `e` shares its document `d`'s data, hlc and field clocks (schema 4): its server state once acknowledged is `{"version":N}`. */
const SHARES_DOC = "(e.op = 'upsert' AND e.data IS NULL AND e.hlc = '' AND e.field_clocks IS d.field_clocks AND d.deleted = 0)";

/**
 * SQL: document `d` lists entry `e` and no other. Its list is almost always the text `[seq]` (or
 * `[seq.0]`: better-sqlite3 binds numbers as REAL), compared as text first: reading the list as JSON
 * for every row cost ~1 ms per 1,000 acks.
 */
const ONLY_ENTRY = `(d.outbox IN ('[' || e.seq || ']', '[' || e.seq || '.0]') OR (json_array_length(d.outbox) = 1 AND d.outbox ->> 0 = e.seq))`;

/** SQL: an AckRow after its first column (the ack's index), for entry `e` and its document `d`. */
const ACK_ROW_AFTER_INDEX = `e.id, e.seq, e.collection, e.key, json_extract(d.server, '$.version'), ${SHARES_DOC}`;

/**
 * SQL: entry `e` is a candidate of `ackOutbox`: in flight, and its record has a document `d` and no
 * other entry. `docless`: whether to look for entries of the record among the docless ones (a
 * partial index that is almost always empty, so asked once per call).
 */
const ACK_CANDIDATE_WHERE = (docless: boolean) => `e.status = 'inflight'
     AND ((${ONLY_ENTRY}) OR NOT EXISTS (SELECT 1 FROM json_each(d.outbox) j, nx_outbox o WHERE j.value <> e.seq AND ${ROWID_OF_SEQ('o.id', 'j.value')}))
     ${docless ? `AND NOT EXISTS (SELECT 1 FROM nx_outbox o WHERE o.docless = 1 AND o.collection = e.collection AND o.key = e.key AND o.seq <> e.seq)` : ''}`;

/**
 * SQL: the candidates of `ackOutbox` (ACK_CANDIDATE_WHERE) among the acks `a` (a JSON array,
 * `a.value` each one's seq or rowid), `entryOfAck` joining each to its entry `e`, as AckRow. The
 * caller compares the versions. Measured per 1,000 acks: 2.8 ms with the versions in the JSON and
 * every column of the server state computed for every row; 1.7 ms so, with ACK_DETAILS_SQL for the
 * rows that need it (an entry sharing its document's state is the common case).
 */
const ACK_CANDIDATES_SQL = (entryOfAck: string, docless: boolean) =>
  `SELECT a.key, ${ACK_ROW_AFTER_INDEX}
   FROM json_each(?) a JOIN nx_outbox e ON ${entryOfAck}
   JOIN nx_docs d ON d.collection = e.collection AND d.key = e.key
   WHERE ${ACK_CANDIDATE_WHERE(docless)}`;

/** SQL: the same over the entries at the rowids `BETWEEN @first AND @last` (consecutiveRange), the ack's index being `e.id - @first`. */
const ACK_CANDIDATES_IN_RANGE_SQL = (docless: boolean) =>
  `SELECT e.id - @first, ${ACK_ROW_AFTER_INDEX}
   FROM nx_outbox e JOIN nx_docs d ON d.collection = e.collection AND d.key = e.key
   WHERE e.id BETWEEN @first AND @last AND ${ACK_CANDIDATE_WHERE(docless)}`;

/** SQL: the server state column `{"version":N}` of the entry `e` at `@first + i`, acknowledged at `@v0 + i`. */
const SHARED_RANGE_SERVER = `'{"version":' || CAST(@v0 + e.id - @first AS INTEGER) || '}'`;

/**
 * SQL: settles in one UPDATE the acks of the consecutive rowids `@first`..`@last` whose versions are
 * consecutive too (`@v0` for the entry at `@first`), as a push of a bulk write answers them: each
 * in-flight entry that shares its document's state and is its only entry (with no docless entries
 * anywhere, the caller's condition, every entry is on its document's list) leaves its document
 * synced at `{"version":N}`. Its count of changes says whether all were settled; when not,
 * ACKED_IN_RANGE_SQL names them (a RETURNING clause cost ~1 ms per 1,000 on every push).
 * Measured per 1,000 in one run: 3.9 ms, where the same with RETURNING and the document's list read
 * as JSON took 6.1 (and at stop 12, in a faster phase, 2.6 against ~3.6 for ACK_CANDIDATES_SQL and
 * an UPDATE per document).
 */
const ACK_SHARED_RANGE_SQL = `UPDATE nx_docs AS d SET sync_state = 'synced', outbox = NULL, server = ${SHARED_RANGE_SERVER}
  FROM nx_outbox AS e
  WHERE e.id BETWEEN @first AND @last AND d.collection = e.collection AND d.key = e.key AND e.status = 'inflight'
    AND ${SHARES_DOC} AND ${ONLY_ENTRY} AND (d.server IS NULL OR json_extract(d.server, '$.version') < @v0 + e.id - @first)`;

/**
 * SQL: after ACK_SHARED_RANGE_SQL, the offsets (`e.id - @first`) of the entries it settled: a document
 * that lists no entry although its in-flight entry `e` is still there was settled by it (its list
 * holds every entry of its record while no docless entries exist), at the version of `e`.
 */
const ACKED_IN_RANGE_SQL = `SELECT e.id - @first FROM nx_outbox e JOIN nx_docs d ON d.collection = e.collection AND d.key = e.key
  WHERE e.id BETWEEN @first AND @last AND e.status = 'inflight' AND d.outbox IS NULL AND d.server = ${SHARED_RANGE_SERVER}
  ORDER BY e.id`;

/** SQL: the AckDetailRow of the entries at the rowids of a JSON array. */
const ACK_DETAILS_SQL = `SELECT e.id, e.op, ${entryHlc('e', 'd')}, e.field_clocks,
     CASE WHEN ${entryData('e', 'd')} IS d.data AND d.deleted = 0 THEN NULL ELSE ${entryData('e', 'd')} END,
     (${entryData('e', 'd')} IS d.data AND d.deleted = 0), (${entryHlc('e', 'd')} = d.hlc), (e.field_clocks IS d.field_clocks)
   FROM json_each(?) a JOIN nx_outbox e ON e.id = a.value JOIN nx_docs d ON d.collection = e.collection AND d.key = e.key`;

/** Rows per multi-row INSERT when the write buffer is flushed. */
const BUFFER_CHUNK = 64;

/**
 * Rows for the next INSERT of a flush: BUFFER_CHUNK, or for the rest the largest power of two that
 * fits, so a connection prepares at most seven statements per table (each costs SQLite memory).
 */
function chunkSize(remaining: number): number {
  if (remaining <= 0) return 0;
  if (remaining >= BUFFER_CHUNK) return BUFFER_CHUNK;
  return 2 ** Math.floor(Math.log2(remaining));
}

/** Buffered rows that make a write callback flush early, so a huge saveAll does not hold them all. */
const BUFFER_LIMIT = 4096;
/** Buffered documents times keys looked up, above which `getDocs` flushes instead of scanning the buffer. */
const BUFFER_SCAN_LIMIT = 64 * 1024;

/** Prepared statements of one connection. */
function prepareStatements(db: Database.Database) {
  return {
    begin: db.prepare('BEGIN'),
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    beginImmediate: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT nx_write'),
    release: db.prepare('RELEASE nx_write'),
    rollbackTo: db.prepare('ROLLBACK TO nx_write'),
    getDoc: db.prepare<[string, string], DocRow>(`SELECT ${DOC_COLUMNS} FROM nx_docs WHERE collection = ? AND key = ?`),
    getDocs: db.prepare<[string, string], DocRow>(`SELECT ${DOC_COLUMNS} FROM nx_docs WHERE collection = ? AND key IN (SELECT value FROM json_each(?))`),
    removeDoc: db.prepare('DELETE FROM nx_docs WHERE collection = ? AND key = ?'),
    lastSeq: db.prepare<[], { last: number }>(
      `SELECT max(${[0, 1, 2, 3].map((r) => `ifnull((SELECT max(id) FROM nx_outbox WHERE id >= ${r * SEQ_SLOT} AND id < ${(r + 1) * SEQ_SLOT}) - ${r * SEQ_SLOT}, 0)`).join(', ')},
        (SELECT deleted_max FROM nx_outbox_seq WHERE id = 1)) AS last`,
    ),
    rememberDeletedSeq: db.prepare('UPDATE nx_outbox_seq SET deleted_max = max(deleted_max, ?) WHERE id = 1'),
    updateOutbox: db.prepare(
      `UPDATE nx_outbox SET id = ?, (${OUTBOX_COLUMNS.slice('seq, '.length)}) = (${OUTBOX_COLUMNS.split(',').slice(1).map(() => '?').join(', ')}) WHERE id IN (?, ?, ?, ?)`,
    ),
    deleteOutbox: db.prepare<[string], { seq: number }>('DELETE FROM nx_outbox WHERE id IN (SELECT value FROM json_each(?)) RETURNING seq'),
    /** Marks the entries at these rowids; returns the seqs of those it found. */
    markOutbox: db.prepare<[OutboxStatus, number, string], number>('UPDATE nx_outbox SET status = ?, attempts = attempts + ? WHERE id IN (SELECT value FROM json_each(?)) RETURNING seq').pluck(),
    /**
     * The same for the rowids `BETWEEN ? AND ?` (consecutiveRange): ~0.9 ms per 1,000 instead of ~1.3.
     * Without RETURNING (its count of changes says whether all were there; `seqsInRange` names them when not).
     */
    markOutboxInRange: db.prepare<[OutboxStatus, number, number, number]>('UPDATE nx_outbox SET status = ?, attempts = attempts + ? WHERE id BETWEEN ? AND ?'),
    seqsInRange: db.prepare<[number, number], number>('SELECT seq FROM nx_outbox WHERE id BETWEEN ? AND ?').pluck(),
    /** Deletes the rowids `BETWEEN ? AND ?` (consecutiveRange): ~0.2 ms per 1,000 instead of ~1 for a JSON list. */
    deleteOutboxInRange: db.prepare<[number, number]>('DELETE FROM nx_outbox WHERE id BETWEEN ? AND ?'),
    outboxForKey: db.prepare<[{ collection: string; keys: string }], OutboxRow>(outboxOfDocsSql((key) => `${key} = @keys`)).raw(true),
    outboxForKeys: db.prepare<[{ collection: string; keys: string }], OutboxRow>(outboxOfDocsSql((key) => `${key} IN (SELECT value FROM json_each(@keys))`)).raw(true),
    /** Lists a new entry on its stored document; changes nothing (0 changes) when there is no such document. */
    listOnDoc: db.prepare<[number, number, string, string]>(
      `UPDATE nx_docs SET outbox = CASE WHEN outbox IS NULL THEN json_array(?) ELSE json_insert(outbox, '$[#]', ?) END WHERE collection = ? AND key = ?`,
    ),
    /**
     * The candidates of `ackOutbox` (ACK_CANDIDATES_SQL), as AckRow arrays, by the acks' seqs: each
     * entry is at one of its seq's four rowids. With `Docless`, also when docless entries exist.
     */
    ackCandidates: db.prepare<[string], AckRow>(ACK_CANDIDATES_SQL(ROWID_OF_SEQ('e.id', 'a.value'), false)).raw(true),
    ackCandidatesDocless: db.prepare<[string], AckRow>(ACK_CANDIDATES_SQL(ROWID_OF_SEQ('e.id', 'a.value'), true)).raw(true),
    /** The same by the entries' rowids, for acks that came with the entry's priority: one lookup instead of four. */
    ackCandidatesAt: db.prepare<[string], AckRow>(ACK_CANDIDATES_SQL('e.id = a.value', false)).raw(true),
    ackCandidatesAtDocless: db.prepare<[string], AckRow>(ACK_CANDIDATES_SQL('e.id = a.value', true)).raw(true),
    /** The same by a range of consecutive rowids (consecutiveRange). */
    ackCandidatesInRange: db.prepare<[{ first: number; last: number }], AckRow>(ACK_CANDIDATES_IN_RANGE_SQL(false)).raw(true),
    ackCandidatesInRangeDocless: db.prepare<[{ first: number; last: number }], AckRow>(ACK_CANDIDATES_IN_RANGE_SQL(true)).raw(true),
    ackDetails: db.prepare<[string], AckDetailRow>(ACK_DETAILS_SQL).raw(true),
    ackSharedRange: db.prepare<[{ v0: number; first: number; last: number }]>(ACK_SHARED_RANGE_SQL),
    ackedInRange: db.prepare<[{ v0: number; first: number; last: number }], number>(ACKED_IN_RANGE_SQL).pluck(),
    anyDocless: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM nx_outbox WHERE docless = 1)').pluck(),
    /**
     * An acknowledged document: synced, no entries, and its new server state. One run per document:
     * ~1.5 ms less per 1,000 than one statement over a JSON list of them.
     */
    ackDoc: db.prepare<[string, string, string]>(`UPDATE nx_docs SET sync_state = 'synced', outbox = NULL, server = ? WHERE collection = ? AND key = ?`),
    /** Before a document row goes: its entries become docless, so that they can still be found. */
    markDocless: db.prepare<[string, string]>(
      `UPDATE nx_outbox SET docless = 1 WHERE id IN (
         SELECT o.id FROM nx_docs d, json_each(d.outbox) j, nx_outbox o WHERE d.collection = ? AND d.key = ? AND ${ROWID_OF_SEQ('o.id', 'j.value')})`,
    ),
    countOutbox: db.prepare<[], { status: OutboxStatus; n: number }>('SELECT status, count(*) AS n FROM nx_outbox GROUP BY status'),
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM nx_meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO nx_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    deleteMeta: db.prepare('DELETE FROM nx_meta WHERE key = ?'),
    allDocs: db.prepare<[string], DocRow>(`SELECT ${DOC_COLUMNS} FROM nx_docs WHERE collection = ? AND deleted = 0`),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Deletes outbox rows by rowid in one statement, keeping the highest deleted seq (see nx_outbox_seq). */
function deleteRows(s: Statements, rowids: readonly number[]): void {
  let highest = 0;
  const range = consecutiveRange(rowids);
  if (range) {
    // Existing rows (the caller read them in this transaction): the last one's seq is the highest.
    s.deleteOutboxInRange.run(range[0], range[1]);
    highest = range[1] % SEQ_SLOT;
  } else {
    for (const { seq } of s.deleteOutbox.all(JSON.stringify(rowids))) if (seq > highest) highest = seq;
  }
  if (highest > 0) s.rememberDeletedSeq.run(highest);
}

/** The rowids of acknowledged entries when every ack has its entry's priority (a stale one misses: the core handles that ack), else null. */
function rowidsOfAcks(acks: readonly OutboxAck[]): number[] | null {
  return acks.every((a) => a.priority !== undefined) ? acks.map((a) => rowidOf(a.seq, a.priority!)) : null;
}

/**
 * The general way of `ackOutbox`: finds the candidates (ACK_CANDIDATES_SQL), compares the versions,
 * writes each settled document's server state and deletes the settled entries. Returns their seqs.
 */
function settleAcks(s: Statements, acks: readonly OutboxAck[], docless: boolean, rowids = rowidsOfAcks(acks)): number[] {
  const range = rowids && consecutiveRange(rowids);
  const rows = range
    ? (docless ? s.ackCandidatesInRangeDocless : s.ackCandidatesInRange).all({ first: range[0], last: range[1] })
    : rowids
      ? (docless ? s.ackCandidatesAtDocless : s.ackCandidatesAt).all(JSON.stringify(rowids))
      : (docless ? s.ackCandidatesDocless : s.ackCandidates).all(JSON.stringify(acks.map((a) => a.seq)));
  // Only an ack above the document's server version (an older one is the core's to settle).
  const settled = rows.filter(([index, , , , , serverVersion]) => acks[index]!.version > (serverVersion ?? 0));
  if (settled.length === 0) return [];
  const unshared = settled.filter((row) => row[6] !== 1).map((row) => row[1]);
  const details = unshared.length > 0 ? new Map(s.ackDetails.all(JSON.stringify(unshared)).map((row) => [row[0], row])) : undefined;
  for (const [index, id, , collection, key, , shared] of settled) {
    const version = acks[index]!.version;
    if (shared === 1) {
      s.ackDoc.run(serverColumn(version, false, undefined, undefined, undefined), collection, key);
    } else {
      const [, op, hlc, fieldClocks, data, same, sameHlc, sameClocks] = details!.get(id)!;
      s.ackDoc.run(ackedServer(op, version, same === 1, data, hlc, fieldClocks, sameHlc === 1, sameClocks === 1), collection, key);
    }
  }
  deleteRows(s, settled.map((row) => row[1]));
  return settled.map((row) => row[2]);
}

/** Appends the column values of a document, in DOC_COLUMNS order. */
function pushDocValues(params: SqlValue[], doc: StoredDoc): void {
  params.push(
    doc.collection,
    doc.key,
    doc.deleted || doc.data === null ? null : recordJson(doc.data),
    doc.deleted ? 1 : 0,
    doc.hlc,
    jsonOrNull(doc.fieldClocks),
    doc.syncState,
    encodeServer(doc),
  );
}

/** How one kind of row goes into a multi-row INSERT: its values and its statements by row count. */
interface RowForm<T> {
  values: (params: SqlValue[], item: T, index: number) => void;
  statements: Database.Statement[];
  sql: (rows: number) => string;
}

/** The general form of a row, and cheaper ones for the rows they can take, the cheapest first (see FRESH_DOC_ROW). */
interface RowWriter<T> extends RowForm<T> {
  cheaper: (RowForm<T> & { takes: (index: number) => boolean })[];
}

/** A new outbox entry waiting in the write buffer, with its seq. */
interface BufferedEntry {
  seq: number;
  entry: NewOutboxEntry;
}

/** Appends the column values of a new entry, id first, in `id, OUTBOX_COLUMNS` order. */
function pushEntryValues(params: SqlValue[], { seq, entry }: BufferedEntry): void {
  params.push(rowidOf(seq, entry.priority), seq);
  params.push(...entryValues(entry));
}

/**
 * Documents and new outbox entries that write callbacks made but that are not in SQLite yet. They
 * go in many rows per INSERT when a callback reads what they would change (outbox reads, queries,
 * a large `getDocs`), when many pile up, and before every COMMIT: the small writes of a group cost
 * about what one bulk write costs. `getDocs` answers from the buffer first. The rows are kept in
 * plain arrays (a document put twice is simply inserted twice, the later row wins): a Map here
 * made V8 promote every buffered page to the old generation, which cost 20 MiB of peak RSS on a
 * 100,000-record pull.
 *
 * A group runs each callback but the first inside a SAVEPOINT. When one fails, `undoJob` drops its
 * own buffered rows (ROLLBACK TO undoes what it sent to SQLite) and puts back the rows of earlier
 * callbacks that were flushed while it ran: they were sent inside its savepoint, so the rollback
 * removed them too.
 */
class WriteBuffer {
  docs: StoredDoc[] = [];
  /** The keys of `docs`, so that most lookups skip the scan (a record key alone: cheap, and rarely shared by two collections). */
  private keys = new Set<string>();
  outbox: BufferedEntry[] = [];
  /** Where the running callback's rows start. */
  private jobDocsStart = 0;
  private jobOutboxStart = 0;
  /** Rows of earlier callbacks flushed while the running callback ran. */
  private carriedDocs: StoredDoc[] = [];
  private carriedOutbox: BufferedEntry[] = [];

  get size(): number {
    return this.docs.length + this.outbox.length;
  }

  startJob(): void {
    this.jobDocsStart = this.docs.length;
    this.jobOutboxStart = this.outbox.length;
    this.carriedDocs = [];
    this.carriedOutbox = [];
  }

  putDoc(doc: StoredDoc): void {
    this.docs.push(doc);
    this.keys.add(doc.key);
  }

  /** The latest buffered version of a document. */
  findDoc(collection: string, key: string): StoredDoc | undefined {
    if (!this.keys.has(key)) return undefined;
    for (let i = this.docs.length - 1; i >= 0; i--) {
      const doc = this.docs[i]!;
      if (doc.key === key && doc.collection === collection) return doc;
    }
    return undefined;
  }

  /** Empties the buffer for a flush, remembering which rows belonged to earlier callbacks. */
  take(): { docs: StoredDoc[]; outbox: BufferedEntry[]; uniqueKeys: boolean } {
    const { docs, outbox } = this;
    const uniqueKeys = this.keys.size === docs.length;
    for (let i = 0; i < this.jobDocsStart; i++) this.carriedDocs.push(docs[i]!);
    for (let i = 0; i < this.jobOutboxStart; i++) this.carriedOutbox.push(outbox[i]!);
    this.docs = [];
    this.keys = new Set();
    this.outbox = [];
    this.jobDocsStart = 0;
    this.jobOutboxStart = 0;
    return { docs, outbox, uniqueKeys };
  }

  /** The running callback failed: drops its rows and restores those of the callbacks before it. */
  undoJob(): void {
    this.docs.length = this.jobDocsStart;
    this.outbox.length = this.jobOutboxStart;
    // Carried rows exist only when something was flushed during the callback; they come first.
    if (this.carriedDocs.length > 0) this.docs = [...this.carriedDocs, ...this.docs];
    this.keys = new Set(this.docs.map((doc) => doc.key));
    if (this.carriedOutbox.length > 0) this.outbox = [...this.carriedOutbox, ...this.outbox];
    this.startJob();
  }

  clear(): void {
    this.docs = [];
    this.keys = new Set();
    this.outbox = [];
    this.startJob();
  }
}

const STATEMENT_CACHE_SIZE = 256;

/** One open connection: its statements and a cache of the dynamic query statements. */
class Connection {
  readonly statements: Statements;
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {
    this.statements = prepareStatements(db);
    // The full-chunk INSERTs are prepared with the connection (~1 ms): preparing them on the first
    // bulk write cost that write about 1 µs per record of a 1,000-record burst.
    this.putDocStatements[BUFFER_CHUNK] = db.prepare(PUT_DOC_SQL(BUFFER_CHUNK));
    this.addOutboxStatements[BUFFER_CHUNK] = db.prepare(ADD_OUTBOX_SQL(BUFFER_CHUNK));
    this.putFreshDocStatements[BUFFER_CHUNK] = db.prepare(PUT_FRESH_DOC_SQL(BUFFER_CHUNK));
    this.insertFreshDocStatements[BUFFER_CHUNK] = db.prepare(INSERT_FRESH_DOC_SQL(BUFFER_CHUNK));
    this.addFreshOutboxStatements[BUFFER_CHUNK] = db.prepare(ADD_FRESH_OUTBOX_SQL(BUFFER_CHUNK));
  }

  readonly buffer = new WriteBuffer();

  /**
   * Sends the buffered rows to SQLite, many rows per statement, documents and entries in turns
   * (measured: a third faster than all documents first).
   */
  flush(): void {
    if (this.buffer.size === 0) return;
    this.beforeSqlWrite();
    const { docs, outbox, uniqueKeys } = this.buffer.take();
    const { lists, docless, aligned } = this.placeEntries(docs, outbox, uniqueKeys);
    const docValues = (params: SqlValue[], doc: StoredDoc, i: number) => {
      pushDocValues(params, doc);
      params.push(aligned ? `[${outbox[i]!.seq}]` : (lists[i] ?? null));
    };
    const entryValues = (params: SqlValue[], entry: BufferedEntry, i: number) => {
      pushEntryValues(params, entry);
      params.push(docless[i] ? 1 : 0);
    };
    const docRows: RowWriter<StoredDoc> = { values: docValues, statements: this.putDocStatements, sql: PUT_DOC_SQL, cheaper: [] };
    const entryRows: RowWriter<BufferedEntry> = { values: entryValues, statements: this.addOutboxStatements, sql: ADD_OUTBOX_SQL, cheaper: [] };
    if (aligned) {
      // Entry i belongs to document i, and they go in chunks of the same size, the document first: an
      // entry that shares its document's data (stored as NULL) is never written before that data.
      const fresh = docs.map((doc, i) => isFreshDoc(doc) && isFreshEntry(outbox[i]!.entry, doc));
      const freshDocValues = (params: SqlValue[], doc: StoredDoc, i: number) => params.push(doc.collection, doc.key, recordJson(doc.data!), doc.hlc, outbox[i]!.seq);
      const absent = docs.map((doc) => this.absentDocs.get(doc.collection)?.has(doc.key) === true);
      docRows.cheaper.push(
        { takes: (i) => fresh[i]! && absent[i]!, values: freshDocValues, statements: this.insertFreshDocStatements, sql: INSERT_FRESH_DOC_SQL },
        { takes: (i) => fresh[i]!, values: freshDocValues, statements: this.putFreshDocStatements, sql: PUT_FRESH_DOC_SQL },
      );
      entryRows.cheaper.push({
        takes: (i) => fresh[i]!,
        values: (params, { seq, entry }) => params.push(rowidOf(seq, entry.priority), seq, entry.collection, entry.key, PRIORITY_RANK[entry.priority], entry.mutationId, entry.createdAt),
        statements: this.addFreshOutboxStatements,
        sql: ADD_FRESH_OUTBOX_SQL,
      });
    }
    // Every document written here exists from now on (or may: a savepoint may undo it).
    if (this.absentDocs.size > 0) for (const doc of docs) this.absentDocs.get(doc.collection)?.delete(doc.key);
    for (let d = 0, o = 0; d < docs.length || o < outbox.length; ) {
      d += this.insertChunk(docs, d, docRows);
      o += this.insertChunk(outbox, o, entryRows);
    }
  }

  /**
   * Where each new entry will be found by its document (see `outboxOfDocsSql`): on the last buffered
   * row of its document (`lists`, JSON text by document index: the row that wins), else on its
   * stored document row, else nowhere: then it is `docless`. `aligned`: entry i is document i's, the
   * only one (no lists are made: each document lists its own entry).
   */
  private placeEntries(docs: readonly StoredDoc[], outbox: readonly BufferedEntry[], uniqueKeys: boolean): { lists: (string | undefined)[]; docless: boolean[]; aligned: boolean } {
    const lists: (string | undefined)[] = [];
    const docless: boolean[] = [];
    if (outbox.length === 0) return { lists, docless, aligned: false };
    // The usual flush (a bulk write of new or synced records): entry i belongs to document i.
    if (uniqueKeys && docs.length === outbox.length && outbox.every(({ entry }, i) => entry.key === docs[i]!.key && entry.collection === docs[i]!.collection)) {
      return { lists, docless, aligned: true };
    }
    const lastRow = new Map<string, number>();
    for (let i = 0; i < docs.length; i++) lastRow.set(`${docs[i]!.collection}\u0000${docs[i]!.key}`, i);
    const seqs: number[][] = [];
    for (let i = 0; i < outbox.length; i++) {
      const { seq, entry } = outbox[i]!;
      const row = lastRow.get(`${entry.collection}\u0000${entry.key}`);
      if (row !== undefined) (seqs[row] ??= []).push(seq);
      else docless[i] = this.statements.listOnDoc.run(seq, seq, entry.collection, entry.key).changes === 0;
    }
    seqs.forEach((list, row) => (lists[row] = JSON.stringify(list)));
    return { lists, docless, aligned: false };
  }

  /**
   * Inserts the next chunk of `items` from `from` in one statement, in the cheapest form that takes
   * every row of the chunk; returns how many rows it took.
   */
  private insertChunk<T>(items: readonly T[], from: number, writer: RowWriter<T>): number {
    const rows = chunkSize(items.length - from);
    if (rows === 0) return 0;
    let form: RowForm<T> = writer;
    for (const cheaper of writer.cheaper) {
      let all = true;
      for (let i = from; all && i < from + rows; i++) all = cheaper.takes(i);
      if (all) {
        form = cheaper;
        break;
      }
    }
    const params: SqlValue[] = [];
    for (let i = from; i < from + rows; i++) form.values(params, items[i]!, i);
    (form.statements[rows] ??= this.db.prepare(form.sql(rows))).run(...params);
    return rows;
  }

  /**
   * The savepoint of the running callback of a group (all but the first have one) is opened only
   * when the callback first changes SQLite itself: most callbacks only read and buffer rows, and a
   * failed one is then undone in the buffer alone.
   */
  private savepoint: 'none' | 'pending' | 'open' = 'none';

  startJob(nested: boolean): void {
    this.buffer.startJob();
    this.savepoint = nested ? 'pending' : 'none';
  }

  /** Called before any statement that changes SQLite inside a callback. */
  beforeSqlWrite(): void {
    if (this.savepoint !== 'pending') return;
    this.statements.savepoint.run();
    this.savepoint = 'open';
  }

  /** The running callback succeeded. */
  endJob(): void {
    if (this.savepoint === 'open') this.statements.release.run();
    this.savepoint = 'none';
  }

  /** The running nested callback failed: undo its rows in the buffer and in SQLite. */
  undoJob(): void {
    this.buffer.undoJob();
    if (this.savepoint === 'open') {
      this.statements.rollbackTo.run();
      this.statements.release.run();
    }
    this.savepoint = 'none';
  }

  /** Multi-row INSERTs by row count (powers of two up to BUFFER_CHUNK), prepared on first use. */
  private readonly putDocStatements: Database.Statement[] = [];
  private readonly addOutboxStatements: Database.Statement[] = [];
  private readonly putFreshDocStatements: Database.Statement[] = [];
  private readonly insertFreshDocStatements: Database.Statement[] = [];

  /**
   * Documents (keys by collection) that `getDocs` looked up in SQLite during this write transaction
   * and did not find, and that no flush has written since: the write lock keeps them missing, so a
   * fresh write of them needs no upsert.
   */
  readonly absentDocs = new Map<string, Set<string>>();
  private readonly addFreshOutboxStatements: Database.Statement[] = [];

  /**
   * The next outbox seq; null until computed from the table (a query of ~8 µs, a fifth of a small
   * save). It is kept across transactions while no other connection has committed to the file
   * (`PRAGMA data_version` unchanged); a rolled-back transaction only leaves a gap.
   */
  nextSeq: number | null = null;
  private seqDataVersion: number | null = null;

  /** Starts a write transaction (taking the write lock at once). */
  beginWrite(): void {
    this.statements.beginImmediate.run();
    const version = this.statements.dataVersion.get() as number;
    if (version !== this.seqDataVersion) {
      this.nextSeq = null;
      this.seqDataVersion = version;
    }
    this.discard();
  }

  /** Forgets the buffered rows and the savepoint state (the transaction was rolled back or is new). */
  discard(): void {
    this.buffer.clear();
    this.absentDocs.clear();
    this.savepoint = 'none';
  }

  /** Fields with an expression index, per collection (from `ensureIndexes`), and their index names. */
  readonly indexes = new Map<string, Map<string, string>>();

  /**
   * Prepares a query forced onto the index of its best indexed field (see `pickIndexedField`); when
   * SQLite finds no plan with that index, prepares it without the hint.
   */
  prepareWithIndex(collection: string, query: StorageQuery, build: (indexName: string | undefined) => SqlFragment): { statement: Database.Statement; params: SqlValue[] } {
    const fields = this.indexes.get(collection);
    const field = pickIndexedField(query, fields ? new Set(fields.keys()) : undefined);
    if (field !== undefined) {
      const hinted = build(fields!.get(field));
      try {
        return { statement: this.prepare(hinted.sql), params: hinted.params };
      } catch {
        // "no query solution": the planner cannot use that index for this query shape.
      }
    }
    const plain = build(undefined);
    return { statement: this.prepare(plain.sql), params: plain.params };
  }

  prepare(sql: string): Database.Statement {
    let statement = this.cache.get(sql);
    if (statement) {
      this.cache.delete(sql);
    } else {
      statement = this.db.prepare(sql);
      if (this.cache.size >= STATEMENT_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(sql, statement);
    return statement;
  }
}

/** The transaction object handed to `read` and `write` callbacks; dead once its callback settled. */
class SqliteTransaction implements WriteTransaction {
  private active = true;

  constructor(
    private readonly storage: SqliteStorage,
    private readonly connection: Connection,
    private readonly writable: boolean,
  ) {}

  finish(): void {
    this.active = false;
  }

  private run<T>(body: (s: Statements) => T): Promise<T> {
    if (!this.active) {
      return Promise.reject(
        new StorageError('STORAGE', `A transaction of ${this.storage.name} was used after its callback returned; await only transaction methods inside read() and write().`, {
          path: this.storage.name,
        }),
      );
    }
    try {
      return Promise.resolve(body(this.connection.statements));
    } catch (error) {
      return Promise.reject(this.storage.mapError(error));
    }
  }

  /** A write that only fills the write buffer (it opens no savepoint unless it flushes). */
  private runBuffered<T>(body: (s: Statements) => T): Promise<T> {
    if (!this.writable) {
      return Promise.reject(new StorageError('STORAGE', `Cannot change ${this.storage.name} inside read(); use write().`, { path: this.storage.name }));
    }
    return this.run(body);
  }

  /** A write that changes SQLite directly (inside a group, it opens the callback's savepoint first). */
  private runWrite<T>(body: (s: Statements) => T): Promise<T> {
    return this.runBuffered((s) => {
      this.connection.beforeSqlWrite();
      return body(s);
    });
  }

  /** Runs `body` after sending the buffered rows to SQLite (for reads that must see them). */
  private runFlushed<T>(body: (s: Statements) => T): Promise<T> {
    return this.run((s) => {
      this.connection.flush();
      return body(s);
    });
  }

  /** A direct change of outbox entries or documents the buffer may still hold: the buffered rows go first. */
  private runFlushedWrite<T>(body: (s: Statements) => T): Promise<T> {
    return this.runWrite((s) => {
      this.connection.flush();
      return body(s);
    });
  }

  getDocs(collection: string, keys: readonly string[]): Promise<(StoredDoc | undefined)[]> {
    return this.run((s) => {
      const buffer = this.connection.buffer;
      // Looked up in the buffer while it is small; a larger one goes to SQLite first.
      if (buffer.docs.length * keys.length > BUFFER_SCAN_LIMIT) this.connection.flush();
      const docs = keys.map((key) => buffer.findDoc(collection, key));
      const missing = keys.filter((_, i) => docs[i] === undefined);
      if (missing.length === 1) {
        const row = s.getDoc.get(collection, missing[0]!);
        if (row) docs[keys.indexOf(missing[0]!)] = rowToDoc(row);
      } else if (missing.length > 1) {
        // One statement for many keys: half the cost of a lookup per key.
        const found = new Map<string, StoredDoc>();
        for (const row of s.getDocs.all(collection, JSON.stringify(missing))) found.set(row.key, rowToDoc(row));
        for (let i = 0; i < keys.length; i++) docs[i] ??= found.get(keys[i]!);
      }
      if (this.writable && missing.length > 0) {
        const absentDocs = this.connection.absentDocs;
        let absent = absentDocs.get(collection);
        if (!absent) absentDocs.set(collection, (absent = new Set()));
        for (let i = 0; i < keys.length; i++) if (docs[i] === undefined) absent.add(keys[i]!);
      }
      return docs;
    });
  }

  queryDocs(collection: string, query: StorageQuery): Promise<StoredDoc[]> {
    return this.runFlushed((s) => {
      if (!canQueryInSql(query)) return applyQuery(s.allDocs.all(collection).map(rowToDoc), query);
      const statement = this.connection.prepareWithIndex(collection, query, (index) => selectSql(LIVE_DOC_COLUMNS, collection, query, index));
      // Rows as arrays: cheaper than one object per row with its column names.
      const rows = statement.statement.raw(true).all(...statement.params) as LiveDocArray[];
      return rows.map((row) => {
        const data = parseJson<RecordData>(row[1]);
        const fieldClocks = parseJson<Record<string, string>>(row[3]);
        return { collection, key: row[0], data, deleted: false, hlc: row[2], fieldClocks, syncState: row[4], server: decodeServer(row[5], data, row[2], fieldClocks) };
      });
    });
  }

  queryData(collection: string, query: StorageQuery): Promise<RecordData[]> {
    return this.runFlushed((s) => {
      if (!canQueryInSql(query)) return applyQuery(s.allDocs.all(collection).map(rowToDoc), query).map((doc) => doc.data!);
      // Only the data column: what Store.getAll returns, at the cost of the raw query.
      const statement = this.connection.prepareWithIndex(collection, query, (index) => selectSql('data', collection, query, index));
      return (statement.statement.pluck(true).all(...statement.params) as string[]).map((json) => JSON.parse(json) as RecordData);
    });
  }

  countDocs(collection: string, where?: StorageQuery['where']): Promise<number> {
    return this.runFlushed((s) => {
      if (!canQueryInSql({ where })) return applyQuery(s.allDocs.all(collection).map(rowToDoc), { where }).length;
      const statement = this.connection.prepareWithIndex(collection, { where }, (index) => {
        const clause = whereSql(collection, where);
        return { sql: `SELECT count(*) AS n ${fromSql(index)} WHERE ${clause.sql}`, params: clause.params };
      });
      return (statement.statement.get(...statement.params) as { n: number }).n;
    });
  }

  listOutbox(filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    return this.runFlushed(() => {
      const terms: string[] = [];
      const params: SqlValue[] = [];
      if (filter.status !== undefined) {
        terms.push('o.status = ?');
        params.push(filter.status);
      }
      if (filter.txId !== undefined) {
        terms.push('o.tx_id = ?');
        params.push(filter.txId);
      }
      // One document lookup per entry for what it shares with its document (two subqueries cost two).
      let sql = `SELECT ${outboxSelect('o', 'd')} FROM nx_outbox o LEFT JOIN nx_docs d ON d.collection = o.collection AND d.key = o.key${terms.length ? ` WHERE ${terms.join(' AND ')}` : ''} ORDER BY o.id`;
      if (filter.limit !== undefined) {
        sql += ' LIMIT ?';
        params.push(Math.max(0, Math.trunc(filter.limit)));
      }
      return (this.connection.prepare(sql).raw(true).all(...params) as OutboxRow[]).map(rowToEntry);
    });
  }

  getOutboxForKeys(collection: string, keys: readonly string[]): Promise<OutboxEntry[]> {
    return this.runFlushed((s) => {
      if (keys.length === 0) return [];
      return (keys.length === 1 ? s.outboxForKey.all({ collection, keys: keys[0]! }) : s.outboxForKeys.all({ collection, keys: JSON.stringify(keys) })).map(rowToEntry);
    });
  }

  countOutbox(): Promise<Record<OutboxStatus, number>> {
    return this.runFlushed((s) => {
      const counts: Record<OutboxStatus, number> = { pending: 0, inflight: 0, failed: 0, conflict: 0 };
      for (const row of s.countOutbox.all()) counts[row.status] = row.n;
      return counts;
    });
  }

  getMeta<V = unknown>(key: string): Promise<V | undefined> {
    return this.run((s) => {
      const row = s.getMeta.get(key);
      return row ? (JSON.parse(row.value) as V) : undefined;
    });
  }

  putDocs(docs: readonly StoredDoc[]): Promise<void> {
    return this.runBuffered(() => {
      const buffer = this.connection.buffer;
      for (const doc of docs) buffer.putDoc(doc);
      if (buffer.size >= BUFFER_LIMIT) this.connection.flush();
    });
  }

  removeDocs(collection: string, keys: readonly string[]): Promise<void> {
    return this.runFlushedWrite((s) => {
      for (const key of keys) {
        s.markDocless.run(collection, key);
        s.removeDoc.run(collection, key);
      }
    });
  }

  addOutbox(entry: NewOutboxEntry): Promise<number> {
    return this.runBuffered((s) => {
      // Seqs come from the table when the connection has none (see Connection.nextSeq), then count up.
      const seq = (this.connection.nextSeq ??= s.lastSeq.get()!.last + 1);
      this.connection.nextSeq = seq + 1;
      const buffer = this.connection.buffer;
      buffer.outbox.push({ seq, entry });
      if (buffer.size >= BUFFER_LIMIT) this.connection.flush();
      return seq;
    });
  }

  updateOutbox(entries: readonly OutboxEntry[]): Promise<void> {
    return this.runFlushedWrite((s) => {
      for (const entry of entries) {
        s.updateOutbox.run(rowidOf(entry.seq, entry.priority), ...entryValues(entry), ...rowidsOf(entry.seq));
      }
    });
  }

  deleteOutbox(seqs: readonly number[]): Promise<void> {
    return this.runFlushedWrite((s) => {
      // One statement for the whole list (an entry's rowid is one of four, by priority).
      if (seqs.length > 0) deleteRows(s, seqs.flatMap(rowidsOf));
    });
  }

  ackOutbox(acks: readonly OutboxAck[]): Promise<number[]> {
    return this.runFlushedWrite((s) => {
      if (acks.length === 0) return [];
      const docless = s.anyDocless.get() === 1;
      const rowids = rowidsOfAcks(acks);
      // A bulk push's answer: consecutive entries acknowledged at consecutive versions, most of them
      // sharing their document's state. Those go in one UPDATE; the others take the general way.
      const range = !docless && rowids && acks.every((a, i) => a.version === acks[0]!.version + i) && consecutiveRange(rowids);
      if (range) {
        const params = { v0: acks[0]!.version, first: range[0], last: range[1] };
        const settled = s.ackSharedRange.run(params).changes;
        if (settled === acks.length) {
          deleteRows(s, rowids);
          return acks.map((a) => a.seq);
        }
        if (settled > 0) {
          const offsets = s.ackedInRange.all(params);
          deleteRows(s, offsets.map((i) => range[0] + i));
          const done = new Set(offsets);
          return [...offsets.map((i) => acks[i]!.seq), ...settleAcks(s, acks.filter((_, i) => !done.has(i)), docless)];
        }
      }
      return settleAcks(s, acks, docless, rowids);
    });
  }

  markOutbox(seqs: readonly number[], status: OutboxStatus, options: { countAttempt?: boolean; priorities?: readonly SyncPriority[] } = {}): Promise<void> {
    return this.runFlushedWrite((s) => {
      if (seqs.length === 0) return;
      const attempt = options.countAttempt ? 1 : 0;
      let rest = seqs;
      const priorities = options.priorities;
      if (priorities && priorities.length === seqs.length) {
        // Each entry at its one rowid (~2 ms less per 1,000 than four lookups each); one whose
        // priority changed since is not there, and gets the lookup by seq below.
        const rowids = seqs.map((seq, i) => rowidOf(seq, priorities[i]!));
        const range = consecutiveRange(rowids);
        if (range && s.markOutboxInRange.run(status, attempt, range[0], range[1]).changes === seqs.length) return;
        // Every row in the range is one of these entries: those there were marked.
        const marked = new Set(range ? s.seqsInRange.all(range[0], range[1]) : s.markOutbox.all(status, attempt, JSON.stringify(rowids)));
        if (marked.size === seqs.length) return;
        rest = seqs.filter((seq) => !marked.has(seq));
      }
      s.markOutbox.all(status, attempt, JSON.stringify(rest.flatMap(rowidsOf)));
    });
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.runWrite((s) => {
      if (value === undefined) s.deleteMeta.run(key);
      else s.setMeta.run(key, JSON.stringify(value));
    });
  }
}

/**
 * The `LocalStorage` contract on one better-sqlite3 connection.
 *
 * Every read and write runs in order on the one connection (reads never see a transaction that is
 * still open). `write()` calls issued in the same tick share one physical transaction (group
 * commit): each callback runs inside its own SAVEPOINT, so one that throws rolls back only its own
 * work, and every caller's promise settles only after the COMMIT.
 */
class SqliteStorage implements LocalStorage {
  readonly name: string;
  private readonly durability: SqliteDurability;
  private readonly busyTimeout: number;
  private readonly maxGroupSize: number;
  private connection: Connection | null = null;
  private opening: Promise<void> | null = null;
  private readonly queue: Job[] = [];
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: SqliteStorageOptions) {
    this.name = options.filename;
    this.durability = options.durability ?? 'full';
    this.busyTimeout = options.busyTimeout ?? 5000;
    this.maxGroupSize = Math.max(1, options.maxGroupSize ?? 1000);
  }

  mapError(error: unknown): unknown {
    return toStorageError(error, this.name, this.connection?.db.open ?? false);
  }

  open(): Promise<void> {
    if (this.connection) return Promise.resolve();
    this.opening ??= Promise.resolve().then(() => {
      try {
        this.connection = new Connection(this.openDatabase());
      } finally {
        this.opening = null;
      }
    });
    return this.opening;
  }

  /** Checks the file before changing anything in it, then sets the connection up and migrates. */
  private openDatabase(): Database.Database {
    const path = this.name;
    const inMemory = path === ':memory:' || path === '';
    if (!inMemory && !existsSync(dirname(resolve(path)))) {
      throw new StorageError('STORAGE', `Cannot open SQLite storage ${path}: its folder does not exist; create the folder first.`, { path });
    }
    if (!inMemory && existsSync(path) && statSync(path).size > 0) this.checkExistingFile(path);
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: this.busyTimeout });
    } catch (error) {
      throw toStorageError(error, path);
    }
    try {
      const info = readFileInfo(db);
      this.assertCompatible(info, path);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.durability === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = OFF');
      // Checkpoint every ~40 MB of WAL instead of ~4 MB: a checkpoint fsyncs and rewrites hot pages
      // (outbox, metadata) that small transactions touch again and again, so doing it ten times less
      // often made small awaited writes about 1.5x faster in our measurements. The WAL file is cut back to
      // journal_size_limit after a checkpoint.
      db.pragma('wal_autocheckpoint = 10000');
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
      // 12 MiB of page cache: 8 MiB made indexed getAll over 100,000 records 30% slower, 16 MiB cost
      // the client ~5 MiB more peak RSS in the 100,000-record sync benchmark.
      db.pragma(`cache_size = ${-12 * 1024}`);
      db.pragma('temp_store = MEMORY');
      migrate(db);
      return db;
    } catch (error) {
      db.close();
      throw toStorageError(error, path);
    }
  }

  /** Reads the header of an existing file without writing to it. */
  private checkExistingFile(path: string): void {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: this.busyTimeout });
      this.assertCompatible(readFileInfo(db), path);
    } catch (error) {
      const mapped = toStorageError(error, path);
      if (mapped instanceof StorageError && mapped.code === 'STORAGE_CORRUPT') {
        throw new StorageError('STORAGE_CORRUPT', `${path} is not a nexus-store database or is corrupt (${(error as Error).message}); restore it from a backup or choose another file.`, {
          cause: error,
          path,
        });
      }
      throw mapped;
    } finally {
      db?.close();
    }
  }

  private assertCompatible(info: ReturnType<typeof readFileInfo>, path: string): void {
    if (info.objects === 0 && info.applicationId === 0 && info.userVersion === 0) return;
    if (info.applicationId !== APPLICATION_ID) {
      throw new StorageError('STORAGE_CORRUPT', `${path} is a SQLite database but not a nexus-store database (application_id ${info.applicationId}); choose another file.`, { path });
    }
    if (info.userVersion > SCHEMA_VERSION) {
      throw new StorageError(
        'STORAGE_VERSION',
        `${path} was written by a newer version of @nexus-store/sqlite (schema ${info.userVersion}, this version reads up to ${SCHEMA_VERSION}); upgrade @nexus-store/sqlite. The file was not changed.`,
        { path },
      );
    }
  }

  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    if (this.draining || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const connection = this.connection;
    this.connection = null;
    if (connection?.db.open) connection.db.close();
  }

  read<R>(fn: (tx: ReadTransaction) => Promise<R>): Promise<R> {
    return this.enqueue('read', fn);
  }

  write<R>(fn: (tx: WriteTransaction) => Promise<R>): Promise<R> {
    return this.enqueue('write', fn);
  }

  async ensureIndexes(collection: string, fields: readonly string[]): Promise<void> {
    const known = this.connection?.indexes.get(collection);
    const missing = fields.filter((field) => isSqlField(field) && !known?.has(field));
    if (missing.length === 0) return;
    await this.enqueue('write', async () => {
      const connection = this.connection!;
      connection.beforeSqlWrite();
      const db = connection.db;
      let indexes = connection.indexes.get(collection);
      if (!indexes) connection.indexes.set(collection, (indexes = new Map()));
      for (const field of missing) {
        const id = createHash('sha1').update(`${collection}\u0000${field}`).digest('hex').slice(0, 20);
        // (collection, value, key) rather than a partial index per collection: the planner then
        // prefers it over the primary key for ranges too, without needing ANALYZE statistics.
        db.exec(`CREATE INDEX IF NOT EXISTS nx_ix_${id} ON nx_docs (collection, ${fieldExpr(field)}, key) WHERE deleted = 0`);
        indexes.set(field, `nx_ix_${id}`);
      }
    });
  }

  private enqueue<R>(kind: Job['kind'], fn: (tx: SqliteTransaction) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!this.connection) {
        reject(new StorageError('CLOSED', `SQLite storage ${this.name} is not open; call open() first.`, { path: this.name }));
        return;
      }
      this.queue.push({ kind, fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const connection = this.connection!;
        if (this.queue[0]!.kind === 'read') await this.runRead(connection, this.queue.shift()!);
        else await this.runWriteGroup(connection);
      }
    } catch (error) {
      // Only a connection that cannot even roll back gets here: fail what waits rather than hang.
      const mapped = this.mapError(error);
      for (const job of this.queue.splice(0)) job.reject(mapped);
    } finally {
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async runRead(connection: Connection, job: Job): Promise<void> {
    const s = connection.statements;
    const tx = new SqliteTransaction(this, connection, false);
    try {
      s.begin.run();
    } catch (error) {
      job.reject(this.mapError(error));
      return;
    }
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await job.fn(tx) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    tx.finish();
    try {
      if (connection.db.inTransaction) s.commit.run();
    } catch (error) {
      if (outcome.ok) outcome = { ok: false, error: this.mapError(error) };
      if (connection.db.inTransaction) connection.db.exec('ROLLBACK');
    }
    if (outcome.ok) job.resolve(outcome.value);
    else job.reject(outcome.error);
  }

  /** Runs the writes at the head of the queue in one transaction and settles them after COMMIT. */
  private async runWriteGroup(connection: Connection): Promise<void> {
    const s = connection.statements;
    const done: { job: Job; result: unknown }[] = [];
    try {
      let open = false;
      let ran = 0;
      while (ran < this.maxGroupSize && this.queue[0]?.kind === 'write') {
        if (!open) {
          try {
            connection.beginWrite();
            open = true;
          } catch (error) {
            this.failHeadWrites(error);
            return;
          }
        }
        const job = this.queue.shift()!;
        ran++;
        // The first callback needs no savepoint: if it throws, the whole transaction is its own.
        const nested = done.length > 0;
        const tx = new SqliteTransaction(this, connection, true);
        connection.startJob(nested);
        try {
          const result = await job.fn(tx);
          tx.finish();
          connection.endJob();
          done.push({ job, result });
        } catch (error) {
          tx.finish();
          job.reject(error);
          if (!connection.db.inTransaction) {
            // SQLite rolled the whole transaction back (disk full, I/O error): redo the others alone.
            open = false;
            connection.discard();
            await this.runAlone(connection, done.splice(0).map((d) => d.job));
          } else if (nested) {
            connection.undoJob();
          } else {
            connection.discard();
            s.rollback.run();
            open = false;
          }
        }
      }
      if (!open) return;
      try {
        connection.flush();
        s.commit.run();
      } catch (error) {
        connection.discard();
        if (connection.db.inTransaction) s.rollback.run();
        // The group failed as a whole: give every callback its own transaction so each succeeds or fails alone.
        const jobs = done.splice(0).map((d) => d.job);
        if (jobs.length === 1) jobs[0]!.reject(this.mapError(error));
        else await this.runAlone(connection, jobs);
        return;
      }
      for (const { job, result } of done.splice(0)) job.resolve(result);
    } catch (error) {
      // Only a failing ROLLBACK or RELEASE gets here: nothing of this group is known to be committed.
      connection.discard();
      if (connection.db.inTransaction) connection.db.exec('ROLLBACK');
      for (const { job } of done) job.reject(this.mapError(error));
    }
  }

  private failHeadWrites(error: unknown): void {
    while (this.queue[0]?.kind === 'write') this.queue.shift()!.reject(this.mapError(error));
  }

  private async runAlone(connection: Connection, jobs: Job[]): Promise<void> {
    const s = connection.statements;
    for (const job of jobs) {
      const tx = new SqliteTransaction(this, connection, true);
      try {
        connection.beginWrite();
        const result = await job.fn(tx);
        tx.finish();
        connection.flush();
        s.commit.run();
        job.resolve(result);
      } catch (error) {
        tx.finish();
        connection.discard();
        if (connection.db.inTransaction) s.rollback.run();
        job.reject(this.mapError(error));
      }
    }
  }
}

/**
 * Durable storage for nexus-store in a SQLite file, on better-sqlite3 (Node, Electron).
 *
 * ```ts
 * const nexus = await createNexus({ storage: sqliteStorage({ filename: 'crm.db' }) });
 * ```
 *
 * Opening a file written by a newer version of this package fails with `StorageError`
 * `STORAGE_VERSION` (the file is not touched); a file that is not a nexus-store database, or is
 * corrupt, fails with `STORAGE_CORRUPT`.
 */
export function sqliteStorage(options: SqliteStorageOptions): LocalStorage {
  return new SqliteStorage(options);
}


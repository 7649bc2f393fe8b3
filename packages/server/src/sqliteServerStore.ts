import Database from 'better-sqlite3';
import { StorageError, type ServerRecord } from '@nexus-store/core';
import { notifyPokeListeners, type CompactResult, type PokeListener, type PullPage, type ServerStore, type ServerStoreTransaction, type StoredUser } from './serverStore.js';
import { PushReadCache, keysByCollection } from './pushReadCache.js';
import { RECORD_COLUMNS, recordFromRow, type RecordRowColumns } from './serverRecordRow.js';

export interface SqliteServerStoreOptions {
  /** Path of the database file, or ':memory:'. */
  filename: string;
  /**
   * `'full'`: every push is fsynced before it is acknowledged, so an acknowledged mutation survives
   * a power loss (clients drop a mutation from their outbox once it is acknowledged).
   * `'normal'`: survives a crash of the server process, not of the machine; faster.
   * @default 'full'
   */
  durability?: 'full' | 'normal';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nexus_tenants (tenant TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0, horizon INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS nexus_records (
  tenant TEXT NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
  data TEXT, hlc TEXT NOT NULL, field_clocks TEXT, client_id TEXT, updated_at INTEGER NOT NULL, mutation_id TEXT,
  PRIMARY KEY (tenant, collection, key));
CREATE UNIQUE INDEX IF NOT EXISTS nexus_records_version ON nexus_records (tenant, version);
CREATE TABLE IF NOT EXISTS nexus_dedup (
  tenant TEXT NOT NULL, client_id TEXT NOT NULL, mutation_id TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, client_id, mutation_id));
CREATE INDEX IF NOT EXISTS nexus_dedup_created ON nexus_dedup (created_at);
CREATE TABLE IF NOT EXISTS nexus_uniques (
  tenant TEXT NOT NULL, collection TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
  PRIMARY KEY (tenant, collection, field, value));
CREATE INDEX IF NOT EXISTS nexus_uniques_key ON nexus_uniques (tenant, collection, key);
CREATE TABLE IF NOT EXISTS nexus_users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, tenant TEXT NOT NULL, created_at INTEGER NOT NULL);
`;

/**
 * The schema's version, in `PRAGMA user_version`. 0: the first schema, which kept every dedup entry
 * in nexus_dedup. 1: a record row holds the dedup entry of the write that made it (`mutation_id`,
 * with its `client_id`, `version` and `updated_at`), which saves a dedup row per applied mutation
 * (a third of a push's writes); the trigger moves the entry to nexus_dedup when the row is overwritten.
 */
const SCHEMA_VERSION = 1;

const DEDUP_TRIGGER = `
CREATE TRIGGER IF NOT EXISTS nexus_records_superseded BEFORE UPDATE OF version ON nexus_records
WHEN old.mutation_id IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO nexus_dedup (tenant, client_id, mutation_id, version, created_at)
  VALUES (old.tenant, old.client_id, old.mutation_id, old.version, old.updated_at);
END;
`;

/** Creates the tables, or brings a file of schema 0 to SCHEMA_VERSION, in one transaction. */
function migrate(db: Database.Database, path: string): void {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from === SCHEMA_VERSION) return;
  if (from > SCHEMA_VERSION) {
    throw new StorageError('STORAGE_VERSION', `The server database ${path} has schema ${from}, newer than this server's ${SCHEMA_VERSION}; upgrade @nexus-store/server.`, { path });
  }
  db.transaction(() => {
    db.exec(SCHEMA);
    const columns = db.prepare("SELECT name FROM pragma_table_info('nexus_records')").pluck().all() as string[];
    if (!columns.includes('mutation_id')) db.exec('ALTER TABLE nexus_records ADD COLUMN mutation_id TEXT');
    db.exec(DEDUP_TRIGGER);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

// The statements of a push, as constants: `stmt()` looks them up by their text.
const GET_DEDUP_SQL = 'SELECT version FROM nexus_dedup WHERE tenant = ? AND client_id = ? AND mutation_id = ?';
/** A full scan: only a transaction without `preload` asks it (applyPush always preloads). */
const GET_ROW_DEDUP_SQL = 'SELECT version FROM nexus_records WHERE tenant = ? AND client_id = ? AND mutation_id = ?';
const GET_RECORD_SQL = `SELECT ${RECORD_COLUMNS} FROM nexus_records WHERE tenant = ? AND collection = ? AND key = ?`;
const PRELOAD_DEDUP_SQL = 'SELECT mutation_id, version FROM nexus_dedup WHERE tenant = ? AND client_id = ? AND mutation_id IN (SELECT value FROM json_each(?))';
/**
 * Whether nexus_dedup holds any entry of this client (one seek). Its entries come from overwritten
 * rows only, so a client that only ever writes new records has none, and its pushes skip the
 * lookup of every mutation id there (~0.45 ms per push of 1,000).
 */
const ANY_DEDUP_SQL = 'SELECT EXISTS (SELECT 1 FROM nexus_dedup WHERE tenant = ? AND client_id = ?)';
const PRELOAD_RECORDS_SQL = `SELECT ${RECORD_COLUMNS}, mutation_id FROM nexus_records WHERE tenant = ? AND collection = ? AND key IN (SELECT value FROM json_each(?))`;
/** Values of each record row and dedup row a push writes. */
const RECORD_VALUES = 11;
/** Where a record row's client id and mutation id are among its values. */
const RECORD_CLIENT_ID = 8;
const RECORD_MUTATION_ID = 10;
const DEDUP_VALUES = 5;
/**
 * Rows per multi-row INSERT. One statement per row made the push transaction of 1,000 take ~22 ms
 * instead of ~8.5 (in-process, same file, alternating runs).
 */
const WRITE_CHUNK = 64;
const valuesOf = (count: number, rows: number): string => Array(rows).fill(`(${Array(count).fill('?').join(', ')})`).join(', ');
const PUT_RECORDS_SQL = (rows: number) => `INSERT INTO nexus_records (tenant, ${RECORD_COLUMNS}, updated_at, mutation_id) VALUES ${valuesOf(RECORD_VALUES, rows)}
  ON CONFLICT (tenant, collection, key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted, data = excluded.data,
  hlc = excluded.hlc, field_clocks = excluded.field_clocks, client_id = excluded.client_id, updated_at = excluded.updated_at, mutation_id = excluded.mutation_id`;
const PUT_DEDUPS_SQL = (rows: number) => `INSERT INTO nexus_dedup (tenant, client_id, mutation_id, version, created_at) VALUES ${valuesOf(DEDUP_VALUES, rows)}`;

/**
 * Rows for the next INSERT of a flush: WRITE_CHUNK, or for the rest the largest power of two that
 * fits, so a connection prepares at most seven statements per table.
 */
function chunkRows(remaining: number): number {
  if (remaining >= WRITE_CHUNK) return WRITE_CHUNK;
  let rows = 1;
  while (rows * 2 <= remaining) rows *= 2;
  return rows;
}

interface RecordRow extends RecordRowColumns {
  version: number;
  deleted: number;
}

interface PreloadedRow extends RecordRow {
  mutation_id: string | null;
}

const toRecord = (row: RecordRow): ServerRecord => recordFromRow(row, row.version, row.deleted === 1);

/**
 * The embedded default: one SQLite file on better-sqlite3. A single connection and a write lock
 * make every push a serial transaction, so versions are trivially assigned in commit order.
 */
export function sqliteServerStore(options: SqliteServerStoreOptions): ServerStore {
  let db: Database.Database | undefined;
  const listeners = new Set<PokeListener>();
  // Serializes transactions: a push awaits between statements, so nothing else may use the connection meanwhile.
  let lock: Promise<unknown> = Promise.resolve();

  const statements = new Map<string, Database.Statement>();
  /** Prepared once per connection: preparing costs more than running these small statements. */
  function stmt(sql: string): Database.Statement {
    let statement = statements.get(sql);
    if (!statement) {
      statement = conn().prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  }

  function conn(): Database.Database {
    if (!db) throw new StorageError('CLOSED', 'The SQLite server store is not open; call open() first (createSyncServer does).', { path: options.filename });
    return db;
  }

  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = lock.then(fn, fn);
    lock = run.catch(() => undefined);
    return run;
  }

  function isSqliteError(error: unknown): boolean {
    return String((error as { code?: unknown })?.code ?? '').startsWith('SQLITE');
  }

  function toStorageError(error: unknown): unknown {
    try {
      mapError(error);
    } catch (mapped) {
      return mapped;
    }
  }

  function mapError(error: unknown): never {
    if (error instanceof StorageError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
      throw new StorageError('STORAGE_CORRUPT', `The server database ${options.filename} is corrupt: ${(error as Error).message}`, { cause: error, path: options.filename });
    }
    if (code === 'SQLITE_FULL') throw new StorageError('QUOTA_EXCEEDED', `The disk of ${options.filename} is full.`, { cause: error, path: options.filename });
    throw new StorageError('STORAGE', `Server database error: ${(error as Error).message}`, { cause: error, path: options.filename });
  }

  interface PendingWrite {
    tenant: string;
    fn: (tx: ServerStoreTransaction) => Promise<unknown>;
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
  }
  const pending: PendingWrite[] = [];
  let draining = false;

  /**
   * Group commit: the pushes waiting when the lock frees run in one SQLite transaction, each in a
   * savepoint of its own (a failing push rolls back alone), and share one COMMIT (one fsync). None
   * is acknowledged before that COMMIT.
   */
  async function drain(): Promise<void> {
    draining = true;
    try {
      await exclusive(async () => {
        while (pending.length > 0) await runGroup(pending.splice(0, 128));
      });
    } finally {
      draining = false;
    }
    if (pending.length > 0) void drain();
  }

  async function runGroup(group: PendingWrite[]): Promise<void> {
    let d: Database.Database;
    try {
      d = conn();
      d.exec('BEGIN IMMEDIATE');
    } catch (error) {
      for (const w of group) w.reject(toStorageError(error));
      return;
    }
    const done: Array<{ w: PendingWrite; result: unknown; poke: number | null }> = [];
    const settled = new Set<PendingWrite>();
    try {
      for (const w of group) {
        d.exec('SAVEPOINT push');
        try {
          const { result, poke } = await runOne(w);
          d.exec('RELEASE push');
          done.push({ w, result, poke });
        } catch (error) {
          // A push that fails rolls back alone (unless SQLite already ended the transaction: then all fail below).
          d.exec('ROLLBACK TO push');
          d.exec('RELEASE push');
          settled.add(w);
          w.reject(isSqliteError(error) ? toStorageError(error) : error);
        }
      }
      d.exec('COMMIT');
    } catch (error) {
      if (d.inTransaction) d.exec('ROLLBACK');
      for (const w of group) if (!settled.has(w)) w.reject(toStorageError(error));
      return;
    }
    for (const { w, result, poke } of done) {
      if (poke !== null) notifyPokeListeners(listeners, w.tenant, poke);
      w.resolve(result);
    }
  }

  async function runOne(w: PendingWrite): Promise<{ result: unknown; poke: number | null }> {
    const { tenant } = w;
    stmt('INSERT INTO nexus_tenants (tenant) VALUES (?) ON CONFLICT (tenant) DO NOTHING').run(tenant);
    let version = (stmt('SELECT version FROM nexus_tenants WHERE tenant = ?').get(tenant) as { version: number }).version;
    const startVersion = version;
    // Reads of a push batch come from `preload` (one statement for the batch's dedup entries, one
    // per collection for its records: a lookup per mutation cost twice as much); writes keep the
    // cache current, so a later mutation of the same batch sees them.
    const cache = new PushReadCache();
    // Record and dedup rows wait here (their values, flat) and go in multi-row INSERTs: before
    // any read of those tables that the cache cannot answer, and at the end of the push.
    const recordValues: unknown[] = [];
    const dedupValues: unknown[] = [];
    const flushRows = (values: unknown[], perRow: number, sql: (rows: number) => string) => {
      for (let start = 0; start < values.length; ) {
        const rows = chunkRows((values.length - start) / perRow);
        stmt(sql(rows)).run(values.slice(start, start + rows * perRow));
        start += rows * perRow;
      }
      values.length = 0;
    };
    /** Where the values of each buffered record row start, by the version it writes. */
    const rowAt = new Map<number, number>();
    const flush = () => {
      flushRows(recordValues, RECORD_VALUES, PUT_RECORDS_SQL);
      flushRows(dedupValues, DEDUP_VALUES, PUT_DEDUPS_SQL);
      rowAt.clear();
    };
    const tx: ServerStoreTransaction = {
      startVersion,
      async preload(clientId, mutations) {
        const dedups = (
          stmt(ANY_DEDUP_SQL).pluck().get(tenant, clientId) === 1 ? stmt(PRELOAD_DEDUP_SQL).all(tenant, clientId, JSON.stringify([...new Set(mutations.map((m) => m.mutationId))])) : []
        ) as { mutation_id: string; version: number }[];
        const found = dedups.map((row) => [row.mutation_id, row.version] as const);
        const records: ServerRecord[] = [];
        for (const [collection, keys] of keysByCollection(mutations)) {
          for (const row of stmt(PRELOAD_RECORDS_SQL).all(tenant, collection, JSON.stringify(keys)) as PreloadedRow[]) {
            records.push(toRecord(row));
            // The row's own dedup entry: this client's write that made it.
            if (row.mutation_id !== null && row.client_id === clientId) found.push([row.mutation_id, row.version]);
          }
        }
        cache.preloaded(clientId, mutations, found, records);
      },
      getDedup(clientId, mutationId) {
        const cached = cache.dedup(clientId, mutationId);
        if (cached !== undefined) return cached;
        flush();
        const row = (stmt(GET_DEDUP_SQL).get(tenant, clientId, mutationId) ?? stmt(GET_ROW_DEDUP_SQL).get(tenant, clientId, mutationId)) as { version: number } | undefined;
        return row?.version ?? null;
      },
      getRecord(collection, key) {
        const cached = cache.record(collection, key);
        if (cached !== undefined) return cached;
        flush();
        const row = stmt(GET_RECORD_SQL).get(tenant, collection, key) as RecordRow | undefined;
        return row ? toRecord(row) : null;
      },
      async findUniqueOwner(collection, field, value) {
        const row = stmt('SELECT key FROM nexus_uniques WHERE tenant = ? AND collection = ? AND field = ? AND value = ?').get(tenant, collection, field, value) as { key: string } | undefined;
        return row?.key ?? null;
      },
      nextVersion() {
        version += 1;
        return version;
      },
      putRecord(r, updatedAt) {
        cache.setRecord(r.collection, r.key, r);
        rowAt.set(r.version, recordValues.length);
        recordValues.push(tenant, r.collection, r.key, r.version, r.deleted ? 1 : 0, r.data === null ? null : JSON.stringify(r.data), r.hlc,
          r.fieldClocks === null ? null : JSON.stringify(r.fieldClocks), r.clientId ?? null, updatedAt, null);
      },
      async replaceUniques(collection, key, values) {
        stmt('DELETE FROM nexus_uniques WHERE tenant = ? AND collection = ? AND key = ?').run(tenant, collection, key);
        const insert = stmt('INSERT INTO nexus_uniques (tenant, collection, field, value, key) VALUES (?, ?, ?, ?, ?)');
        for (const v of values) insert.run(tenant, collection, v.field, v.value, key);
      },
      putDedup(clientId, mutationId, v, createdAt) {
        cache.setDedup(clientId, mutationId, v);
        // The entry of the write that makes a row this push writes goes into that row.
        const at = rowAt.get(v);
        if (at !== undefined && recordValues[at + RECORD_CLIENT_ID] === clientId) recordValues[at + RECORD_MUTATION_ID] = mutationId;
        else dedupValues.push(tenant, clientId, mutationId, v, createdAt);
      },
    };
    const result = await w.fn(tx);
    flush();
    if (version === startVersion) return { result, poke: null };
    stmt('UPDATE nexus_tenants SET version = ? WHERE tenant = ?').run(version, tenant);
    return { result, poke: version };
  }

  return {
    kind: 'sqlite',

    async open() {
      if (db) return;
      try {
        db = new Database(options.filename);
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
        db.pragma('busy_timeout = 5000');
        migrate(db, options.filename);
      } catch (error) {
        db = undefined;
        mapError(error);
      }
    },

    write<T>(tenant: string, fn: (tx: ServerStoreTransaction) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        pending.push({ tenant, fn: fn as PendingWrite['fn'], resolve: resolve as PendingWrite['resolve'], reject });
        if (!draining) void drain();
      });
    },

    pull(tenant, after, limit) {
      return exclusive(async () => {
        const rows = stmt(`SELECT ${RECORD_COLUMNS} FROM nexus_records WHERE tenant = ? AND version > ? ORDER BY version LIMIT ?`).all(tenant, after, limit + 1) as RecordRow[];
        const t = stmt('SELECT horizon FROM nexus_tenants WHERE tenant = ?').get(tenant) as { horizon: number } | undefined;
        return { changes: rows.map(toRecord), horizon: t?.horizon ?? 0 } satisfies PullPage;
      });
    },

    latestVersion(tenant) {
      return exclusive(async () => {
        const t = stmt('SELECT version FROM nexus_tenants WHERE tenant = ?').get(tenant) as { version: number } | undefined;
        return t?.version ?? 0;
      });
    },

    compact(before) {
      return exclusive(async () => {
        const d = conn();
        return d.transaction((): CompactResult => {
          stmt(
            `UPDATE nexus_tenants SET horizon = MAX(horizon, (SELECT COALESCE(MAX(version), 0) FROM nexus_records r
              WHERE r.tenant = nexus_tenants.tenant AND r.deleted = 1 AND r.updated_at < ?))`,
          ).run(before);
          // Dedup entries older than the horizon are forgotten, those kept in record rows too.
          const inRows = stmt('UPDATE nexus_records SET mutation_id = NULL WHERE mutation_id IS NOT NULL AND updated_at < ?').run(before).changes;
          const tombstones = stmt('DELETE FROM nexus_records WHERE deleted = 1 AND updated_at < ?').run(before).changes;
          const dedup = inRows + stmt('DELETE FROM nexus_dedup WHERE created_at < ?').run(before).changes;
          return { tombstones, dedup };
        }).immediate();
      });
    },

    putUser(user) {
      return exclusive(async () => {
        stmt(`INSERT INTO nexus_users (username, password_hash, tenant, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, tenant = excluded.tenant`)
          .run(user.username, user.passwordHash, user.tenant, user.createdAt);
      });
    },

    getUser(username) {
      return exclusive(async () => {
        const row = stmt('SELECT username, password_hash, tenant, created_at FROM nexus_users WHERE username = ?').get(username) as
          | { username: string; password_hash: string; tenant: string; created_at: number }
          | undefined;
        return row ? ({ username: row.username, passwordHash: row.password_hash, tenant: row.tenant, createdAt: row.created_at } satisfies StoredUser) : null;
      });
    },

    subscribePokes(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async close() {
      await exclusive(async () => {
        statements.clear();
        db?.close();
        db = undefined;
      });
      listeners.clear();
    },
  };
}

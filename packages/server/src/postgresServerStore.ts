import pg from 'pg';
import { InvalidArgumentError, StorageError, type ServerRecord } from '@nexus-store/core';
import { notifyPokeListeners, type CompactResult, type PokeListener, type PullPage, type ServerStore, type ServerStoreTransaction, type StoredUser } from './serverStore.js';
import { PushReadCache, pairKey } from './pushReadCache.js';
import { RECORD_COLUMNS, recordFromRow, type RecordRowColumns } from './serverRecordRow.js';

export interface PostgresServerStoreOptions {
  /** e.g. postgres://user:pass@host:5432/db */
  connectionString: string;
  /** Schema of the tables (created if missing). @default 'public' */
  schema?: string;
  /** Connections in the pool. @default 10 */
  poolSize?: number;
  /** First delay before re-opening a lost LISTEN connection, in ms (doubles up to 30 s). @default 1000 */
  listenRetryMs?: number;
}

interface RecordRow extends RecordRowColumns {
  version: string;
  deleted: boolean;
}

const toRecord = (row: RecordRow): ServerRecord => recordFromRow(row, Number(row.version), row.deleted);

/**
 * PostgreSQL store for several stateless server instances over one database.
 *
 * Versions: every push transaction first locks its tenant's counter row (`INSERT ... ON CONFLICT DO
 * UPDATE ... RETURNING`, which takes the row lock) and holds it until COMMIT, so pushes of one tenant
 * are serialized and commit order equals version order (see ../ARCHITECTURE.md). Pokes are sent with
 * pg_notify inside the transaction, so PostgreSQL delivers them at commit to every instance.
 */
export function postgresServerStore(options: PostgresServerStoreOptions): ServerStore {
  const schema = options.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) throw new InvalidArgumentError(`postgresServerStore: schema "${schema}" must be a lowercase identifier (a-z, 0-9, _).`);
  const channel = `nexus_store_poke_${schema}`;
  const q = (name: string) => `"${schema}"."${name}"`;
  const T = { tenants: q('nexus_tenants'), records: q('nexus_records'), dedup: q('nexus_dedup'), uniques: q('nexus_uniques'), users: q('nexus_users') };
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10 });
  const listeners = new Set<PokeListener>();
  let listener: pg.Client | undefined;
  let closed = false;

  pool.on('error', () => {
    // An idle client died (server restart); the pool replaces it on the next checkout.
  });

  function mapError(error: unknown): never {
    if (error instanceof StorageError || error instanceof InvalidArgumentError) throw error;
    throw new StorageError('STORAGE', `PostgreSQL error: ${(error as Error).message}`, { cause: error });
  }

  /** Pokes missed while the LISTEN connection is down are only hints: clients still pull. */
  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: options.connectionString, application_name: `nexus-store-listen-${schema}` });
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (listener === client) listener = undefined;
      client.end().catch(() => undefined);
      relisten(options.listenRetryMs ?? 1000);
    };
    client.on('notification', (msg) => {
      if (msg.channel !== channel || !msg.payload) return;
      try {
        const { tenant, version } = JSON.parse(msg.payload) as { tenant: string; version: number };
        notifyPokeListeners(listeners, tenant, version);
      } catch {
        // not ours
      }
    });
    client.on('error', onLost);
    client.on('end', onLost);
    try {
      await client.connect();
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      lost = true;
      client.end().catch(() => undefined);
      throw error;
    }
    if (closed) {
      lost = true;
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
  }

  /** Reconnects the LISTEN connection, with backoff, until it works or the store closes. */
  function relisten(delayMs: number): void {
    if (closed) return;
    setTimeout(() => {
      if (closed) return;
      listen().catch(() => relisten(Math.min(delayMs * 2, 30_000)));
    }, delayMs).unref();
  }

  return {
    kind: 'postgres',

    async open() {
      const client = await pool.connect().catch(mapError);
      try {
        await client.query('BEGIN');
        // Several instances may start at once; CREATE ... IF NOT EXISTS is not safe concurrently.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nexus_store_schema_${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        await client.query(`
          CREATE TABLE IF NOT EXISTS ${T.tenants} (tenant TEXT PRIMARY KEY, version BIGINT NOT NULL DEFAULT 0, horizon BIGINT NOT NULL DEFAULT 0);
          CREATE TABLE IF NOT EXISTS ${T.records} (
            tenant TEXT NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL, version BIGINT NOT NULL, deleted BOOLEAN NOT NULL,
            data TEXT, hlc TEXT NOT NULL, field_clocks TEXT, client_id TEXT, updated_at BIGINT NOT NULL,
            PRIMARY KEY (tenant, collection, key));
          CREATE UNIQUE INDEX IF NOT EXISTS nexus_records_version ON ${T.records} (tenant, version);
          CREATE TABLE IF NOT EXISTS ${T.dedup} (
            tenant TEXT NOT NULL, client_id TEXT NOT NULL, mutation_id TEXT NOT NULL, version BIGINT NOT NULL, created_at BIGINT NOT NULL,
            PRIMARY KEY (tenant, client_id, mutation_id));
          CREATE INDEX IF NOT EXISTS nexus_dedup_created ON ${T.dedup} (created_at);
          CREATE TABLE IF NOT EXISTS ${T.uniques} (
            tenant TEXT NOT NULL, collection TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
            PRIMARY KEY (tenant, collection, field, value));
          CREATE INDEX IF NOT EXISTS nexus_uniques_key ON ${T.uniques} (tenant, collection, key);
          CREATE TABLE IF NOT EXISTS ${T.users} (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, tenant TEXT NOT NULL, created_at BIGINT NOT NULL);
        `);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        mapError(error);
      } finally {
        client.release();
      }
      await listen().catch(mapError);
    },

    async write(tenant, fn) {
      const client = await pool.connect().catch(mapError);
      let broken = false;
      try {
        await client.query('BEGIN');
        // Takes the tenant's row lock, held until COMMIT: pushes of one tenant are serialized.
        const locked = await client.query<{ version: string }>(
          `INSERT INTO ${T.tenants} (tenant) VALUES ($1) ON CONFLICT (tenant) DO UPDATE SET tenant = EXCLUDED.tenant RETURNING version`,
          [tenant],
        );
        const startVersion = Number(locked.rows[0]!.version);
        let version = startVersion;
        // Reads are served from a per-transaction cache filled by preload; writes are buffered and
        // flushed in two multi-row statements before COMMIT. Round trips, not SQL, dominate here.
        const cache = new PushReadCache();
        const pendingRecords = new Map<string, { record: ServerRecord; updatedAt: number }>();
        const pendingDedup: Array<{ clientId: string; mutationId: string; version: number; createdAt: number }> = [];
        const tx: ServerStoreTransaction = {
          startVersion,
          async preload(clientId, mutations) {
            const ids = [...new Set(mutations.map((m) => m.mutationId))];
            const d = await client.query<{ mutation_id: string; version: string }>(
              `SELECT mutation_id, version FROM ${T.dedup} WHERE tenant = $1 AND client_id = $2 AND mutation_id = ANY($3::text[])`,
              [tenant, clientId, ids],
            );
            const collections = mutations.map((m) => m.collection);
            const keys = mutations.map((m) => m.key);
            const r = await client.query<RecordRow>(
              `SELECT ${RECORD_COLUMNS} FROM ${T.records} WHERE tenant = $1 AND (collection, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
              [tenant, collections, keys],
            );
            cache.preloaded(clientId, mutations, d.rows.map((row) => [row.mutation_id, Number(row.version)] as const), r.rows.map(toRecord));
          },
          async getDedup(clientId, mutationId) {
            const cached = cache.dedup(clientId, mutationId);
            if (cached !== undefined) return cached;
            const r = await client.query<{ version: string }>(`SELECT version FROM ${T.dedup} WHERE tenant = $1 AND client_id = $2 AND mutation_id = $3`, [tenant, clientId, mutationId]);
            return r.rows[0] ? Number(r.rows[0].version) : null;
          },
          async getRecord(collection, key) {
            const cached = cache.record(collection, key);
            if (cached !== undefined) return cached;
            const r = await client.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM ${T.records} WHERE tenant = $1 AND collection = $2 AND key = $3`, [tenant, collection, key]);
            const found = r.rows[0] ? toRecord(r.rows[0]) : null;
            cache.setRecord(collection, key, found);
            return found;
          },
          async findUniqueOwner(collection, field, value) {
            const r = await client.query<{ key: string }>(`SELECT key FROM ${T.uniques} WHERE tenant = $1 AND collection = $2 AND field = $3 AND value = $4`, [tenant, collection, field, value]);
            return r.rows[0]?.key ?? null;
          },
          async nextVersion() {
            version += 1;
            return version;
          },
          async putRecord(rec, updatedAt) {
            cache.setRecord(rec.collection, rec.key, rec);
            pendingRecords.set(pairKey(rec.collection, rec.key), { record: rec, updatedAt });
          },
          async replaceUniques(collection, key, values) {
            await client.query(`DELETE FROM ${T.uniques} WHERE tenant = $1 AND collection = $2 AND key = $3`, [tenant, collection, key]);
            for (const v of values) {
              await client.query(`INSERT INTO ${T.uniques} (tenant, collection, field, value, key) VALUES ($1, $2, $3, $4, $5)`, [tenant, collection, v.field, v.value, key]);
            }
          },
          async putDedup(clientId, mutationId, v, createdAt) {
            cache.setDedup(clientId, mutationId, v);
            pendingDedup.push({ clientId, mutationId, version: v, createdAt });
          },
        };
        const flush = async () => {
          if (pendingRecords.size > 0) {
            const rows = [...pendingRecords.values()];
            await client.query(
              `INSERT INTO ${T.records} (tenant, ${RECORD_COLUMNS}, updated_at)
               SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])
               ON CONFLICT (tenant, collection, key) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted, data = EXCLUDED.data,
               hlc = EXCLUDED.hlc, field_clocks = EXCLUDED.field_clocks, client_id = EXCLUDED.client_id, updated_at = EXCLUDED.updated_at`,
              [
                tenant,
                rows.map((x) => x.record.collection),
                rows.map((x) => x.record.key),
                rows.map((x) => x.record.version),
                rows.map((x) => x.record.deleted),
                rows.map((x) => (x.record.data === null ? null : JSON.stringify(x.record.data))),
                rows.map((x) => x.record.hlc),
                rows.map((x) => (x.record.fieldClocks === null ? null : JSON.stringify(x.record.fieldClocks))),
                rows.map((x) => x.record.clientId ?? null),
                rows.map((x) => x.updatedAt),
              ],
            );
          }
          if (pendingDedup.length > 0) {
            await client.query(
              `INSERT INTO ${T.dedup} (tenant, client_id, mutation_id, version, created_at) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])`,
              [tenant, pendingDedup.map((x) => x.clientId), pendingDedup.map((x) => x.mutationId), pendingDedup.map((x) => x.version), pendingDedup.map((x) => x.createdAt)],
            );
          }
        };
        const result = await fn(tx);
        await flush();
        if (version !== startVersion) {
          await client.query(`UPDATE ${T.tenants} SET version = $2 WHERE tenant = $1`, [tenant, version]);
          // Delivered by PostgreSQL at COMMIT, to every instance that LISTENs (this one included).
          await client.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify({ tenant, version })]);
        }
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (error instanceof Error && 'severity' in error) mapError(error);
        throw error;
      } finally {
        client.release(broken);
      }
    },

    async pull(tenant, after, limit) {
      try {
        // One statement, one snapshot: every version <= the newest one seen is committed (see ARCHITECTURE.md).
        const r = await pool.query<RecordRow & { horizon: string | null }>(
          `SELECT ${RECORD_COLUMNS}, NULL AS horizon FROM (SELECT * FROM ${T.records} WHERE tenant = $1 AND version > $2 ORDER BY version LIMIT $3) page
           UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, horizon::text FROM ${T.tenants} WHERE tenant = $1`,
          [tenant, after, limit + 1],
        );
        let horizon = 0;
        const changes: ServerRecord[] = [];
        for (const row of r.rows) {
          if (row.horizon !== null) horizon = Number(row.horizon);
          else changes.push(toRecord(row));
        }
        changes.sort((a, b) => a.version - b.version);
        return { changes, horizon } satisfies PullPage;
      } catch (error) {
        mapError(error);
      }
    },

    async latestVersion(tenant) {
      const r = await pool.query<{ version: string }>(`SELECT version FROM ${T.tenants} WHERE tenant = $1`, [tenant]).catch(mapError);
      return r.rows[0] ? Number(r.rows[0].version) : 0;
    },

    async compact(before) {
      const client = await pool.connect().catch(mapError);
      try {
        await client.query('BEGIN');
        await client.query(
          `UPDATE ${T.tenants} t SET horizon = GREATEST(t.horizon, m.v) FROM
            (SELECT tenant, MAX(version) AS v FROM ${T.records} WHERE deleted AND updated_at < $1 GROUP BY tenant) m WHERE m.tenant = t.tenant`,
          [before],
        );
        const tombstones = await client.query(`DELETE FROM ${T.records} WHERE deleted AND updated_at < $1`, [before]);
        const dedup = await client.query(`DELETE FROM ${T.dedup} WHERE created_at < $1`, [before]);
        await client.query('COMMIT');
        return { tombstones: tombstones.rowCount ?? 0, dedup: dedup.rowCount ?? 0 } satisfies CompactResult;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        mapError(error);
      } finally {
        client.release();
      }
    },

    async putUser(user) {
      await pool
        .query(
          `INSERT INTO ${T.users} (username, password_hash, tenant, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, tenant = EXCLUDED.tenant`,
          [user.username, user.passwordHash, user.tenant, user.createdAt],
        )
        .catch(mapError);
    },

    async getUser(username) {
      const r = await pool
        .query<{ username: string; password_hash: string; tenant: string; created_at: string }>(`SELECT username, password_hash, tenant, created_at FROM ${T.users} WHERE username = $1`, [username])
        .catch(mapError);
      const row = r.rows[0];
      return row ? ({ username: row.username, passwordHash: row.password_hash, tenant: row.tenant, createdAt: Number(row.created_at) } satisfies StoredUser) : null;
    },

    subscribePokes(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },

    async close() {
      closed = true;
      listeners.clear();
      await listener?.end().catch(() => undefined);
      listener = undefined;
      await pool.end();
    },
  };
}

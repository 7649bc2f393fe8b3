import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSyncServer, silentLogger, sqliteServerStore } from '@nexus-store/server';
import { runServerSuite } from './serverSuite.js';
import { api, mutation, SECRET, sqliteFactory } from './helpers.js';

runServerSuite('SQLite', sqliteFactory());

describe('sqliteServerStore group commit', () => {
  it('writes issued together share a transaction, yet one that throws rolls back alone', async () => {
    const factory = sqliteFactory();
    const { store } = factory.create();
    await store.open();
    const pokes: number[] = [];
    store.subscribePokes((_tenant, version) => pokes.push(version));
    const put = (key: string, fail = false) =>
      store.write('t', async (tx) => {
        const version = await tx.nextVersion();
        await tx.putRecord({ collection: 'c', key, version, deleted: false, data: { key }, hlc: 'h', fieldClocks: null, clientId: 'x' }, 0);
        if (fail) throw new Error(`boom ${key}`);
        return version;
      });
    const results = await Promise.allSettled([put('a'), put('b', true), put('c'), put('d')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([1, 'boom b', 2, 3]);
    const page = await store.pull('t', 0, 10);
    expect(page.changes.map((c) => [c.key, c.version])).toEqual([['a', 1], ['c', 2], ['d', 3]]);
    expect(pokes).toEqual([1, 2, 3]);
    await store.close();
    await expect(put('e')).rejects.toMatchObject({ code: 'CLOSED' });
    await factory.cleanup();
  });
});

describe('sqliteServerStore schema', () => {
  /** The schema as the first release wrote it (user_version 0): every dedup entry in nexus_dedup. */
  const SCHEMA_0 = `
CREATE TABLE nexus_tenants (tenant TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0, horizon INTEGER NOT NULL DEFAULT 0);
CREATE TABLE nexus_records (
  tenant TEXT NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
  data TEXT, hlc TEXT NOT NULL, field_clocks TEXT, client_id TEXT, updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, collection, key));
CREATE UNIQUE INDEX nexus_records_version ON nexus_records (tenant, version);
CREATE TABLE nexus_dedup (
  tenant TEXT NOT NULL, client_id TEXT NOT NULL, mutation_id TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, client_id, mutation_id));
CREATE INDEX nexus_dedup_created ON nexus_dedup (created_at);
CREATE TABLE nexus_uniques (
  tenant TEXT NOT NULL, collection TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, key TEXT NOT NULL,
  PRIMARY KEY (tenant, collection, field, value));
CREATE INDEX nexus_uniques_key ON nexus_uniques (tenant, collection, key);
CREATE TABLE nexus_users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, tenant TEXT NOT NULL, created_at INTEGER NOT NULL);`;

  function tempFile(): { filename: string; remove: () => void } {
    const dir = mkdtempSync(join(tmpdir(), 'nexus-server-schema-'));
    return { filename: join(dir, 'server.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
  }

  it('opens a file of schema 0: its records and dedup entries keep working, and new writes keep their entry in the record row', async () => {
    const { filename, remove } = tempFile();
    const old = mutation({ key: 'k', clientId: 'client-a', data: { n: 1 } });
    const db = new Database(filename);
    db.exec(SCHEMA_0);
    db.prepare("INSERT INTO nexus_tenants (tenant, version) VALUES ('t1', 1)").run();
    db.prepare("INSERT INTO nexus_records VALUES ('t1', 'contacts', 'k', 1, 0, '{\"n\":1}', ?, NULL, 'client-a', 1000)").run(old.hlc);
    db.prepare("INSERT INTO nexus_dedup VALUES ('t1', 'client-a', ?, 1, 1000)").run(old.mutationId);
    db.close();

    const next = mutation({ key: 'k', clientId: 'client-a', baseVersion: 1, data: { n: 2 } });
    const last = mutation({ key: 'k', clientId: 'client-a', baseVersion: 2, data: { n: 3 } });
    const server = createSyncServer({ database: sqliteServerStore({ filename }), auth: { jwtSecret: SECRET }, logger: silentLogger });
    try {
      const { url } = await server.listen(0, '127.0.0.1');
      const client = api(url, await server.issueToken('alice', { tenant: 't1' }));
      expect((await client.push([old, next])).body.results.map((r: any) => [r.status, r.version])).toEqual([['duplicate', 1], ['applied', 2]]);
      expect((await client.push([last, next])).body.results.map((r: any) => [r.status, r.version])).toEqual([['applied', 3], ['duplicate', 2]]);
      expect((await client.pullAll()).map((r: any) => [r.key, r.version, r.data])).toEqual([['k', 3, { n: 3 }]]);
    } finally {
      await server.close();
    }
    const after = new Database(filename, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(1);
    // next's entry moved to nexus_dedup when last overwrote its row; last's entry is in the row.
    expect(after.prepare('SELECT mutation_id, version FROM nexus_dedup ORDER BY version').all()).toEqual([
      { mutation_id: old.mutationId, version: 1 },
      { mutation_id: next.mutationId, version: 2 },
    ]);
    expect(after.prepare('SELECT mutation_id FROM nexus_records').pluck().all()).toEqual([last.mutationId]);
    after.close();
    remove();
  });

  it('refuses a file of a newer schema with STORAGE_VERSION, and leaves it as it was', async () => {
    const { filename, remove } = tempFile();
    const db = new Database(filename);
    db.pragma('user_version = 7');
    db.close();
    const store = sqliteServerStore({ filename });
    await expect(store.open()).rejects.toMatchObject({ code: 'STORAGE_VERSION', message: expect.stringContaining('upgrade @nexus-store/server') });
    const after = new Database(filename, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(7);
    expect(after.prepare('SELECT count(*) FROM sqlite_schema').pluck().get()).toBe(0);
    after.close();
    remove();
  });
});

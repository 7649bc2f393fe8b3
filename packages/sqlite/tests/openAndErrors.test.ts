import { createHash } from 'node:crypto';
import { openSync, readFileSync, writeFileSync, writeSync, closeSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '@nexus-store/core';
import { SCHEMA_VERSION, sqliteStorage } from '@nexus-store/sqlite';
import { toStorageError } from '../src/sqliteErrors.js';
import { doc, outboxEntry, tempFolder } from './helpers.js';

let folder: ReturnType<typeof tempFolder>;
beforeEach(() => {
  folder = tempFolder();
});
afterEach(() => folder.cleanup());

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function createDatabase(path: string, rows = 3): Promise<void> {
  const storage = sqliteStorage({ filename: path, durability: 'normal' });
  await storage.open();
  await storage.write(async (tx) => {
    for (let i = 0; i < rows; i++) {
      await tx.putDocs([doc('c', `k${i}`, { i, text: 'x'.repeat(500) })]);
      await tx.addOutbox(outboxEntry('c', `k${i}`, { i }));
    }
  });
  await storage.close();
}

describe('opening files', () => {
  it('creates a new file with the current schema version, WAL mode and the nexus-store application id', async () => {
    const path = folder.file();
    await createDatabase(path);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(0x4e585331);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('adopts an empty existing SQLite file', async () => {
    const path = folder.file();
    new Database(path).close();
    writeFileSync(folder.file('zero.db'), '');
    for (const file of [path, folder.file('zero.db')]) {
      const storage = sqliteStorage({ filename: file });
      await storage.open();
      await storage.write((tx) => tx.setMeta('ok', true));
      expect(await storage.read((tx) => tx.getMeta('ok'))).toBe(true);
      await storage.close();
    }
  });

  it('refuses a file written by a newer version with STORAGE_VERSION and leaves it byte for byte unchanged', async () => {
    const path = folder.file();
    await createDatabase(path);
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.pragma('journal_mode = DELETE');
    raw.close();
    const before = sha(path);
    const storage = sqliteStorage({ filename: path });
    const error = await storage.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'STORAGE_VERSION', path });
    expect((error as Error).message).toMatch(/newer version of @nexus-store\/sqlite.*upgrade/);
    expect(sha(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);
    await expect(storage.read((tx) => tx.getMeta('x'))).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('refuses a newer file still in WAL mode (with its -wal file) without changing or checkpointing it', async () => {
    const path = folder.file();
    await createDatabase(path);
    // Leave the file as a crashed newer version would: WAL mode, committed frames still in the -wal file.
    const raw = new Database(path);
    raw.pragma('wal_autocheckpoint = 0');
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.prepare('INSERT INTO nx_meta (key, value) VALUES (?, ?)').run('from-the-future', '1');
    const before = { db: sha(path), wal: sha(`${path}-wal`) };
    const error = await sqliteStorage({ filename: path })
      .open()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ name: 'StorageError', code: 'STORAGE_VERSION', path });
    expect({ db: sha(path), wal: sha(`${path}-wal`) }).toEqual(before);
    raw.close();
  });

  it('refuses a file that is not SQLite with STORAGE_CORRUPT naming the path, unchanged', async () => {
    const path = folder.file('notes.txt');
    writeFileSync(path, 'These are my notes, not a database. '.repeat(200));
    const before = sha(path);
    await expect(sqliteStorage({ filename: path }).open()).rejects.toMatchObject({ name: 'StorageError', code: 'STORAGE_CORRUPT', path });
    await expect(sqliteStorage({ filename: path }).open()).rejects.toThrow(path);
    expect(sha(path)).toBe(before);
  });

  it('refuses a SQLite database of another application with STORAGE_CORRUPT', async () => {
    const path = folder.file('other.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)');
    raw.close();
    const before = sha(path);
    await expect(sqliteStorage({ filename: path }).open()).rejects.toMatchObject({ code: 'STORAGE_CORRUPT', path, message: expect.stringMatching(/not a nexus-store database/) });
    expect(sha(path)).toBe(before);
  });

  it('reports a database whose pages were overwritten as STORAGE_CORRUPT', async () => {
    const path = folder.file();
    await createDatabase(path, 200);
    const size = readFileSync(path).length;
    expect(size).toBeGreaterThan(8 * 4096);
    // Overwrite every page after the first (schema) page with garbage.
    const fd = openSync(path, 'r+');
    for (let offset = 4096; offset < size; offset += 4096) writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, offset);
    closeSync(fd);
    const storage = sqliteStorage({ filename: path });
    const error = await storage
      .open()
      .then(() => storage.read((tx) => tx.queryDocs('c', {})))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await storage.close();
    expect(error).toMatchObject({ name: 'StorageError', code: 'STORAGE_CORRUPT', path });
  });

  it('reports a missing folder as STORAGE with a hint', async () => {
    const path = folder.file('no/such/folder/x.db');
    await expect(sqliteStorage({ filename: path }).open()).rejects.toMatchObject({ code: 'STORAGE', path, message: expect.stringMatching(/folder does not exist/) });
  });
});

describe('SQLite error mapping', () => {
  it('maps a real SQLITE_FULL error to QUOTA_EXCEEDED (not retryable)', async () => {
    const path = folder.file();
    await createDatabase(path, 1);
    // A real SQLITE_FULL from a tiny max_page_count, produced on the same kind of connection.
    const raw = new Database(path);
    const pages = raw.pragma('page_count', { simple: true }) as number;
    raw.pragma(`max_page_count = ${pages}`);
    let sqliteError: unknown;
    try {
      raw.prepare('INSERT INTO nx_meta (key, value) VALUES (?, ?)').run('big', 'x'.repeat(100_000));
    } catch (error) {
      sqliteError = error;
    }
    raw.close();
    expect((sqliteError as { code: string }).code).toBe('SQLITE_FULL');
    const mapped = toStorageError(sqliteError, path);
    expect(mapped).toMatchObject({ name: 'StorageError', code: 'QUOTA_EXCEEDED', path, cause: sqliteError });
    expect((mapped as StorageError).retryable).toBe(false);
  });

  it('maps SQLITE_BUSY from another process holding the write lock to STORAGE after busyTimeout', async () => {
    const path = folder.file();
    await createDatabase(path, 1);
    const storage = sqliteStorage({ filename: path, busyTimeout: 50 });
    await storage.open();
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const error = await storage.write((tx) => tx.setMeta('x', 1)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'StorageError', code: 'STORAGE', path, message: expect.stringMatching(/locked/) });
      expect((error as StorageError).cause).toMatchObject({ code: 'SQLITE_BUSY' });
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    await storage.write((tx) => tx.setMeta('x', 1));
    expect(await storage.read((tx) => tx.getMeta('x'))).toBe(1);
    await storage.close();
  });

  it('maps SQLITE_CORRUPT and SQLITE_NOTADB to STORAGE_CORRUPT, and errors on a closed connection to CLOSED', () => {
    const corrupt = Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' });
    const notadb = Object.assign(new Error('file is not a database'), { code: 'SQLITE_NOTADB' });
    expect(toStorageError(corrupt, 'a.db')).toMatchObject({ code: 'STORAGE_CORRUPT', path: 'a.db' });
    expect(toStorageError(notadb, 'a.db')).toMatchObject({ code: 'STORAGE_CORRUPT' });
    expect(toStorageError(new TypeError('The database connection is not open'), 'a.db', false)).toMatchObject({ code: 'CLOSED' });
    const own = new Error('from a callback');
    expect(toStorageError(own, 'a.db')).toBe(own);
  });
});

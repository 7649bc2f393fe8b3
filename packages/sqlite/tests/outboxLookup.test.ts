import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStorage } from '@nexus-store/core';
import { SCHEMA_VERSION, sqliteStorage } from '@nexus-store/sqlite';
import { doc, outboxEntry, tempFolder } from './helpers.js';

// Schema 3 finds a document's outbox entries through the seqs its row lists, and entries without a
// document through the docless index. These tests check every way an entry can lose its document row.

let folder: ReturnType<typeof tempFolder>;
let storage: LocalStorage;

beforeEach(async () => {
  folder = tempFolder();
  storage = sqliteStorage({ filename: folder.file(), durability: 'normal' });
  await storage.open();
});

afterEach(async () => {
  await storage.close();
  folder.cleanup();
});

const seqsOf = (collection: string, keys: string[]) => storage.read(async (tx) => (await tx.getOutboxForKeys(collection, keys)).map((e) => [e.key, e.seq]));

/** The `outbox` column of a document row, read on a second connection. */
function listedSeqs(key: string): string | null {
  const raw = new Database(folder.file(), { readonly: true });
  try {
    return (raw.prepare('SELECT outbox FROM nx_docs WHERE collection = ? AND key = ?').get('c', key) as { outbox: string | null }).outbox;
  } finally {
    raw.close();
  }
}

describe('finding outbox entries by document (schema 3)', () => {
  it('finds entries added before, with and after their document row, in one write or several', async () => {
    const [a1, b1, c1] = await storage.write(async (tx) => {
      const first = await tx.addOutbox(outboxEntry('c', 'a', { id: 'a' })); // before its document, same write
      await tx.putDocs([doc('c', 'a', { id: 'a' }), doc('c', 'b', { id: 'b' })]);
      const second = await tx.addOutbox(outboxEntry('c', 'b', { id: 'b' })); // after it
      const third = await tx.addOutbox(outboxEntry('c', 'nodoc', { id: 'x' })); // no document at all
      return [first, second, third];
    });
    const a2 = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { id: 'a', v: 2 }))); // document stored earlier
    expect(await seqsOf('c', ['a', 'b', 'nodoc', 'missing'])).toEqual([
      ['a', a1],
      ['b', b1],
      ['nodoc', c1],
      ['a', a2],
    ]);
    expect(await seqsOf('c', ['a'])).toEqual([
      ['a', a1],
      ['a', a2],
    ]);
    expect(await seqsOf('other', ['a'])).toEqual([]);
  });

  it('keeps entries findable when their document is removed, and when it is created again', async () => {
    const first = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'a', { id: 'a' })]);
      return tx.addOutbox(outboxEntry('c', 'a', { id: 'a' }));
    });
    await storage.write((tx) => tx.removeDocs('c', ['a']));
    expect(await seqsOf('c', ['a'])).toEqual([['a', first]]);
    const second = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'a', { id: 'a', again: true })]);
      return tx.addOutbox(outboxEntry('c', 'a', { id: 'a', again: true }));
    });
    expect(await seqsOf('c', ['a', 'b'])).toEqual([
      ['a', first],
      ['a', second],
    ]);
    await storage.write((tx) => tx.deleteOutbox([first]));
    expect(await seqsOf('c', ['a'])).toEqual([['a', second]]);
  });

  it('finds an entry whose priority (and so its rowid) changed', async () => {
    const seq = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'a', { id: 'a' })]);
      return tx.addOutbox(outboxEntry('c', 'a', { id: 'a' }, { priority: 'low' }));
    });
    const [entry] = await storage.read((tx) => tx.getOutboxForKeys('c', ['a']));
    await storage.write((tx) => tx.updateOutbox([{ ...entry!, priority: 'critical' }]));
    const [after] = await storage.read((tx) => tx.getOutboxForKeys('c', ['a']));
    expect([after?.seq, after?.priority]).toEqual([seq, 'critical']);
  });

  it('drops the seqs of deleted entries from a document row when the document is written again', async () => {
    const seqs = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'a', { id: 'a' })]);
      return [await tx.addOutbox(outboxEntry('c', 'a', { id: 'a' })), await tx.addOutbox(outboxEntry('c', 'a', { id: 'a', v: 2 }))];
    });
    expect(JSON.parse(listedSeqs('a')!)).toEqual(seqs);
    await storage.write(async (tx) => {
      await tx.deleteOutbox([seqs[0]!]);
      await tx.putDocs([doc('c', 'a', { id: 'a', v: 2 }, { syncState: 'pending' })]);
    });
    expect(JSON.parse(listedSeqs('a')!)).toEqual([seqs[1]]);
    await storage.write(async (tx) => {
      await tx.deleteOutbox([seqs[1]!]);
      await tx.putDocs([doc('c', 'a', { id: 'a', v: 2 }, { syncState: 'synced' })]);
    });
    expect(listedSeqs('a')).toBeNull();
    expect(await seqsOf('c', ['a'])).toEqual([]);
  });

  it('keeps entries of a callback that failed inside a group out of the lists, and those of the others in', async () => {
    const results = await Promise.allSettled([
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'ok', { id: 'ok' })]);
        return tx.addOutbox(outboxEntry('c', 'ok', { id: 'ok' }));
      }),
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'bad', { id: 'bad' })]);
        await tx.addOutbox(outboxEntry('c', 'bad', { id: 'bad' }));
        await tx.listOutbox(); // sends the buffered rows of both callbacks to SQLite inside this one's savepoint
        throw new Error('boom');
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const okSeq = (results[0] as PromiseFulfilledResult<number>).value;
    expect(await seqsOf('c', ['ok', 'bad'])).toEqual([['ok', okSeq]]);
    expect(JSON.parse(listedSeqs('ok')!)).toEqual([okSeq]);
  });
});

describe('migration from schema 2', () => {
  it('lists each document\'s entries on its row, flags entries without a document, and drops the by-document index', async () => {
    await storage.close();
    folder.cleanup();
    folder = tempFolder();
    // A schema 2 file as @nexus-store/sqlite 0.1 wrote it (the tables of migration 1; rowid = priority rank * 2^44 + seq).
    const old = new Database(folder.file());
    old.pragma('journal_mode = WAL');
    old.exec(`
      CREATE TABLE nx_docs (collection TEXT NOT NULL, key TEXT NOT NULL, data TEXT, deleted INTEGER NOT NULL, hlc TEXT NOT NULL,
        field_clocks TEXT, sync_state TEXT NOT NULL, server TEXT, PRIMARY KEY (collection, key)) WITHOUT ROWID;
      CREATE TABLE nx_outbox (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL,
        priority INTEGER NOT NULL, status TEXT NOT NULL, tx_id TEXT, mutation_id TEXT NOT NULL, op TEXT NOT NULL, data TEXT,
        changed_fields TEXT, base_version INTEGER NOT NULL, hlc TEXT NOT NULL, field_clocks TEXT, attempts INTEGER NOT NULL,
        last_error TEXT, conflict TEXT, created_at INTEGER NOT NULL);
      CREATE INDEX nx_outbox_by_doc ON nx_outbox (collection, key);
      CREATE INDEX nx_outbox_by_tx ON nx_outbox (tx_id) WHERE tx_id IS NOT NULL;
      CREATE TABLE nx_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE nx_outbox_seq (id INTEGER PRIMARY KEY CHECK (id = 1), deleted_max INTEGER NOT NULL);
      INSERT INTO nx_outbox_seq (id, deleted_max) VALUES (1, 0);
      INSERT INTO nx_docs VALUES ('c', 'a', '{"id":"a","v":2}', 0, '0000000000002:0000:x', NULL, 'pending', NULL);
      INSERT INTO nx_docs VALUES ('c', 'b', '{"id":"b"}', 0, '0000000000001:0000:x', NULL, 'synced', '{"version":4,"deleted":false,"hlc":"0000000000001:0000:x","fieldClocks":null}');
      INSERT INTO nx_outbox VALUES (35184372088833, 1, 'c', 'a', 2, 'pending', NULL, 'm1', 'upsert', '{"id":"a"}', NULL, 0, '0000000000001:0000:x', NULL, 0, NULL, NULL, 1);
      INSERT INTO nx_outbox VALUES (52776558133250, 2, 'c', 'gone', 3, 'pending', NULL, 'm2', 'upsert', '{"id":"gone"}', NULL, 0, '0000000000001:0000:x', NULL, 0, NULL, NULL, 2);
      INSERT INTO nx_outbox VALUES (35184372088835, 3, 'c', 'a', 2, 'pending', NULL, 'm3', 'upsert', '{"id":"a","v":2}', NULL, 0, '0000000000002:0000:x', NULL, 0, NULL, NULL, 3);
    `);
    old.pragma('application_id = 1314411313');
    old.pragma('user_version = 2');
    old.close();

    storage = sqliteStorage({ filename: folder.file(), durability: 'normal' });
    await storage.open();
    expect(await seqsOf('c', ['a', 'b', 'gone'])).toEqual([
      ['a', 1],
      ['gone', 2],
      ['a', 3],
    ]);
    const [b] = await storage.read((tx) => tx.getDocs('c', ['b']));
    expect(b?.server?.data).toEqual({ id: 'b' });
    const next = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'b', { id: 'b', v: 2 })));
    expect(next).toBe(4);
    expect(await seqsOf('c', ['b'])).toEqual([['b', 4]]);
    await storage.close();

    const raw = new Database(folder.file(), { readonly: true });
    const indexes = (raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'nx_outbox' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const docless = raw.prepare('SELECT seq FROM nx_outbox WHERE docless = 1').pluck().all();
    const version = raw.pragma('user_version', { simple: true });
    raw.close();
    expect(indexes).toEqual(['nx_outbox_by_tx', 'nx_outbox_docless']);
    expect(docless).toEqual([2]);
    expect(version).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(3);
    storage = sqliteStorage({ filename: folder.file() });
    await storage.open();
  });
});

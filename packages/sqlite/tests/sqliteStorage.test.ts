import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StorageError } from '@nexus-store/core';
import type { LocalStorage, WriteTransaction } from '@nexus-store/core';
import { SCHEMA_VERSION, sqliteStorage } from '@nexus-store/sqlite';
import { doc, outboxEntry, tempFolder } from './helpers.js';

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

describe('sqliteStorage basics', () => {
  it('stores documents, outbox entries and metadata in one write and keeps them across reopen', async () => {
    const seq = await storage.write(async (tx) => {
      await tx.putDocs([doc('contacts', 'a', { id: 'a', name: 'Ada', tags: ['x'], nested: { n: 1 } })]);
      await tx.setMeta('cursor', { at: 5 });
      return tx.addOutbox(outboxEntry('contacts', 'a', { id: 'a', name: 'Ada' }, { priority: 'high' }));
    });
    expect(seq).toBeGreaterThan(0);
    await storage.close();
    storage = sqliteStorage({ filename: folder.file() });
    await storage.open();
    const [stored, outbox, meta, counts] = await storage.read(async (tx) => [
      await tx.getDocs('contacts', ['a', 'missing']),
      await tx.listOutbox(),
      await tx.getMeta<{ at: number }>('cursor'),
      await tx.countOutbox(),
    ] as const);
    expect(stored[0]).toEqual(doc('contacts', 'a', { id: 'a', name: 'Ada', tags: ['x'], nested: { n: 1 } }));
    expect(stored[1]).toBeUndefined();
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ seq, key: 'a', priority: 'high', status: 'pending', data: { id: 'a', name: 'Ada' } });
    expect(meta).toEqual({ at: 5 });
    expect(counts).toEqual({ pending: 1, inflight: 0, failed: 0, conflict: 0 });
  });

  it('returns documents that compare, spread, serialise and accept assignment like plain objects', async () => {
    const stored = doc('c', 'a', { v: 1 }, { fieldClocks: { v: 'h1' }, server: { version: 3, deleted: false, data: { v: 0 }, hlc: 'h0', fieldClocks: null } });
    await storage.write((tx) => tx.putDocs([stored]));
    const [fromQuery] = await storage.read((tx) => tx.queryDocs('c', {}));
    const [fromGet] = await storage.read((tx) => tx.getDocs('c', ['a']));
    for (const found of [fromQuery!, fromGet!]) {
      expect(found).toEqual(stored);
      expect(JSON.parse(JSON.stringify(found))).toEqual(stored);
      expect({ ...found }).toEqual(stored);
      expect(Object.keys(found).sort()).toEqual(Object.keys(stored).sort());
      found.fieldClocks = { v: 'h2' };
      found.server = null;
      expect(found.fieldClocks).toEqual({ v: 'h2' });
      expect(found.server).toBeNull();
    }
  });

  it('keeps tombstones, removes documents, deletes metadata with undefined', async () => {
    await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'a', { v: 1 }), doc('c', 'b', { v: 2 }), doc('c', 'gone', null)]);
      await tx.setMeta('k', 1);
    });
    await storage.write(async (tx) => {
      await tx.removeDocs('c', ['b']);
      await tx.setMeta('k', undefined);
    });
    const [docs, meta, count] = await storage.read(async (tx) => [await tx.getDocs('c', ['a', 'b', 'gone']), await tx.getMeta('k'), await tx.countDocs('c')] as const);
    expect(docs.map((d) => d?.key)).toEqual(['a', undefined, 'gone']);
    expect(docs[2]).toMatchObject({ deleted: true, data: null });
    expect(meta).toBeUndefined();
    expect(count).toBe(1);
  });

  it('hands out outbox seqs greater than every seq before, even after deleting the last one', async () => {
    const first = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { v: 1 })));
    const second = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { v: 2 })));
    await storage.write((tx) => tx.deleteOutbox([second]));
    await storage.close();
    await storage.open();
    const third = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { v: 3 })));
    expect(second).toBeGreaterThan(first);
    expect(third).toBeGreaterThan(second);
  });

  it('keeps push order, seq and lookups when an update changes an entry\'s priority', async () => {
    const [a, b, c] = await storage.write(async (tx) => [
      await tx.addOutbox(outboxEntry('c', 'a', { v: 1 }, { priority: 'low' })),
      await tx.addOutbox(outboxEntry('c', 'b', { v: 1 }, { priority: 'normal' })),
      await tx.addOutbox(outboxEntry('c', 'c', { v: 1 }, { priority: 'high' })),
    ]);
    const before = await storage.read((tx) => tx.listOutbox());
    expect(before.map((e) => e.seq)).toEqual([c, b, a]);
    const raised = { ...before.find((e) => e.seq === a)!, priority: 'critical' as const, status: 'inflight' as const };
    await storage.write((tx) => tx.updateOutbox([raised]));
    const after = await storage.read(async (tx) => ({ all: await tx.listOutbox(), forKey: await tx.getOutboxForKeys('c', ['a']), inflight: await tx.listOutbox({ status: 'inflight' }) }));
    expect(after.all.map((e) => [e.seq, e.priority])).toEqual([
      [a, 'critical'],
      [c, 'high'],
      [b, 'normal'],
    ]);
    expect(after.forKey).toEqual([raised]);
    expect(after.inflight).toEqual([raised]);
    await storage.write((tx) => tx.deleteOutbox([a, b]));
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => e.seq)).toEqual([c]);
  });

  it('hands out seqs above one deleted from a lower priority than the remaining entries', async () => {
    const low = await storage.write(async (tx) => {
      await tx.addOutbox(outboxEntry('c', 'a', { v: 1 }, { priority: 'critical' }));
      return tx.addOutbox(outboxEntry('c', 'b', { v: 1 }, { priority: 'low' }));
    });
    await storage.write((tx) => tx.deleteOutbox([low]));
    await storage.close();
    await storage.open();
    const next = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'c', { v: 1 }, { priority: 'critical' })));
    expect(next).toBeGreaterThan(low);
    // And with the highest seq still present under a lower priority, after a reopen.
    const lowAgain = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'd', { v: 1 }, { priority: 'low' })));
    await storage.close();
    await storage.open();
    expect(await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'e', { v: 1 }, { priority: 'critical' })))).toBeGreaterThan(lowAgain);
  });

  it('lists the outbox by priority then seq, filters by status and txId, updates and finds entries by key', async () => {
    const seqs = await storage.write(async (tx) => [
      await tx.addOutbox(outboxEntry('c', 'a', { v: 1 }, { priority: 'low' })),
      await tx.addOutbox(outboxEntry('c', 'b', { v: 1 }, { priority: 'critical', txId: 't1' })),
      await tx.addOutbox(outboxEntry('c', 'a', { v: 2 }, { priority: 'normal', txId: 't1' })),
      await tx.addOutbox(outboxEntry('d', 'a', { v: 3 }, { priority: 'critical' })),
    ]);
    const all = await storage.read((tx) => tx.listOutbox());
    expect(all.map((e) => e.seq)).toEqual([seqs[1], seqs[3], seqs[2], seqs[0]]);
    const updated = { ...all[0]!, status: 'failed' as const, attempts: 3, lastError: { code: 'REJECTED', message: 'no' } };
    await storage.write((tx) => tx.updateOutbox([updated]));
    const [failed, inTx, forKeys, limited] = await storage.read(async (tx) => [
      await tx.listOutbox({ status: 'failed' }),
      await tx.listOutbox({ txId: 't1' }),
      await tx.getOutboxForKeys('c', ['a']),
      await tx.listOutbox({ limit: 2 }),
    ] as const);
    expect(failed).toEqual([updated]);
    expect(inTx.map((e) => e.seq)).toEqual([seqs[1], seqs[2]]);
    expect(forKeys.map((e) => e.seq)).toEqual([seqs[0], seqs[2]]);
    expect(limited).toHaveLength(2);
  });

  it('rolls back everything a write callback did when it throws, and rejects with its error', async () => {
    const boom = new Error('boom');
    await expect(
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'a', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'a', { v: 1 }));
        throw boom;
      }),
    ).rejects.toBe(boom);
    const [docs, outbox] = await storage.read(async (tx) => [await tx.getDocs('c', ['a']), await tx.listOutbox()] as const);
    expect(docs).toEqual([undefined]);
    expect(outbox).toEqual([]);
  });

  it('refuses writes inside read() and transaction use after the callback returned', async () => {
    await expect(storage.read((tx) => (tx as unknown as { putDocs: (d: unknown[]) => Promise<void> }).putDocs([doc('c', 'a', { v: 1 })]))).rejects.toBeInstanceOf(StorageError);
    let leaked: Parameters<Parameters<LocalStorage['write']>[0]>[0] | undefined;
    await storage.write(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.putDocs([doc('c', 'a', { v: 1 })])).rejects.toMatchObject({ code: 'STORAGE' });
    expect(await storage.read((tx) => tx.getDocs('c', ['a']))).toEqual([undefined]);
  });

  it('rejects with CLOSED after close() and works again after open()', async () => {
    await storage.close();
    await expect(storage.read((tx) => tx.getMeta('x'))).rejects.toMatchObject({ name: 'StorageError', code: 'CLOSED' });
    await storage.open();
    await expect(storage.read((tx) => tx.getMeta('x'))).resolves.toBeUndefined();
  });

  it('close() waits for queued writes to commit', async () => {
    const pending = [1, 2, 3].map((i) => storage.write((tx) => tx.putDocs([doc('c', `k${i}`, { i })])));
    await storage.close();
    await Promise.all(pending);
    const db = new Database(folder.file(), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM nx_docs').get() as { n: number }).n).toBe(3);
    db.close();
    await storage.open();
  });

  it('uses WAL mode and maps durability to PRAGMA synchronous (default full)', async () => {
    const pragma = vi.spyOn(Database.prototype, 'pragma');
    try {
      for (const [name, options] of [
        ['default.db', {}],
        ['full.db', { durability: 'full' as const }],
        ['normal.db', { durability: 'normal' as const }],
      ] as const) {
        const s = sqliteStorage({ filename: folder.file(name), ...options });
        await s.open();
        await s.write((tx) => tx.setMeta('x', 1));
        await s.close();
      }
      const synchronous = pragma.mock.calls.map((call) => call[0]).filter((p) => p.startsWith('synchronous'));
      expect(synchronous).toEqual(['synchronous = FULL', 'synchronous = FULL', 'synchronous = NORMAL']);
    } finally {
      pragma.mockRestore();
    }
    const db = new Database(folder.file('full.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});

describe('server state column', () => {
  it('stores a synced record\'s JSON once and reads its server state back whole; other server states are kept as they are', async () => {
    const data = { id: 'a', name: 'Ada' };
    const server = (d: Record<string, unknown> | null) => ({ version: 3, deleted: false, data: d, hlc: '0000000000002:0000:s', fieldClocks: null });
    await storage.write((tx) =>
      tx.putDocs([
        doc('c', 'synced', data, { syncState: 'synced', server: server(data) }),
        doc('c', 'edited', { id: 'b', name: 'Bea (local)' }, { syncState: 'pending', server: server({ id: 'b', name: 'Bea' }) }),
        doc('c', 'deleted', null, { deleted: true, syncState: 'pending', server: server({ id: 'c', name: 'Cy' }) }),
      ]),
    );
    await storage.close();
    const raw = new Database(folder.file(), { readonly: true });
    const columns = raw.prepare('SELECT key, server FROM nx_docs ORDER BY key').all() as { key: string; server: string }[];
    raw.close();
    expect(columns.map((c) => [c.key, 'data' in JSON.parse(c.server)])).toEqual([
      ['deleted', true],
      ['edited', true],
      ['synced', false],
    ]);
    storage = sqliteStorage({ filename: folder.file() });
    await storage.open();
    const [synced, edited, deleted] = await storage.read((tx) => tx.getDocs('c', ['synced', 'edited', 'deleted']));
    expect(synced?.server).toEqual(server(data));
    expect(edited?.server).toEqual(server({ id: 'b', name: 'Bea' }));
    expect(deleted?.server).toEqual(server({ id: 'c', name: 'Cy' }));
    expect((await storage.read((tx) => tx.queryDocs('c', { where: { name: 'Ada' } })))[0]?.server).toEqual(server(data));
  });

  it('leaves out the clock and field clocks a server state shares with its document (schema 5), also when a push is acknowledged, and keeps them once the document moves on', async () => {
    const hlc = '0000000000002:0000:s';
    const clocks = { name: hlc };
    const rawServer = async (key: string) => {
      const raw = new Database(folder.file(), { readonly: true });
      try {
        return (raw.prepare("SELECT server FROM nx_docs WHERE collection = 'c' AND key = ?").pluck().get(key) as string | null) ?? null;
      } finally {
        raw.close();
      }
    };
    const data = { id: 'a', name: 'Ada' };
    await storage.write((tx) => tx.putDocs([doc('c', 'a', data, { hlc, fieldClocks: clocks, syncState: 'synced', server: { version: 3, deleted: false, data, hlc, fieldClocks: clocks } })]));
    expect(await rawServer('a')).toBe('{"version":3}');
    let [a] = await storage.read((tx) => tx.getDocs('c', ['a']));
    expect(a?.server).toEqual({ version: 3, deleted: false, data, hlc, fieldClocks: clocks });
    // A local write moves the document on: the server state keeps its own clock and field clocks.
    const later = '0000000000005:0000:client';
    await storage.write((tx) => tx.putDocs([{ ...a!, data: { id: 'a', name: 'Ada L.' }, hlc: later, fieldClocks: { name: later }, syncState: 'pending' }]));
    [a] = await storage.read((tx) => tx.getDocs('c', ['a']));
    expect(a?.server).toEqual({ version: 3, deleted: false, data, hlc, fieldClocks: clocks });
    expect(JSON.parse((await rawServer('a'))!)).toEqual({ version: 3, data, hlc, fieldClocks: clocks });

    // A fresh write acknowledged by ackOutbox: its server state is all the document's but the version.
    const fresh = { id: 'f', name: 'Fay' };
    const seq = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'f', fresh, { fieldClocks: { name: '0000000000001:0000:client' }, syncState: 'pending' })]);
      return tx.addOutbox(outboxEntry('c', 'f', fresh, { fieldClocks: { name: '0000000000001:0000:client' }, status: 'inflight', attempts: 1 }));
    });
    expect(await storage.write((tx) => tx.ackOutbox!([{ seq, version: 9, priority: 'normal' }]))).toEqual([seq]);
    expect(await rawServer('f')).toBe('{"version":9}');
    const [f] = await storage.read((tx) => tx.getDocs('c', ['f']));
    expect(f).toMatchObject({ syncState: 'synced', server: { version: 9, deleted: false, data: fresh, hlc: '0000000000001:0000:client', fieldClocks: { name: '0000000000001:0000:client' } } });
    // A delete acknowledged the same way, and one whose clock is not its document's.
    const gone = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'g', null, { deleted: true, syncState: 'pending' })]);
      return tx.addOutbox(outboxEntry('c', 'g', null, { status: 'inflight', attempts: 1, hlc: '0000000000000:0000:old' }));
    });
    await storage.write((tx) => tx.ackOutbox!([{ seq: gone, version: 10 }]));
    expect(JSON.parse((await rawServer('g'))!)).toEqual({ version: 10, deleted: true, data: null, hlc: '0000000000000:0000:old' });
    const [g] = await storage.read((tx) => tx.getDocs('c', ['g']));
    expect(g?.server).toEqual({ version: 10, deleted: true, data: null, hlc: '0000000000000:0000:old', fieldClocks: null });
  });
});

describe('outbox seqs', () => {
  it('stay unique and increasing when another connection to the file added entries in between', async () => {
    const other = sqliteStorage({ filename: folder.file(), durability: 'normal' });
    await other.open();
    try {
      const first = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { v: 1 })));
      const second = await other.write((tx) => tx.addOutbox(outboxEntry('c', 'b', { v: 1 })));
      // This connection kept its next seq from the first write; the other connection's commit makes it look again.
      const third = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'c', { v: 1 })));
      expect(second).toBeGreaterThan(first);
      expect(third).toBeGreaterThan(second);
      expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.key, e.seq])).toEqual([['a', first], ['b', second], ['c', third]]);
    } finally {
      await other.close();
    }
  });
  it('marks and deletes an entry whose priority changed after it was read, in the same write', async () => {
    const seq = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { v: 1 })));
    await storage.write(async (tx) => {
      const [entry] = await tx.listOutbox();
      await tx.updateOutbox([{ ...entry!, priority: 'critical' }]);
      await tx.markOutbox!([seq], 'inflight', { countAttempt: true });
    });
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.priority, e.status, e.attempts])).toEqual([['critical', 'inflight', 1]]);
    await storage.write(async (tx) => {
      const [entry] = await tx.listOutbox();
      await tx.updateOutbox([{ ...entry!, priority: 'low' }]);
      await tx.deleteOutbox([seq]);
    });
    expect(await storage.read((tx) => tx.listOutbox())).toEqual([]);
  });

  it('finds an entry by seq after a rolled-back write had moved it, alone or inside a group', async () => {
    const seq = await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'a', { v: 1 })));
    const moveThenFail = (priority: 'critical' | 'high') =>
      storage.write(async (tx) => {
        const [entry] = await tx.getOutboxForKeys('c', ['a']);
        await tx.updateOutbox([{ ...entry!, priority }]);
        expect((await tx.getOutboxForKeys('c', ['a']))[0]?.priority).toBe(priority); // read where it moved to
        throw new Error('rolled back');
      });
    await expect(moveThenFail('critical')).rejects.toThrow('rolled back');
    await storage.write((tx) => tx.markOutbox!([seq], 'inflight', { countAttempt: true }));
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.priority, e.status])).toEqual([['normal', 'inflight']]);
    // The same inside a group: the failing callback runs in a savepoint after another one.
    const [ok, failed] = await Promise.allSettled([storage.write((tx) => tx.setMeta('x', 1)), moveThenFail('high')]);
    expect([ok.status, failed.status]).toEqual(['fulfilled', 'rejected']);
    await storage.write((tx) => tx.markOutbox!([seq], 'pending'));
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.priority, e.status])).toEqual([['normal', 'pending']]);
    await storage.write((tx) => tx.deleteOutbox([seq]));
    expect(await storage.read((tx) => tx.listOutbox())).toEqual([]);
  });

  it('marks and acknowledges a batch of consecutive entries by their rowid range, and still finds one whose priority changed inside it', async () => {
    const data = (key: string) => ({ id: key, v: 1 });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const seqs = await storage.write(async (tx) => {
      await tx.putDocs(keys.map((key) => doc('c', key, data(key), { syncState: 'pending' })));
      const out: number[] = [];
      for (const key of keys) out.push(await tx.addOutbox(outboxEntry('c', key, data(key))));
      return out;
    });
    expect(seqs.every((seq, i) => i === 0 || seq === seqs[i - 1]! + 1)).toBe(true); // consecutive: one range
    // c's priority changes after it was read: its row moves out of the range.
    await storage.write(async (tx) => tx.updateOutbox([{ ...(await tx.getOutboxForKeys('c', ['c']))[0]!, priority: 'high' }]));
    await storage.write((tx) => tx.markOutbox!(seqs, 'inflight', { countAttempt: true, priorities: keys.map(() => 'normal') }));
    const listed = await storage.read((tx) => tx.listOutbox());
    expect(listed.map((e) => [e.key, e.status, e.attempts]).sort()).toEqual(keys.map((key) => [key, 'inflight', 1]));
    // Acks of a, b, d and e with the priority read: the range a..e, where c is no longer.
    const acks = [0, 1, 3, 4].map((i) => ({ seq: seqs[i]!, version: 10 + i, priority: 'normal' as const }));
    expect(await storage.write((tx) => tx.ackOutbox!(acks))).toEqual([seqs[0], seqs[1], seqs[3], seqs[4]]);
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.key, e.status])).toEqual([['c', 'inflight']]);
    const docs = await storage.read((tx) => tx.getDocs('c', keys));
    expect(docs.map((d) => [d?.key, d?.syncState, d?.server?.version ?? null])).toEqual([
      ['a', 'synced', 10], ['b', 'synced', 11], ['c', 'pending', null], ['d', 'synced', 13], ['e', 'synced', 14],
    ]);
    // A consecutive ack of entries that are all there deletes exactly them.
    const [f, g] = await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'f', data('f'), { syncState: 'pending' }), doc('c', 'g', data('g'), { syncState: 'pending' })]);
      return [await tx.addOutbox(outboxEntry('c', 'f', data('f'))), await tx.addOutbox(outboxEntry('c', 'g', data('g')))];
    });
    await storage.write((tx) => tx.markOutbox!([f!, g!], 'inflight', { countAttempt: true, priorities: ['normal', 'normal'] }));
    expect(await storage.write((tx) => tx.ackOutbox!([{ seq: f!, version: 20, priority: 'normal' }, { seq: g!, version: 21, priority: 'normal' }]))).toEqual([f, g]);
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => e.key)).toEqual(['c']);
    // Reopened (seqs are then counted from the file), a new entry still takes a seq after all of them.
    await storage.close();
    storage = sqliteStorage({ filename: folder.file(), durability: 'normal' });
    await storage.open();
    expect(await storage.write((tx) => tx.addOutbox(outboxEntry('c', 'h', data('h'))))).toBeGreaterThan(g!);
  });

  it('settles a bulk push (consecutive entries acknowledged at consecutive versions) in one statement, and the entries it cannot take the general way', async () => {
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const own = { id: 'c', v: 'the entry\'s own data' };
    const seqs = await storage.write(async (tx) => {
      const out: number[] = [];
      for (const key of keys) {
        // a, d and e are fresh writes (the entry shares its document's data); b's server version is
        // already above its ack; c's entry carries data of its own.
        const d = doc('c', key, { id: key, v: 1 }, { syncState: 'pending', ...(key === 'b' ? { server: { version: 500, deleted: false, data: { id: 'b', v: 0 }, hlc: 'h0', fieldClocks: null } } : {}) });
        await tx.putDocs([d]);
        out.push(await tx.addOutbox(outboxEntry('c', key, key === 'c' ? own : d.data, { hlc: d.hlc })));
      }
      return out;
    });
    await storage.write((tx) => tx.markOutbox!(seqs, 'inflight', { countAttempt: true, priorities: keys.map(() => 'normal') }));
    const handled = await storage.write((tx) => tx.ackOutbox!(seqs.map((seq, i) => ({ seq, version: 100 + i, priority: 'normal' as const }))));
    expect([...handled].sort((x, y) => x - y)).toEqual([seqs[0], seqs[2], seqs[3], seqs[4]]);
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.key, e.status])).toEqual([['b', 'inflight']]);
    const docs = await storage.read((tx) => tx.getDocs('c', keys));
    expect(docs.map((d) => [d?.key, d?.syncState, d?.server?.version, d?.server?.data])).toEqual([
      ['a', 'synced', 100, { id: 'a', v: 1 }],
      ['b', 'pending', 500, { id: 'b', v: 0 }],
      ['c', 'synced', 102, own],
      ['d', 'synced', 103, { id: 'd', v: 1 }],
      ['e', 'synced', 104, { id: 'e', v: 1 }],
    ]);
    // The stored column of a settled fresh write is its version alone (schema 5), as the general way writes it.
    await storage.close();
    const db = new Database(folder.file(), { readonly: true });
    try {
      expect(db.prepare("SELECT server FROM nx_docs WHERE key IN ('a', 'e') ORDER BY key").pluck().all()).toEqual(['{"version":100}', '{"version":104}']);
    } finally {
      db.close();
    }
    storage = sqliteStorage({ filename: folder.file(), durability: 'normal' });
    await storage.open();
  });

  it('marks and deletes entries by seq after another connection moved or removed them', async () => {
    const other = sqliteStorage({ filename: folder.file(), durability: 'normal' });
    await other.open();
    try {
      const seqs = await storage.write(async (tx) => [await tx.addOutbox(outboxEntry('c', 'a', { v: 1 })), await tx.addOutbox(outboxEntry('c', 'b', { v: 1 })), await tx.addOutbox(outboxEntry('c', 'c', { v: 1 }))]);
      // This connection reads the entries (and remembers where they are)...
      expect(await storage.read((tx) => tx.listOutbox())).toHaveLength(3);
      // ...then the other one raises a's priority (its row moves) and deletes c.
      await other.write(async (tx) => {
        const [a] = await tx.getOutboxForKeys('c', ['a']);
        await tx.updateOutbox([{ ...a!, priority: 'critical' }]);
        await tx.deleteOutbox([seqs[2]!]);
      });
      await storage.write((tx) => tx.markOutbox!(seqs, 'inflight', { countAttempt: true }));
      expect((await storage.read((tx) => tx.listOutbox())).map((e) => [e.key, e.status, e.attempts])).toEqual([['a', 'inflight', 1], ['b', 'inflight', 1]]);
      await storage.write(async (tx) => {
        await tx.updateOutbox([{ ...(await tx.getOutboxForKeys('c', ['b']))[0]!, priority: 'low' }]);
      });
      await other.write((tx) => tx.deleteOutbox([seqs[0]!]));
      await storage.write((tx) => tx.deleteOutbox(seqs));
      expect(await other.read((tx) => tx.listOutbox())).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('group commit', () => {
  it('runs writes issued in the same tick in one transaction: every callback runs before any caller resolves', async () => {
    const events: string[] = [];
    const writes = [1, 2, 3].map((i) =>
      storage
        .write(async (tx) => {
          events.push(`run ${i}`);
          await tx.putDocs([doc('c', `k${i}`, { i })]);
          await tx.addOutbox(outboxEntry('c', `k${i}`, { i }));
          return i;
        })
        .then((value) => {
          events.push(`resolved ${i}`);
          // Once any caller resolved, another connection sees all three documents: they were committed together.
          const db = new Database(folder.file(), { readonly: true });
          const n = (db.prepare('SELECT count(*) AS n FROM nx_docs').get() as { n: number }).n;
          db.close();
          return { value, visible: n };
        }),
    );
    const results = await Promise.all(writes);
    expect(events).toEqual(['run 1', 'run 2', 'run 3', 'resolved 1', 'resolved 2', 'resolved 3']);
    expect(results).toEqual([
      { value: 1, visible: 3 },
      { value: 2, visible: 3 },
      { value: 3, visible: 3 },
    ]);
  });

  it('rolls back only the callback that throws inside a group', async () => {
    const boom = new Error('boom');
    const outcomes = await Promise.allSettled([
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'a', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'a', { v: 1 }));
      }),
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'b', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'b', { v: 1 }));
        throw boom;
      }),
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'c', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'c', { v: 1 }));
      }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBe(boom);
    const [docs, outbox] = await storage.read(async (tx) => [await tx.getDocs('c', ['a', 'b', 'c']), await tx.listOutbox()] as const);
    expect(docs.map((d) => d?.key)).toEqual(['a', undefined, 'c']);
    expect(outbox.map((e) => e.key)).toEqual(['a', 'c']);
  });

  it('rolls back a throwing first callback of a group without losing the ones after it', async () => {
    const outcomes = await Promise.allSettled([
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'a', { v: 1 })]);
        throw new Error('first fails');
      }),
      storage.write((tx) => tx.putDocs([doc('c', 'b', { v: 1 })])),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled']);
    expect((await storage.read((tx) => tx.getDocs('c', ['a', 'b']))).map((d) => d?.key)).toEqual([undefined, 'b']);
  });

  it('a throwing callback that made earlier callbacks\' buffered rows reach SQLite keeps those rows and loses only its own', async () => {
    const outcomes = await Promise.allSettled([
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'a', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'a', { v: 1 }));
      }),
      storage.write(async (tx) => {
        // Overwrites a's buffered row, then reads the outbox: both callbacks' rows go to SQLite inside this savepoint.
        await tx.putDocs([doc('c', 'a', { v: 2 }), doc('c', 'b', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'b', { v: 1 }));
        expect((await tx.getOutboxForKeys('c', ['a', 'b'])).map((e) => e.key)).toEqual(['a', 'b']);
        await tx.setMeta('m', 'from the failed callback');
        throw new Error('second fails after a flush');
      }),
      storage.write(async (tx) => {
        expect((await tx.getDocs('c', ['a']))[0]?.data).toEqual({ v: 1 });
        await tx.putDocs([doc('c', 'c', { v: 1 })]);
        await tx.addOutbox(outboxEntry('c', 'c', { v: 1 }));
      }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const [docs, outbox, meta] = await storage.read(async (tx) => [await tx.getDocs('c', ['a', 'b', 'c']), await tx.listOutbox(), await tx.getMeta('m')] as const);
    expect(docs.map((d) => d?.data ?? null)).toEqual([{ v: 1 }, null, { v: 1 }]);
    expect(outbox.map((e) => e.key)).toEqual(['a', 'c']);
    expect(meta).toBeUndefined();
  });

  it('a throwing callback that only buffered rows restores the rows it replaced', async () => {
    const outcomes = await Promise.allSettled([
      storage.write((tx) => tx.putDocs([doc('c', 'a', { v: 1 })])),
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', 'a', { v: 2 })]);
        await tx.removeDocs('c', ['a']);
        await tx.putDocs([doc('c', 'x', { v: 1 })]);
        throw new Error('fails without a flush');
      }),
      storage.write(async (tx) => (await tx.getDocs('c', ['a', 'x'])).map((d) => d?.data ?? null)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[2] as PromiseFulfilledResult<unknown>).value).toEqual([{ v: 1 }, null]);
    expect((await storage.read((tx) => tx.getDocs('c', ['a', 'x']))).map((d) => d?.data ?? null)).toEqual([{ v: 1 }, null]);
  });

  it('a saveAll-sized write larger than the buffer flushes on the way and commits every row', async () => {
    const n = 10_000;
    await storage.write(async (tx) => {
      await tx.putDocs(Array.from({ length: n }, (_, i) => doc('c', `k${i}`, { i })));
      for (let i = 0; i < n; i++) await tx.addOutbox(outboxEntry('c', `k${i}`, { i }));
    });
    const [count, outbox] = await storage.read(async (tx) => [await tx.countDocs('c'), await tx.countOutbox()] as const);
    expect(count).toBe(n);
    expect(outbox.pending).toBe(n);
  });

  it('runs a read queued behind writes after they committed, never inside their transaction', async () => {
    const write = storage.write((tx) => tx.putDocs([doc('c', 'a', { v: 1 })]));
    const read = storage.read((tx) => tx.getDocs('c', ['a']));
    const later = storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'b', { v: 1 })]);
      throw new Error('rolled back');
    });
    await write;
    expect((await read)[0]?.key).toBe('a');
    await expect(later).rejects.toThrow('rolled back');
    expect(await storage.read((tx) => tx.getDocs('c', ['b']))).toEqual([undefined]);
  });

  it('maps a real SQLITE_FULL inside a group to QUOTA_EXCEEDED for that write only; the others commit', async () => {
    const path = folder.file('full.db');
    // Capture the adapter's own connection to give it a tiny page budget (max_page_count is per connection).
    const connections: Database.Database[] = [];
    const original = Database.prototype.prepare;
    Database.prototype.prepare = function (this: Database.Database, ...args: Parameters<Database.Database['prepare']>) {
      if (!connections.includes(this)) connections.push(this);
      return original.apply(this, args);
    } as Database.Database['prepare'];
    const small = sqliteStorage({ filename: path, durability: 'normal' });
    try {
      await small.open();
    } finally {
      Database.prototype.prepare = original;
    }
    const db = connections.find((c) => c.name === path && !c.readonly)!;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 4}`);
    const outcomes = await Promise.allSettled([
      small.write((tx) => tx.putDocs([doc('c', 'a', { v: 1 })])),
      small.write((tx) => tx.putDocs([doc('c', 'huge', { v: 'x'.repeat(200_000) })])),
      small.write((tx) => tx.putDocs([doc('c', 'b', { v: 2 })])),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'StorageError', code: 'QUOTA_EXCEEDED', path });
    await small.close();
    await small.open();
    expect((await small.read((tx) => tx.getDocs('c', ['a', 'huge', 'b']))).map((d) => d?.key)).toEqual(['a', undefined, 'b']);
    await small.close();
  });

  it('commits 1,000 unawaited writes with every outbox entry present', async () => {
    const writes = Array.from({ length: 1000 }, (_, i) =>
      storage.write(async (tx) => {
        await tx.putDocs([doc('c', `k${i}`, { i })]);
        return tx.addOutbox(outboxEntry('c', `k${i}`, { i }));
      }),
    );
    const seqs = await Promise.all(writes);
    expect(new Set(seqs).size).toBe(1000);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(await storage.read((tx) => tx.countDocs('c'))).toBe(1000);
  });
});

// Schema 3 finds a document's outbox entries through the seqs its row lists, and entries without a
// document through the docless index. These tests check every way an entry can lose its document row.

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

// Schema 4: the first entry of a fresh write shares its document's data and clock (stored as NULL
// and ''). These tests check that every read sees them, and that every change of the document row
// keeps them.

/** A fresh write of `keys` as the core makes it: a pending document and an entry with the same data object. */
async function freshWrite(keys: string[], version = 1): Promise<number[]> {
  return storage.write(async (tx) => {
    const docs = keys.map((key) => doc('c', key, { id: key, version }, { syncState: 'pending' }));
    const seqs: number[] = [];
    for (const d of docs) seqs.push(await tx.addOutbox(outboxEntry('c', d.key, d.data)));
    await tx.putDocs(docs);
    return seqs;
  });
}

/** How many outbox rows store neither data nor clock of their own (read on a second connection). */
function sharedEntries(): number {
  const raw = new Database(folder.file(), { readonly: true });
  try {
    return (raw.prepare("SELECT count(*) AS n FROM nx_outbox WHERE op = 'upsert' AND data IS NULL AND hlc = ''").get() as { n: number }).n;
  } finally {
    raw.close();
  }
}

describe('entries that share their document\'s data (schema 4)', () => {
  it('a fresh write stores its data once, and every outbox read returns it', async () => {
    const seqs = await freshWrite(['a', 'b', 'c']);
    expect(sharedEntries()).toBe(3);
    const hlc = doc('c', 'a', {}).hlc;
    const expected = ['a', 'b', 'c'].map((key, i) => ({ seq: seqs[i], key, data: { id: key, version: 1 }, hlc }));
    const [listed, forKeys, forKey, pending] = await storage.read(async (tx) => [await tx.listOutbox(), await tx.getOutboxForKeys('c', ['a', 'b', 'c']), await tx.getOutboxForKeys('c', ['b']), await tx.listOutbox({ status: 'pending', limit: 2 })] as const);
    expect(listed).toMatchObject(expected);
    expect(forKeys).toMatchObject(expected);
    expect(forKey).toMatchObject([expected[1]]);
    expect(pending).toMatchObject(expected.slice(0, 2));
  });

  it('an entry keeps its data and clock when its document gets others, is deleted, or its row is removed', async () => {
    const [a, b, c, d, e] = await freshWrite(['a', 'b', 'c', 'd', 'e']);
    const first = doc('c', 'a', {}).hlc;
    await storage.write(async (tx) => {
      await tx.putDocs([doc('c', 'a', { id: 'a', version: 2 }, { syncState: 'pending', hlc: 'later' })]);
      await tx.putDocs([doc('c', 'b', null, { syncState: 'pending', hlc: 'later' })]);
      await tx.removeDocs('c', ['c']);
      await tx.putDocs([doc('c', 'd', { id: 'd', version: 1 }, { syncState: 'failed' })]); // same data and clock: nothing to copy
      await tx.putDocs([doc('c', 'e', { id: 'e', version: 1 }, { syncState: 'pending', hlc: 'later' })]); // only the clock changes
    });
    expect(sharedEntries()).toBe(1);
    const entries = await storage.read((tx) => tx.listOutbox());
    expect(entries.map((entry) => [entry.seq, entry.data, entry.hlc])).toEqual([
      [a, { id: 'a', version: 1 }, first],
      [b, { id: 'b', version: 1 }, first],
      [c, { id: 'c', version: 1 }, first],
      [d, { id: 'd', version: 1 }, first],
      [e, { id: 'e', version: 1 }, first],
    ]);
    expect(await seqsOf('c', ['c', 'e'])).toEqual([
      ['c', c],
      ['e', e],
    ]);
  });

  it('a second fresh write of the same records in a later transaction leaves the first entries their own data', async () => {
    const first = await freshWrite(['a', 'b']);
    await storage.write((tx) => tx.markOutbox!(first, 'inflight', { countAttempt: true }));
    const second = await freshWrite(['a', 'b'], 2);
    const entries = await storage.read((tx) => tx.getOutboxForKeys('c', ['a', 'b']));
    expect(entries.map((e) => [e.seq, e.data])).toEqual([
      [first[0], { id: 'a', version: 1 }],
      [first[1], { id: 'b', version: 1 }],
      [second[0], { id: 'a', version: 2 }],
      [second[1], { id: 'b', version: 2 }],
    ]);
  });

  it('an acknowledged shared entry gives its document the server state of that data', async () => {
    const [a] = await freshWrite(['a']);
    await storage.write((tx) => tx.markOutbox!([a!], 'inflight', { countAttempt: true }));
    expect(await storage.write((tx) => tx.ackOutbox!([{ seq: a!, version: 7 }]))).toEqual([a]);
    const [stored] = await storage.read((tx) => tx.getDocs('c', ['a']));
    expect(stored).toMatchObject({ syncState: 'synced', data: { id: 'a', version: 1 }, server: { version: 7, deleted: false, data: { id: 'a', version: 1 }, hlc: stored!.hlc } });
    expect(await storage.read((tx) => tx.listOutbox())).toEqual([]);
  });
});

describe('fresh documents found missing (no upsert)', () => {
  /** The storage calls of a fresh save of `key` (document and entry sharing one data object). */
  async function saveFresh(tx: WriteTransaction, key: string, version: number): Promise<number> {
    const d = doc('c', key, { id: key, version }, { syncState: 'pending' });
    const seq = await tx.addOutbox(outboxEntry('c', key, d.data));
    await tx.putDocs([d]);
    return seq;
  }

  it('a document found missing, written, then written fresh again in the same transaction is updated, not inserted twice', async () => {
    await storage.write(async (tx) => {
      expect(await tx.getDocs('c', ['a', 'b'])).toEqual([undefined, undefined]);
      await saveFresh(tx, 'a', 1);
      await saveFresh(tx, 'b', 1);
      await tx.listOutbox(); // sends the rows to SQLite
      await saveFresh(tx, 'a', 2);
      await saveFresh(tx, 'b', 2);
    });
    const docs = await storage.read((tx) => tx.getDocs('c', ['a', 'b']));
    expect(docs.map((d) => d?.data)).toEqual([
      { id: 'a', version: 2 },
      { id: 'b', version: 2 },
    ]);
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => e.data)).toEqual([
      { id: 'a', version: 1 },
      { id: 'b', version: 1 },
      { id: 'a', version: 2 },
      { id: 'b', version: 2 },
    ]);
  });

  it('a callback that wrote a missing document and failed leaves it writable by the next callback of the group', async () => {
    const results = await Promise.allSettled([
      storage.write(async (tx) => {
        await tx.getDocs('c', ['a']);
        return saveFresh(tx, 'ok', 1);
      }),
      storage.write(async (tx) => {
        await tx.getDocs('c', ['a', 'x']);
        await saveFresh(tx, 'a', 1);
        await saveFresh(tx, 'x', 1);
        await tx.listOutbox(); // inserted inside this callback's savepoint...
        throw new Error('boom'); // ...and rolled back
      }),
      storage.write(async (tx) => {
        await tx.getDocs('c', ['a', 'x']);
        await saveFresh(tx, 'a', 3);
        return saveFresh(tx, 'x', 3);
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const docs = await storage.read((tx) => tx.getDocs('c', ['a', 'x', 'ok']));
    expect(docs.map((d) => d?.data)).toEqual([
      { id: 'a', version: 3 },
      { id: 'x', version: 3 },
      { id: 'ok', version: 1 },
    ]);
  });

  it('a document another connection created after a read transaction found it missing is updated by a later write', async () => {
    expect(await storage.read((tx) => tx.getDocs('c', ['a']))).toEqual([undefined]);
    const other = sqliteStorage({ filename: folder.file() });
    await other.open();
    await other.write(async (tx) => {
      await saveFreshOn(tx, 'a', 1);
    });
    await other.close();
    await storage.write(async (tx) => {
      await saveFreshOn(tx, 'a', 2);
    });
    expect((await storage.read((tx) => tx.getDocs('c', ['a'])))[0]?.data).toEqual({ id: 'a', version: 2 });
  });
});

async function saveFreshOn(tx: WriteTransaction, key: string, version: number): Promise<void> {
  const d = doc('c', key, { id: key, version }, { syncState: 'pending' });
  await tx.addOutbox(outboxEntry('c', key, d.data));
  await tx.putDocs([d]);
}

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
    expect(SCHEMA_VERSION).toBe(5);
    storage = sqliteStorage({ filename: folder.file() });
    await storage.open();
  });
});

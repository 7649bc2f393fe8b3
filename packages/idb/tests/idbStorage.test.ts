import { StorageError } from '@nexus-store/core';
import type { DocChangeRef } from '@nexus-store/core';
import { IDBDatabase as FakeIDBDatabase, IDBObjectStore as FakeIDBObjectStore, forceCloseDatabase } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { doc, entry, fakeStorage, freshFactory, rawOpen } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function codeOf(error: unknown): string | undefined {
  return error instanceof StorageError ? error.code : undefined;
}

describe('group commit', () => {
  it('writes issued in the same tick share one readwrite transaction, and each resolves after the commit', async () => {
    const factory = freshFactory();
    const storage = fakeStorage(factory);
    await storage.open();
    const transaction = vi.spyOn(FakeIDBDatabase.prototype, 'transaction');
    const writes = Array.from({ length: 50 }, (_, i) =>
      storage.write(async (tx) => {
        await tx.putDocs([doc(`k${i}`, { id: `k${i}`, i })]);
        return tx.addOutbox(entry(`k${i}`));
      }),
    );
    const seqs = await Promise.all(writes);
    const readwrite = transaction.mock.calls.filter((call) => call[1] === 'readwrite');
    expect(readwrite).toHaveLength(1);
    expect(new Set(seqs).size).toBe(50);
    // Durable when resolved: a second connection sees everything.
    const other = fakeStorage(factory);
    await other.open();
    expect(await other.read((tx) => tx.countDocs('items'))).toBe(50);
    await Promise.all([storage.close(), other.close()]);
  });

  it('maxGroupSize caps how many writes share a transaction', async () => {
    const storage = fakeStorage(freshFactory(), { maxGroupSize: 10 });
    await storage.open();
    const transaction = vi.spyOn(FakeIDBDatabase.prototype, 'transaction');
    await Promise.all(Array.from({ length: 25 }, (_, i) => storage.write(async (tx) => tx.setMeta(`m${i}`, i))));
    expect(transaction.mock.calls.filter((call) => call[1] === 'readwrite')).toHaveLength(3);
    expect(await storage.read((tx) => tx.getMeta('m24'))).toBe(24);
    await storage.close();
  });

  it('a callback that throws is rejected alone; the others of its group run again and commit', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const runs = new Map<number, number>();
    const boom = new Error('boom');
    const writes = [0, 1, 2, 3].map((i) =>
      storage.write(async (tx) => {
        runs.set(i, (runs.get(i) ?? 0) + 1);
        await tx.putDocs([doc(`k${i}`, { id: `k${i}` })]);
        await tx.setMeta(`m${i}`, i);
        if (i === 2) throw boom;
        return i;
      }),
    );
    const results = await Promise.allSettled(writes);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBe(boom);
    // 0 and 1 ran in the aborted group and again in the new one; 3 ran only in the new one.
    expect([...runs.entries()].sort()).toEqual([
      [0, 2],
      [1, 2],
      [2, 1],
      [3, 1],
    ]);
    const docs = await storage.read((tx) => tx.getDocs('items', ['k0', 'k1', 'k2', 'k3']));
    expect(docs.map((d) => d?.key)).toEqual(['k0', 'k1', undefined, 'k3']);
    expect(await storage.read((tx) => tx.getMeta('m2'))).toBeUndefined();
    await storage.close();
  });

  it('a storage failure in one write (QuotaExceededError) fails that write only, as QUOTA_EXCEEDED', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const put = FakeIDBObjectStore.prototype.put;
    vi.spyOn(FakeIDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value: any, key?: IDBValidKey) {
      if (value?.key === 'huge') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return put.call(this, value, key);
    });
    const results = await Promise.allSettled(['a', 'huge', 'b'].map((k) => storage.write(async (tx) => tx.putDocs([doc(k, { id: k })]))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(codeOf(error)).toBe('QUOTA_EXCEEDED');
    expect((error as StorageError).path).toBe('app');
    expect((await storage.read((tx) => tx.queryDocs('items', {}))).map((d) => d.key)).toEqual(['a', 'b']);
    await storage.close();
  });

  it('a pipelined request that fails when IndexedDB runs it fails its own write with that request\'s error; the rest of its group commits', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    await storage.write(async (tx) => tx.putDocs([doc('taken', { id: 'taken', v: 1 })]));
    // An add of an existing key is accepted when issued and fails (ConstraintError) only when it runs.
    const { add, put } = FakeIDBObjectStore.prototype;
    vi.spyOn(FakeIDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value: any, key?: IDBValidKey) {
      return (value?.key === 'taken' ? add : put).call(this, value, key);
    });
    const results = await Promise.allSettled(['a', 'taken', 'b'].map((k) => storage.write(async (tx) => tx.putDocs([doc(k, { id: k, v: 2 })]))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (results[1] as PromiseRejectedResult).reason as StorageError;
    expect(codeOf(error)).toBe('STORAGE');
    expect((error.cause as Error).name).toBe('ConstraintError');
    const docs = await storage.read((tx) => tx.getDocs('items', ['a', 'taken', 'b']));
    expect(docs.map((d) => d?.data)).toEqual([{ id: 'a', v: 2 }, { id: 'taken', v: 1 }, { id: 'b', v: 2 }]);
    await storage.close();
  });

  it('a callback that awaits something else than its transaction fails with a StorageError that says why', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const error = await storage
      .write(async (tx) => {
        await new Promise((resolve) => setImmediate(resolve));
        await tx.putDocs([doc('late', { id: 'late' })]);
      })
      .catch((e: unknown) => e);
    expect(codeOf(error)).toBe('STORAGE');
    expect((error as Error).message).toMatch(/must await only the methods of its transaction/);
    // The storage keeps working.
    await storage.write(async (tx) => tx.putDocs([doc('ok', { id: 'ok' })]));
    expect(await storage.read((tx) => tx.countDocs('items'))).toBe(1);
    await storage.close();
  });

  it('close() waits for queued writes', async () => {
    const factory = freshFactory();
    const storage = fakeStorage(factory);
    await storage.open();
    const write = storage.write(async (tx) => tx.putDocs([doc('a', { id: 'a' })]));
    await storage.close();
    await write;
    const again = fakeStorage(factory);
    await again.open();
    expect((await again.read((tx) => tx.getDocs('items', ['a'])))[0]?.data).toEqual({ id: 'a' });
    await again.close();
  });
});

describe('outbox', () => {
  it('updateOutbox with a new priority moves the entry in every order; filters combine', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const [a, b, c] = await storage.write(async (tx) => [
      await tx.addOutbox(entry('a', { priority: 'low', txId: 't1' })),
      await tx.addOutbox(entry('b', { priority: 'normal', txId: 't1' })),
      await tx.addOutbox(entry('c', { priority: 'normal' })),
    ]);
    const [first] = await storage.read((tx) => tx.listOutbox({ txId: 't1', limit: 1 }));
    expect(first?.key).toBe('b');
    const low = (await storage.read((tx) => tx.listOutbox())).find((e) => e.seq === a)!;
    await storage.write(async (tx) => tx.updateOutbox([{ ...low, priority: 'critical' }]));
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => e.seq)).toEqual([a, b, c]);
    expect((await storage.read((tx) => tx.listOutbox({ status: 'pending', limit: 2 }))).map((e) => e.key)).toEqual(['a', 'b']);
    expect((await storage.read((tx) => tx.listOutbox({ txId: 't1', status: 'pending' }))).map((e) => e.key)).toEqual(['a', 'b']);
    expect(await storage.read((tx) => tx.listOutbox({ txId: 't1', status: 'failed' }))).toEqual([]);
    expect(await storage.read((tx) => tx.listOutbox({ limit: 0 }))).toEqual([]);
    await storage.close();
  });

  it('seqs stay unique and increasing across transactions, deletes and concurrent inserts in one callback', async () => {
    const factory = freshFactory();
    const storage = fakeStorage(factory);
    await storage.open();
    const first = await storage.write(async (tx) => Promise.all(['a', 'b', 'c', 'd'].map((k) => tx.addOutbox(entry(k)))));
    expect(new Set(first).size).toBe(4);
    await storage.write(async (tx) => tx.deleteOutbox(first));
    const other = fakeStorage(factory);
    await other.open();
    const [x, y] = await Promise.all([
      other.write(async (tx) => [await tx.addOutbox(entry('x')), await tx.addOutbox(entry('x2'))]),
      storage.write(async (tx) => tx.addOutbox(entry('y'))),
    ]);
    const all = [...first, ...x, y];
    expect(new Set(all).size).toBe(all.length);
    expect(Math.min(...x, y)).toBeGreaterThan(Math.max(...first));
    expect(x[1]).toBeGreaterThan(x[0]!);
    expect((await storage.read((tx) => tx.listOutbox())).map((e) => e.key).sort()).toEqual(['x', 'x2', 'y']);
    await Promise.all([storage.close(), other.close()]);
  });

  it('getOutboxForKeys with many keys (one collection read) gives the same entries as per-key reads', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    await storage.write(async (tx) => {
      for (let i = 0; i < 40; i++) await tx.addOutbox(entry(`k${i % 25}`, { collection: i % 5 === 0 ? 'other' : 'items' }));
    });
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const many = await storage.read((tx) => tx.getOutboxForKeys('items', keys));
    const few = (await storage.read((tx) => Promise.all(keys.map((k) => tx.getOutboxForKeys('items', [k]))))).flat().sort((a, b) => a.seq - b.seq);
    expect(many).toEqual(few);
    expect(many.every((e) => e.collection === 'items' && keys.includes(e.key))).toBe(true);
    expect(many.length).toBeGreaterThan(16);
    await storage.close();
  });

  it('an entry with an unknown priority is refused (it could never be listed)', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const error = await storage.write((tx) => tx.addOutbox(entry('x', { priority: 'urgent' as never }))).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT');
    expect(await storage.read((tx) => tx.listOutbox())).toEqual([]);
    await storage.close();
  });

  it('a value that cannot be stored fails its own write with STORAGE; the rest of its group commits', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const results = await Promise.allSettled(
      ['a', 'bad', 'c'].map((k) => storage.write(async (tx) => tx.putDocs([doc(k, { id: k, fn: k === 'bad' ? () => 1 : 1 })]))),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(codeOf((results[1] as PromiseRejectedResult).reason)).toBe('STORAGE');
    expect((await storage.read((tx) => tx.queryDocs('items', {}))).map((d) => d.key)).toEqual(['a', 'c']);
    await storage.close();
  });
});

describe('opening, upgrades and closed connections', () => {
  it('operations before open() and after close() fail with CLOSED', async () => {
    const storage = fakeStorage(freshFactory());
    expect(codeOf(await storage.read((tx) => tx.getMeta('x')).catch((e: unknown) => e))).toBe('CLOSED');
    await storage.open();
    await storage.close();
    expect(codeOf(await storage.write((tx) => tx.setMeta('x', 1)).catch((e: unknown) => e))).toBe('CLOSED');
  });

  it('an upgrade blocked by an older connection that stays open fails with UPGRADE_BLOCKED', async () => {
    const factory = freshFactory();
    const first = fakeStorage(factory);
    await first.open();
    await first.close();
    // Another tab of an older app version: open at the current version, ignoring versionchange.
    const old = await rawOpen(factory, 'app');
    const version = old.version;
    // An app update: the same storage code asking for a newer version of the database.
    const newer = new Proxy(factory, {
      get(target, prop) {
        if (prop === 'open') return (name: string) => target.open(name, version + 1);
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const storage = fakeStorage(newer);
    const error = await storage.open().catch((e: unknown) => e);
    expect(codeOf(error)).toBe('UPGRADE_BLOCKED');
    expect((error as Error).message).toMatch(/another tab/);
    old.close();
  });

  it('a newer version opened elsewhere closes this connection; later operations fail with CLOSED', async () => {
    const factory = freshFactory();
    const storage = fakeStorage(factory);
    await storage.open();
    const current = await rawOpen(factory, 'app');
    const version = current.version;
    current.close();
    // Not blocked: the storage steps aside on versionchange.
    const upgraded = await rawOpen(factory, 'app', version + 1);
    const error = await storage.read((tx) => tx.getMeta('x')).catch((e: unknown) => e);
    expect(codeOf(error)).toBe('CLOSED');
    expect((error as Error).message).toMatch(/newer version/);
    upgraded.close();
  });

  it('a connection the browser closes (storage cleared) reports CLOSED', async () => {
    const factory = freshFactory();
    const storage = fakeStorage(factory);
    await storage.open();
    const connection = vi.spyOn(FakeIDBDatabase.prototype, 'transaction');
    await storage.read((tx) => tx.getMeta('x'));
    const db = connection.mock.contexts[0] as unknown as IDBDatabase;
    forceCloseDatabase(db as any);
    expect(codeOf(await storage.read((tx) => tx.getMeta('x')).catch((e: unknown) => e))).toBe('CLOSED');
  });

  it('a database of a newer app version fails with STORAGE_VERSION', async () => {
    const factory = freshFactory();
    (await rawOpen(factory, 'app', 999)).close();
    expect(codeOf(await fakeStorage(factory).open().catch((e: unknown) => e))).toBe('STORAGE_VERSION');
  });

  it('a database of another app with the same name fails with STORAGE_CORRUPT and is left untouched', async () => {
    const factory = freshFactory();
    (await rawOpen(factory, 'app', 1, (db) => db.createObjectStore('theirs'))).close();
    const error = await fakeStorage(factory).open().catch((e: unknown) => e);
    expect(codeOf(error)).toBe('STORAGE_CORRUPT');
    const theirs = await rawOpen(factory, 'app');
    expect([...theirs.objectStoreNames]).toEqual(['theirs']);
    theirs.close();
  });

  it('a missing name or a bad maxGroupSize is refused with INVALID_ARGUMENT', () => {
    const factory = freshFactory();
    for (const options of [{ name: '' }, { maxGroupSize: 0 }, { maxGroupSize: 1.5 }]) {
      expect(() => fakeStorage(factory, options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('without IndexedDB it fails with a StorageError naming the missing option', () => {
    // Node without fake-indexeddb/auto (the test setup installs it): no global indexedDB.
    vi.stubGlobal('indexedDB', undefined);
    expect(() => fakeStorage(undefined as unknown as IDBFactory)).toThrow(StorageError);
    expect(() => fakeStorage(undefined as unknown as IDBFactory)).toThrow(/option "indexedDB"/);
  });

  it('without the global IndexedDB classes (Node without fake-indexeddb/auto) it fails with a StorageError saying what to import, even with an injected factory', () => {
    vi.stubGlobal('IDBRequest', undefined);
    vi.stubGlobal('IDBCursor', undefined);
    expect(() => fakeStorage(freshFactory())).toThrow(StorageError);
    expect(() => fakeStorage(freshFactory())).toThrow(/no IDBRequest, IDBCursor\b.*import 'fake-indexeddb\/auto'/);
  });
});

describe('several connections to one database (tabs)', () => {
  it('a write in one connection is announced to the others, not to itself', async () => {
    const factory = freshFactory();
    const [a, b] = [fakeStorage(factory), fakeStorage(factory)];
    await Promise.all([a.open(), b.open()]);
    const seenByA: DocChangeRef[] = [];
    a.onExternalChange((changes) => seenByA.push(...changes));
    const seenByB = new Promise<readonly DocChangeRef[]>((resolve) => b.onExternalChange(resolve));
    await a.write(async (tx) => {
      await tx.putDocs([doc('x', { id: 'x' }), doc('y', null)]);
      await tx.removeDocs('other', ['z']);
      await tx.setMeta('cursor', '1');
    });
    expect(await seenByB).toEqual([
      { collection: 'items', key: 'x' },
      { collection: 'items', key: 'y' },
      { collection: 'other', key: 'z' },
    ]);
    expect(seenByA).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('a failed write announces nothing; unsubscribe stops announcements', async () => {
    const factory = freshFactory();
    const [a, b] = [fakeStorage(factory), fakeStorage(factory)];
    await Promise.all([a.open(), b.open()]);
    const seen: string[] = [];
    const unsubscribe = b.onExternalChange((changes) => seen.push(...changes.map((c) => c.key)));
    await a.write(async (tx) => {
      await tx.putDocs([doc('bad', { id: 'bad' })]);
      throw new Error('no');
    }).catch(() => undefined);
    const marker = new Promise<void>((resolve) => b.onExternalChange(() => resolve()));
    await a.write(async (tx) => tx.putDocs([doc('good', { id: 'good' })]));
    await marker;
    unsubscribe();
    const second = new Promise<void>((resolve) => b.onExternalChange(() => resolve()));
    await a.write(async (tx) => tx.putDocs([doc('after', { id: 'after' })]));
    await second;
    expect(seen).toEqual(['good']);
    await Promise.all([a.close(), b.close()]);
  });

  it('an outbox-only change is announced with no documents, so other tabs can refresh their counts', async () => {
    const factory = freshFactory();
    const [a, b] = [fakeStorage(factory), fakeStorage(factory)];
    await Promise.all([a.open(), b.open()]);
    const seen: (readonly DocChangeRef[])[] = [];
    let marker: () => void = () => undefined;
    b.onExternalChange((changes) => {
      seen.push(changes);
      if (changes.some((c) => c.key === 'marker')) marker();
    });
    const seq = await a.write((tx) => tx.addOutbox(entry('k')));
    await a.write(async (tx) => {
      const [pending] = await tx.listOutbox();
      await tx.updateOutbox([{ ...pending!, seq, status: 'failed' }]);
    });
    await a.write(async (tx) => tx.getMeta('nothing'));
    const done = new Promise<void>((resolve) => (marker = resolve));
    await a.write(async (tx) => tx.putDocs([doc('marker', { id: 'marker' })]));
    await done;
    // addOutbox and updateOutbox each announce no documents; the read-only write announces nothing.
    expect(seen).toEqual([[], [], [{ collection: 'items', key: 'marker' }]]);
    await Promise.all([a.close(), b.close()]);
  });

  it('fields declared by one connection are indexed by writes of another that never declared them', async () => {
    const factory = freshFactory();
    const [a, b] = [fakeStorage(factory), fakeStorage(factory)];
    await Promise.all([a.open(), b.open()]);
    await a.write(async (tx) => tx.putDocs([doc('before', { id: 'before', status: 'open' })]));
    await a.ensureIndexes('items', ['status']);
    await b.write(async (tx) => tx.putDocs([doc('fromB', { id: 'fromB', status: 'open' }), doc('closed', { id: 'closed', status: 'done' })]));
    const open = await a.read((tx) => tx.queryDocs('items', { where: { status: 'open' } }));
    expect(open.map((d) => d.key)).toEqual(['before', 'fromB']);
    expect(await a.read((tx) => tx.countDocs('items', { status: 'open' }))).toBe(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('declaring a field indexes every existing live document of the collection, over several pages, and nothing else', async () => {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    const live: string[] = [];
    const docs = Array.from({ length: 2345 }, (_, i) => {
      const key = `k${String(i).padStart(5, '0')}`;
      if (i % 7 === 0) return { ...doc(key, null), deleted: true };
      if (i % 2 === 0) live.push(key);
      return doc(key, { id: key, status: i % 2 === 0 ? 'open' : 'done' });
    });
    await storage.write(async (tx) => tx.putDocs([...docs, doc('other', { id: 'other', status: 'open' }, 'items2')]));
    await storage.ensureIndexes('items', ['status']);
    expect(await storage.read((tx) => tx.countDocs('items', { status: 'open' }))).toBe(live.length);
    const open = await storage.read((tx) => tx.queryDocs('items', { where: { status: 'open' } }));
    expect(open.map((d) => d.key)).toEqual(live);
    expect((await storage.read((tx) => tx.getDocs('items', ['k00000'])))[0]?.deleted).toBe(true);
    await storage.close();
  });

  it('lock() runs one holder at a time per name (in-process fallback without Web Locks)', async () => {
    const factory = freshFactory();
    const [a, b] = [fakeStorage(factory), fakeStorage(factory)];
    const log: string[] = [];
    const hold = (storage: typeof a, id: string) =>
      storage.lock('sync', async () => {
        log.push(`${id}+`);
        await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
        log.push(`${id}-`);
        return id;
      });
    const other = b.lock('other', async () => log.push('other'));
    expect(await Promise.all([hold(a, 'a1'), hold(b, 'b1'), hold(a, 'a2')])).toEqual(['a1', 'b1', 'a2']);
    await other;
    expect(log.filter((l) => l !== 'other')).toEqual(['a1+', 'a1-', 'b1+', 'b1-', 'a2+', 'a2-']);
  });

  it('lock() uses the given Web Locks manager with a per-database name', async () => {
    const names: string[] = [];
    const locks = { request: async (name: string, fn: () => Promise<unknown>) => (names.push(name), fn()) } as unknown as LockManager;
    const storage = fakeStorage(freshFactory(), { locks });
    expect(await storage.lock('sync', async () => 42)).toBe(42);
    expect(names).toEqual(['nexus-store/idb/app/sync']);
  });
});

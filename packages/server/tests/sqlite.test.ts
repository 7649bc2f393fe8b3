import { describe, expect, it } from 'vitest';
import { runServerSuite } from './serverSuite.js';
import { sqliteFactory } from './helpers.js';

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

import { applyQuery, matchesWhere, orderValues } from '@nexus-store/core';
import type { Comparable, FieldFilter, StorageQuery, StoredDoc } from '@nexus-store/core';
import fc from 'fast-check';
import { IDBIndex as FakeIDBIndex } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { doc, fakeStorage, freshFactory } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

// Replay a failure with NEXUS_SEED=<seed printed by fast-check>.
const seed = process.env.NEXUS_SEED === undefined ? undefined : Number(process.env.NEXUS_SEED);

const FIELDS = ['a', 'b', 'c'] as const;
// Few distinct values, so equal values, ties and type boundaries are frequent.
const scalar = fc.constantFrom<Comparable>(null, true, false, 0, 1, 2, -1.5, 1000, '', 'a', 'B', 'b', 'é', '10');
const fieldValue = fc.oneof(scalar, fc.constant(undefined), fc.constant({ nested: 1 }));

const docArb = fc.record({
  key: fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'ka', 'kb'),
  deleted: fc.nat(9).map((n) => n < 3),
  values: fc.tuple(fieldValue, fieldValue, fieldValue),
});

const filterArb: fc.Arbitrary<FieldFilter> = fc.oneof(
  scalar,
  scalar.map((eq) => ({ eq })),
  scalar.map((ne) => ({ ne })),
  fc.array(scalar, { maxLength: 3 }).map((values) => ({ in: values })),
  fc.record({ gt: scalar, lt: scalar }, { requiredKeys: [] }),
  fc.record({ gte: scalar, lte: scalar }, { requiredKeys: [] }),
  fc.record({ gt: scalar, lte: scalar, ne: scalar }, { requiredKeys: [] }),
  fc.record({ eq: scalar, ne: scalar }),
);

const queryArb: fc.Arbitrary<StorageQuery> = fc.record(
  {
    where: fc.dictionary(fc.constantFrom(...FIELDS), filterArb, { maxKeys: 2 }),
    orderBy: fc.array(fc.record({ field: fc.constantFrom(...FIELDS), direction: fc.constantFrom('asc' as const, 'desc' as const) }), { maxLength: 2 }),
    limit: fc.nat(6),
  },
  { requiredKeys: [] },
);

function toDocs(raw: { key: string; deleted: boolean; values: unknown[] }[]): StoredDoc[] {
  const byKey = new Map<string, StoredDoc>();
  for (const r of raw) {
    const data: Record<string, unknown> = { id: r.key };
    FIELDS.forEach((f, i) => {
      if (r.values[i] !== undefined) data[f] = r.values[i];
    });
    byKey.set(r.key, doc(r.key, r.deleted ? null : data, 'things'));
  }
  return [...byKey.values()];
}

describe('queryDocs and countDocs agree with the reference semantics (applyQuery)', () => {
  for (const declare of ['none', 'before writes', 'after writes'] as const) {
    it(`random documents and queries, fields declared: ${declare}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(docArb, { maxLength: 25 }),
          fc.array(fc.tuple(queryArb, fc.nat(30)), { minLength: 1, maxLength: 8 }),
          fc.subarray([...FIELDS]),
          async (raw, queries, declared) => {
            const docs = toDocs(raw);
            const storage = fakeStorage(freshFactory());
            await storage.open();
            try {
              if (declare === 'before writes') await storage.ensureIndexes('things', declared);
              await storage.write(async (tx) => tx.putDocs(docs));
              await storage.write(async (tx) => tx.putDocs([doc('k3', { id: 'k3', a: 1 }, 'elsewhere')]));
              if (declare === 'after writes') await storage.ensureIndexes('things', declared);
              const live = docs.filter((d) => !d.deleted);
              for (const [query, pick] of queries) {
                // A cursor from a real row (or past the end), as pagination produces it.
                const from = live.length > 0 && pick % 3 !== 0 ? live[pick % live.length] : undefined;
                const q: StorageQuery = from ? { ...query, after: { key: from.key, values: orderValues(from.data, query.orderBy) } } : query;
                const expected = applyQuery(docs, q).map((d) => d.key);
                const actual = (await storage.read((tx) => tx.queryDocs('things', q))).map((d) => d.key);
                expect(actual, JSON.stringify(q)).toEqual(expected);
                const count = await storage.read((tx) => tx.countDocs('things', q.where));
                expect(count, `count ${JSON.stringify(q.where)}`).toBe(live.filter((d) => matchesWhere(d.data, q.where)).length);
              }
            } finally {
              await storage.close();
            }
          },
        ),
        { numRuns: 100, seed },
      );
    });
  }
});

describe('index use', () => {
  /** Counts the records every IDBIndex.getAll/openCursor of the docs store returns, by index name. */
  function recordReads() {
    const reads = new Map<string, number>();
    const add = (name: string, n: number) => reads.set(name, (reads.get(name) ?? 0) + n);
    const getAll = FakeIDBIndex.prototype.getAll;
    vi.spyOn(FakeIDBIndex.prototype, 'getAll').mockImplementation(function (this: IDBIndex, ...args: any[]) {
      const request = getAll.apply(this, args as any);
      request.addEventListener('success', () => add(this.name, (request.result as unknown[]).length));
      return request;
    });
    const openCursor = FakeIDBIndex.prototype.openCursor;
    vi.spyOn(FakeIDBIndex.prototype, 'openCursor').mockImplementation(function (this: IDBIndex, ...args: any[]) {
      const request = openCursor.apply(this, args as any) as IDBRequest<IDBCursorWithValue | null>;
      request.addEventListener('success', () => {
        if (request.result) add(this.name, 1);
      });
      return request;
    });
    return reads;
  }

  async function seeded(declare: readonly string[]) {
    const storage = fakeStorage(freshFactory());
    await storage.open();
    await storage.ensureIndexes('leads', declare);
    const docs = Array.from({ length: 1000 }, (_, i) => doc(`k${String(i).padStart(4, '0')}`, { id: i, status: ['open', 'won', 'lost', 'new'][i % 4], score: i % 100, vip: i % 10 === 0 }, 'leads'));
    await storage.write(async (tx) => tx.putDocs(docs));
    return { storage, docs };
  }

  it('a where on a declared field reads only the matching index range', async () => {
    const { storage, docs } = await seeded(['status', 'vip']);
    const reads = recordReads();
    const rows = await storage.read((tx) => tx.queryDocs('leads', { where: { vip: true } }));
    expect(rows.map((d) => d.key)).toEqual(applyQuery(docs, { where: { vip: true } }).map((d) => d.key));
    expect(Object.fromEntries(reads)).toEqual({ fields: 100 });
    await storage.close();
  });

  it('an orderBy on a declared field with a limit stops early, in both directions', async () => {
    const { storage, docs } = await seeded(['score']);
    for (const direction of ['asc', 'desc'] as const) {
      const query: StorageQuery = { where: { status: 'won' }, orderBy: [{ field: 'score', direction }], limit: 5 };
      const reads = recordReads();
      const rows = await storage.read((tx) => tx.queryDocs('leads', query));
      expect(rows.map((d) => d.key)).toEqual(applyQuery(docs, query).map((d) => d.key));
      // Scores 0..99 repeat every 100 rows; 5 'won' rows need a few score values, far from 1000 rows.
      expect(reads.get('fields') ?? 0).toBeLessThan(100);
      expect(reads.get('live')).toBeUndefined();
      vi.restoreAllMocks();
    }
    await storage.close();
  });

  it('of two declared where fields, the one with fewer index entries is read', async () => {
    const { storage, docs } = await seeded(['status', 'vip']);
    const reads = recordReads();
    const query: StorageQuery = { where: { status: 'open', vip: true } };
    const rows = await storage.read((tx) => tx.queryDocs('leads', query));
    expect(rows.map((d) => d.key)).toEqual(applyQuery(docs, query).map((d) => d.key));
    // vip: 100 entries, status 'open': 250.
    expect(Object.fromEntries(reads)).toEqual({ fields: 100 });
    await storage.close();
  });

  it('a broad where with a limited orderBy on declared fields reads in order instead of the whole where range', async () => {
    const { storage, docs } = await seeded(['status', 'score']);
    const query: StorageQuery = { where: { status: 'open' }, orderBy: [{ field: 'score', direction: 'asc' }], limit: 5 };
    const reads = recordReads();
    const rows = await storage.read((tx) => tx.queryDocs('leads', query));
    expect(rows.map((d) => d.key)).toEqual(applyQuery(docs, query).map((d) => d.key));
    expect(reads.get('fields')).toBeLessThan(100);
    await storage.close();
  });

  it('a range on a declared field is counted from the index; undeclared fields scan the live documents', async () => {
    const { storage } = await seeded(['score']);
    const reads = recordReads();
    expect(await storage.read((tx) => tx.countDocs('leads', { score: { gte: 90 } }))).toBe(100);
    expect(reads.size).toBe(0);
    expect(await storage.read((tx) => tx.countDocs('leads', { status: 'open' }))).toBe(250);
    expect(Object.fromEntries(reads)).toEqual({ live: 1000 });
    await storage.close();
  });

  it('without orderBy, a limited query reads about one page of the live index', async () => {
    const { storage, docs } = await seeded([]);
    const reads = recordReads();
    const after = { key: 'k0500', values: [] };
    const rows = await storage.read((tx) => tx.queryDocs('leads', { limit: 10, after }));
    expect(rows.map((d) => d.key)).toEqual(applyQuery(docs, { limit: 10, after }).map((d) => d.key));
    expect(reads.get('live')).toBeLessThanOrEqual(32);
    await storage.close();
  });
});

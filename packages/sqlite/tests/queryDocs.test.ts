import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyQuery, matchesWhere } from '@nexus-store/core';
import type { Comparable, FieldFilter, LocalStorage, OrderTerm, StorageQuery, StoredDoc } from '@nexus-store/core';
import { sqliteStorage } from '@nexus-store/sqlite';
import { doc, tempFolder } from './helpers.js';

/**
 * Oracle test: queryDocs and countDocs in SQL must return exactly what applyQuery (the reference in
 * @nexus-store/core) returns for the same documents. Seed: FC_SEED=<n> replays a failure.
 */

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
const runs = Number(process.env.FC_RUNS ?? 300);

const FIELDS = ['a', 'b', 'c.d', "it's"] as const;
// Strings avoid mixing U+E000..U+FFFF with astral characters, where UTF-8 (SQLite) and UTF-16 (JS) orders differ (see README).
const str = fc.constantFrom('', 'a', 'A', 'b', 'ab', '2', 'é', '日本', '😀');
const comparable: fc.Arbitrary<Comparable> = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -1, max: 3 }), fc.constantFrom(0.5, 1e21), str);
const stored = fc.oneof(comparable, fc.constant(undefined), fc.constant({ nested: 1 }), fc.constant([1, 2]));

const dataArb = fc.record(Object.fromEntries(FIELDS.map((f) => [f, stored])) as Record<(typeof FIELDS)[number], fc.Arbitrary<unknown>>, { requiredKeys: [] });
const docsArb = fc.uniqueArray(fc.record({ key: fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'K8', 'k10', 'é', '😀', ''), data: dataArb, deleted: fc.boolean() }), {
  selector: (d) => d.key,
  maxLength: 13,
});

const OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in'] as const;
const rangeArb: fc.Arbitrary<FieldFilter> = fc
  .uniqueArray(fc.tuple(fc.constantFrom(...OPS), comparable, fc.array(comparable, { maxLength: 4 })), { selector: (t) => t[0], minLength: 0, maxLength: 2 })
  .map((ops) => Object.fromEntries(ops.map(([op, value, list]) => [op, op === 'in' ? list : value])) as FieldFilter);
const filterArb: fc.Arbitrary<FieldFilter> = fc.oneof(comparable, rangeArb);
const fieldArb = fc.constantFrom(...FIELDS, 'missing');
const orderArb: fc.Arbitrary<OrderTerm[]> = fc.array(fc.record({ field: fieldArb, direction: fc.constantFrom('asc' as const, 'desc' as const) }), { maxLength: 2 });

const queryArb = fc
  .record(
    {
      where: fc.dictionary(fieldArb, filterArb, { maxKeys: 2 }),
      orderBy: orderArb,
      limit: fc.integer({ min: 0, max: 8 }),
      afterIndex: fc.nat({ max: 14 }),
    },
    { requiredKeys: [] },
  )
  .map(({ afterIndex, ...query }) => ({ query: query as StorageQuery, afterIndex }));

let folder: ReturnType<typeof tempFolder>;
let plain: LocalStorage;
let indexed: LocalStorage;

beforeAll(async () => {
  folder = tempFolder();
  plain = sqliteStorage({ filename: folder.file('plain.db'), durability: 'normal' });
  indexed = sqliteStorage({ filename: folder.file('indexed.db'), durability: 'normal' });
  await plain.open();
  await indexed.open();
  await indexed.ensureIndexes!('q', [...FIELDS, 'missing']);
});

afterAll(async () => {
  await plain.close();
  await indexed.close();
  folder.cleanup();
});

async function load(storage: LocalStorage, docs: StoredDoc[]): Promise<void> {
  await storage.write(async (tx) => {
    const existing = await tx.queryDocs('q', {});
    await tx.removeDocs('q', existing.map((d) => d.key));
    const tombstones = (await tx.getDocs('q', docs.map((d) => d.key))).filter((d) => d !== undefined);
    await tx.removeDocs('q', tombstones.map((d) => d!.key));
    await tx.putDocs(docs);
  });
}

/** What a document looks like after the JSON round trip of storage (undefined fields dropped). */
function roundTrip(d: StoredDoc): StoredDoc {
  return { ...d, data: d.data === null ? null : (JSON.parse(JSON.stringify(d.data)) as StoredDoc['data']) };
}

describe('queryDocs and countDocs agree with applyQuery', () => {
  it(`random documents and queries (seed ${seed})`, async () => {
    await fc.assert(
      fc.asyncProperty(docsArb, queryArb, async (rawDocs, { query, afterIndex }) => {
        const docs = rawDocs.map((d) => roundTrip(doc('q', d.key, d.deleted ? null : (d.data as StoredDoc['data']))));
        // `after` taken from a real row of the full ordering (or a row past the end), as a client would.
        const ordered = applyQuery(docs, { orderBy: query.orderBy });
        const anchor = afterIndex === undefined ? undefined : ordered[afterIndex];
        const q: StorageQuery = anchor ? { ...query, after: { key: anchor.key, values: (query.orderBy ?? []).map((t) => fieldOf(anchor, t.field)) } } : query;
        const expected = applyQuery(docs, q).map((d) => d.key);
        const expectedCount = docs.filter((d) => !d.deleted && matchesWhere(d.data, q.where)).length;
        for (const storage of [plain, indexed]) {
          await load(storage, docs);
          const [got, count] = await storage.read(async (tx) => [await tx.queryDocs('q', q), await tx.countDocs('q', q.where)] as const);
          expect(got.map((d) => d.key), JSON.stringify(q)).toEqual(expected);
          expect(count, JSON.stringify(q)).toBe(expectedCount);
        }
      }),
      { seed, numRuns: runs },
    );
  });

  it('agrees on every operator against every kind of value (exhaustive table)', async () => {
    const values: unknown[] = [null, undefined, true, false, -1, 0, 0.5, 1, 2, 1e21, '', 'a', 'A', 'b', '2', 'é', '😀', { o: 1 }, [1]];
    const docs = values.map((v, i) => roundTrip(doc('t', `t${String(i).padStart(2, '0')}`, v === undefined ? {} : { f: v })));
    await plain.write((tx) => tx.putDocs(docs));
    const bounds: Comparable[] = [null, true, false, -1, 0, 0.5, 1, 2, '', 'a', 'b', '😀'];
    const filters: FieldFilter[] = [...bounds, { in: [] }, { in: [null] }, { in: [null, 1, 'a'] }, { in: [true, 'b'] }, {}];
    for (const op of OPS) if (op !== 'in') for (const b of bounds) filters.push({ [op]: b });
    for (const [lo, hi] of [[0, 2], [null, 'b'], [-1, 'a'], [false, true]] as const) filters.push({ gte: lo, lt: hi }, { gt: lo, lte: hi });
    for (const filter of filters) {
      for (const direction of ['asc', 'desc'] as const) {
        const query: StorageQuery = { where: { f: filter }, orderBy: [{ field: 'f', direction }] };
        const [got, count] = await plain.read(async (tx) => [await tx.queryDocs('t', query), await tx.countDocs('t', query.where)] as const);
        const expected = applyQuery(docs, query).map((d) => d.key);
        expect(got.map((d) => d.key), JSON.stringify(query)).toEqual(expected);
        expect(count, JSON.stringify(query)).toBe(expected.length);
        // Paging with `after` through the whole ordering visits the same rows.
        const paged: string[] = [];
        let after: StorageQuery['after'];
        for (;;) {
          const page = await plain.read((tx) => tx.queryDocs('t', { ...query, limit: 2, after }));
          if (page.length === 0) break;
          paged.push(...page.map((d) => d.key));
          const last = page[page.length - 1]!;
          after = { key: last.key, values: [fieldOf(last, 'f')] };
        }
        expect(paged, `paged ${JSON.stringify(query)}`).toEqual(expected);
      }
    }
  });

  it('answers fields that cannot go in a JSON path (quotes, backslashes) in JavaScript with the same results', async () => {
    const docs = [doc('w', 'a', { 'x"y': 2, 'p\\q': 'b' }), doc('w', 'b', { 'x"y': 1 }), doc('w', 'c', { 'x"y': null, 'p\\q': 'a' })];
    await plain.write((tx) => tx.putDocs(docs));
    const query: StorageQuery = { where: { 'x"y': { ne: 1 } }, orderBy: [{ field: 'p\\q', direction: 'desc' }] };
    const got = await plain.read((tx) => tx.queryDocs('w', query));
    expect(got.map((d) => d.key)).toEqual(applyQuery(docs, query).map((d) => d.key));
    expect(await plain.read((tx) => tx.countDocs('w', { 'x"y': { gte: 1 } }))).toBe(2);
  });

  it('drives queries on indexed fields through the expression index that ensureIndexes created', async () => {
    await indexed.ensureIndexes!('people', ['age']);
    const rows = Array.from({ length: 200 }, (_, i) => doc('people', `p${i}`, { age: i % 50, name: `n${i}` }));
    await indexed.write((tx) => tx.putDocs(rows));
    // Capture the SQL the adapter prepares, then ask SQLite for its plan on a second connection.
    const prepare = vi.spyOn(Database.prototype, 'prepare');
    const sqlOf = async (query: StorageQuery, count = false) => {
      prepare.mockClear();
      if (count) await indexed.read((tx) => tx.countDocs('people', query.where));
      else await indexed.read((tx) => tx.queryDocs('people', query));
      return prepare.mock.calls.map((call) => call[0]).find((sql) => sql.includes('nx_docs')) ?? '';
    };
    const ranged: StorageQuery = { where: { age: { gte: 48 } }, orderBy: [{ field: 'age', direction: 'desc' }], limit: 3 };
    expect((await indexed.read((tx) => tx.queryDocs('people', ranged))).map((d) => d.key)).toEqual(['p149', 'p199', 'p49']);
    // Statements are cached: use fresh query shapes so that prepare() runs.
    const statements = {
      equality: await sqlOf({ where: { age: 7 }, limit: 50 }),
      inList: await sqlOf({ where: { age: { in: [1, 2] } }, limit: 51 }),
      range: await sqlOf({ where: { age: { gt: 40 } }, limit: 52 }),
      order: await sqlOf({ orderBy: [{ field: 'age', direction: 'asc' }], limit: 53 }),
      count: await sqlOf({ where: { age: 8 } }, true),
      unindexed: await sqlOf({ where: { name: 'n7' }, limit: 54 }),
    };
    prepare.mockRestore();
    const db = new Database(folder.file('indexed.db'), { readonly: true });
    try {
      const plan = (sql: string) => {
        const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 1);
        return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('; ');
      };
      expect(plan(statements.equality)).toMatch(/USING INDEX nx_ix_\w+ \(collection=\? AND <expr>=\?\)/);
      expect(plan(statements.inList)).toMatch(/USING INDEX nx_ix_\w+ \(collection=\? AND <expr>=\?\)/);
      expect(plan(statements.range)).toMatch(/USING INDEX nx_ix_\w+ \(collection=\? AND <expr>>\?\)/);
      expect(plan(statements.order)).toMatch(/USING INDEX nx_ix_/);
      expect(plan(statements.count)).toMatch(/USING (COVERING )?INDEX nx_ix_/);
      expect(plan(statements.unindexed)).not.toMatch(/nx_ix_/);
    } finally {
      db.close();
    }
  });
});

function fieldOf(d: StoredDoc, field: string): Comparable {
  const v = d.data?.[field];
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'string') return v;
  return null;
}

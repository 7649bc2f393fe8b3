import type { LocalStorage, NewOutboxEntry, OutboxEntry, StorageQuery, StoredDoc } from '../localStorage.js';
import { applyQuery, orderValues } from '../query.js';
import { seededRandom } from './seededRandom.js';
import type { SyncPriority } from '../remoteBackend.js';

/**
 * The storage conformance suite. Every `LocalStorage` adapter runs it on real storage.
 *
 * A harness gives one empty database per test case: `create()` returns a new, not yet opened
 * `LocalStorage` over that same database each time it is called (the suite calls it again to
 * "reopen" after `close()`), and `cleanup()` removes the database after the case.
 */
export interface StorageHarness {
  create(): LocalStorage | Promise<LocalStorage>;
  cleanup?(): void | Promise<void>;
}

export type CreateStorageHarness = () => StorageHarness | Promise<StorageHarness>;

export interface ConformanceCase {
  name: string;
  run(): Promise<void>;
}

export class ConformanceFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceFailure';
  }
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v === undefined ? '<undefined>' : v));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function equal(actual: unknown, expected: unknown, what: string): void {
  if (!deepEqual(actual, expected)) throw new ConformanceFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

function ok(condition: unknown, what: string): void {
  if (!condition) throw new ConformanceFailure(what);
}

async function rejects(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new ConformanceFailure(`${what}: expected a rejection`);
}

export function makeDoc(collection: string, key: string, data: Record<string, unknown> | null, overrides: Partial<StoredDoc> = {}): StoredDoc {
  return {
    collection,
    key,
    data,
    deleted: data === null,
    hlc: '000000000000001:00000:test',
    fieldClocks: null,
    syncState: 'pending',
    server: null,
    ...overrides,
  };
}

export function makeEntry(key: string, priority: SyncPriority = 'normal', overrides: Partial<NewOutboxEntry> = {}): NewOutboxEntry {
  return {
    mutationId: `m-${key}-${priority}-${Math.random().toString(36).slice(2)}`,
    collection: 'items',
    key,
    op: 'upsert',
    data: { id: key },
    changedFields: null,
    baseVersion: 0,
    hlc: '000000000000001:00000:test',
    fieldClocks: null,
    priority,
    txId: null,
    status: 'pending',
    attempts: 0,
    lastError: null,
    conflict: null,
    createdAt: 1,
    ...overrides,
  };
}

function generatedDocs(count: number, seed: number): StoredDoc[] {
  const random = seededRandom(seed);
  const statuses = ['open', 'won', 'lost', 'open'];
  const docs: StoredDoc[] = [];
  for (let i = 0; i < count; i++) {
    const data: Record<string, unknown> = {
      id: `k${String(i).padStart(3, '0')}`,
      status: statuses[Math.floor(random() * statuses.length)],
      score: Math.floor(random() * 20),
      name: `n${Math.floor(random() * 50)}`,
      vip: random() < 0.3,
    };
    if (random() < 0.15) delete data.score;
    if (random() < 0.1) data.name = null;
    docs.push(makeDoc('leads', data.id as string, data, { syncState: 'synced' }));
  }
  return docs;
}

const QUERIES: StorageQuery[] = [
  {},
  { where: { status: 'open' } },
  { where: { status: { ne: 'open' } } },
  { where: { status: { in: ['won', 'lost'] } } },
  { where: { score: { gt: 5 } } },
  { where: { score: { gte: 5, lt: 12 } } },
  { where: { score: { lte: 3 } } },
  { where: { score: null } },
  { where: { name: { eq: null } } },
  { where: { vip: true } },
  { where: { vip: false, status: 'open' } },
  { where: { status: 'open', score: { gte: 10 } } },
  { orderBy: [{ field: 'score', direction: 'asc' }] },
  { orderBy: [{ field: 'score', direction: 'desc' }] },
  { orderBy: [{ field: 'name', direction: 'asc' }, { field: 'score', direction: 'desc' }] },
  { where: { status: 'open' }, orderBy: [{ field: 'score', direction: 'desc' }], limit: 7 },
  { where: { score: { gt: 2 } }, orderBy: [{ field: 'name', direction: 'asc' }], limit: 5 },
  { limit: 3 },
  { where: { missingField: 'x' } },
  { where: { status: 'nothing-has-this' }, orderBy: [{ field: 'score', direction: 'asc' }] },
];

/**
 * The cases as plain async functions, for any runner (vitest, a browser page).
 * `runStorageConformance` registers them with vitest.
 */
export function storageConformanceCases(createHarness: CreateStorageHarness): ConformanceCase[] {
  const withStorage = (fn: (ctx: { storage: LocalStorage; reopen(): Promise<LocalStorage> }) => Promise<void>) => async () => {
    const harness = await createHarness();
    let storage = await harness.create();
    await storage.open();
    try {
      await fn({
        get storage() {
          return storage;
        },
        async reopen() {
          await storage.close();
          storage = await harness.create();
          await storage.open();
          return storage;
        },
      });
    } finally {
      await storage.close().catch(() => undefined);
      await harness.cleanup?.();
    }
  };

  const cases: ConformanceCase[] = [];
  const add = (name: string, fn: Parameters<typeof withStorage>[0]) => cases.push({ name, run: withStorage(fn) });

  add('documents: put, get in key order, missing keys are undefined', async ({ storage }) => {
    const a = makeDoc('items', 'a', { id: 'a', n: 1, nested: { list: [1, 'two', null], ok: true }, text: 'héllo ✓ 日本' });
    const b = makeDoc('items', 'b', { id: 'b', n: 2.5 }, { server: { version: 7, deleted: false, data: { id: 'b', n: 2 }, hlc: 'h', fieldClocks: { n: 'h' } } });
    await storage.write(async (tx) => tx.putDocs([a, b]));
    const got = await storage.read((tx) => tx.getDocs('items', ['b', 'zzz', 'a']));
    equal(got, [b, undefined, a], 'getDocs');
  });

  add('documents: collections are separate', async ({ storage }) => {
    await storage.write(async (tx) => tx.putDocs([makeDoc('one', 'k', { id: 'k', v: 1 }), makeDoc('two', 'k', { id: 'k', v: 2 })]));
    const [one] = await storage.read((tx) => tx.getDocs('one', ['k']));
    const [two] = await storage.read((tx) => tx.getDocs('two', ['k']));
    equal(one?.data, { id: 'k', v: 1 }, 'collection one');
    equal(two?.data, { id: 'k', v: 2 }, 'collection two');
    equal(await storage.read((tx) => tx.countDocs('one')), 1, 'count of one');
  });

  add('documents: a put replaces, tombstones are kept but not queried, removeDocs removes', async ({ storage }) => {
    await storage.write(async (tx) => tx.putDocs([makeDoc('items', 'a', { id: 'a', v: 1 }), makeDoc('items', 'b', { id: 'b', v: 1 })]));
    await storage.write(async (tx) => tx.putDocs([makeDoc('items', 'a', { id: 'a', v: 2 }), makeDoc('items', 'b', null)]));
    const [a, b] = await storage.read((tx) => tx.getDocs('items', ['a', 'b']));
    equal(a?.data, { id: 'a', v: 2 }, 'replaced doc');
    equal(b?.deleted, true, 'tombstone kept');
    equal((await storage.read((tx) => tx.queryDocs('items', {}))).map((d) => d.key), ['a'], 'query skips tombstones');
    equal(await storage.read((tx) => tx.countDocs('items')), 1, 'count skips tombstones');
    await storage.write(async (tx) => tx.removeDocs('items', ['a', 'b']));
    equal(await storage.read((tx) => tx.getDocs('items', ['a', 'b'])), [undefined, undefined], 'removed');
  });

  for (const indexed of [false, true]) {
    add(`queries: where, ranges, orderBy, limit match the reference semantics (${indexed ? 'with' : 'without'} ensureIndexes)`, async ({ storage }) => {
      const docs = generatedDocs(120, 42);
      if (indexed) await storage.ensureIndexes?.('leads', ['status', 'score', 'name', 'vip']);
      await storage.write(async (tx) => tx.putDocs(docs));
      await storage.write(async (tx) => tx.putDocs([makeDoc('leads', 'k005', null), makeDoc('other', 'x', { id: 'x', status: 'open', score: 5 })]));
      const live = docs.filter((d) => d.key !== 'k005');
      for (const query of QUERIES) {
        const expected = applyQuery(live, query).map((d) => d.key);
        const actual = (await storage.read((tx) => tx.queryDocs('leads', query))).map((d) => d.key);
        equal(actual, expected, `queryDocs ${show(query)}`);
        const tx0 = await storage.read(async (tx) => (tx.queryData ? tx.queryData('leads', query) : null));
        if (tx0) equal(tx0, applyQuery(live, query).map((d) => d.data), `queryData ${show(query)}`);
        if (!query.limit && !query.orderBy) {
          equal(await storage.read((tx) => tx.countDocs('leads', query.where)), expected.length, `countDocs ${show(query.where)}`);
        }
      }
    });
  }

  add('queries: cursor pagination with after visits every row once, in order', async ({ storage }) => {
    const docs = generatedDocs(57, 7);
    await storage.ensureIndexes?.('leads', ['score']);
    await storage.write(async (tx) => tx.putDocs(docs));
    for (const orderBy of [undefined, [{ field: 'score', direction: 'desc' as const }], [{ field: 'name', direction: 'asc' as const }, { field: 'score', direction: 'asc' as const }]]) {
      const expected = applyQuery(docs, { orderBy }).map((d) => d.key);
      const seen: string[] = [];
      let after: StorageQuery['after'];
      for (let page = 0; page < 100; page++) {
        const rows = await storage.read((tx) => tx.queryDocs('leads', { orderBy, limit: 10, after }));
        if (rows.length === 0) break;
        seen.push(...rows.map((d) => d.key));
        const last = rows[rows.length - 1]!;
        after = { key: last.key, values: orderValues(last.data, orderBy) };
      }
      equal(seen, expected, `pages ordered by ${show(orderBy)}`);
    }
  });

  add('outbox: seq increases; list orders by priority then seq; filters; per-key lookup', async ({ storage }) => {
    const specs: [string, SyncPriority][] = [['a', 'low'], ['b', 'normal'], ['c', 'critical'], ['d', 'normal'], ['e', 'high'], ['f', 'critical'], ['g', 'low']];
    const seqs = await storage.write(async (tx) => {
      const out: number[] = [];
      for (const [key, priority] of specs) out.push(await tx.addOutbox(makeEntry(key, priority, { txId: key === 'b' || key === 'd' ? 'tx1' : null })));
      return out;
    });
    for (let i = 1; i < seqs.length; i++) ok(seqs[i]! > seqs[i - 1]!, `seq must increase: ${show(seqs)}`);
    const listed = await storage.read((tx) => tx.listOutbox());
    equal(listed.map((e) => e.key), ['c', 'f', 'e', 'b', 'd', 'a', 'g'], 'priority then FIFO');
    equal(listed.find((e) => e.key === 'c')?.seq, seqs[2], 'seq stored');
    equal((await storage.read((tx) => tx.listOutbox({ limit: 3 }))).map((e) => e.key), ['c', 'f', 'e'], 'limit');
    equal((await storage.read((tx) => tx.listOutbox({ txId: 'tx1' }))).map((e) => e.key), ['b', 'd'], 'txId filter');
    const first = listed[0]!;
    await storage.write(async (tx) => tx.updateOutbox([{ ...first, status: 'inflight', attempts: 2, lastError: { code: 'NETWORK', message: 'x' } }]));
    equal((await storage.read((tx) => tx.listOutbox({ status: 'inflight' }))).map((e) => [e.key, e.attempts, e.lastError?.code]), [['c', 2, 'NETWORK']], 'status filter after update');
    equal((await storage.read((tx) => tx.listOutbox({ status: 'pending' }))).map((e) => e.key), ['f', 'e', 'b', 'd', 'a', 'g'], 'pending only');
    equal(await storage.read((tx) => tx.countOutbox()), { pending: 6, inflight: 1, failed: 0, conflict: 0 }, 'countOutbox');
    const forKeys = await storage.read((tx) => tx.getOutboxForKeys('items', ['g', 'a', 'zzz']));
    equal(forKeys.map((e) => e.key), ['a', 'g'], 'getOutboxForKeys ordered by seq');
    equal(await storage.read((tx) => tx.getOutboxForKeys('other', ['a'])), [], 'getOutboxForKeys is per collection');
    await storage.write(async (tx) => tx.deleteOutbox([seqs[0]!, seqs[2]!]));
    equal((await storage.read((tx) => tx.listOutbox())).map((e) => e.key), ['f', 'e', 'b', 'd', 'g'], 'after delete');
  });

  add('outbox: markOutbox (when the adapter has it) changes only status and attempts', async ({ storage }) => {
    const marks = await storage.write(async (tx) => typeof tx.markOutbox === 'function');
    if (!marks) return; // optional: the core then uses updateOutbox, which the other cases cover
    const entry = makeEntry('m', 'high', { changedFields: ['name'], baseVersion: 3, fieldClocks: { name: 'h1' }, lastError: { code: 'NETWORK', message: 'x' } });
    const [a, b] = await storage.write(async (tx) => [await tx.addOutbox(entry), await tx.addOutbox(makeEntry('n', 'low'))]);
    await storage.write((tx) => tx.markOutbox!([a!, b!, 999_999], 'inflight', { countAttempt: true }));
    let listed = await storage.read((tx) => tx.listOutbox());
    equal(listed.map((e) => [e.key, e.status, e.attempts]), [['m', 'inflight', 1], ['n', 'inflight', 1]], 'marked in flight with an attempt counted');
    equal(listed[0], { ...entry, seq: a, status: 'inflight', attempts: 1 }, 'every other field as stored');
    await storage.write((tx) => tx.markOutbox!([b!], 'pending'));
    listed = await storage.read((tx) => tx.listOutbox());
    equal(listed.map((e) => [e.key, e.status, e.attempts]), [['m', 'inflight', 1], ['n', 'pending', 1]], 'back to pending without counting');
    await storage.write(async (tx) => {
      await tx.markOutbox!([a!], 'failed');
      throw new Error('rolled back');
    }).catch(() => undefined);
    equal((await storage.read((tx) => tx.listOutbox({ status: 'failed' }))).length, 0, 'a rolled back mark changes nothing');
    // With the priorities the caller read: one of them stale (n is 'low', not 'critical'); each entry is marked once.
    await storage.write((tx) => tx.markOutbox!([a!, b!], 'failed', { countAttempt: true, priorities: ['high', 'critical'] }));
    listed = await storage.read((tx) => tx.listOutbox());
    equal(listed.map((e) => [e.key, e.status, e.attempts]), [['m', 'failed', 2], ['n', 'failed', 2]], 'marked with priorities, a stale one too, each attempt counted once');
  });

  add('outbox: ackOutbox (when the adapter has it) settles only in-flight entries that are their record\'s only one, have a document and an ack above its server version', async ({ storage }) => {
    const acks = await storage.write(async (tx) => typeof tx.ackOutbox === 'function');
    if (!acks) return; // optional: the core then uses the other methods, which the other cases cover
    const data = { id: 'a', name: 'Ada' };
    const server = { version: 3, deleted: false, data: { id: 'a', name: 'Old' }, hlc: 'h0', fieldClocks: null };
    const inflight = { status: 'inflight' as const, attempts: 1 };
    const seqs = await storage.write(async (tx) => {
      await tx.putDocs([
        makeDoc('c', 'a', data, { hlc: 'h1', syncState: 'pending', server }),
        makeDoc('c', 'gone', null, { deleted: true, hlc: 'h2', syncState: 'pending', server }),
        makeDoc('c', 'known', data, { syncState: 'pending', server: { ...server, version: 9 } }),
        makeDoc('c', 'two', data, { syncState: 'pending' }),
        makeDoc('c', 'waiting', data, { syncState: 'pending' }),
      ]);
      return {
        a: await tx.addOutbox(makeEntry('a', 'normal', { collection: 'c', data, hlc: 'h1', fieldClocks: { name: 'h1' }, ...inflight })),
        gone: await tx.addOutbox(makeEntry('gone', 'normal', { collection: 'c', op: 'delete', data: null, hlc: 'h2', ...inflight })),
        known: await tx.addOutbox(makeEntry('known', 'normal', { collection: 'c', data, ...inflight })),
        twoFirst: await tx.addOutbox(makeEntry('two', 'normal', { collection: 'c', data, ...inflight })),
        twoLater: await tx.addOutbox(makeEntry('two', 'normal', { collection: 'c', data: { id: 'a', name: 'later' } })),
        waiting: await tx.addOutbox(makeEntry('waiting', 'normal', { collection: 'c', data })),
        docless: await tx.addOutbox(makeEntry('nodoc', 'normal', { collection: 'c', data, ...inflight })),
      };
    });
    const versions = { a: 7, gone: 8, known: 5, twoFirst: 10, waiting: 11, docless: 12 };
    const handled = await storage.write((tx) => tx.ackOutbox!(Object.entries(versions).map(([name, version]) => ({ seq: seqs[name as keyof typeof seqs], version })).concat({ seq: 999_999, version: 1 })));
    equal([...handled].sort((x, y) => x - y), [seqs.a, seqs.gone], 'handles the in-flight only entries of existing documents');
    const left = await storage.read((tx) => tx.listOutbox());
    equal(left.map((e) => e.seq).sort((x, y) => x - y), [seqs.known, seqs.twoFirst, seqs.twoLater, seqs.waiting, seqs.docless], 'deletes the handled entries, keeps the others as they were');
    equal(left.find((e) => e.seq === seqs.twoFirst)?.status, 'inflight', 'an entry it did not handle is unchanged');
    const [a, gone, known, two] = await storage.read((tx) => tx.getDocs('c', ['a', 'gone', 'known', 'two']));
    equal(a, makeDoc('c', 'a', data, { hlc: 'h1', syncState: 'synced', server: { version: 7, deleted: false, data, hlc: 'h1', fieldClocks: { name: 'h1' } } }), 'the server state is the pushed entry');
    equal(gone, makeDoc('c', 'gone', null, { deleted: true, hlc: 'h2', syncState: 'synced', server: { version: 8, deleted: true, data: null, hlc: 'h2', fieldClocks: null } }), 'a pushed delete');
    equal([known?.server?.version, known?.syncState], [9, 'pending'], 'an ack at or below the known server version is left to the core');
    equal(two?.syncState, 'pending', 'a record with another entry is left to the core');
    await storage.write(async (tx) => {
      const [waiting] = await tx.getOutboxForKeys('c', ['waiting']);
      await tx.updateOutbox([{ ...waiting!, status: 'inflight', attempts: 1 }]);
      equal(await tx.ackOutbox!([{ seq: seqs.waiting, version: 13 }]), [seqs.waiting], 'an entry sent in this transaction is handled');
      throw new Error('rolled back');
    }).catch(() => undefined);
    const after = await storage.read(async (tx) => ({ outbox: await tx.getOutboxForKeys('c', ['waiting']), docs: await tx.getDocs('c', ['waiting']) }));
    equal([after.outbox.map((e) => e.status), after.docs[0]?.syncState], [['pending'], 'pending'], 'a rolled back ack changes nothing');
    // A record whose other entry was added before its document existed is left to the core too.
    const first = await storage.write((tx) => tx.addOutbox(makeEntry('early', 'normal', { collection: 'c', data })));
    const early = await storage.write(async (tx) => {
      await tx.putDocs([makeDoc('c', 'early', data, { syncState: 'pending' })]);
      return { first, second: await tx.addOutbox(makeEntry('early', 'normal', { collection: 'c', data, ...inflight })) };
    });
    equal(await storage.write((tx) => tx.ackOutbox!([{ seq: early.second, version: 20 }])), [], 'an entry whose record has an entry from before its document is left to the core');
    equal((await storage.read((tx) => tx.getOutboxForKeys('c', ['early']))).map((e) => e.seq), [early.first, early.second], 'both entries stay');
  });

  add('outbox: ackOutbox with priorities: an ack with its entry\'s priority is handled as one without; one with a priority the entry no longer has is handled right or left unchanged', async ({ storage }) => {
    const acks = await storage.write(async (tx) => typeof tx.ackOutbox === 'function');
    if (!acks) return;
    const data = { id: 'p', name: 'P' };
    const inflight = { status: 'inflight' as const, attempts: 1 };
    const seqs = await storage.write(async (tx) => {
      await tx.putDocs([makeDoc('c', 'p', data, { syncState: 'pending' }), makeDoc('c', 'q', data, { syncState: 'pending' })]);
      return {
        p: await tx.addOutbox(makeEntry('p', 'high', { collection: 'c', data, ...inflight })),
        q: await tx.addOutbox(makeEntry('q', 'low', { collection: 'c', data, ...inflight })),
      };
    });
    const handled = await storage.write((tx) => tx.ackOutbox!([{ seq: seqs.p, version: 4, priority: 'high' }, { seq: seqs.q, version: 5, priority: 'critical' }]));
    equal(handled.includes(seqs.p), true, 'the ack with the entry\'s priority is handled');
    const [p, q] = await storage.read((tx) => tx.getDocs('c', ['p', 'q']));
    equal([p?.syncState, p?.server?.version], ['synced', 4], 'its document is synced at the acknowledged version');
    const qEntries = await storage.read((tx) => tx.getOutboxForKeys('c', ['q']));
    if (handled.includes(seqs.q)) equal([q?.syncState, q?.server?.version, qEntries.length], ['synced', 5, 0], 'a stale priority, handled: as any ack');
    else equal([q?.syncState, q?.server, qEntries.map((e) => e.status)], ['pending', null, ['inflight']], 'a stale priority, not handled: nothing changed');
  });

  add('outbox: entries round-trip every field', async ({ storage }) => {
    const entry = makeEntry('x', 'high', {
      op: 'delete',
      data: null,
      changedFields: ['a', 'b'],
      baseVersion: 12,
      fieldClocks: { a: 'h1', b: 'h2' },
      txId: 'tx9',
      status: 'conflict',
      attempts: 3,
      lastError: { code: 'REJECTED', message: 'nope' },
      conflict: { collection: 'items', key: 'x', version: 13, deleted: false, data: { id: 'x', a: 1 }, hlc: 'h3', fieldClocks: null, clientId: 'c2' },
      createdAt: 1234,
    });
    const seq = await storage.write((tx) => tx.addOutbox(entry));
    const [stored] = await storage.read((tx) => tx.listOutbox());
    equal(stored, { ...entry, seq } satisfies OutboxEntry, 'entry');
  });

  add('metadata: set, get, overwrite and delete JSON values', async ({ storage }) => {
    await storage.write(async (tx) => {
      await tx.setMeta('cursor', '42');
      await tx.setMeta('obj', { a: [1, 2], b: null });
      await tx.setMeta('n', 5);
    });
    equal(await storage.read((tx) => tx.getMeta('cursor')), '42', 'string meta');
    equal(await storage.read((tx) => tx.getMeta('obj')), { a: [1, 2], b: null }, 'object meta');
    await storage.write(async (tx) => {
      await tx.setMeta('n', 6);
      await tx.setMeta('cursor', undefined);
    });
    equal(await storage.read((tx) => tx.getMeta('n')), 6, 'overwritten');
    equal(await storage.read((tx) => tx.getMeta('cursor')), undefined, 'deleted');
    equal(await storage.read((tx) => tx.getMeta('never')), undefined, 'missing');
  });

  add('transactions: a write sees its own changes before commit', async ({ storage }) => {
    await storage.write(async (tx) => {
      await tx.putDocs([makeDoc('items', 'a', { id: 'a' })]);
      const seq = await tx.addOutbox(makeEntry('a'));
      await tx.setMeta('m', 1);
      equal((await tx.getDocs('items', ['a']))[0]?.data, { id: 'a' }, 'own doc');
      equal((await tx.queryDocs('items', {})).length, 1, 'own doc in query');
      equal((await tx.listOutbox()).map((e) => e.seq), [seq], 'own outbox entry');
      equal((await tx.getOutboxForKeys('items', ['a'])).length, 1, 'own entry by key');
      equal(await tx.getMeta('m'), 1, 'own meta');
    });
  });

  add('transactions: document, outbox entry and metadata commit all or none', async ({ storage }) => {
    await storage.write(async (tx) => tx.putDocs([makeDoc('items', 'keep', { id: 'keep', v: 1 })]));
    const boom = new Error('boom');
    const error = await rejects(
      storage.write(async (tx) => {
        await tx.putDocs([makeDoc('items', 'a', { id: 'a' }), makeDoc('items', 'keep', { id: 'keep', v: 2 })]);
        await tx.addOutbox(makeEntry('a'));
        await tx.setMeta('cursor', '9');
        await tx.removeDocs('items', ['keep']);
        throw boom;
      }),
      'failing write',
    );
    ok(error === boom, 'write rejects with the callback error');
    equal(await storage.read((tx) => tx.getDocs('items', ['a', 'keep'])), [undefined, makeDoc('items', 'keep', { id: 'keep', v: 1 })], 'docs untouched');
    equal(await storage.read((tx) => tx.listOutbox()), [], 'outbox untouched');
    equal(await storage.read((tx) => tx.getMeta('cursor')), undefined, 'meta untouched');
  });

  add('transactions: concurrent writes all commit, and one failing write does not affect the others', async ({ storage }) => {
    const writes = Array.from({ length: 50 }, (_, i) =>
      storage.write(async (tx) => {
        await tx.putDocs([makeDoc('items', `k${i}`, { id: `k${i}`, i })]);
        const seq = await tx.addOutbox(makeEntry(`k${i}`));
        if (i === 17) throw new Error('only this one fails');
        return seq;
      }),
    );
    const results = await Promise.allSettled(writes);
    equal(results.filter((r) => r.status === 'rejected').length, 1, 'exactly one rejected');
    ok(results[17]?.status === 'rejected', 'the failing write rejected');
    equal(await storage.read((tx) => tx.countDocs('items')), 49, 'others committed');
    const keys = (await storage.read((tx) => tx.listOutbox())).map((e) => e.key);
    equal(keys.length, 49, 'their outbox entries committed');
    ok(!keys.includes('k17'), 'failed write left no outbox entry');
    equal((await storage.read((tx) => tx.getDocs('items', ['k17'])))[0], undefined, 'failed write left no doc');
  });

  add('transactions: reads during concurrent writes see whole transactions only', async ({ storage }) => {
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      jobs.push(storage.write(async (tx) => {
        await tx.putDocs([makeDoc('items', `k${i}`, { id: `k${i}` })]);
        await tx.addOutbox(makeEntry(`k${i}`));
      }));
      jobs.push(storage.read(async (tx) => {
        const docs = await tx.countDocs('items');
        const entries = (await tx.listOutbox()).length;
        equal(docs, entries, 'docs and outbox entries seen together');
      }));
    }
    await Promise.all(jobs);
  });

  add('reopen: documents, outbox, metadata survive; seq keeps increasing', async ({ storage, reopen }) => {
    const seq = await storage.write(async (tx) => {
      await tx.putDocs([makeDoc('items', 'a', { id: 'a', v: 1 })]);
      await tx.setMeta('cursor', '17');
      const s1 = await tx.addOutbox(makeEntry('a', 'high'));
      const s2 = await tx.addOutbox(makeEntry('b', 'low'));
      await tx.deleteOutbox([s2]);
      return s2 > s1 ? s2 : s1;
    });
    const again = await reopen();
    equal((await again.read((tx) => tx.getDocs('items', ['a'])))[0]?.data, { id: 'a', v: 1 }, 'doc after reopen');
    equal(await again.read((tx) => tx.getMeta('cursor')), '17', 'meta after reopen');
    equal((await again.read((tx) => tx.listOutbox())).map((e) => [e.key, e.priority]), [['a', 'high']], 'outbox after reopen');
    const next = await again.write((tx) => tx.addOutbox(makeEntry('c')));
    ok(next > seq, `seq after reopen (${next}) must exceed every earlier seq (${seq})`);
  });

  add('close: operations after close fail with a StorageError', async ({ storage }) => {
    await storage.close();
    const error = (await rejects(storage.read((tx) => tx.getMeta('x')), 'read after close')) as { code?: string; name?: string };
    ok(typeof error?.code === 'string', `a coded error, got ${show(error)}`);
  });

  return cases;
}

/**
 * Registers the conformance suite with vitest. Call it at the top level of a test file:
 * `runStorageConformance('sqlite', () => ({ create: () => sqliteStorage({ filename }), cleanup }))`.
 */
export async function runStorageConformance(name: string, createHarness: CreateStorageHarness): Promise<void> {
  const { describe, it } = await import('vitest');
  describe(`LocalStorage conformance: ${name}`, () => {
    for (const c of storageConformanceCases(createHarness)) it(c.name, c.run);
  });
}

/** The benchmark page (see chromium.ts): write and query figures over real IndexedDB. */
import { createNexus } from '@nexus-store/core';
import type { NewOutboxEntry, StoredDoc } from '@nexus-store/core';
import { idbStorage } from '@nexus-store/idb';

const doc = (key: string, i: number): StoredDoc => ({ collection: 'leads', key, data: { id: key, status: ['open', 'won', 'lost', 'new'][i % 4], score: i % 1000, name: `n${i % 337}`, vip: i % 10 === 0 }, deleted: false, hlc: 'h', fieldClocks: null, syncState: 'pending', server: null });
const entry = (key: string): NewOutboxEntry => ({ mutationId: `m${key}`, collection: 'leads', key, op: 'upsert', data: { id: key }, changedFields: null, baseVersion: 0, hlc: 'h', fieldClocks: null, priority: 'normal', txId: null, status: 'pending', attempts: 0, lastError: null, conflict: null, createdAt: 1 });

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

(globalThis as { runBench?: () => Promise<Record<string, number>> }).runBench = async () => {
  const out: Record<string, number> = {};
  for (const durability of ['strict', 'relaxed'] as const) {
    const s = idbStorage({ name: `bench-w-${durability}`, durability });
    await s.open();
    const N = 1000;
    out[`${durability}: ${N} concurrent write() (doc+outbox each)`] = await time(() => Promise.all(Array.from({ length: N }, (_, i) => s.write(async (tx) => { await tx.putDocs([doc(`c${i}`, i)]); await tx.addOutbox(entry(`c${i}`)); }))));
    const M = 200;
    out[`${durability}: ${M} sequential awaited write() (per write)`] = (await time(async () => { for (let i = 0; i < M; i++) await s.write(async (tx) => { await tx.putDocs([doc(`s${i}`, i)]); await tx.addOutbox(entry(`s${i}`)); }); })) / M;
    await s.close();
  }
  {
    const nexus = await createNexus({ storage: idbStorage({ name: 'bench-nexus' }) });
    const schema = { safeParse: (input: unknown) => ({ success: true as const, data: input as { id: string; name: string } }) };
    const contacts = nexus.store<{ id: string; name: string }, string>('contacts', { schema, key: 'id' });
    out['nexus: 1000 concurrent contacts.save()'] = await time(() => Promise.all(Array.from({ length: 1000 }, (_, i) => contacts.save({ id: `c${i}`, name: `n${i}` }))));
    out['nexus: 200 awaited contacts.save() (per save)'] = (await time(async () => { for (let i = 0; i < 200; i++) await contacts.save({ id: `s${i}`, name: `n${i}` }); })) / 200;
    out['nexus: saveAll 1000'] = await time(() => contacts.saveAll(Array.from({ length: 1000 }, (_, i) => ({ id: `a${i}`, name: `n${i}` }))));
    await nexus.close();
  }
  const COUNT = 10000;
  for (const indexed of [false, true]) {
    const s = idbStorage({ name: `bench-q-${indexed}` });
    await s.open();
    if (indexed) await s.ensureIndexes('leads', ['status', 'score', 'vip']);
    const docs = Array.from({ length: COUNT }, (_, i) => doc(`k${String(i).padStart(5, '0')}`, i));
    out[`${indexed ? 'indexed' : 'no index'}: putDocs ${COUNT} docs in one write`] = await time(() => s.write(async (tx) => tx.putDocs(docs)));
    const q = async (label: string, fn: () => Promise<unknown>) => {
      await fn();
      const runs = 10;
      out[`${indexed ? 'indexed' : 'no index'}: ${label}`] = (await time(async () => { for (let i = 0; i < runs; i++) await fn(); })) / runs;
    };
    await q('where vip=true (1000 of 10k)', () => s.read((tx) => tx.queryDocs('leads', { where: { vip: true } })));
    await q('where score in [1,2,3] (30 rows)', () => s.read((tx) => tx.queryDocs('leads', { where: { score: { in: [1, 2, 3] } } })));
    await q('orderBy score desc limit 20', () => s.read((tx) => tx.queryDocs('leads', { orderBy: [{ field: 'score', direction: 'desc' }], limit: 20 })));
    await q('where status=open orderBy score asc limit 20', () => s.read((tx) => tx.queryDocs('leads', { where: { status: 'open' }, orderBy: [{ field: 'score', direction: 'asc' }], limit: 20 })));
    await q('countDocs status=won', () => s.read((tx) => tx.countDocs('leads', { status: 'won' })));
    await q('countDocs all', () => s.read((tx) => tx.countDocs('leads')));
    await q('limit 20 (key order)', () => s.read((tx) => tx.queryDocs('leads', { limit: 20 })));
    if (!indexed) out[`no index: ensureIndexes of 3 fields over ${COUNT} existing docs`] = await time(() => s.ensureIndexes('leads', ['status', 'score', 'vip']));
    await s.close();
  }
  return out;
};
(globalThis as { nexusPageReady?: boolean }).nexusPageReady = true;

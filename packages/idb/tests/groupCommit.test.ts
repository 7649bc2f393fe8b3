import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { doc, entry, fakeStorage, freshFactory } from './helpers.js';

const seed = process.env.NEXUS_SEED === undefined ? undefined : Number(process.env.NEXUS_SEED);

describe('group commit against a serial model', () => {
  it('random batches of read-modify-write callbacks, some throwing: the outcome equals running the successful ones one by one', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Batches of writes issued in one tick; each: which doc it bumps and whether it throws (before or after writing).
        fc.array(fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), fail: fc.constantFrom('no', 'no', 'no', 'before', 'after') }), { minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (batches) => {
          const storage = fakeStorage(freshFactory());
          await storage.open();
          try {
            const model = new Map<string, number>();
            let committed = 0;
            for (const batch of batches) {
              const results = await Promise.allSettled(
                batch.map((w) =>
                  storage.write(async (tx) => {
                    if (w.fail === 'before') throw new Error('refused');
                    const [current] = await tx.getDocs('items', [w.key]);
                    const n = ((current?.data?.n as number | undefined) ?? 0) + 1;
                    await tx.putDocs([doc(w.key, { id: w.key, n })]);
                    await tx.addOutbox(entry(w.key));
                    const total = ((await tx.getMeta<number>('total')) ?? 0) + 1;
                    await tx.setMeta('total', total);
                    if (w.fail === 'after') throw new Error('changed its mind');
                    return n;
                  }),
                ),
              );
              batch.forEach((w, i) => {
                const result = results[i]!;
                expect(result.status).toBe(w.fail === 'no' ? 'fulfilled' : 'rejected');
                if (w.fail !== 'no') return;
                // Each successful callback saw the state left by the ones committed before it.
                const n = (model.get(w.key) ?? 0) + 1;
                model.set(w.key, n);
                committed++;
                expect((result as PromiseFulfilledResult<number>).value).toBe(n);
              });
            }
            const docs = await storage.read((tx) => tx.getDocs('items', ['a', 'b', 'c']));
            expect(docs.map((d) => d?.data?.n)).toEqual(['a', 'b', 'c'].map((k) => model.get(k)));
            expect((await storage.read((tx) => tx.listOutbox())).length).toBe(committed);
            expect((await storage.read((tx) => tx.getMeta('total'))) ?? 0).toBe(committed);
          } finally {
            await storage.close();
          }
        },
      ),
      { numRuns: 100, seed },
    );
  });
});

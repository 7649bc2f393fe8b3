import { createNexus, memoryStorage } from '@nexus-store/core';
import { createMemoryRemote } from '@nexus-store/core/testing';
import { ItemSchema, items } from './fixtures.js';
import type { Item } from './fixtures.js';
import { measure } from './measure.js';
import type { Row } from './measure.js';
import type { BenchSizes } from './sizes.js';

async function open(withRemote: boolean) {
  const remote = createMemoryRemote();
  const nexus = await createNexus({ storage: memoryStorage(), ...(withRemote ? { remote } : {}) });
  return { nexus, store: nexus.store<Item, string>('items', { schema: ItemSchema, key: 'id' }) };
}

/** Micro-benchmarks of the core on memoryStorage: save, saveAll and sync, in ops/s. */
export async function memoryRows(sizes: BenchSizes, log: (line: string) => void): Promise<Row[]> {
  const r = sizes.repeats;
  const close = ({ nexus }: { nexus: { close(): Promise<void> } }) => nexus.close();
  log('memoryStorage');
  const single = items(sizes.single);
  const save = await measure(sizes.single, r, () => open(false), async ({ store }) => {
    for (const it of single) await store.save(it);
  }, close);
  const bulk = items(sizes.bulk);
  const saveAll = await measure(sizes.bulk, r, () => open(false), async ({ store }) => {
    await store.saveAll(bulk);
  }, close);
  const toSync = items(sizes.sync);
  const sync = await measure(
    sizes.sync,
    r,
    async () => {
      const context = await open(true);
      await context.store.saveAll(toSync);
      return context;
    },
    async ({ nexus }) => {
      await nexus.sync();
    },
    close,
  );
  const scenario = 'memoryStorage micro-benchmarks';
  return [
    { scenario, subject: 'store.save() awaited', opsPerSec: save.opsPerSec },
    { scenario, subject: `store.saveAll() of ${sizes.bulk.toLocaleString('en-US')}`, opsPerSec: saveAll.opsPerSec },
    { scenario, subject: `nexus.sync() of ${sizes.sync.toLocaleString('en-US')} records to createMemoryRemote`, opsPerSec: sync.opsPerSec },
  ];
}

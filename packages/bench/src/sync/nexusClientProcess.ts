import { createNexus } from '@nexus-store/core';
import type { Nexus, Store } from '@nexus-store/core';
import { httpRemote } from '@nexus-store/http';
import { sqliteStorage } from '@nexus-store/sqlite';
import { ItemSchema } from '../fixtures.js';
import type { Item } from '../fixtures.js';
import { QUEUE_CHUNK, chunkOf } from './syncProtocol.js';
import type { ClientConfig, SyncRun } from './syncProtocol.js';
import { serveCommands, timed } from './worker.js';

// A nexus-store client in its own process: createNexus + sqliteStorage (durability 'normal') + httpRemote.
let nexus: Nexus | undefined;
let store: Store<Item, string> | undefined;

async function sync(): Promise<SyncRun> {
  const { ms, result } = await timed(() => nexus!.sync());
  if (result.skipped) throw new Error(`sync skipped: ${result.skipped}`);
  if (result.rejected > 0) throw new Error(`${result.rejected} mutations rejected`);
  return { ms, pushed: result.pushed, pulled: result.pulled };
}

serveCommands({
  async open(config: ClientConfig) {
    nexus = await createNexus({
      storage: sqliteStorage({ filename: config.filename, durability: 'normal' }),
      remote: httpRemote({ url: config.url, token: config.token }),
      batchSize: config.batchSize,
      pullLimit: config.pullLimit,
    });
    store = nexus.store<Item, string>('items', { schema: ItemSchema, key: 'id' });
  },
  async queue(count: number, prefix: string) {
    for (let start = 0; start < count; start += QUEUE_CHUNK) await store!.saveAll(chunkOf(start, Math.min(count, start + QUEUE_CHUNK), prefix));
  },
  push: sync,
  pull: sync,
  count: () => store!.count(),
  close: () => nexus!.close(),
});

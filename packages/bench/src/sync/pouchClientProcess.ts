import type { PouchDatabase } from 'pouchdb';
import { QUEUE_CHUNK, chunkOf } from './syncProtocol.js';
import type { ClientConfig, SyncRun } from './syncProtocol.js';
import { serveCommands, timed } from './worker.js';

// The peer row's client: a local PouchDB (leveldb adapter, on disk) replicating to and from express-pouchdb.
let db: PouchDatabase | undefined;
let config: ClientConfig | undefined;

function checked(result: { ok: boolean; docs_written: number; doc_write_failures: number }): number {
  if (!result.ok || result.doc_write_failures > 0) throw new Error(`replication failed: ${JSON.stringify(result)}`);
  return result.docs_written;
}

serveCommands({
  async open(options: ClientConfig) {
    config = options;
    const PouchDB = (await import('pouchdb')).default;
    db = new PouchDB(options.filename);
  },
  async queue(count: number, prefix: string) {
    for (let start = 0; start < count; start += QUEUE_CHUNK) await db!.bulkDocs(chunkOf(start, Math.min(count, start + QUEUE_CHUNK), prefix).map((it) => ({ _id: it.id, ...it })));
  },
  async push(): Promise<SyncRun> {
    const { ms, result } = await timed(() => db!.replicate.to(config!.url, { batch_size: config!.batchSize }));
    return { ms, pushed: checked(result), pulled: 0 };
  },
  async pull(): Promise<SyncRun> {
    const { ms, result } = await timed(() => db!.replicate.from(config!.url, { batch_size: config!.pullLimit }));
    return { ms, pushed: 0, pulled: checked(result) };
  },
  count: async () => (await db!.info()).doc_count,
  close: () => db!.close(),
});

import { HybridLogicalClock } from '@nexus-store/core';
import { createSyncServer, silentLogger, sqliteServerStore } from '@nexus-store/server';
import type { SyncServer, SyncServerLimits } from '@nexus-store/server';
import { chunkOf } from './syncProtocol.js';
import type { ServerInfo } from './syncProtocol.js';
import { serveCommands } from './worker.js';

// The nexus-store sync server in its own process: createSyncServer + sqliteServerStore (durability 'full', its default).
let server: SyncServer | undefined;

serveCommands({
  async start(filename: string, limits: SyncServerLimits): Promise<ServerInfo> {
    server = createSyncServer({ database: sqliteServerStore({ filename }), auth: { jwtSecret: 'bench-secret-bench-secret-bench-secret' }, logger: silentLogger, limits });
    const { url } = await server.listen(0, '127.0.0.1');
    return { url, token: await server.issueToken('bench') };
  },
  /** Writes `count` records straight through the server's store (untimed seeding for the 1,000,000-record pull). */
  async seed(count: number, prefix: string) {
    const clock = new HybridLogicalClock('seed', Date.now);
    const chunk = 10_000;
    for (let start = 0; start < count; start += chunk) {
      const list = chunkOf(start, Math.min(count, start + chunk), prefix);
      await server!.store.write('default', async (tx) => {
        for (const data of list) {
          const version = await tx.nextVersion();
          await tx.putRecord({ collection: 'items', key: data.id, version, deleted: false, data, hlc: clock.tick(), fieldClocks: null, clientId: 'seed' }, Date.now());
        }
      });
    }
  },
  close: () => server!.close(),
});

import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ServerInfo } from './syncProtocol.js';
import { serveCommands } from './worker.js';

// The peer row's server: express-pouchdb (the CouchDB replication protocol) over PouchDB's leveldb adapter, on disk.
let server: Server | undefined;

serveCommands({
  async start(dir: string): Promise<ServerInfo> {
    const PouchDB = (await import('pouchdb')).default;
    const expressPouchDB = (await import('express-pouchdb')).default;
    const Pouch = PouchDB.defaults({ prefix: `${dir}/` });
    await new Pouch('items').info();
    server = createServer(expressPouchDB(Pouch, { mode: 'minimumForPouchDB', logPath: join(dir, 'express-pouchdb.log'), inMemoryConfig: true }));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`, token: '' };
  },
  async close() {
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
  },
});

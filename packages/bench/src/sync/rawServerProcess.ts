import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import type { ServerInfo } from './syncProtocol.js';
import { serveCommands } from './worker.js';

// The limit row's server: node:http + better-sqlite3, one transaction per 1,000-record batch, nothing else
// (no auth, no validation, no conflict handling, no dedup). Same fsync policy as sqliteServerStore's default.
let server: Server | undefined;
let db: Database.Database | undefined;

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

serveCommands({
  async start(filename: string): Promise<ServerInfo> {
    db = new Database(filename);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // seq is the version: INSERT OR REPLACE gives a re-written record a new, larger rowid.
    db.exec('CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, data TEXT NOT NULL)');
    const upsert = db.prepare('INSERT OR REPLACE INTO records (key, data) VALUES (?, ?)');
    const insertAll = db.transaction((rows: { key: string; data: unknown }[]) => {
      for (const row of rows) upsert.run(row.key, JSON.stringify(row.data));
    });
    const page = db.prepare('SELECT seq, key, data FROM records WHERE seq > ? ORDER BY seq LIMIT ?');
    server = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url!, 'http://x');
        if (req.method === 'POST' && url.pathname === '/push') {
          const rows = JSON.parse(await body(req)) as { key: string; data: unknown }[];
          insertAll(rows);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: rows.length }));
        } else if (req.method === 'GET' && url.pathname === '/pull') {
          const rows = page.all(Number(url.searchParams.get('after') ?? 0), Number(url.searchParams.get('limit') ?? 1000)) as { seq: number; key: string; data: string }[];
          const changes = rows.map((row) => ({ seq: row.seq, key: row.key, data: JSON.parse(row.data) as unknown }));
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ changes }));
        } else {
          res.writeHead(404).end();
        }
      })().catch((error: unknown) => res.writeHead(500).end(String(error)));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: '' };
  },
  async close() {
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    db!.close();
  },
});

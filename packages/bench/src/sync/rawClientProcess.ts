import Database from 'better-sqlite3';
import { QUEUE_CHUNK, chunkOf } from './syncProtocol.js';
import type { ClientConfig, SyncRun } from './syncProtocol.js';
import { serveCommands, timed } from './worker.js';

// The limit row's client: its own better-sqlite3 file (WAL, synchronous=NORMAL like sqliteStorage 'normal'),
// a queue table, and fetch. Push: read a batch from the queue, POST it, delete it in one transaction.
// Pull: GET a page after the cursor, insert it and move the cursor in one transaction.
let db: Database.Database | undefined;
let config: ClientConfig | undefined;

function cursor(): number {
  return (db!.prepare("SELECT value FROM meta WHERE key = 'cursor'").get() as { value: number } | undefined)?.value ?? 0;
}

serveCommands({
  open(options: ClientConfig) {
    config = options;
    db = new Database(options.filename);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)`);
  },
  queue(count: number, prefix: string) {
    const doc = db!.prepare('INSERT OR REPLACE INTO docs (key, data) VALUES (?, ?)');
    const queued = db!.prepare('INSERT INTO queue (key, data) VALUES (?, ?)');
    const save = db!.transaction((list: { id: string }[]) => {
      for (const it of list) {
        const json = JSON.stringify(it);
        doc.run(it.id, json);
        queued.run(it.id, json);
      }
    });
    for (let start = 0; start < count; start += QUEUE_CHUNK) save(chunkOf(start, Math.min(count, start + QUEUE_CHUNK), prefix));
  },
  async push(): Promise<SyncRun> {
    const batch = db!.prepare('SELECT seq, key, data FROM queue ORDER BY seq LIMIT ?');
    const done = db!.prepare('DELETE FROM queue WHERE seq <= ?');
    const { ms, result } = await timed(async () => {
      let pushed = 0;
      for (;;) {
        const rows = batch.all(config!.batchSize) as { seq: number; key: string; data: string }[];
        if (rows.length === 0) return pushed;
        const body = `[${rows.map((row) => `{"key":${JSON.stringify(row.key)},"data":${row.data}}`).join(',')}]`;
        const response = await fetch(`${config!.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (!response.ok) throw new Error(`push: HTTP ${response.status}`);
        await response.json();
        done.run(rows[rows.length - 1]!.seq);
        pushed += rows.length;
      }
    });
    return { ms, pushed: result, pulled: 0 };
  },
  async pull(): Promise<SyncRun> {
    const doc = db!.prepare('INSERT OR REPLACE INTO docs (key, data) VALUES (?, ?)');
    const setCursor = db!.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)");
    const apply = db!.transaction((changes: { seq: number; key: string; data: unknown }[]) => {
      for (const change of changes) doc.run(change.key, JSON.stringify(change.data));
      setCursor.run(changes[changes.length - 1]!.seq);
    });
    const { ms, result } = await timed(async () => {
      let pulled = 0;
      let after = cursor();
      for (;;) {
        const response = await fetch(`${config!.url}/pull?after=${after}&limit=${config!.pullLimit}`);
        if (!response.ok) throw new Error(`pull: HTTP ${response.status}`);
        const { changes } = (await response.json()) as { changes: { seq: number; key: string; data: unknown }[] };
        if (changes.length > 0) {
          apply(changes);
          pulled += changes.length;
          after = changes[changes.length - 1]!.seq;
        }
        if (changes.length < config!.pullLimit) return pulled;
      }
    });
    return { ms, pushed: 0, pulled: result };
  },
  count: () => (db!.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n,
  close: () => db!.close(),
});

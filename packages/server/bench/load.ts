/**
 * Load test (not part of npm test): 50 simulated clients on loopback push and pull against a real
 * server for a while, then the server's data is checked against exactly what was acknowledged.
 *
 *   npx tsx bench/load.ts [--duration 60] [--clients 50] [--batch 10] [--store sqlite|postgres|both]
 *                         [--pg postgres://postgres@127.0.0.1:5432/test]
 *
 * By default the server runs in a child process (the real CLI: `nexus-store-server serve`), so the
 * clients' work does not share its event loop; `--in-process` runs both in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createSyncServer, postgresServerStore, silentLogger, sqliteServerStore, type ServerStore } from '../src/index.js';

const SECRET = 'load-test-secret-load-test-secret-00';

/** Starts `nexus-store-server serve` in a child process on a free port; resolves its URL. */
async function spawnServer(db: string, schema: string | undefined): Promise<{ url: string; stop: () => Promise<void> }> {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const bin = new URL('../src/bin.ts', import.meta.url).pathname;
  const args = ['--conditions=source', '--import', tsx, bin, 'serve', '--db', db, '--port', '0', '--host', '127.0.0.1', '--durability', values.durability!, ...(schema ? ['--schema', schema] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, NEXUS_JWT_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (const line of buffer.split('\n')) {
        try {
          const event = JSON.parse(line) as { event?: string; url?: string };
          if (event.event === 'listening' && event.url) resolve(event.url);
        } catch {
          // partial line
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  child.stdout!.resume();
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    clients: { type: 'string', default: '50' },
    batch: { type: 'string', default: '10' },
    store: { type: 'string', default: 'both' },
    pg: { type: 'string', default: process.env.NEXUS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'pull-every': { type: 'string', default: '2' },
    'in-process': { type: 'boolean', default: false },
    durability: { type: 'string', default: 'full' },
  },
});
const durationMs = Number(values.duration) * 1000;
const clientCount = Number(values.clients);
const batch = Number(values.batch);
const pullEvery = Number(values['pull-every']);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Acked {
  version: number;
  data: Record<string, unknown> | null;
  deleted: boolean;
}

async function run(name: string, target: { store: () => ServerStore; db: string; schema?: string }, cleanup: () => Promise<void>): Promise<void> {
  // In process: the server shares this event loop. Otherwise only its tokens are made here.
  const server = createSyncServer({ database: values['in-process'] ? target.store() : sqliteServerStore({ filename: ':memory:' }), auth: { jwtSecret: SECRET }, logger: silentLogger });
  const child = values['in-process'] ? undefined : await spawnServer(target.db, target.schema);
  const url = child ? child.url : (await server.listen(0, '127.0.0.1')).url;
  const token = await server.issueToken('load', { tenant: 'load' });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const pushLatency: number[] = [];
  const pullLatency: number[] = [];
  const acked = new Map<string, Acked>();
  let applied = 0;
  let errors = 0;
  let pulledChanges = 0;
  const deadline = performance.now() + durationMs;

  const client = async (c: number) => {
    const clientId = `client-${c}`;
    const mine = new Map<string, number>(); // key -> version this client last saw acknowledged
    let cursor = '0';
    let seq = 0;
    let round = 0;
    while (performance.now() < deadline) {
      round += 1;
      const mutations = Array.from({ length: batch }, () => {
        seq += 1;
        // Mostly new records, some updates and deletes of this client's own records.
        const existing = [...mine.keys()];
        const update = existing.length > 0 && seq % 3 === 0;
        const key = update ? existing[seq % existing.length]! : `${clientId}-${seq}`;
        const op = update && seq % 9 === 0 ? 'delete' : 'upsert';
        return {
          mutationId: `${clientId}.${seq}`, clientId, collection: 'items', key, op,
          data: op === 'delete' ? null : { n: seq, by: clientId, text: 'x'.repeat(64) },
          changedFields: null, baseVersion: mine.get(key) ?? 0, hlc: `${Date.now()}:${seq}:${clientId}`, fieldClocks: null, priority: 'normal',
        };
      });
      // Two writes to one key in a batch would conflict with themselves; keep keys distinct.
      const seen = new Set<string>();
      const unique = mutations.filter((m) => (seen.has(m.key) ? false : (seen.add(m.key), true)));
      const started = performance.now();
      const res = await fetch(`${url}/sync/push`, { method: 'POST', headers, body: JSON.stringify({ clientId, mutations: unique }) });
      const body = (await res.json()) as { results?: Array<{ status: string; version?: number }> };
      pushLatency.push(performance.now() - started);
      if (res.status !== 200 || !body.results) {
        errors += 1;
        continue;
      }
      body.results.forEach((r, i) => {
        const m = unique[i]!;
        if (r.status === 'applied') {
          applied += 1;
          acked.set(m.key, { version: r.version!, data: m.data, deleted: m.op === 'delete' });
          if (m.op === 'delete') mine.delete(m.key);
          else mine.set(m.key, r.version!);
        } else if (r.status !== 'duplicate') {
          errors += 1;
        }
      });
      if (pullEvery > 0 && round % pullEvery === 0) {
        const pullStarted = performance.now();
        for (;;) {
          const pr = await fetch(`${url}/sync/pull?cursor=${cursor}&limit=500`, { headers });
          const page = (await pr.json()) as { changes: unknown[]; cursor: string; hasMore: boolean };
          pulledChanges += page.changes.length;
          cursor = page.cursor;
          if (!page.hasMore) break;
        }
        pullLatency.push(performance.now() - pullStarted);
      }
    }
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: clientCount }, (_, c) => client(c)));
  const elapsed = (performance.now() - t0) / 1000;

  // Check: the server holds exactly the acknowledged mutations.
  const onServer = new Map<string, { version: number; data: unknown; deleted: boolean }>();
  let cursor = '0';
  for (;;) {
    const pr = await fetch(`${url}/sync/pull?cursor=${cursor}&limit=1000`, { headers });
    const page = (await pr.json()) as { changes: Array<{ key: string; version: number; data: unknown; deleted: boolean }>; cursor: string; hasMore: boolean };
    for (const ch of page.changes) onServer.set(ch.key, ch);
    cursor = page.cursor;
    if (!page.hasMore) break;
  }
  let mismatches = 0;
  for (const [key, a] of acked) {
    const s = onServer.get(key);
    if (!s || s.version !== a.version || s.deleted !== a.deleted || JSON.stringify(s.data) !== JSON.stringify(a.data)) mismatches += 1;
  }
  const extra = [...onServer.keys()].filter((k) => !acked.has(k)).length;
  const latest = Number(cursor);
  pushLatency.sort((a, b) => a - b);
  pullLatency.sort((a, b) => a - b);
  const ok = mismatches === 0 && extra === 0 && latest === applied && errors === 0;
  console.log(
    JSON.stringify({
      store: name, server: child ? 'child process' : 'in process', clients: clientCount, batch, seconds: Number(elapsed.toFixed(1)),
      mutationsPerSecond: Math.round(applied / elapsed), pushes: pushLatency.length, pulls: pullLatency.length, pulledChanges,
      pushP50ms: Number(percentile(pushLatency, 50).toFixed(1)), pushP99ms: Number(percentile(pushLatency, 99).toFixed(1)),
      pullP50ms: Number(percentile(pullLatency, 50).toFixed(1)), pullP99ms: Number(percentile(pullLatency, 99).toFixed(1)),
      applied, highestVersion: latest, records: onServer.size, mismatches, extra, errors,
      check: ok ? 'OK: the server holds exactly the acknowledged mutations' : 'FAILED',
    }),
  );
  await child?.stop();
  await server.close();
  await cleanup();
  if (!ok) process.exitCode = 1;
}

const which = values.store;
if (which === 'sqlite' || which === 'both') {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-load-'));
  const db = join(dir, 'load.db');
  await run(`sqlite (durability ${values.durability})`, { store: () => sqliteServerStore({ filename: db, durability: values.durability as 'full' | 'normal' }), db }, async () => rmSync(dir, { recursive: true, force: true }));
}
if (which === 'postgres' || which === 'both') {
  const schema = `nexus_load_${process.pid}`;
  const drop = async () => {
    const c = new pg.Client({ connectionString: values.pg });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  };
  try {
    await run('postgres', { store: () => postgresServerStore({ connectionString: values.pg!, schema, poolSize: 20 }), db: values.pg!, schema }, drop);
  } catch (error) {
    console.error(`PostgreSQL load test failed: ${(error as Error).message}`);
    process.exitCode = 1;
    await drop().catch(() => undefined);
  }
}

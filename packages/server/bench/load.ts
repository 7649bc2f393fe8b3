/**
 * Load test (not part of npm test): 50 simulated clients on loopback push and pull against a real
 * server for a while, then the server's data is checked against exactly what was acknowledged.
 *
 *   npx tsx bench/load.ts [--duration 60] [--clients 50] [--batch 10] [--store sqlite|postgres|both]
 *                         [--pg postgres://postgres@127.0.0.1:5432/test]
 *
 * Server and clients share one Node process (one event loop), so latencies include client work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createSyncServer, postgresServerStore, silentLogger, sqliteServerStore, type ServerStore } from '../src/index.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    clients: { type: 'string', default: '50' },
    batch: { type: 'string', default: '10' },
    store: { type: 'string', default: 'both' },
    pg: { type: 'string', default: process.env.NEXUS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'pull-every': { type: 'string', default: '2' },
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

async function run(name: string, store: ServerStore, cleanup: () => Promise<void>): Promise<void> {
  const server = createSyncServer({ database: store, auth: { jwtSecret: 'load-test-secret-load-test-secret-00' }, logger: silentLogger });
  const { url } = await server.listen(0, '127.0.0.1');
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
      store: name, clients: clientCount, batch, seconds: Number(elapsed.toFixed(1)),
      mutationsPerSecond: Math.round(applied / elapsed), pushes: pushLatency.length, pulls: pullLatency.length, pulledChanges,
      pushP50ms: Number(percentile(pushLatency, 50).toFixed(1)), pushP99ms: Number(percentile(pushLatency, 99).toFixed(1)),
      pullP50ms: Number(percentile(pullLatency, 50).toFixed(1)), pullP99ms: Number(percentile(pullLatency, 99).toFixed(1)),
      applied, highestVersion: latest, records: onServer.size, mismatches, extra, errors,
      check: ok ? 'OK: the server holds exactly the acknowledged mutations' : 'FAILED',
    }),
  );
  await server.close();
  await cleanup();
  if (!ok) process.exitCode = 1;
}

const which = values.store;
if (which === 'sqlite' || which === 'both') {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-load-'));
  await run('sqlite', sqliteServerStore({ filename: join(dir, 'load.db') }), async () => rmSync(dir, { recursive: true, force: true }));
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
    await run('postgres', postgresServerStore({ connectionString: values.pg!, schema, poolSize: 20 }), drop);
  } catch (error) {
    console.error(`PostgreSQL load test failed: ${(error as Error).message}`);
    process.exitCode = 1;
    await drop().catch(() => undefined);
  }
}

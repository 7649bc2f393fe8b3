import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createNexus } from '@nexus-store/core';
import { createMemoryRemote, seededRandom } from '@nexus-store/core/testing';
import { sqliteStorage } from '@nexus-store/sqlite';
import { tempFolder } from './helpers.js';

/**
 * Crash safety: a child process saves records one by one and in bursts and is killed with SIGKILL
 * at a random moment, again and again on the same file. After each kill every record the child
 * reported as saved is there with its outbox entry, the file passes PRAGMA integrity_check, and a
 * sync delivers each record to the remote exactly once. CRASH_SEED=<n> replays the kill timings.
 */

const seed = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
const rounds = Number(process.env.CRASH_ROUNDS ?? 20);
const child = fileURLToPath(new URL('./fixtures/crashChild.ts', import.meta.url));

interface Run {
  reported: string[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Starts the child, waits until it is saving, lets it run `delayMs`, then SIGKILLs it. */
function runAndKill(filename: string, prefix: string, durability: 'normal' | 'full', delayMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', child, filename, prefix, durability], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const reported: string[] = [];
    let buffer = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line === 'ready' && !timer) timer = setTimeout(() => proc.kill('SIGKILL'), delayMs);
        else if (line.startsWith('saved ')) reported.push(line.slice(6));
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    proc.on('error', reject);
    proc.on('exit', (_code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      // A line cut by the kill (no newline) was not reported.
      resolve({ reported, signal, stderr });
    });
  });
}

const Item = z.object({ id: z.string(), n: z.number(), payload: z.string() });

let folder: ReturnType<typeof tempFolder>;
beforeAll(() => {
  folder = tempFolder();
});
afterAll(() => folder.cleanup());

describe(`crash safety under SIGKILL (seed ${seed}, ${rounds} rounds)`, () => {
  for (const durability of ['normal', 'full'] as const) {
    it(`keeps every reported save with its outbox entry, an intact file, and syncs each record exactly once (durability ${durability})`, async () => {
      const random = seededRandom(seed + (durability === 'full' ? 1 : 0));
      const filename = folder.file(`crash-${durability}.db`);
      const remote = createMemoryRemote();
      const everReported = new Set<string>();
      let totalReported = 0;
      const perDurability = durability === 'normal' ? rounds : Math.ceil(rounds / 3);
      for (let round = 0; round < perDurability; round++) {
        const delay = Math.floor(random() * 250);
        const run = await runAndKill(filename, `r${round}`, durability, delay);
        expect(run.signal, run.stderr).toBe('SIGKILL');
        for (const id of run.reported) everReported.add(id);
        totalReported += run.reported.length;

        const db = new Database(filename);
        try {
          expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        } finally {
          db.close();
        }

        // Every record reported in this round is there, with its outbox entry (nothing synced yet this round).
        const storage = sqliteStorage({ filename });
        await storage.open();
        const [docs, outbox] = await storage.read(async (tx) => [await tx.getDocs('items', run.reported), await tx.getOutboxForKeys('items', run.reported)] as const);
        await storage.close();
        const missingDocs = run.reported.filter((_, i) => docs[i] === undefined || docs[i]!.deleted);
        expect(missingDocs, `round ${round}: reported but missing`).toEqual([]);
        const withEntry = new Set(outbox.map((e) => e.key));
        expect(run.reported.filter((id) => !withEntry.has(id)), `round ${round}: no outbox entry`).toEqual([]);

        // Sync every few rounds (and at the end) so that later rounds crash on a file with a drained outbox too.
        if (round % 4 === 3 || round === perDurability - 1) {
          const nexus = await createNexus({ storage: sqliteStorage({ filename }), remote, clientId: 'crash-client' });
          nexus.store<z.infer<typeof Item>, string>('items', { schema: Item, key: 'id' });
          await nexus.sync();
          const status = await new Promise<{ pending: number; failed: number }>((resolve) => {
            const sub = nexus.status$.subscribe((s) => {
              resolve(s);
              queueMicrotask(() => sub.unsubscribe());
            });
          });
          await nexus.close();
          expect(status.pending, `round ${round}: outbox drained`).toBe(0);
          expect(status.failed).toBe(0);
        }
      }
      // The remote holds every reported record, and applied each record's effects exactly once per mutation.
      const onServer = new Set(remote.records('items').map((r) => r.key));
      expect([...everReported].filter((id) => !onServer.has(id))).toEqual([]);
      const appliedPerMutation = new Map<string, number>();
      for (const a of remote.applied) appliedPerMutation.set(a.mutationId, (appliedPerMutation.get(a.mutationId) ?? 0) + 1);
      expect([...appliedPerMutation.values()].filter((count) => count > 1)).toEqual([]);
      const appliedPerKey = new Map<string, number>();
      for (const a of remote.applied) appliedPerKey.set(a.key, (appliedPerKey.get(a.key) ?? 0) + 1);
      expect([...everReported].filter((id) => appliedPerKey.get(id) !== 1), 'each record applied exactly once').toEqual([]);
      expect(totalReported).toBeGreaterThan(perDurability);
    }, 120_000);
  }
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PRIORITY_RANK, type Mutation, type SyncPriority } from '@nexus-store/core';
import { createMemoryRemote, createMemoryStorageState } from '@nexus-store/core/testing';
import { device } from './helpers.js';

const SEED = process.env.NEXUS_SEED ? Number(process.env.NEXUS_SEED) : Math.floor(Math.random() * 2 ** 31);
console.info(`queue property seed: ${SEED} (replay with NEXUS_SEED=${SEED})`);
const priority = fc.constantFrom<SyncPriority>('critical', 'high', 'normal', 'low');
const op = fc.oneof(
  fc.record({ kind: fc.constant('save' as const), key: fc.integer({ min: 0, max: 5 }), priority }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 5 }), priority }),
  fc.record({ kind: fc.constant('reopen' as const) }),
  fc.record({ kind: fc.constant('sync' as const), batchSize: fc.integer({ min: 1, max: 4 }) }),
);

interface ModelEntry {
  seq: number;
  priority: SyncPriority;
  op: 'upsert' | 'delete';
  value: number | null;
}

const higher = (a: SyncPriority, b: SyncPriority) => (PRIORITY_RANK[a] <= PRIORITY_RANK[b] ? a : b);

describe('PrioritySyncQueue (property tests through the public API)', () => {
  it('pushes in priority order, FIFO within a tier, coalescing unsent writes, across random reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const remote = createMemoryRemote();
        const state = createMemoryStorageState();
        let batchSize = 3;
        let d = await device(remote, { state, clientId: 'Q', batchSize });
        // The model: one entry per record with unsent writes; records the server knows.
        const model = new Map<number, ModelEntry>();
        const local = new Map<number, number>();
        const onServer = new Set<number>();
        let seq = 0;
        let counter = 0;
        for (const step of ops) {
          if (step.kind === 'save') {
            const value = ++counter;
            await d.contacts.save({ id: `k${step.key}`, name: `v${value}`, score: value }, step.priority);
            local.set(step.key, value);
            const e = model.get(step.key);
            if (e) model.set(step.key, { ...e, priority: higher(e.priority, step.priority), op: 'upsert', value });
            else model.set(step.key, { seq: seq++, priority: step.priority, op: 'upsert', value });
          } else if (step.kind === 'delete') {
            await d.contacts.delete(`k${step.key}`, step.priority);
            if (!local.has(step.key)) continue;
            local.delete(step.key);
            const e = model.get(step.key);
            if (e && !onServer.has(step.key)) model.delete(step.key); // never left the device
            else if (e) model.set(step.key, { ...e, priority: higher(e.priority, step.priority), op: 'delete', value: null });
            else model.set(step.key, { seq: seq++, priority: step.priority, op: 'delete', value: null });
          } else if (step.kind === 'reopen') {
            // Simulates a process restart: no close(), a new Nexus on the same durable state.
            d = await device(remote, { state, clientId: 'Q', batchSize });
          } else {
            batchSize = step.batchSize;
            d = await device(remote, { state, clientId: 'Q', batchSize });
            const before = remote.pushes.length;
            await d.nexus.sync();
            const pushed: Mutation[] = remote.pushes.slice(before).flat();
            for (const batch of remote.pushes.slice(before)) expect(batch.length).toBeLessThanOrEqual(batchSize);
            const expected = [...model.entries()].sort(([, a], [, b]) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq);
            expect(pushed.map((m) => [m.key, m.op, m.priority])).toEqual(expected.map(([k, e]) => [`k${k}`, e.op, e.priority]));
            for (const [k, e] of expected) {
              if (e.op === 'delete') onServer.add(k);
              else onServer.add(k);
            }
            model.clear();
          }
        }
        for (const [k, value] of local) expect(await d.contacts.get(`k${k}`)).toEqual({ id: `k${k}`, name: `v${value}`, score: value });
      }),
      { numRuns: 150, seed: SEED },
    );
  });

  it("never reorders one record's writes, even with writes arriving while a push is in flight", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 3 }), priority, during: fc.boolean() }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        async (writes, batchSize) => {
          const inner = createMemoryRemote();
          const queued = [...writes];
          let counter = 0;
          const history = new Map<number, number[]>();
          const ref = {} as { d: Awaited<ReturnType<typeof device>> };
          const write = async (w: (typeof writes)[number]) => {
            const value = ++counter;
            await ref.d.contacts.save({ id: `k${w.key}`, name: `v${value}`, score: value }, w.priority);
            history.set(w.key, [...(history.get(w.key) ?? []), value]);
          };
          const remote = {
            pull: inner.pull,
            async push(mutations: Mutation[]) {
              // Local writes land while this batch is in flight.
              while (queued[0]?.during) await write(queued.shift()!);
              return inner.push(mutations);
            },
          };
          ref.d = await device(remote, { clientId: 'R', batchSize });
          const d = ref.d;
          while (queued.length > 0) {
            await write(queued.shift()!);
            if (queued[0]?.during) await d.nexus.sync();
          }
          await d.nexus.sync();
          await d.nexus.sync();
          for (const [key, values] of history) {
            const applied = inner.applied.filter((m) => m.key === `k${key}`).map((m) => inner.pushes.flat().find((p) => p.mutationId === m.mutationId)!.data!.score as number);
            // What reached the server is an in-order subsequence of the local writes, ending with the last one.
            let i = 0;
            for (const v of applied) {
              while (i < values.length && values[i] !== v) i++;
              expect(i).toBeLessThan(values.length);
            }
            expect(applied[applied.length - 1]).toBe(values[values.length - 1]);
            expect(inner.get('contacts', `k${key}`)?.data?.score).toBe(values[values.length - 1]);
          }
          expect(await d.nexus.pending()).toEqual([]);
        },
      ),
      { numRuns: 150, seed: SEED },
    );
  });
});

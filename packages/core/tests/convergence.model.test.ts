import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareHlc, expandFieldClocks, NetworkError, type ConflictPolicyName, type Mutation, type MutationResult, type RemoteBackend } from '@nexus-store/core';
import { createFaultyRemote, createMemoryRemote, seededRandom } from '@nexus-store/core/testing';
import { device, fakeClock } from './helpers.js';

/**
 * Model-based convergence: three clients on memory storage make random writes and deletes, sync in
 * random order through a remote that loses responses, duplicates deliveries and answers 5xx, cancel
 * syncs after the server applied a push, and retry failed writes. After
 * the final rounds every client equals the server, every mutation took effect at most once, every
 * client's latest write was delivered, and the result is the one the policy defines.
 *
 * Replay a failure: NEXUS_SEED=<seed printed by fast-check> npx vitest run tests/convergence.model.test.ts
 */
const SEED = process.env.NEXUS_SEED ? Number(process.env.NEXUS_SEED) : Math.floor(Math.random() * 2 ** 31);
console.info(`convergence model seed: ${SEED} (replay with NEXUS_SEED=${SEED})`);
const RUNS = process.env.NEXUS_RUNS ? Number(process.env.NEXUS_RUNS) : 150;

const step = (allowDelete: boolean) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('save' as const), client: fc.integer({ min: 0, max: 2 }), key: fc.integer({ min: 0, max: 3 }), field: fc.constantFrom('name', 'phone', 'email') }) },
    { weight: allowDelete ? 1 : 0, arbitrary: fc.record({ kind: fc.constant('delete' as const), client: fc.integer({ min: 0, max: 2 }), key: fc.integer({ min: 0, max: 3 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), client: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 5000 }) }) },
    // A sync cancelled once the server applied its first push (the answer is dropped, as when the app goes offline).
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), client: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), client: fc.integer({ min: 0, max: 2 }) }) },
    // Two records written in one nexus.transaction(): they must always travel in one push.
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('transaction' as const), client: fc.integer({ min: 0, max: 2 }), key: fc.integer({ min: 0, max: 3 }), field: fc.constantFrom('name', 'phone', 'email') }) },
  );

const CLIENT_IDS = ['A', 'B', 'C'];

interface PushLog {
  clientId: string;
  mutations: Mutation[];
  results: MutationResult[] | null;
  /** Per mutation: the client had already written a newer local value of that record when it pushed. */
  supersededLocally: boolean[];
}

/** A record value in a form that ignores key order ('deleted' for a delete). */
const canonical = (value: Record<string, unknown> | null) => (value === null ? 'deleted' : JSON.stringify(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));

async function scenario(policy: ConflictPolicyName, steps: { kind: string; client?: number; key?: number; field?: string; ms?: number }[], faultSeed: number, fastPaths: boolean) {
  const server = createMemoryRemote();
  const random = seededRandom(faultSeed);
  const log: PushLog[] = [];
  const latestLocal = new Map<string, string>(); // client:key -> canonical value of its latest local write
  const clocks = [fakeClock(1_700_000_000_000), fakeClock(1_700_000_000_000 - 90_000), fakeClock(1_700_000_000_000 + 45_000)]; // skewed devices
  const faulty = clocks.map(() => createFaultyRemote(server, { random, failBeforeApply: 0.1, failAfterApply: 0.1, duplicate: 0.1, failPull: 0.05 }));
  const cancelling: (AbortController | null)[] = CLIENT_IDS.map(() => null);
  const recording = (remote: RemoteBackend, clientId: string): RemoteBackend => ({
    pull: (c, l, o) => remote.pull(c, l, o),
    async push(mutations, o) {
      const supersededLocally = mutations.map((m) => latestLocal.get(`${clientId}:${m.key}`) !== canonical(m.op === 'delete' ? null : m.data));
      const entry: PushLog = { clientId, mutations, results: null, supersededLocally };
      log.push(entry);
      const answer = await remote.push(mutations, o);
      const cancel = cancelling[CLIENT_IDS.indexOf(clientId)];
      if (cancel) {
        cancel.abort();
        throw new NetworkError('ABORTED', 'cancelled after the server applied the push');
      }
      entry.results = Array.isArray(answer) ? answer : answer.results;
      return answer;
    },
  });
  const clients = await Promise.all(
    // Small batches, so that a sync pushes several (batch boundaries, the push cursor across batches).
    CLIENT_IDS.map((id, i) => device(recording(faulty[i]!, id), { clientId: id, clock: clocks[i]!, conflict: policy, random, retry: { maxAttempts: 4 }, batchSize: i + 1, fastPaths })),
  );
  let counter = 0;
  for (const s of steps) {
    const c = clients[s.client ?? 0]!;
    const key = `k${s.key}`;
    const localKey = `${CLIENT_IDS[s.client ?? 0]}:${key}`;
    if (s.kind === 'save') {
      const current = (await c.contacts.get(key)) ?? { id: key, name: 'new' };
      const value = { ...current, [s.field!]: `${s.field}-${++counter}` };
      await c.contacts.save(value);
      latestLocal.set(localKey, canonical(value));
    } else if (s.kind === 'delete') {
      await c.contacts.delete(key);
      latestLocal.set(localKey, canonical(null));
    } else if (s.kind === 'sync') {
      await c.nexus.sync().catch(() => undefined);
    } else if (s.kind === 'cancel') {
      const controller = new AbortController();
      cancelling[s.client ?? 0] = controller;
      await c.nexus.sync({ signal: controller.signal }).catch(() => undefined);
      cancelling[s.client ?? 0] = null;
    } else if (s.kind === 'retry') {
      await c.nexus.retryAll();
    } else if (s.kind === 'transaction') {
      const other = `k${(s.key! + 1) % 4}`;
      const values = await Promise.all([key, other].map(async (k) => ({ ...((await c.contacts.get(k)) ?? { id: k, name: 'new' }), [s.field!]: `${s.field}-${++counter}` })));
      await c.nexus.transaction((tx) => {
        for (const value of values) tx.store(c.contacts).save(value);
      });
      for (const value of values) latestLocal.set(`${CLIENT_IDS[s.client ?? 0]}:${value.id}`, canonical(value));
    } else {
      for (const clock of clocks) await clock.advance(s.ms!);
    }
  }
  // Final rounds: the network heals; failed mutations are retried; manual conflicts take the server's side.
  for (const f of faulty) f.heal();
  for (let round = 0; round < 4; round++) {
    for (const c of clients) {
      await c.nexus.retryAll();
      for (const conflict of await c.nexus.conflicts()) await c.nexus.resolveConflict(conflict.id, 'remote');
      await c.nexus.sync();
    }
  }
  return { server, clients, log };
}

function checkCommon({ server, clients, log }: Awaited<ReturnType<typeof scenario>>) {
  const live = server.records('contacts').filter((r) => !r.deleted).map((r) => r.data).sort((a, b) => String(a!.id).localeCompare(String(b!.id)));
  return Promise.all(
    clients.map(async (c) => {
      expect(await c.nexus.pending()).toEqual([]);
      expect(await c.nexus.failed()).toEqual([]);
      expect(await c.nexus.conflicts()).toEqual([]);
      expect(await c.contacts.getAll()).toEqual(live);
    }),
  ).then(() => {
    // A transaction's mutations travel together: a push that carries one of them carries every one
    // still in the outbox, so none it leaves out is ever pushed later. (A later write supersedes a
    // failed entry, transaction member or not: that mutation is never sent again; invariant 6.)
    const byTx = new Map<string, Set<string>>();
    for (const p of log) for (const m of p.mutations) if (m.txId) (byTx.get(m.txId) ?? byTx.set(m.txId, new Set()).get(m.txId)!).add(m.mutationId);
    log.forEach((p, i) => {
      for (const txId of new Set(p.mutations.map((m) => m.txId).filter((t): t is string => !!t))) {
        const carried = new Set(p.mutations.filter((m) => m.txId === txId).map((m) => m.mutationId));
        const leftOut = [...byTx.get(txId)!].filter((id) => !carried.has(id));
        const pushedLater = log.slice(i + 1).flatMap((q) => q.mutations.filter((m) => leftOut.includes(m.mutationId)).map((m) => m.mutationId));
        expect(pushedLater).toEqual([]);
      }
    });
    // Exactly once: each mutation id took effect at most once, however often it was delivered.
    const ids = server.applied.map((m) => m.mutationId);
    expect(new Set(ids).size).toBe(ids.length);
    // Every mutation a client sent was eventually answered (applied, duplicate, conflict or rejected),
    // or the client later sent a newer mutation of that record (a failed entry that ran out of
    // attempts is superseded by the next write of its record and never sent again).
    const answered = new Set(log.flatMap((p) => (p.results ?? []).map((r) => r.mutationId)));
    log.forEach((p, i) => {
      for (const m of p.mutations) {
        const supersededBySent = log.slice(i + 1).some((q) => q.clientId === p.clientId && q.mutations.some((n) => n.key === m.key && n.mutationId !== m.mutationId));
        expect(answered.has(m.mutationId) || supersededBySent).toBe(true);
      }
    });
  });
}

function latestPushed(log: PushLog[]) {
  const byKey = new Map<string, Mutation>();
  for (const p of log) for (const m of p.mutations) {
    const best = byKey.get(m.key);
    if (!best || compareHlc(m.hlc, best.hlc) > 0) byKey.set(m.key, m);
  }
  return byKey;
}

const policies: { policy: ConflictPolicyName; deletes: boolean }[] = [
  { policy: 'lastWriteWins', deletes: true },
  { policy: 'serverWins', deletes: true },
  { policy: 'clientWins', deletes: true },
  { policy: 'fieldMerge', deletes: false },
  { policy: 'manual', deletes: true },
];

describe('counterexamples the model found, replayed', () => {
  it('lastWriteWins (seed 49787781): a write the server applied, then overwrote before the answer came back, ends as the later version', async () => {
    // B's transaction is applied but its answer lost; A overwrites both records; B pulls them while its
    // writes are unsettled, then re-pushes: duplicates of the older versions. B kept its own data.
    const steps = [
      { kind: 'transaction', client: 1, key: 0, field: 'name' }, { kind: 'cancel', client: 1 }, { kind: 'sync', client: 1 }, { kind: 'sync', client: 0 },
      { kind: 'sync', client: 1 }, { kind: 'transaction', client: 0, key: 0, field: 'name' }, { kind: 'sync', client: 0 }, { kind: 'sync', client: 0 },
      { kind: 'sync', client: 1 }, { kind: 'save', client: 0, key: 0, field: 'name' }, { kind: 'save', client: 0, key: 0, field: 'name' }, { kind: 'sync', client: 1 },
    ];
    await checkCommon(await scenario('lastWriteWins', steps, 1853890317, false));
  });

  it('fieldMerge (seed 40845233): a merge equal to the server\'s data but with a later clock for a field still reaches the server', async () => {
    const steps = [
      { kind: 'save', client: 1, key: 0, field: 'phone' }, { kind: 'sync', client: 1 }, { kind: 'sync', client: 2 }, { kind: 'save', client: 1, key: 0, field: 'name' },
      { kind: 'save', client: 2, key: 0, field: 'email' }, { kind: 'tick', ms: 1 }, { kind: 'sync', client: 2 }, { kind: 'transaction', client: 0, key: 0, field: 'email' },
      { kind: 'transaction', client: 0, key: 0, field: 'email' }, { kind: 'save', client: 0, key: 0, field: 'email' },
    ];
    const run = await scenario('fieldMerge', steps, 1, false);
    await checkCommon(run);
    expect(run.server.get('contacts', 'k0')?.data?.name).toBe('new');
  });
});

describe('convergence model (3 clients, faults, random sync order)', () => {
  for (const { policy, deletes } of policies) {
    it(`${policy}: every client converges to the server, exactly once, with the policy's result`, async () => {
      await fc.assert(
        // fastPaths false: storage without markOutbox and ackOutbox, so the general paths converge too.
        fc.asyncProperty(fc.array(step(deletes), { minLength: 5, maxLength: 45 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean(), async (steps, faultSeed, fastPaths) => {
          const run = await scenario(policy, steps, faultSeed, fastPaths);
          await checkCommon(run);
          const { server, log } = run;
          if (policy === 'lastWriteWins') {
            // The server holds, for each record, the pushed write with the greatest hybrid logical clock.
            for (const [key, m] of latestPushed(log)) {
              const record = server.get('contacts', key)!;
              expect(record.hlc).toBe(m.hlc);
              expect(record.deleted).toBe(m.op === 'delete');
              if (m.op === 'upsert') expect(record.data).toEqual(m.data);
            }
          }
          if (policy === 'fieldMerge') {
            // Each field holds the value written with that field's greatest clock, whichever device wrote it.
            const best = new Map<string, { clock: string; value: unknown }>();
            for (const p of log) for (const m of p.mutations) for (const [field, clock] of Object.entries(expandFieldClocks(m.data, m.hlc, m.fieldClocks))) {
              const id = `${m.key}.${field}`;
              const cur = best.get(id);
              if (!cur || compareHlc(clock, cur.clock) > 0) best.set(id, { clock, value: m.data?.[field] });
            }
            for (const [id, { value }] of best) {
              const [key, field] = id.split('.') as [string, string];
              expect(server.get('contacts', key)?.data?.[field]).toEqual(value);
            }
          }
          if (policy === 'serverWins' || policy === 'manual') {
            // A conflict never pushes the losing local value again: after a conflict on a record,
            // the same client's next mutation for it carries a new local write, not the old data.
            for (let i = 0; i < log.length; i++) {
              log[i]!.results?.forEach((r, j) => {
                if (r.status !== 'conflict' || r.reason !== 'version') return;
                const lost = log[i]!.mutations[j]!;
                const next = log.slice(i + 1).flatMap((p) => p.mutations).find((m) => m.clientId === lost.clientId && m.key === lost.key && m.mutationId !== lost.mutationId);
                if (next) expect(next.hlc > lost.hlc && !(next.op === lost.op && JSON.stringify(next.data) === JSON.stringify(lost.data) && next.hlc === lost.hlc)).toBe(true);
                if (next) expect(next.hlc).not.toBe(lost.hlc);
              });
            }
          }
          if (policy === 'clientWins') {
            // A client's value is never dropped by a conflict: each version conflict is followed by a
            // re-push of the client's value (same clock) on the server's version.
            for (let i = 0; i < log.length; i++) {
              log[i]!.results?.forEach((r, j) => {
                if (r.status !== 'conflict' || r.reason !== 'version') return;
                // A client that had written a newer value of the record resolves with that one (which may equal the server's).
                if (log[i]!.supersededLocally[j]) return;
                const lost = log[i]!.mutations[j]!;
                const next = log.slice(i + 1).flatMap((p) => p.mutations).find((m) => m.clientId === lost.clientId && m.key === lost.key && m.mutationId !== lost.mutationId);
                const current = r.current;
                const sameValue = current !== null && current.deleted === (lost.op === 'delete') && JSON.stringify(current.deleted ? null : current.data) === JSON.stringify(lost.data) && compareHlc(lost.hlc, current.hlc) <= 0;
                if (!sameValue) expect(next).toBeDefined();
                if (next) expect(compareHlc(next.hlc, lost.hlc)).toBeGreaterThanOrEqual(0);
              });
            }
          }
        }),
        { numRuns: RUNS, seed: SEED, verbose: 1 },
      );
    });
  }
});

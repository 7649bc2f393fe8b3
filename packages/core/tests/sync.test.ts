import { describe, expect, it } from 'vitest';
import { firstValueFrom, filter } from 'rxjs';
import { AuthError, createManualConnectivity, createNexus, memoryStorage, NetworkError, StorageError, type LocalStorage, type Mutation, type MutationResult, type Nexus, type OutboxAck, type RemoteBackend, type SyncStatus, type WriteTransaction } from '@nexus-store/core';
import { createFaultyRemote, createMemoryRemote, createMemoryStorageState } from '@nexus-store/core/testing';
import { ContactSchema, device, fakeClock, overriding, type Contact } from './helpers.js';

const createMemoryRemoteDevice = (remote: ReturnType<typeof createMemoryRemote>, state: Awaited<ReturnType<typeof device>>['state']) => device(remote, { state });

/** Like httpRemote when the app goes offline: the server applies the push, but the caller stops waiting when aborted. */
const applyingButSilent = (remote: ReturnType<typeof createMemoryRemote>): RemoteBackend => ({
  pull: remote.pull,
  push: (mutations, options) =>
    new Promise<never>((_resolve, reject) => {
      void remote.push(mutations);
      options?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
    }),
});

/** Starts a sync, cancels it once its push is at the server, and checks that it ends ABORTED. */
async function cancelledSync(nexus: Nexus): Promise<void> {
  const controller = new AbortController();
  const run = nexus.sync({ signal: controller.signal });
  await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
}

describe('sync engine', () => {
  it('pushes local writes, pulls them on another device, and does not echo its own writes', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote);
    const b = await device(remote);
    await a.contacts.save({ id: '1', name: 'Ada' });
    await a.contacts.save({ id: '2', name: 'Bob' });
    expect(await a.contacts.syncState('1')).toBe('pending');
    const reportA = await a.nexus.sync();
    // Nothing else happened on the server: the push answer moved the cursor past a's own writes, so none is pulled back.
    expect(reportA).toMatchObject({ pushed: 2, pulled: 0, conflicts: 0 });
    expect(await a.contacts.syncState('1')).toBe('synced');
    expect(await a.nexus.pending()).toEqual([]);
    const reportB = await b.nexus.sync();
    expect(reportB).toMatchObject({ pushed: 0, pulled: 2 });
    expect(await b.contacts.get('2')).toEqual({ id: '2', name: 'Bob' });
    await b.contacts.delete('1');
    await b.nexus.sync();
    await a.nexus.sync();
    expect(await a.contacts.get('1')).toBeUndefined();
    expect(remote.get('contacts', '1')?.deleted).toBe(true);
    await a.nexus.close();
    await b.nexus.close();
  });

  it('pulls its own writes back (as no-ops) when another device wrote after its cursor, and skips them when none did', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote);
    const b = await device(remote);
    await a.contacts.save({ id: 'a1', name: 'A' });
    await b.contacts.save({ id: 'b1', name: 'B' });
    await b.nexus.sync();
    const first = await a.nexus.sync();
    // b's write came after a's cursor: the server cannot vouch for the gap, so a pulls both records.
    expect(first).toMatchObject({ pushed: 1, pulled: 2 });
    expect(remote.pushes.length).toBe(2);
    await a.contacts.save({ id: 'a2', name: 'A2' });
    expect(await a.nexus.sync()).toMatchObject({ pushed: 1, pulled: 0 });
    const everything = [{ id: 'a1', name: 'A' }, { id: 'a2', name: 'A2' }, { id: 'b1', name: 'B' }];
    expect(await a.contacts.getAll()).toEqual(everything);
    expect(await a.contacts.syncState('a2')).toBe('synced');
    // Another device still gets everything.
    expect(await b.nexus.sync()).toMatchObject({ pulled: 2 });
    expect(await b.contacts.getAll()).toEqual(everything);
    await a.nexus.close();
    await b.nexus.close();
  });

  it('pulls in pages until hasMore is false, moving the cursor with each page', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote, { batchSize: 7 });
    await a.contacts.saveAll(Array.from({ length: 50 }, (_, i) => ({ id: `k${i}`, name: `n${i}` })));
    const pushed = await a.nexus.sync();
    expect(pushed.pushed).toBe(50);
    expect(remote.pushes.length).toBe(8);
    const b = await device(remote, { pullLimit: 8 });
    const report = await b.nexus.sync();
    expect(report.pulled).toBe(50);
    expect(await b.contacts.count()).toBe(50);
    await a.nexus.close();
    await b.nexus.close();
  });

  it('requests the next page before applying the current one, and applies the pages in order', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote);
    await a.contacts.saveAll(Array.from({ length: 30 }, (_, i) => ({ id: `k${String(i).padStart(2, '0')}`, name: `n${i}` })));
    await a.nexus.sync();
    const state = createMemoryStorageState();
    const requests: string[] = [];
    const watching: RemoteBackend = {
      push: (m, o) => remote.push(m, o),
      pull: (cursor, limit, o) => {
        // What the local store had applied when this page was requested.
        requests.push(`pull ${cursor}, applied up to ${String(state.meta.get('cursor'))}`);
        return remote.pull(cursor, limit, o);
      },
    };
    const b = await device(watching, { pullLimit: 10, state });
    expect(await b.nexus.sync()).toMatchObject({ pulled: 30 });
    // Page 2 is requested before page 1 is applied, page 3 before page 2 is; nothing after the last page.
    expect(requests).toEqual(['pull null, applied up to undefined', 'pull 10, applied up to undefined', 'pull 20, applied up to 10']);
    expect(state.meta.get('cursor')).toBe('30');
    expect(await b.contacts.count()).toBe(30);
    await a.nexus.close();
    await b.nexus.close();
  });

  it('hands the remote each batch after the first to prepare while the batch before it is at the server, then pushes that same array', async () => {
    const remote = createMemoryRemote();
    const prepared: Mutation[][] = [];
    const log: string[] = [];
    const watching: RemoteBackend = {
      preparePush(mutations) {
        prepared.push(mutations);
        log.push(`prepare ${mutations.map((m) => m.key).join('')}`);
      },
      async push(mutations, options) {
        log.push(`push ${mutations.map((m) => m.key).join('')}${prepared.includes(mutations) ? ' (prepared)' : ''}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`answer ${mutations.map((m) => m.key).join('')}`);
        return remote.push(mutations, options);
      },
      pull: (cursor, limit, options) => remote.pull(cursor, limit, options),
    };
    const a = await device(watching, { batchSize: 2 });
    await a.contacts.saveAll(['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, name: id.toUpperCase() })));
    expect(await a.nexus.sync()).toMatchObject({ pushed: 5, rejected: 0 });
    expect(log).toEqual(['push ab', 'prepare cd', 'answer ab', 'push cd (prepared)', 'prepare e', 'answer cd', 'push e (prepared)', 'answer e']);
    await a.nexus.close();
  });

  it('writes the results of a batch and takes the batch after next in one storage transaction', async () => {
    const remote = createMemoryRemote();
    const storage = memoryStorage();
    /** The outbox calls of each write transaction. */
    const transactions: string[][] = [];
    const recording = overriding(storage, {
      write: <R>(fn: (tx: WriteTransaction) => Promise<R>) =>
        storage.write((tx) => {
          const calls: string[] = [];
          transactions.push(calls);
          return fn(overriding(tx, {
            ackOutbox: (acks: OutboxAck[]) => (calls.push(`ack ${acks.length}`), tx.ackOutbox!(acks)),
            markOutbox: (seqs: number[], ...rest: [never]) => (calls.push(`take ${seqs.length}`), tx.markOutbox!(seqs, ...rest)),
          }));
        }),
    });
    const nexus = await createNexus({ storage: recording, remote, batchSize: 2 });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    await contacts.saveAll(['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, name: id.toUpperCase() })));
    expect(await nexus.sync()).toMatchObject({ pushed: 5, rejected: 0 });
    expect(transactions.filter((calls) => calls.length > 0)).toEqual([['take 2'], ['take 2'], ['ack 2', 'take 1'], ['ack 2'], ['ack 1']]);
    await nexus.close();
  });

  it('writes the results of a batch only after the next batch has left and the event loop has had a turn', async () => {
    const remote = createMemoryRemote();
    const state = createMemoryStorageState();
    // At each push after the first: was the batch before it still unacknowledged when a request
    // sent at this push would reach the network (after the microtasks and I/O of this turn of the
    // event loop, which a setImmediate queued now runs after)?
    const unackedWhenSent: boolean[] = [];
    const watching: RemoteBackend = {
      push(mutations, options) {
        const previous = remote.pushes.at(-1)?.map((m) => m.mutationId) ?? [];
        if (previous.length > 0) {
          setImmediate(() => {
            const outboxIds = new Set([...state.outbox.values()].map((e) => e.mutationId));
            unackedWhenSent.push(previous.every((id) => outboxIds.has(id)));
          });
        }
        return new Promise((resolve, reject) => setTimeout(() => remote.push(mutations, options).then(resolve, reject), 5));
      },
      pull: (cursor, limit, options) => remote.pull(cursor, limit, options),
    };
    const a = await device(watching, { batchSize: 2, state });
    await a.contacts.saveAll(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, name: id.toUpperCase() })));
    expect(await a.nexus.sync()).toMatchObject({ pushed: 6, rejected: 0 });
    expect(unackedWhenSent).toEqual([true, true]);
    expect(await a.nexus.pending()).toEqual([]);
    expect(remote.get('contacts', 'f')?.data).toEqual({ id: 'f', name: 'F' });
    await a.nexus.close();
  });

  it('sends a batch only after the one before was answered, takes the next one meanwhile, and keeps a record\'s later entry for after its batch', async () => {
    const remote = createMemoryRemote();
    const state = createMemoryStorageState();
    let atServer = 0;
    let down = true;
    const inflightSeen: string[][] = [];
    const watching: RemoteBackend = {
      async push(mutations, options) {
        atServer++;
        try {
          expect(atServer).toBe(1);
          await new Promise((resolve) => setTimeout(resolve, 5));
          // What the client had taken (in flight) while this batch was at the server.
          inflightSeen.push([...state.outbox.values()].filter((e) => e.status === 'inflight').map((e) => e.key));
          if (down) throw new NetworkError('NETWORK', 'offline');
          return await remote.push(mutations, options);
        } finally {
          atServer--;
        }
      },
      pull: (cursor, limit, options) => remote.pull(cursor, limit, options),
    };
    const a = await device(watching, { batchSize: 2, state });
    await a.contacts.saveAll([
      { id: 'a', name: 'A1' },
      { id: 'b', name: 'B' },
    ]);
    await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'NETWORK' });
    // a's first entry was sent once, so the next write of a is an entry of its own.
    await a.contacts.save({ id: 'a', name: 'A2' });
    await a.contacts.saveAll([
      { id: 'c', name: 'C' },
      { id: 'd', name: 'D' },
    ]);
    down = false;
    inflightSeen.length = 0;
    const report = await a.nexus.sync();
    expect(report).toMatchObject({ pushed: 5, conflicts: 0, rejected: 0, pulled: 0 });
    // a's second entry waits for the batch holding its first, even though it is older than c and d.
    expect(remote.pushes.slice(-3).map((batch) => batch.map((m) => m.key))).toEqual([['a', 'b'], ['c', 'd'], ['a']]);
    expect(inflightSeen.map((keys) => keys.sort())).toEqual([['a', 'b', 'c', 'd'], ['a', 'c', 'd'], ['a']]);
    expect(remote.get('contacts', 'a')?.data).toEqual({ id: 'a', name: 'A2' });
    expect(await a.nexus.pending()).toEqual([]);
    await a.nexus.close();
  });

  it('a failed push puts the batch taken ahead back as it was, and a later sync delivers everything once', async () => {
    const remote = createMemoryRemote();
    const state = createMemoryStorageState();
    let calls = 0;
    let aheadWhenFailing: string[] = [];
    const failingSecond: RemoteBackend = {
      async push(mutations, options) {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (calls === 2) {
          aheadWhenFailing = [...state.outbox.values()].filter((e) => e.status === 'inflight').map((e) => e.key);
          throw new NetworkError('NETWORK', 'connection reset');
        }
        return remote.push(mutations, options);
      },
      pull: (cursor, limit, options) => remote.pull(cursor, limit, options),
    };
    const a = await device(failingSecond, { batchSize: 2, state });
    await a.contacts.saveAll(['1', '2', '3', '4', '5', '6'].map((id) => ({ id, name: `n${id}` })));
    await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'NETWORK' });
    expect(aheadWhenFailing.sort()).toEqual(['3', '4', '5', '6']);
    const entries = [...state.outbox.values()].map((e) => ({ key: e.key, status: e.status, attempts: e.attempts, error: e.lastError?.code ?? null }));
    expect(entries).toEqual([
      { key: '3', status: 'pending', attempts: 1, error: 'NETWORK' },
      { key: '4', status: 'pending', attempts: 1, error: 'NETWORK' },
      // Taken while batch 2 was at the server, never sent: as before.
      { key: '5', status: 'pending', attempts: 0, error: null },
      { key: '6', status: 'pending', attempts: 0, error: null },
    ]);
    expect(await a.contacts.syncState('1')).toBe('synced');
    expect(await a.nexus.sync()).toMatchObject({ pushed: 4 });
    expect(remote.applied.map((m) => m.key)).toEqual(['1', '2', '3', '4', '5', '6']);
    await a.nexus.close();
  });

  it('pushes critical > high > normal > low, FIFO within a tier, across collections', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote, { batchSize: 3 });
    await a.contacts.save({ id: 'l1', name: 'x' }, 'low');
    await a.contacts.save({ id: 'n1', name: 'x' });
    await a.contacts.save({ id: 'c1', name: 'x' }, 'critical');
    await a.contacts.save({ id: 'h1', name: 'x' }, 'high');
    await a.contacts.save({ id: 'n2', name: 'x' }, 'normal');
    await a.contacts.save({ id: 'c2', name: 'x' }, 'critical');
    await a.contacts.save({ id: 'l1', name: 'y' }, 'high'); // coalesces: latest data, highest priority, keeps its place
    await a.nexus.sync();
    expect(remote.pushes.flat().map((m) => m.key)).toEqual(['c1', 'c2', 'l1', 'h1', 'n1', 'n2']);
    expect(remote.get('contacts', 'l1')?.data).toEqual({ id: 'l1', name: 'y' });
    await a.nexus.close();
  });

  it('concurrent sync() calls share one run', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote);
    await a.contacts.save({ id: '1', name: 'A' });
    const [r1, r2] = await Promise.all([a.nexus.sync(), a.nexus.sync()]);
    expect(r1).toBe(r2);
    expect(remote.pushes.length).toBe(1);
    await a.nexus.close();
  });

  it('a push whose response is lost is applied exactly once (mutation ids are idempotency keys)', async () => {
    const remote = createMemoryRemote();
    let lose = true;
    const lossy = {
      ...remote,
      async push(mutations: Parameters<typeof remote.push>[0]) {
        const results = await remote.push(mutations);
        if (lose) {
          lose = false;
          throw new NetworkError('NETWORK', 'response lost');
        }
        return results;
      },
      pull: remote.pull,
    };
    const a = await device(lossy);
    await a.contacts.save({ id: '1', name: 'A' });
    await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'NETWORK' });
    expect(await a.contacts.syncState('1')).toBe('pending');
    const report = await a.nexus.sync();
    expect(report.pushed).toBe(1);
    expect(remote.applied.filter((m) => m.key === '1')).toHaveLength(1);
    expect(remote.pushes.map((p) => p[0]!.mutationId)).toEqual([remote.pushes[0]![0]!.mutationId, remote.pushes[0]![0]!.mutationId]);
    expect(await a.contacts.syncState('1')).toBe('synced');
    await a.nexus.close();
  });

  it('in-flight entries go back to pending on reopen and are re-pushed with the same mutation id', async () => {
    const remote = createMemoryRemote();
    const hang = { push: () => new Promise<never>(() => undefined), pull: remote.pull };
    const first = await device(hang);
    await first.contacts.save({ id: '1', name: 'A' });
    void first.nexus.sync().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 10));
    const inflight = await first.nexus.pending();
    expect(inflight[0]?.status).toBe('inflight');
    // The process dies here: no close(). Reopen on the same durable state.
    const second = await device(remote, { state: first.state });
    expect((await second.nexus.pending()).map((p) => [p.status, p.id])).toEqual([['pending', inflight[0]!.id]]);
    await second.nexus.sync();
    expect(remote.applied.map((m) => m.mutationId)).toEqual([inflight[0]!.id]);
    await second.nexus.close();
  });

  it('retries with exponential backoff and full jitter on an injected clock, then marks failed after maxAttempts', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const down = createFaultyRemote(remote, { random: () => 0, failBeforeApply: 1 });
    const a = await device(down, { clock, random: () => 0.5, autoSync: { onWrite: false, live: false }, retry: { maxAttempts: 3, initialDelayMs: 1000, multiplier: 2, maxDelayMs: 10_000 } });
    await new Promise((r) => setTimeout(r, 5)); // the start-up sync (nothing to push) ends
    await a.contacts.save({ id: '1', name: 'A' });
    await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'SERVER', retryable: true });
    expect(a.nexus.status.phase).toBe('error');
    expect(clock.pendingTimers()).toEqual([500]); // 0.5 * 1000 * 2^0
    await clock.advance(500);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.pendingTimers()).toEqual([1000]); // 0.5 * 1000 * 2^1
    await clock.advance(1000);
    await new Promise((r) => setTimeout(r, 5));
    const failed = await a.nexus.failed();
    expect(failed.map((f) => [f.key, f.attempts, f.lastError?.code])).toEqual([['1', 3, 'SERVER']]);
    expect(await a.contacts.syncState('1')).toBe('failed');
    // The server comes back: retry(id) sends it again.
    down.heal();
    await a.nexus.retry(failed[0]!.id);
    await a.nexus.sync();
    expect(remote.get('contacts', '1')?.data).toEqual({ id: '1', name: 'A' });
    expect(await a.nexus.failed()).toEqual([]);
    await a.nexus.close();
  });

  it('a rejected mutation moves to failed without blocking the others; discard restores the server version', async () => {
    const remote = createMemoryRemote();
    const picky = {
      pull: remote.pull,
      async push(mutations: Parameters<typeof remote.push>[0]) {
        const ok = mutations.filter((m) => m.key !== 'bad');
        const results = (await remote.push(ok)) as MutationResult[]; // no cursor sent: plain results
        return mutations.map((m) => (m.key === 'bad' ? { mutationId: m.mutationId, status: 'rejected' as const, code: 'FORBIDDEN', message: 'not yours' } : results.shift()!));
      },
    };
    const a = await device(picky);
    await a.contacts.save({ id: 'good1', name: 'G' });
    await a.contacts.save({ id: 'bad', name: 'B' }, 'critical');
    await a.contacts.save({ id: 'good2', name: 'G' });
    const report = await a.nexus.sync();
    expect(report).toMatchObject({ pushed: 2, rejected: 1 });
    expect(remote.get('contacts', 'good2')).toBeDefined();
    const [failed] = await a.nexus.failed();
    expect(failed).toMatchObject({ key: 'bad', status: 'failed', lastError: { code: 'FORBIDDEN', message: 'not yours' } });
    expect(await a.contacts.syncState('bad')).toBe('failed');
    await a.nexus.discard(failed!.id);
    expect(await a.contacts.get('bad')).toBeUndefined();
    expect(await a.nexus.failed()).toEqual([]);
    await expect(a.nexus.discard('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await a.nexus.close();
  });

  it('going offline pauses and aborts; coming back online syncs at once', async () => {
    const remote = createMemoryRemote();
    const connectivity = createManualConnectivity(false);
    const a = await device(remote, { connectivity });
    await a.contacts.save({ id: '1', name: 'A' });
    expect(await a.nexus.sync()).toMatchObject({ skipped: 'offline' });
    expect(a.nexus.status.phase).toBe('offline');
    expect(remote.pushes).toHaveLength(0);
    const idle = firstValueFrom(a.nexus.status$.pipe(filter((s: SyncStatus) => s.lastSyncAt !== null)));
    connectivity.setOnline(true);
    const status = await idle;
    expect(status.phase).toBe('idle');
    expect(remote.get('contacts', '1')).toBeDefined();
    await a.nexus.close();
  });

  it('status$ reports pending, failed and conflict counts, lastSyncAt and lastError', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const a = await device(remote, { clock, conflict: 'manual' });
    const b = await device(remote, { clock });
    const seen: SyncStatus[] = [];
    const sub = a.nexus.status$.subscribe((s) => seen.push(s));
    await a.contacts.save({ id: '1', name: 'A' });
    await a.contacts.save({ id: '2', name: 'B' });
    await new Promise((r) => setTimeout(r, 5));
    expect(a.nexus.status.pending).toBe(2);
    await a.nexus.sync();
    await new Promise((r) => setTimeout(r, 5));
    expect(a.nexus.status).toMatchObject({ pending: 0, phase: 'idle', lastSyncAt: clock.now(), lastError: null });
    expect(seen.some((s) => s.phase === 'pushing')).toBe(true);
    expect(seen.some((s) => s.phase === 'pulling')).toBe(true);
    await b.nexus.sync();
    await b.contacts.save({ id: '1', name: 'B says' });
    await b.nexus.sync();
    await a.contacts.save({ id: '1', name: 'A says' });
    await a.nexus.sync();
    await new Promise((r) => setTimeout(r, 5));
    expect(a.nexus.status.conflicts).toBe(1);
    sub.unsubscribe();
    await a.nexus.close();
    await b.nexus.close();
  });

  it('a client whose cursor is older than the compaction horizon resyncs from scratch without losing pending writes', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote);
    const b = await device(remote);
    await a.contacts.saveAll([{ id: '1', name: 'one' }, { id: '2', name: 'two' }, { id: '3', name: 'three' }]);
    await a.nexus.sync();
    await b.nexus.sync();
    await a.contacts.delete('2');
    await a.contacts.save({ id: '4', name: 'four' });
    await a.nexus.sync();
    remote.compact();
    await b.contacts.save({ id: 'mine', name: 'offline write' });
    const report = await b.nexus.sync();
    expect(report.pushed).toBe(1);
    expect((await b.contacts.getAll()).map((c) => c.id).sort()).toEqual(['1', '3', '4', 'mine']);
    expect(remote.get('contacts', 'mine')?.data).toEqual({ id: 'mine', name: 'offline write' });
    await a.nexus.close();
    await b.nexus.close();
  });

  it('changes that arrive by sync reach watch()', async () => {
    const remote = createMemoryRemote();
    const a = await device(remote);
    const b = await device(remote);
    const values: unknown[] = [];
    const sub = b.contacts.watch('1').subscribe((v) => values.push(v));
    await a.contacts.save({ id: '1', name: 'from A' });
    await a.nexus.sync();
    await b.nexus.sync();
    await new Promise((r) => setTimeout(r, 5));
    expect(values).toEqual([undefined, { id: '1', name: 'from A' }]);
    sub.unsubscribe();
    await a.nexus.close();
    await b.nexus.close();
  });

  it('autoSync: a write triggers a debounced sync, and a poke from the remote pulls at once', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const a = await device(remote, { clock, autoSync: { debounceMs: 100 } });
    const b = await device(remote, { clock, autoSync: true });
    await new Promise((r) => setTimeout(r, 5));
    await a.contacts.save({ id: '1', name: 'A' });
    expect(remote.pushes).toHaveLength(0);
    await clock.advance(100);
    await new Promise((r) => setTimeout(r, 20));
    expect(remote.get('contacts', '1')).toBeDefined();
    expect(await b.contacts.get('1')).toEqual({ id: '1', name: 'A' });
    await a.nexus.close();
    await b.nexus.close();
  });

  it('two instances on one database (two tabs) at the same instant still get distinct mutation ids', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const tab1 = await device(remote, { clock });
    const tab2 = await device(remote, { clock, state: tab1.state });
    expect(tab2.nexus.clientId).toBe(tab1.nexus.clientId);
    await tab1.contacts.save({ id: 'a', name: 'from tab 1' });
    await tab2.contacts.save({ id: 'b', name: 'from tab 2' });
    const ids = (await tab1.nexus.pending()).map((p) => p.id);
    expect(new Set(ids).size).toBe(2);
    await tab1.nexus.sync();
    expect(remote.records().map((r) => r.key).sort()).toEqual(['a', 'b']);
  });

  it('a reopened database does not reuse a mutation id, even on a clock that stands still', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const first = await device(remote, { clock });
    await first.contacts.save({ id: 'a', name: 'before the restart' });
    await first.nexus.close();
    const second = await device(remote, { clock, state: first.state });
    await second.contacts.save({ id: 'b', name: 'after the restart' });
    const ids = (await second.nexus.pending()).map((p) => p.id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    await second.nexus.sync();
    expect(remote.records().map((r) => r.key).sort()).toEqual(['a', 'b']);
  });

  it('sync({ signal }) aborts the run; the entries go back to pending and a later sync delivers them once', async () => {
    const remote = createMemoryRemote();
    const a = await device(applyingButSilent(remote));
    await a.contacts.save({ id: '1', name: 'A' });
    await cancelledSync(a.nexus);
    expect((await a.nexus.pending()).map((p) => p.status)).toEqual(['pending']);
    const again = await createMemoryRemoteDevice(remote, a.state);
    await again.nexus.sync();
    expect(remote.applied).toHaveLength(1);
    expect(await again.nexus.pending()).toEqual([]);
    expect(a.nexus.storage.name).toBe('memory');
  });

  it('a write after a push was cancelled once the server had it reaches the server (it does not join the sent entry)', async () => {
    const remote = createMemoryRemote();
    const a = await device(applyingButSilent(remote));
    await a.contacts.save({ id: '1', name: 'A' });
    await cancelledSync(a.nexus);
    await a.contacts.save({ id: '1', name: 'B' });
    const again = await createMemoryRemoteDevice(remote, a.state);
    await again.nexus.sync();
    expect(remote.get('contacts', '1')?.data).toEqual({ id: '1', name: 'B' });
    expect(await again.contacts.syncState('1')).toBe('synced');
    await again.nexus.close();
  });

  it('when the results of a batch cannot be written, its entries go back to pending with the attempt counted and a later sync settles them once', async () => {
    const remote = createMemoryRemote();
    const state = createMemoryStorageState();
    const inner = memoryStorage({ state });
    let failAck = true;
    // A storage whose write of the first push results fails (like a disk error), with a rollback.
    const failingAck = async (tx: WriteTransaction, acks: readonly OutboxAck[]) => {
      if (failAck) {
        failAck = false;
        throw new StorageError('STORAGE', 'disk I/O error');
      }
      return tx.ackOutbox!(acks);
    };
    const storage = overriding<LocalStorage>(inner, {
      write: <T>(body: (tx: WriteTransaction) => Promise<T>) => inner.write((tx) => body(overriding(tx, { ackOutbox: (acks: readonly OutboxAck[]) => failingAck(tx, acks) }))),
    });
    const nexus = await createNexus({ storage, remote, batchSize: 2 });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    await contacts.saveAll(['1', '2', '3', '4', '5'].map((id) => ({ id, name: `n${id}` })));
    await expect(nexus.sync()).rejects.toMatchObject({ code: 'STORAGE' });
    const entries = [...state.outbox.values()].map((e) => [e.key, e.status, e.attempts]);
    // Batch 1 was applied by the server but not written here; batch 2 was already on its way (the
    // failure shows once the client turns to write batch 1's results); batch 3 was never taken.
    expect(entries).toEqual([
      ['1', 'pending', 1],
      ['2', 'pending', 1],
      ['3', 'pending', 1],
      ['4', 'pending', 1],
      ['5', 'pending', 0],
    ]);
    expect(remote.pushes.map((batch) => batch.map((m) => m.key))).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    // A write to record 1 now is an entry of its own: the sent one is not reused.
    await contacts.save({ id: '1', name: 'changed' });
    const report = await nexus.sync();
    expect(report).toMatchObject({ pushed: 6, conflicts: 0 });
    expect(remote.get('contacts', '1')?.data).toEqual({ id: '1', name: 'changed' });
    expect(remote.applied.map((m) => m.key)).toEqual(['1', '2', '3', '4', '5', '1']);
    expect(await nexus.pending()).toEqual([]);
    await nexus.close();
  });

  it('a write after retry() of a failed entry the server had applied still reaches the server', async () => {
    const remote = createMemoryRemote();
    // Every answer is lost after the server applied the push: the entry fails after maxAttempts.
    const lossy = createFaultyRemote(remote, { random: () => 0, failAfterApply: 1 });
    const a = await device(lossy, { autoSync: false, retry: { maxAttempts: 2 } });
    await a.contacts.save({ id: '1', name: 'A' });
    for (let i = 0; i < 10 && (await a.nexus.failed()).length === 0; i++) await a.nexus.sync().catch(() => undefined);
    const [failed] = await a.nexus.failed();
    expect(failed?.key).toBe('1');
    lossy.heal();
    await a.nexus.retry(failed!.id);
    await a.contacts.save({ id: '1', name: 'B' });
    await a.nexus.sync();
    expect(remote.get('contacts', '1')?.data).toEqual({ id: '1', name: 'B' });
    expect(await a.contacts.syncState('1')).toBe('synced');
    await a.nexus.close();
  });

  it('the faulty remote delays calls and honours an abort while delayed', async () => {
    const remote = createMemoryRemote();
    const delayed = createFaultyRemote(remote, { random: () => 1, delay: () => new Promise(() => undefined) });
    const a = await device(delayed);
    await a.contacts.save({ id: '1', name: 'A' });
    const controller = new AbortController();
    const run = a.nexus.sync({ signal: controller.signal });
    await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(remote.pushes).toHaveLength(0);
    expect((await a.nexus.pending()).map((p) => p.status)).toEqual(['pending']);
  });

  it('a push refused as a whole for one bad mutation (a 4xx) is split until that mutation fails alone', async () => {
    const remote = createMemoryRemote();
    const strict = {
      pull: remote.pull,
      async push(mutations: Parameters<typeof remote.push>[0]) {
        if (mutations.some((m) => m.key.startsWith('bad'))) throw new NetworkError('PROTOCOL', 'HTTP 400 KEY_TOO_LONG', { status: 400 });
        return remote.push(mutations);
      },
    };
    const a = await device(strict, { batchSize: 8 });
    await a.contacts.saveAll(Array.from({ length: 20 }, (_, i) => ({ id: i === 13 ? 'bad-13' : `ok-${i}`, name: `n${i}` })));
    const report = await a.nexus.sync();
    expect(report.rejected).toBe(1);
    expect(remote.records()).toHaveLength(19);
    const failed = await a.nexus.failed();
    expect(failed.map((f) => [f.key, f.lastError?.code, f.attempts])).toEqual([['bad-13', 'PROTOCOL', 1]]);
    expect(await a.nexus.pending()).toEqual([]);
    expect(await a.contacts.syncState('bad-13')).toBe('failed');
  });

  it('an AUTH failure of a whole push keeps every mutation pending and stops the run', async () => {
    const remote = createMemoryRemote();
    const locked = {
      pull: remote.pull,
      push: async (): Promise<never> => {
        throw new AuthError('AUTH', 'token expired', { status: 401 });
      },
    };
    const a = await device(locked);
    await a.contacts.saveAll([{ id: '1', name: 'A' }, { id: '2', name: 'B' }]);
    await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'AUTH' });
    expect((await a.nexus.pending()).map((p) => p.status)).toEqual(['pending', 'pending']);
    expect(await a.nexus.failed()).toEqual([]);
  });

  it('a server that answers hasMore without moving the cursor cannot make the pull loop forever', async () => {
    const remote = createMemoryRemote();
    let pulls = 0;
    const stuck = { push: remote.push, pull: async (cursor: string | null) => ({ changes: [], cursor: cursor ?? '0', hasMore: (pulls++, true) }) };
    const a = await device(stuck);
    const report = await a.nexus.sync();
    expect(report.pulled).toBe(0);
    expect(pulls).toBeLessThanOrEqual(2);
  });

  it('with autoSync off nothing is retried on its own: a failed sync waits for the app', async () => {
    const clock = fakeClock();
    const down = createFaultyRemote(createMemoryRemote(), { random: () => 0, failBeforeApply: 1 });
    const a = await device(down, { clock });
    await a.contacts.save({ id: '1', name: 'A' });
    await expect(a.nexus.sync()).rejects.toMatchObject({ code: 'SERVER' });
    expect(clock.pendingTimers()).toEqual([]);
    expect(a.nexus.status).toMatchObject({ phase: 'error', nextRetryAt: null });
  });
});

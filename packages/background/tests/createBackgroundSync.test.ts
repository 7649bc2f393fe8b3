import { createManualConnectivity, createNexus, memoryStorage, NetworkError, systemClock, ValidationError, type Nexus, type RemoteBackend } from '@nexus-store/core';
import { createMemoryRemote, createMemoryStorageState } from '@nexus-store/core/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  BGTaskSchedulerService,
  LAST_RUN_META_KEY,
  TimerSyncService,
  WebSyncService,
  WorkManagerSyncService,
  createBackgroundSync,
  pendingPushFromStorage,
  type BackgroundSyncRun,
} from '@nexus-store/background';
import { FakeNativePlatform } from '@nexus-store/background/testing';
import { recordStatuses, silentLogger } from './helpers.js';

const MINUTE = 60_000;
const Contact = z.object({ id: z.string(), name: z.string() });
type Contact = z.infer<typeof Contact>;

/**
 * Like httpRemote over a connection that never answers: while `hang` is set, a push stays open until
 * its AbortSignal fires, then rejects; otherwise it goes to the memory server.
 */
function hangingRemote(server: ReturnType<typeof createMemoryRemote>) {
  const signals: (AbortSignal | undefined)[] = [];
  const remote = {
    hang: true as boolean,
    signals,
    pull: (cursor, limit, options) => server.pull(cursor, limit, options),
    push(mutations, options) {
      if (!remote.hang) return server.push(mutations, options);
      signals.push(options?.signal);
      return new Promise((_resolve, reject) => {
        options?.signal?.addEventListener('abort', () => reject(new NetworkError('ABORTED', 'Push was cancelled.', { cause: options.signal?.reason })), { once: true });
      });
    },
  } satisfies RemoteBackend & { hang: boolean; signals: unknown[] };
  return remote;
}

async function openNexus(state = createMemoryStorageState(), remote = createMemoryRemote()) {
  return { ...(await openNexusOver(remote, state)), remote };
}

async function openNexusOver(remote: RemoteBackend, state = createMemoryStorageState()) {
  const storage = memoryStorage({ state });
  const nexus = await createNexus({ storage, remote, clientId: 'device1' });
  const contacts = nexus.store<Contact, string>('contacts', { schema: Contact, key: 'id' });
  return { storage, nexus, contacts, state };
}

describe('createBackgroundSync with a real Nexus', () => {
  let open: Nexus[] = [];
  beforeEach(() => vi.useFakeTimers());
  afterEach(async () => {
    for (const nexus of open) await nexus.close();
    open = [];
    vi.useRealTimers();
  });

  it('binds the timer service to nexus.sync(): pushes the outbox and persists the last run in the nexus storage', async () => {
    const { storage, nexus, contacts, remote, state } = await openNexus();
    open.push(nexus);
    await contacts.save({ id: 'c1', name: 'Ada' });
    await contacts.save({ id: 'c2', name: 'Grace' }, 'critical');
    const bg = await createBackgroundSync({ nexus, storage, platform: 'timer', config: { minInterval: 5 * MINUTE }, logger: silentLogger });
    const statuses = recordStatuses(bg.service);
    expect(bg.service).toBeInstanceOf(TimerSyncService);
    expect(bg.service.status).toBe('scheduled');
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(remote.applied.map((a) => a.key)).toEqual(['c2', 'c1']);
    expect(statuses).toEqual(['scheduled', 'running', 'completed']);
    const last = await bg.lastRun();
    expect(last).toMatchObject({ source: 'app', trigger: 'periodic', outcome: 'success', counts: { pushed: 2, pulled: expect.any(Number), failed: 0, conflicts: 0 }, error: null });
    expect(last?.finishedAt).toBe(Date.now());
    expect(await storage.read((tx) => tx.getMeta(LAST_RUN_META_KEY))).toEqual(last);
    await bg.dispose();

    // A later launch on the same database sees the run.
    const again = await openNexus(state, remote);
    open.push(again.nexus);
    const bg2 = await createBackgroundSync({ nexus: again.nexus, storage: again.storage, platform: 'noop', logger: silentLogger });
    const seen: (BackgroundSyncRun | undefined)[] = [];
    bg2.lastRun$.subscribe((run) => seen.push(run));
    expect(seen).toEqual([last]);
    await bg2.dispose();
  });

  it('shares one connectivity source and one clock with the nexus: going offline holds runs, coming back syncs', async () => {
    const connectivity = createManualConnectivity(true);
    const remote = createMemoryRemote();
    const storage = memoryStorage();
    const nexus = await createNexus({ storage, remote, clientId: 'device2', connectivity, clock: systemClock });
    open.push(nexus);
    const contacts = nexus.store<Contact, string>('contacts', { schema: Contact, key: 'id' });
    const bg = await createBackgroundSync({
      nexus,
      storage,
      services: { timer: ({ logger }) => new TimerSyncService({ logger, connectivity, clock: systemClock }) },
      platform: 'timer',
      config: { minInterval: 10 * MINUTE },
      logger: silentLogger,
    });
    connectivity.setOnline(false);
    await contacts.save({ id: 'c9', name: 'Barbara' });
    await vi.advanceTimersByTimeAsync(30 * MINUTE);
    expect(remote.applied).toHaveLength(0);
    expect(bg.service.status).toBe('scheduled');
    connectivity.setOnline(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(remote.applied.map((a) => a.key)).toEqual(['c9']);
    expect(await bg.lastRun()).toMatchObject({ trigger: 'reconnect', outcome: 'success' });
    await bg.dispose();
  });

  it('records a failed run with its error, retries it, and refuses an invalid configuration before doing anything', async () => {
    const failing = { sync: vi.fn(async () => Promise.reject(new NetworkError('SERVER', 'HTTP 503'))) };
    const bg = await createBackgroundSync({ nexus: failing, platform: 'timer', config: { maxRetries: 1, backoff: { initialDelay: 1_000, jitter: 0 } }, autoSchedule: false, logger: silentLogger });
    await bg.runNow();
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', error: { code: 'SERVER', message: 'HTTP 503' }, counts: null, attempt: 0 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(failing.sync).toHaveBeenCalledTimes(2);
    expect(bg.service.status).toBe('failed');
    await bg.dispose();

    await expect(createBackgroundSync({ nexus: failing, config: { minInterval: 0 }, logger: silentLogger })).rejects.toBeInstanceOf(ValidationError);
  });

  it('an offline nexus (sync skipped) counts as a failed run to retry', async () => {
    const offline = { sync: async () => ({ pushed: 0, pulled: 0, conflicts: 0, rejected: 0, durationMs: 0, skipped: 'offline' }) };
    const bg = await createBackgroundSync({ nexus: offline, platform: 'timer', autoSchedule: false, logger: silentLogger });
    await bg.runNow();
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', error: { code: 'NETWORK' } });
    expect(bg.service.status).toBe('scheduled');
    await bg.dispose();
  });

  it('Android: keeps the push snapshot of the pending outbox; while terminated the worker replays it; the next launch records the native run and reconciles', async () => {
    const { storage, nexus, contacts, remote, state } = await openNexus();
    open.push(nexus);
    const platform = new FakeNativePlatform({
      platform: 'android',
      whenTerminated: 'replay',
      // What the Kotlin worker does: POST the stored body; here straight into the in-process server.
      replay: async (snapshot) => {
        expect(snapshot.headers.authorization).toBe('Bearer t0k3n');
        await remote.push(snapshot.body.mutations);
        return 200;
      },
    });
    const service = new WorkManagerSyncService(platform.bridge, { logger: silentLogger });
    const push = { url: 'https://api.example/sync/push', getToken: () => 't0k3n', pending: pendingPushFromStorage(storage) };
    const bg = await createBackgroundSync({ nexus, storage, service, push, logger: silentLogger });
    await contacts.save({ id: 'c1', name: 'Ada' });
    await contacts.save({ id: 'c2', name: 'Grace' }, 'high');
    // nexus.status$ reports the new pending count: the snapshot follows without an explicit refresh.
    await vi.waitFor(() => expect(platform.snapshot?.body.mutations).toHaveLength(2));
    expect(platform.snapshot?.body).toMatchObject({ clientId: 'device1', mutations: [{ key: 'c2', priority: 'high' }, { key: 'c1' }] });
    expect(platform.snapshot?.url).toBe('https://api.example/sync/push');

    platform.terminate(); // no web view any more
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    expect(remote.applied.map((a) => a.key)).toEqual(['c2', 'c1']);

    platform.launch();
    const relaunched = await openNexus(state, remote);
    open.push(relaunched.nexus);
    const service2 = new WorkManagerSyncService(platform.bridge, { logger: silentLogger });
    const bg2 = await createBackgroundSync({ nexus: relaunched.nexus, storage: relaunched.storage, service: service2, push: { ...push, pending: pendingPushFromStorage(relaunched.storage) }, logger: silentLogger });
    expect(await bg2.lastRun()).toMatchObject({ source: 'native', trigger: 'native-replay', outcome: 'success', counts: { pushed: 2 } });
    // Reconcile: the app's own push is answered 'duplicate' (idempotent), nothing is applied twice.
    await relaunched.nexus.sync();
    expect(remote.applied).toHaveLength(2);
    expect(await relaunched.nexus.pending()).toEqual([]);
    await bg2.refreshPushSnapshot();
    expect(platform.snapshot).toBeNull();
    await bg.dispose();
    await bg2.dispose();
  });
  it('iOS: an expiration mid-run aborts nexus.sync() itself; the entry is pending again, the run is a retry, and the retry delivers it once', async () => {
    const server = createMemoryRemote();
    const remote = hangingRemote(server);
    const { nexus, contacts } = await openNexusOver(remote);
    open.push(nexus);
    await contacts.save({ id: 'c1', name: 'Ada' });
    const platform = new FakeNativePlatform({ platform: 'ios', appRefreshBudgetMs: 30_000 });
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const bg = await createBackgroundSync({ nexus, service, config: { maxRetries: 2, backoff: { initialDelay: 2 * MINUTE, jitter: 0 } }, logger: silentLogger });

    await vi.advanceTimersByTimeAsync(15 * MINUTE); // iOS starts the app refresh task: the push hangs
    expect(remote.signals).toHaveLength(1);
    expect((await nexus.pending()).map((p) => p.status)).toEqual(['inflight']);
    expect(bg.service.status).toBe('running');

    await vi.advanceTimersByTimeAsync(30_000); // the budget is spent: expirationHandler
    expect(remote.signals[0]?.aborted).toBe(true); // the abort reached the remote call inside nexus.sync()
    expect(platform.events.map((e) => (e.type === 'completed' ? `completed:${e.result}` : e.type))).toEqual(['scheduled', 'run', 'expired', 'completed:retry', 'scheduled']);
    expect(platform.pending()).toEqual([expect.objectContaining({ attempt: 1, dueAt: Date.now() + 2 * MINUTE })]);
    expect(bg.service.status).toBe('scheduled');
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', attempt: 0, error: { code: 'ABORTED' } });
    expect(await nexus.pending()).toEqual([expect.objectContaining({ key: 'c1', status: 'pending' })]);
    expect(nexus.status.phase).not.toBe('pushing');
    expect(server.applied).toHaveLength(0);

    remote.hang = false; // the network answers again
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    expect(server.applied.map((a) => a.key)).toEqual(['c1']);
    expect(await nexus.pending()).toEqual([]);
    expect(await bg.lastRun()).toMatchObject({ outcome: 'success', trigger: 'retry', attempt: 1, counts: { pushed: 1 } });
    expect(bg.service.status).toBe('completed');
    await nexus.sync();
    expect(server.applied).toHaveLength(1);
    expect(platform.violations).toEqual([]);
    await bg.dispose();
  });

  it('a target that ignores the signal cannot hold an expired run past abortGrace (native is answered within its grace)', async () => {
    const calls: (AbortSignal | undefined)[] = [];
    const deaf = { sync: (options?: { signal?: AbortSignal }) => (calls.push(options?.signal), new Promise<never>(() => {})) };
    const platform = new FakeNativePlatform({ platform: 'ios', appRefreshBudgetMs: 30_000 });
    const service = new BGTaskSchedulerService(platform.bridge, { logger: silentLogger, random: () => 0.5 });
    const bg = await createBackgroundSync({ nexus: deaf, service, abortGrace: 1_000, config: { backoff: { initialDelay: 2 * MINUTE, jitter: 0 } }, logger: silentLogger });
    await vi.advanceTimersByTimeAsync(15 * MINUTE + 30_000);
    expect(calls).toEqual([expect.any(AbortSignal)]);
    expect(platform.events.at(-1)?.type).toBe('expired');
    await vi.advanceTimersByTimeAsync(999);
    expect(platform.events.at(-1)?.type).toBe('expired');
    await vi.advanceTimersByTimeAsync(1);
    expect(platform.events.map((e) => (e.type === 'completed' ? `completed:${e.result}` : e.type)).slice(-2)).toEqual(['completed:retry', 'scheduled']);
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', error: { code: 'ABORTED' } });
    expect(platform.violations).toEqual([]);
    await bg.dispose();
  });

  it('without the storage option, keeps the last run in nexus.storage (and a later launch reads it from there)', async () => {
    const { storage, nexus, contacts, remote, state } = await openNexus();
    open.push(nexus);
    await contacts.save({ id: 'c1', name: 'Ada' });
    const bg = await createBackgroundSync({ nexus, platform: 'timer', autoSchedule: false, logger: silentLogger });
    await bg.runNow();
    expect(remote.applied.map((a) => a.key)).toEqual(['c1']);
    const last = await bg.lastRun();
    expect(last).toMatchObject({ source: 'app', trigger: 'manual', outcome: 'success', counts: { pushed: 1 } });
    expect(await storage.read((tx) => tx.getMeta(LAST_RUN_META_KEY))).toEqual(last);
    expect(await nexus.storage.read((tx) => tx.getMeta(LAST_RUN_META_KEY))).toEqual(last);
    await bg.dispose();

    const again = await openNexus(state, remote);
    open.push(again.nexus);
    const bg2 = await createBackgroundSync({ nexus: again.nexus, platform: 'noop', logger: silentLogger });
    expect(await bg2.lastRun()).toEqual(last);
    await bg2.dispose();
  });

  it('without push.pending, the native push snapshot is read from nexus.storage with nexus.clientId', async () => {
    const { nexus, contacts } = await openNexus();
    open.push(nexus);
    // A stale id in the metadata must not leak into the snapshot: the nexus's own id wins.
    await nexus.storage.write((tx) => tx.setMeta('clientId', 'stale-id'));
    const platform = new FakeNativePlatform({ platform: 'android' });
    const service = new WorkManagerSyncService(platform.bridge, { logger: silentLogger });
    const bg = await createBackgroundSync({ nexus, service, push: { url: 'https://api.example/sync/push', getToken: () => 't0k3n' }, logger: silentLogger });
    await contacts.save({ id: 'c1', name: 'Ada' });
    await vi.waitFor(() => expect(platform.snapshot?.body.mutations).toHaveLength(1));
    expect(platform.snapshot).toMatchObject({ headers: { authorization: 'Bearer t0k3n' }, body: { clientId: 'device1', mutations: [{ key: 'c1', clientId: 'device1' }] } });
    await bg.dispose();

    const bare = { sync: async () => ({}) };
    await expect(createBackgroundSync({ nexus: bare, service, push: { url: 'https://api.example/sync/push' }, logger: silentLogger })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
  it('web, periodic sync only: a runNow() in the page is aborted by dispose, and nexus.sync() puts its entry back to pending', async () => {
    const server = createMemoryRemote();
    const remote = hangingRemote(server);
    const { nexus, contacts } = await openNexusOver(remote);
    open.push(nexus);
    await contacts.save({ id: 'c1', name: 'Ada' });
    const container = { ready: Promise.resolve({ periodicSync: { register: async () => {}, unregister: async () => {} } }), addEventListener() {}, removeEventListener() {} };
    const service = new WebSyncService({ globalObject: { navigator: { serviceWorker: container }, PeriodicSyncManager: class {} }, logger: silentLogger });
    const bg = await createBackgroundSync({ nexus, service, autoSchedule: false, logger: silentLogger });
    const run = bg.runNow();
    await vi.waitFor(() => expect(remote.signals).toHaveLength(1));
    await bg.dispose();
    await run;
    expect(remote.signals[0]?.aborted).toBe(true);
    expect(await nexus.pending()).toEqual([expect.objectContaining({ key: 'c1', status: 'pending' })]);
    expect(await bg.lastRun()).toMatchObject({ outcome: 'failure', trigger: 'manual', error: { code: 'ABORTED' } });
  });
});
